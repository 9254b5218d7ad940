/// Task types, their datasets and the registry keyed by `task_type` (pool-api.md §8.4).
import AlgorithmDSL

/// How a task's validation predictions become a score.
public enum ScoringRule: String, Sendable, Hashable {
    /// Accuracy of `(s0 > 0.5)` against {0, 1} labels.
    case binaryAccuracy
    /// `1 − (2/π)·atan(RMSE)` (AutoML-Zero squashing).
    case squashedRMSE
}

/// One task's examples (row-major, `inputDim` features per row) and its interpreter RNG seed.
public struct TaskData: Sendable, Hashable {
    public let taskID: Int
    public let label: String
    public let inputDim: Int
    public let trainX: [Double]
    public let trainY: [Double]
    public let validX: [Double]
    public let validY: [Double]
    /// Seed of the GAUSSIAN/UNIFORM stream (the `eval_seed` formula).
    public let evalSeed: UInt64

    public var trainCount: Int { trainY.count }
    public var validCount: Int { validY.count }
}

/// The immutable, precomputed suite an `Evaluator` scores against.
public struct TaskSuite: Sendable {
    public let taskType: String
    public let config: SuiteConfig
    public let scoring: ScoringRule
    public let dataSource: DataSource
    public let tasks: [TaskData]
}

/// One task type: its id space and how to build a suite.
public protocol TaskFamily: Sendable {
    var taskType: String { get }
    var scoring: ScoringRule { get }
    /// Task ids are 0..<taskPoolSize.
    var taskPoolSize: Int { get }
    func buildSuite(config: SuiteConfig) throws(EngineError) -> TaskSuite
}

/// Registry of task types keyed by `task_type`.
public enum TaskRegistry {
    public static let families: [String: any TaskFamily] = [
        "scalar_linear": ScalarLinearTasks(),
        "cifar10_binary": Cifar10BinaryTasks(),
    ]

    public static var supportedTaskTypes: [String] { families.keys.sorted() }

    public static func family(for taskType: String) throws(EngineError) -> any TaskFamily {
        guard let family = families[taskType] else { throw EngineError.unknownTaskType(taskType) }
        return family
    }

    public static func buildSuite(taskType: String, config: SuiteConfig) throws(EngineError) -> TaskSuite {
        try family(for: taskType).buildSuite(config: config)
    }
}

/// Seed arithmetic shared by all task types.
public enum TaskSeeds {
    /// `suite_seed = task_seed + 7919 × max(1, input_dim)`.
    public static func suiteSeed(taskSeed: Int, inputDim: Int) -> Int {
        taskSeed + 7919 * max(1, inputDim)
    }

    /// `(suite_seed + 15485863(task_id+1) + 104729(projection_seed+1) + 1000003(split_seed+1)
    ///   + 1618033(param_seed+1) + 314159(data_seed+1)) mod (2³¹−1)`, 0 → 1.
    /// Seeds a task type does not use are passed as −1 (their term vanishes).
    public static func evalSeed(suiteSeed: Int, taskID: Int, projectionSeed: Int = -1, splitSeed: Int = -1,
                                paramSeed: Int = -1, dataSeed: Int = -1) -> UInt64 {
        let modulus = 2_147_483_647
        var sum = suiteSeed % modulus
        for (factor, value) in [(15_485_863, taskID), (104_729, projectionSeed), (1_000_003, splitSeed),
                                (1_618_033, paramSeed), (314_159, dataSeed)] {
            sum = (sum + (factor * ((value + 1) % modulus)) % modulus) % modulus
        }
        sum = (sum % modulus + modulus) % modulus
        return UInt64(sum == 0 ? 1 : sum)
    }

