import AlgorithmDSL
import Foundation
import MinerEngine
import PoolAPI
import Synchronization

/// The pool's own scoring of candidates on held-out tasks drawn from a secret seed (the seed is
/// kept in `pool_secrets` and never served). Results are cached per (task type, DSL hash), so a
/// candidate is scored once however many evaluators it has; scoring runs outside any database
/// transaction (the submit path scores a lease's candidates before it opens its transaction).
public final class HeldOutScorer: Sendable {
    public struct Outcome: Sendable, Equatable {
        /// Median of the task scores; nil when the program failed (non-finite) on a task.
        public var score: Double?
        public var taskScores: [Double]
        public var failure: String?
    }

    struct State {
        var seed: Int?
        var evaluators: [String: Evaluator] = [:]
        var cache: [String: Outcome] = [:]
    }

    public let tasks: Int
    public let samples: Int
    private let state: Mutex<State>
    private static let cacheLimit = 50_000

    /// `tasks` 0 turns the check off. `seed` nil: the pool loads (or creates) its secret in
    /// `PoolStore.prepare`.
    public init(tasks: Int, samples: Int, seed: Int?) {
        self.tasks = tasks
        self.samples = samples
        state = Mutex(State(seed: seed))
    }

    /// Whether held-out scores are computed (the check is on and the seed is known).
    public var isActive: Bool { tasks > 0 && state.withLock { $0.seed != nil } }

    var seed: Int? { state.withLock { $0.seed } }

    func setSeedIfUnset(_ seed: Int) {
        state.withLock { if $0.seed == nil { $0.seed = seed } }
    }

    /// The held-out suite of a task type: `tasks` tasks drawn with the secret seed, none of
    /// them in the public suite.
    public static func suite(taskType: String, seed: Int, tasks: Int, samples: Int, inputDim: Int) throws(EngineError) -> SuiteConfig {
        try SuiteConfig.disjoint(taskType: taskType, seed: seed, count: tasks, samples: samples, inputDim: inputDim,
                                 excluding: [SuiteConfig(inputDim: inputDim)])
    }

    private func evaluator(taskType: String, inputDim: Int) -> Evaluator? {
        let (seed, existing) = state.withLock { ($0.seed, $0.evaluators[taskType]) }
        if let existing { return existing }
        guard tasks > 0, let seed,
              let config = try? Self.suite(taskType: taskType, seed: seed, tasks: tasks, samples: samples, inputDim: inputDim),
              let built = try? Evaluator(taskType: taskType, config: config)
        else { return nil }
        return state.withLock { s in
            if let other = s.evaluators[taskType] { return other }
            s.evaluators[taskType] = built
            return built
        }
    }

    /// The held-out outcome of a candidate's program (cached by its hash).
    func score(_ program: CandidateFacts.Program) -> Outcome? {
        score(taskType: program.taskType, dsl: program.dsl, dslHash: program.dslHash, inputDim: program.inputDim)
    }

    /// The held-out outcome of `dsl` (cached by `dslHash`); nil when the check is off or the
    /// task type has no engine.
    public func score(taskType: String, dsl: String, dslHash: String, inputDim: Int) -> Outcome? {
        let key = "\(taskType)|\(dslHash)"
        if let hit = state.withLock({ $0.cache[key] }) { return hit }
        guard let evaluator = evaluator(taskType: taskType, inputDim: inputDim) else { return nil }
        let result = evaluator.evaluate(dsl: dsl)
        let outcome = Outcome(score: result.score.isFinite ? result.score : nil, taskScores: result.taskScores,
                              failure: result.failure)
        state.withLock { s in
            if s.cache.count >= Self.cacheLimit { s.cache.removeAll(keepingCapacity: true) }
            s.cache[key] = outcome
        }
        return outcome
    }
}
