import AlgorithmDSL

/// The pool's `AlgorithmPolicy` from the AlgorithmDSL module: submissions are parsed
/// strictly and normalised to the task's compliance profile; seeds are the module's.
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

    public func seeds(taskType: String) -> [String] { seedAlgorithms(taskType: taskType, inputDim: inputDimension) }

    public func inputDim(taskType: String) -> Int { inputDimension }
}