    /// `count` distinct ids from 0..<poolSize (partial Fisher–Yates with seed
    /// `task_seed + 7919 × input_dim`), in draw order.
    public static func sampleTaskIDs(count: Int, poolSize: Int, taskSeed: Int, inputDim: Int) -> [Int] {
        var rng = DeterministicRNG(seed: UInt64(bitPattern: Int64(taskSeed + 7919 * inputDim)))
        var ids = Array(0..<poolSize)
        let n = min(count, poolSize)
        for i in 0..<n {
            let j = i + rng.nextInt(below: poolSize - i)
            ids.swapAt(i, j)
        }
        return Array(ids.prefix(n))
    }
}

/// `scalar_linear`: X ~ N(0,1)^{n×d}, w ~ N(0,1)^d, y = X·w; param seed 1000+id, data seed
/// 11000+id; the first half of the rows train, the rest validate.
public struct ScalarLinearTasks: TaskFamily {
    public init() {}
    public var taskType: String { "scalar_linear" }
    public var scoring: ScoringRule { .squashedRMSE }
    public var taskPoolSize: Int { 1000 }

    public func buildSuite(config: SuiteConfig) throws(EngineError) -> TaskSuite {
        try config.validate(taskPoolSize: taskPoolSize)
        let d = config.inputDim
        let n = config.nSamples
        let nTrain = n / 2
        let suiteSeed = TaskSeeds.suiteSeed(taskSeed: config.seed, inputDim: d)
        let ids = config.resolvedTaskIDs(poolSize: taskPoolSize)
        var tasks: [TaskData] = []
        for id in ids {
            let paramSeed = 1000 + id
            let dataSeed = 11000 + id
            var paramRNG = DeterministicRNG(seed: UInt64(paramSeed))
            var dataRNG = DeterministicRNG(seed: UInt64(dataSeed))
            let w = (0..<d).map { _ in paramRNG.nextGaussian() }
            var x = [Double](repeating: 0, count: n * d)
            var y = [Double](repeating: 0, count: n)
            for r in 0..<n {
                var dot = 0.0
                for k in 0..<d {
                    let value = dataRNG.nextGaussian()
                    x[r * d + k] = value
                    dot += value * w[k]
                }
                y[r] = dot
            }
            tasks.append(TaskData(
                taskID: id, label: "linear id=\(id)", inputDim: d,
                trainX: Array(x[0..<(nTrain * d)]), trainY: Array(y[0..<nTrain]),
                validX: Array(x[(nTrain * d)...]), validY: Array(y[nTrain...]),
                evalSeed: TaskSeeds.evalSeed(suiteSeed: suiteSeed, taskID: id, paramSeed: paramSeed, dataSeed: dataSeed)))
        }
        return TaskSuite(taskType: taskType, config: config, scoring: scoring,
                         dataSource: .synthetic(seed: UInt64(bitPattern: Int64(suiteSeed))), tasks: tasks)
    }
}

/// `cifar10_binary`: 45 class pairs × 100 random projections (task id ∈ 0..<4500, pair = id / 100,
/// projection seed 17345+id, split seed 97531+id). Per task: the first `nSamples` rows of the pair
/// (label 1 for the higher class), projected to `inputDim` with a standard-normal matrix whose
/// columns are L2-normalised, each column standardised (std + 1e-6), shuffled with the split seed,
/// split 50/50.
public struct Cifar10BinaryTasks: TaskFamily {
    public init() {}
    public var taskType: String { "cifar10_binary" }
    public var scoring: ScoringRule { .binaryAccuracy }
    public var taskPoolSize: Int { 4500 }

    /// The 45 class pairs (i < j) in lexicographic order.
    public static let pairs: [(Int, Int)] = (0..<10).flatMap { i in ((i + 1)..<10).map { (i, $0) } }

