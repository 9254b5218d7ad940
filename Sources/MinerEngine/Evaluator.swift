/// Suite scoring (pool-api.md §8.4, "shared memory" mode): per task, zero memory, run setup once
/// with the task's RNG; for each epoch and training example in order: `x → v0`, predict,
/// `y → s1`, learn; then predict every validation example and score. Suite score = median of task
/// scores; any non-finite prediction, invalid program or empty predict phase → −∞.
import AlgorithmDSL

/// Per-task detail of one evaluation.
public struct SuiteResult: Sendable, Hashable {
    /// Median of `taskScores`, or −∞ on failure.
    public var score: Double
    /// Task scores in suite order (empty on failure).
    public var taskScores: [Double]
    /// Why the program scored −∞.
    public var failure: String?
}

/// An early-stopping hurdle: after `afterTasks` tasks, a candidate whose mean task score is below
/// `score` is not scored further.
public struct Hurdle: Sendable, Hashable {
    public var score: Double
    public var afterTasks: Int

    public init(score: Double, afterTasks: Int) {
        self.score = score
        self.afterTasks = afterTasks
    }
}

/// Scores DSL programs on one task type's suite, after normalising them to the task's profile.
public struct Evaluator: Sendable {
    public let taskType: String
    public let config: SuiteConfig
    public let suite: TaskSuite
    /// Programs are normalised to this profile before scoring (what the pool stores).
    public let profile: ComplianceProfile

    /// Builds (and caches, for the evaluator's lifetime) every task's data.
    public init(taskType: String, config: SuiteConfig = SuiteConfig()) throws(EngineError) {
        self.taskType = taskType
        self.config = config
        suite = try TaskRegistry.buildSuite(taskType: taskType, config: config)
        profile = ComplianceProfile.for(taskType: taskType, inputDim: config.inputDim)
    }

    public var dataSource: DataSource { suite.dataSource }

    /// Suite score of DSL text (strictly parsed, then normalised); −∞ when it cannot be scored.
    public func score(dsl: String) -> Double { evaluate(dsl: dsl).score }

    /// Suite score of a program (normalised first); −∞ when it cannot be scored.
    public func score(program: Program) -> Double { evaluate(program: program).score }

    public func evaluate(dsl: String) -> SuiteResult {
        do {
            return evaluate(program: try DSLParser.parse(dsl, strict: true))
        } catch {
            return SuiteResult(score: -.infinity, taskScores: [], failure: error.description)
        }
    }

    public func evaluate(program: Program) -> SuiteResult {
        evaluate(program: program, hurdle: nil).result
    }

    /// Scores like `evaluate(program:)`, but when `hurdle` is given, stops after its first
    /// `afterTasks` tasks if their mean is below its `score` (an early-stopping hurdle for hopeless
    /// candidates). A stopped candidate's score is that partial mean (`stoppedEarly` true); a
    /// candidate that clears the hurdle gets exactly the full evaluation's result.
    public func evaluate(program: Program, hurdle: Hurdle?) -> (result: SuiteResult, stoppedEarly: Bool) {
        let normalized = normalize(program, profile: profile)
        if normalized.predict.isEmpty {
            return (SuiteResult(score: -.infinity, taskScores: [], failure: "program has no predict instruction"), false)
        }
        var interpreter: Interpreter
        do {
            interpreter = try Interpreter(program: normalized, inputDim: config.inputDim)
        } catch {
            return (SuiteResult(score: -.infinity, taskScores: [], failure: error.description), false)
        }
        var scores: [Double] = []
        scores.reserveCapacity(suite.tasks.count)
        for task in suite.tasks {
            guard let taskScore = Self.run(task, &interpreter, scoring: suite.scoring, epochs: config.epochs) else {
                return (SuiteResult(score: -.infinity, taskScores: [],
                                    failure: "non-finite prediction on task \(task.label)"), false)
            }
            scores.append(taskScore)
            if let hurdle, scores.count == hurdle.afterTasks, scores.count < suite.tasks.count {
                let mean = scores.reduce(0, +) / Double(scores.count)
                if mean < hurdle.score {
                    return (SuiteResult(score: mean, taskScores: scores, failure: "stopped at the hurdle"), true)
                }
            }
        }
        return (SuiteResult(score: Self.median(scores), taskScores: scores, failure: nil), false)
    }

