/// Generalisation checks of a search's best programs (AutoML-Zero's selection tasks): before a
/// miner submits an evolved program it re-scores its best candidates on tasks the search never
/// saw and keeps the one that holds up best, instead of the one that fits the search tasks best.
import AlgorithmDSL

public struct SelectionOutcome: Sendable, Hashable {
    public let dsl: String
    /// Full score on the public (consensus) suite.
    public let publicScore: Double
    /// Score on the selection suite.
    public let selectionScore: Double
}

public enum Selection {
    /// Scores each of `dsls` on `publicSuite` and `selectionSuite`; returns the one with the best
    /// mean of the two scores (ties: better public score, then earlier in the list); nil when
    /// none scores finitely on both.
    public static func pick(_ dsls: [String], publicSuite: Evaluator, selectionSuite: Evaluator) -> SelectionOutcome? {
        var best: SelectionOutcome?
        var seen = Set<String>()
        for dsl in dsls where seen.insert(dsl).inserted {
            let p = publicSuite.score(dsl: dsl)
            let s = selectionSuite.score(dsl: dsl)
            guard p.isFinite, s.isFinite else { continue }
            let outcome = SelectionOutcome(dsl: dsl, publicScore: p, selectionScore: s)
            if let current = best {
                let a = (p + s) / 2, b = (current.publicScore + current.selectionScore) / 2
                if a > b || (a == b && p > current.publicScore) { best = outcome }
            } else {
                best = outcome
            }
        }
        return best
    }

    /// The search suite: the public suite's tasks followed by `extraTasks` more drawn with
    /// `seed` (none shared with the public suite), so evolution does not fit the public tasks
    /// alone. With `extraTasks` 0 it is the public suite itself.
    public static func searchSuite(public config: SuiteConfig, taskType: String, extraTasks: Int, seed: Int)
        throws(EngineError) -> SuiteConfig
    {
        guard extraTasks > 0 else { return config }
        let family = try TaskRegistry.family(for: taskType)
        let extra = try SuiteConfig.disjoint(taskType: taskType, seed: seed, count: extraTasks, samples: config.nSamples,
                                             inputDim: config.inputDim, excluding: [config])
        var out = config
        out.taskIDs = config.resolvedTaskIDs(poolSize: family.taskPoolSize) + (extra.taskIDs ?? [])
        out.taskCount = out.taskIDs?.count ?? config.taskCount
        return out
    }
}
