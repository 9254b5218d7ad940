import AlgorithmDSL
import PoolAPI

/// The pool's `AlgorithmPolicy` from the AlgorithmDSL module: seeds are parsed strictly,
/// miners' evolutions read like the upstream parser reads them, and both are normalised to
/// the task's compliance profile; seeds are the module's.
public struct AlgorithmCatalog: AlgorithmPolicy {
    public let taskTypes: [String]
    public let inputDimension: Int

    public init(taskTypes: [String] = ComplianceProfile.supportedTaskTypes, inputDim: Int = 16) {
        self.taskTypes = taskTypes
        self.inputDimension = inputDim
    }

    public func normalize(dsl: String, taskType: String, inputDim: Int) throws -> String {
        try normalizeForPool(dsl: dsl, taskType: taskType, inputDim: inputDim)
    }

    /// Submissions are read like the upstream parser reads them (`normalizeLikeUpstream`):
    /// unreadable lines are dropped; only a program with nothing left is refused.
    public func normalizeSubmission(dsl: String, taskType: String, inputDim: Int) throws(EvolutionRefusal) -> String {
        do { return try normalizeLikeUpstream(dsl: dsl, taskType: taskType, inputDim: inputDim).dsl } catch {
            throw EvolutionRefusal(code: error.kind == .emptyProgram ? PoolErrorCode.emptyProgram : PoolErrorCode.invalidDSL, detail: error.description)
        }
    }

    public func seeds(taskType: String) -> [String] { seedAlgorithms(taskType: taskType, inputDim: inputDimension) }

    public func inputDim(taskType: String) -> Int { inputDimension }
}