    /// A functional fingerprint (AutoML-Zero's functional-equivalence check): the program's
    /// predictions while it trains on the first `trainExamples` examples of the suite's first task
    /// and then predicts its first `probeExamples` validation examples, each with its 16 lowest
    /// mantissa bits cleared. Programs with equal fingerprints are taken to score alike; nil when
    /// the program cannot run or predicts a non-finite value on the probe (it is scored in full).
    public func fingerprint(program: Program, trainExamples: Int = 10, probeExamples: Int = 10) -> [UInt64]? {
        let normalized = normalize(program, profile: profile)
        guard !normalized.predict.isEmpty, let task = suite.tasks.first,
              var interpreter = try? Interpreter(program: normalized, inputDim: config.inputDim)
        else { return nil }
        let d = task.inputDim
        var out: [UInt64] = []
        out.reserveCapacity(trainExamples + probeExamples)
        func key(_ p: Double) -> UInt64 { p == 0 ? 0 : p.bitPattern & ~UInt64(0xFFFF) }
        interpreter.reset()
        interpreter.runSetup(rng: DeterministicRNG(seed: task.evalSeed))
        let ok: Bool = task.trainX.withUnsafeBufferPointer { xs in
            for i in 0..<min(trainExamples, task.trainCount) {
                let p = interpreter.train(x: UnsafeBufferPointer(rebasing: xs[(i * d)..<((i + 1) * d)]), y: task.trainY[i])
                if !p.isFinite { return false }
                out.append(key(p))
            }
            return true
        }
        guard ok else { return nil }
        let probed: Bool = task.validX.withUnsafeBufferPointer { xs in
            for i in 0..<min(probeExamples, task.validCount) {
                let p = interpreter.predict(x: UnsafeBufferPointer(rebasing: xs[(i * d)..<((i + 1) * d)]))
                if !p.isFinite { return false }
                out.append(key(p))
            }
            return true
        }
        return probed ? out : nil
    }

    /// Runs one task; nil on the first non-finite prediction.
    static func run(_ task: TaskData, _ interpreter: inout Interpreter, scoring: ScoringRule, epochs: Int) -> Double? {
        let d = task.inputDim
        interpreter.reset()
        interpreter.runSetup(rng: DeterministicRNG(seed: task.evalSeed))
        let trained: Bool = task.trainX.withUnsafeBufferPointer { xs in
            for _ in 0..<epochs {
                for i in 0..<task.trainCount {
                    let row = UnsafeBufferPointer(rebasing: xs[(i * d)..<((i + 1) * d)])
                    if !interpreter.train(x: row, y: task.trainY[i]).isFinite { return false }
                }
            }
            return true
        }
        if !trained { return nil }
        var correct = 0
        var squaredError = 0.0
        let ok: Bool = task.validX.withUnsafeBufferPointer { xs in
            for i in 0..<task.validCount {
                let row = UnsafeBufferPointer(rebasing: xs[(i * d)..<((i + 1) * d)])
                let p = interpreter.predict(x: row)
                if !p.isFinite { return false }
                let y = task.validY[i]
                switch scoring {
                case .binaryAccuracy:
                    if (p > 0.5 ? 1.0 : 0.0) == y { correct += 1 }
                case .squashedRMSE:
                    let e = p - y
                    squaredError += e * e
                }
            }
            return true
        }
        if !ok || task.validCount == 0 { return nil }
        switch scoring {
        case .binaryAccuracy:
            return Double(correct) / Double(task.validCount)
        case .squashedRMSE:
            let rmse = (squaredError / Double(task.validCount)).squareRoot()
            guard rmse.isFinite else { return nil }
            return 1 - (2 / Double.pi) * DetMath.atan(rmse)
        }
    }

    /// Median (mean of the two middle values for even counts); −∞ for an empty list.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return -.infinity }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        if sorted.count % 2 == 1 { return sorted[mid] }
        return (sorted[mid - 1] + sorted[mid]) / 2
    }
}
