/// # MinerEngine
///
/// Owns what a miner computes (pool-api.md §7–8): the task registry and datasets (`scalar_linear`,
/// `cifar10_binary` from real CIFAR-10 binary batches or a seeded synthetic stand-in), the
/// deterministic suite evaluator (median of per-task scores, bit-for-bit reproducible), and the
/// regularized-evolution engine that mutates DSL programs within a task's compliance profile.
import AlgorithmDSL

/// Failures building suites or evolvers.
public enum EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownTaskType(String)
    case invalidConfig(String)
    case dataLoad(String)

    public var description: String {
        switch self {
        case .unknownTaskType(let name):
            "unknown task_type '\(name)' (supported: \(TaskRegistry.supportedTaskTypes.joined(separator: ", ")))"
        case .invalidConfig(let message): "invalid suite config: \(message)"
        case .dataLoad(let message): "data load failed: \(message)"
        }
    }
}

/// Where a suite's examples came from.
public enum DataSource: Sendable, Hashable, CustomStringConvertible {
    /// Real CIFAR-10 binary batches read from this directory.
    case real(path: String)
    /// Generated in-process from this seed (always the case for `scalar_linear`).
    case synthetic(seed: UInt64)

    public var description: String {
        switch self {
        case .real(let path): "real(\(path))"
        case .synthetic(let seed): "synthetic(seed=\(seed))"
        }
    }
}

/// The fixed, seeded evaluation suite. Two evaluators with equal configs produce identical scores.
///
/// Defaults (fast enough for miners; a validator may raise `taskCount`/`nSamples`):
/// - `taskCount` 8 tasks, sampled without replacement from the task type's id space with seed
///   `seed + 7919 × inputDim`;
/// - `nSamples` 200 examples per task, split 50 % train / 50 % validation;
/// - `seed` 1337 (`task_seed`), `epochs` 1, `inputDim` 16;
/// - `cifarDirectory` nil → synthetic CIFAR stand-in: 10 Gaussian class clusters in a
///   `syntheticRawDim` (64) dimensional raw space, class means N(0, `syntheticClassSeparation`²)
///   (0.25), unit noise, seed `syntheticDataSeed` (40926).
public struct SuiteConfig: Sendable, Hashable {
    public var taskCount: Int
    public var nSamples: Int
    public var seed: Int
    public var epochs: Int
    public var inputDim: Int
    public var cifarDirectory: String?
    public var syntheticRawDim: Int
    public var syntheticDataSeed: UInt64
    public var syntheticClassSeparation: Double
    /// Explicit task ids (then `taskCount` is their number and `seed` still seeds the
    /// interpreter streams); nil: `taskCount` ids drawn with `seed` (the default).
    public var taskIDs: [Int]?

    public init(taskCount: Int = 8, nSamples: Int = 200, seed: Int = 1337, epochs: Int = 1, inputDim: Int = 16,
                cifarDirectory: String? = nil, syntheticRawDim: Int = 64, syntheticDataSeed: UInt64 = 40926,
                syntheticClassSeparation: Double = 0.25) {
        self.taskCount = taskCount
        self.nSamples = nSamples
        self.seed = seed
        self.epochs = epochs
        self.inputDim = inputDim
        self.cifarDirectory = cifarDirectory
        self.syntheticRawDim = syntheticRawDim
        self.syntheticDataSeed = syntheticDataSeed
        self.syntheticClassSeparation = syntheticClassSeparation
        self.taskIDs = nil
    }

    /// A suite of `count` tasks drawn with `seed` from the task type's id space, leaving out every
    /// task of `excluding` (so held-out, selection or unseen suites never share a task with the
    /// public one). `count` is cut to what is left.
    public static func disjoint(taskType: String, seed: Int, count: Int, samples: Int = 200, inputDim: Int = 16,
                                excluding: [SuiteConfig]) throws(EngineError) -> SuiteConfig {
        let family = try TaskRegistry.family(for: taskType)
        var taken = Set<Int>()
        for other in excluding { taken.formUnion(other.resolvedTaskIDs(poolSize: family.taskPoolSize)) }
        let order = TaskSeeds.sampleTaskIDs(count: family.taskPoolSize, poolSize: family.taskPoolSize,
                                            taskSeed: seed, inputDim: inputDim)
        let ids = Array(order.filter { !taken.contains($0) }.prefix(max(1, count)))
        var config = SuiteConfig(taskCount: ids.count, nSamples: samples, seed: seed, inputDim: inputDim)
        config.taskIDs = ids
        return config
    }

    /// The task ids this config scores, in suite order.
    public func resolvedTaskIDs(poolSize: Int) -> [Int] {
        taskIDs ?? TaskSeeds.sampleTaskIDs(count: taskCount, poolSize: poolSize, taskSeed: seed, inputDim: inputDim)
    }

    func validate(taskPoolSize: Int) throws(EngineError) {
        func require(_ ok: Bool, _ message: String) throws(EngineError) {
            if !ok { throw EngineError.invalidConfig(message) }
        }
        try require((1...taskPoolSize).contains(taskCount), "task_count=\(taskCount) must be in 1...\(taskPoolSize)")
        if let taskIDs {
            try require(taskIDs.count == taskCount, "task_ids has \(taskIDs.count) ids, task_count=\(taskCount)")
            try require(taskIDs.allSatisfy { (0..<taskPoolSize).contains($0) }, "task_ids must be in 0..<\(taskPoolSize)")
        }
        try require((-1_000_000_000...1_000_000_000).contains(seed), "seed=\(seed) must be within ±1e9")
        try require((4...1_000_000).contains(nSamples), "n_samples=\(nSamples) must be in 4...1000000")
        try require((1...100).contains(epochs), "epochs=\(epochs) must be in 1...100")
        try require((1...DSLLimits.maxVectorDim).contains(inputDim),
                    "input_dim=\(inputDim) must be in 1...\(DSLLimits.maxVectorDim)")
        try require((1...4096).contains(syntheticRawDim), "synthetic_raw_dim=\(syntheticRawDim) must be in 1...4096")
        try require(syntheticClassSeparation.isFinite && syntheticClassSeparation >= 0,
                    "synthetic_class_separation must be finite and >= 0")
        try require(Int64(nSamples) * Int64(inputDim) <= 50_000_000, "n_samples × input_dim is too large")
    }
}