    public func buildSuite(config: SuiteConfig) throws(EngineError) -> TaskSuite {
        try config.validate(taskPoolSize: taskPoolSize)
        let raw: RawImageSet
        let source: DataSource
        if let directory = config.cifarDirectory,
           let loaded = try CIFARLoader.load(directory: directory, minimumPerClass: config.nSamples) {
            raw = loaded
            source = .real(path: directory)
        } else {
            raw = SyntheticImages.make(seed: config.syntheticDataSeed, rawDim: config.syntheticRawDim,
                                       rowsPerClass: config.nSamples, separation: config.syntheticClassSeparation)
            source = .synthetic(seed: config.syntheticDataSeed)
        }
        let d = config.inputDim
        let suiteSeed = TaskSeeds.suiteSeed(taskSeed: config.seed, inputDim: d)
        let ids = config.resolvedTaskIDs(poolSize: taskPoolSize)
        var tasks: [TaskData] = []
        for id in ids {
            tasks.append(try Self.buildTask(id: id, raw: raw, config: config, suiteSeed: suiteSeed))
        }
        return TaskSuite(taskType: taskType, config: config, scoring: scoring, dataSource: source, tasks: tasks)
    }

    static func buildTask(id: Int, raw: RawImageSet, config: SuiteConfig, suiteSeed: Int) throws(EngineError) -> TaskData {
        let (low, high) = pairs[id / 100]
        let projectionSeed = 17345 + id
        let splitSeed = 97531 + id
        let d = config.inputDim

        var rows: [Int] = []
        var labels: [Double] = []
        for r in 0..<raw.count where rows.count < config.nSamples {
            let c = Int(raw.labels[r])
            if c == low || c == high {
                rows.append(r)
                labels.append(c == high ? 1 : 0)
            }
        }
        guard rows.count >= 4 else {
            throw EngineError.dataLoad("class pair \(low)/\(high) has only \(rows.count) rows")
        }

        // Projection: rawDim × d standard normal, columns L2-normalised.
        var projRNG = DeterministicRNG(seed: UInt64(projectionSeed))
        var projection = [Double](repeating: 0, count: raw.rawDim * d)
        for i in projection.indices { projection[i] = projRNG.nextGaussian() }
        for k in 0..<d {
            var sum = 0.0
            for f in 0..<raw.rawDim { sum += projection[f * d + k] * projection[f * d + k] }
            let norm = sum.squareRoot()
            if norm > 0 {
                for f in 0..<raw.rawDim { projection[f * d + k] /= norm }
            }
        }
        var z = raw.project(rows: rows, projection: projection, outDim: d)

        // Standardise each column over the task's rows.
        let n = rows.count
        for k in 0..<d {
            var sum = 0.0
            for r in 0..<n { sum += z[r * d + k] }
            let mean = sum / Double(n)
            var squares = 0.0
            for r in 0..<n {
                let dev = z[r * d + k] - mean
                squares += dev * dev
            }
            let std = (squares / Double(n)).squareRoot() + 1e-6
            for r in 0..<n { z[r * d + k] = (z[r * d + k] - mean) / std }
        }

        // Shuffle with the split seed, 50 % train / 50 % validation.
        var order = Array(0..<n)
        var splitRNG = DeterministicRNG(seed: UInt64(splitSeed))
        splitRNG.shuffle(&order)
        let nTrain = n / 2
        var trainX: [Double] = [], trainY: [Double] = [], validX: [Double] = [], validY: [Double] = []
        trainX.reserveCapacity(nTrain * d)
        validX.reserveCapacity((n - nTrain) * d)
        for (position, r) in order.enumerated() {
            let row = z[(r * d)..<((r + 1) * d)]
            if position < nTrain {
                trainX.append(contentsOf: row)
                trainY.append(labels[r])
            } else {
                validX.append(contentsOf: row)
                validY.append(labels[r])
            }
        }
        return TaskData(
            taskID: id, label: "pair \(low)v\(high) id=\(id)", inputDim: d,
            trainX: trainX, trainY: trainY, validX: validX, validY: validY,
            evalSeed: TaskSeeds.evalSeed(suiteSeed: suiteSeed, taskID: id, projectionSeed: projectionSeed,
                                         splitSeed: splitSeed))
    }
}
