// Lease and batch bodies: what a miner is given to evaluate and evolve, and what it submits.
import Foundation

/// An algorithm as every algorithm list carries it.
public struct AlgorithmRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var algorithmDsl: String
    public var inputDim: Int
    public var taskType: String

    enum CodingKeys: String, CodingKey {
        case id
        case algorithmDsl = "algorithm_dsl"
        case inputDim = "input_dim"
        case taskType = "task_type"
    }

    public init(id: Int64, algorithmDsl: String, inputDim: Int, taskType: String) {
        self.id = id
        self.algorithmDsl = algorithmDsl
        self.inputDim = inputDim
        self.taskType = taskType
    }
}

/// The body of `POST /api/v1/tasks/lease`: the task type and the batch and gossip sizes wanted (all optional).
public struct LeaseRequest: Codable, Sendable, Equatable {
    public var taskType: String?
    public var evalBatchSize: Int?
    public var seedBatchSize: Int?
    public var gossipLimit: Int?
    public var simWindowNumber: Int?

    enum CodingKeys: String, CodingKey {
        case taskType = "task_type"
        case evalBatchSize = "eval_batch_size"
        case seedBatchSize = "seed_batch_size"
        case gossipLimit = "gossip_limit"
        case simWindowNumber = "sim_window_number"
    }

    public init(taskType: String? = nil, evalBatchSize: Int? = nil, seedBatchSize: Int? = nil, gossipLimit: Int? = nil) {
        self.taskType = taskType
        self.evalBatchSize = evalBatchSize
        self.seedBatchSize = seedBatchSize
        self.gossipLimit = gossipLimit
    }
}

/// Algorithm ids gossiped for one task type: a lease carries the most gossiped recent ones, a
/// lease submit the miner's own picks.
public struct GossipPacket: Codable, Sendable, Equatable {
    public var taskType: String
    public var algorithmIds: [Int64]
    public var windowNumber: Int64?

    enum CodingKeys: String, CodingKey {
        case taskType = "task_type"
        case algorithmIds = "algorithm_ids"
        case windowNumber = "window_number"
    }

    public init(taskType: String, algorithmIds: [Int64], windowNumber: Int64? = nil) {
        self.taskType = taskType
        self.algorithmIds = algorithmIds
        self.windowNumber = windowNumber
    }
}

/// The evaluation suite of a window when the pool rotates suites (`suite_rotation`): the
/// `task_seed`, number of tasks and samples per task every evaluator of the window uses. Public:
/// derived from the window number and the pool's public rotation salt.
public struct EvalSuite: Codable, Sendable, Hashable {
    public var seed: Int
    public var taskCount: Int
    public var samples: Int

    enum CodingKeys: String, CodingKey {
        case seed, samples
        case taskCount = "task_count"
    }

    public init(seed: Int, taskCount: Int, samples: Int) {
        self.seed = seed
        self.taskCount = taskCount
        self.samples = samples
    }
}

/// The answer of `POST /api/v1/tasks/lease`: the lease id and deadline, algorithms to evaluate,
/// seeds to evolve from, and gossip.
public struct LeaseResponse: Codable, Sendable, Equatable {
    public var leaseId: String
    public var windowNumber: Int64
    public var timeoutAt: String
    public var evolveBudget: Int
    public var taskType: String
    public var evaluateAlgorithms: [AlgorithmRecord]
    public var seedAlgorithms: [AlgorithmRecord]
    public var gossip: GossipPacket
    /// The suite to evaluate with when the pool rotates suites (absent: the fixed public suite).
    public var evalSuite: EvalSuite?

    enum CodingKeys: String, CodingKey {
        case evalSuite = "eval_suite"
        case leaseId = "lease_id"
        case windowNumber = "window_number"
        case timeoutAt = "timeout_at"
        case evolveBudget = "evolve_budget"
        case taskType = "task_type"
        case evaluateAlgorithms = "evaluate_algorithms"
        case seedAlgorithms = "seed_algorithms"
        case gossip
    }

    public init(leaseId: String, windowNumber: Int64, timeoutAt: String, evolveBudget: Int, taskType: String,
                evaluateAlgorithms: [AlgorithmRecord], seedAlgorithms: [AlgorithmRecord], gossip: GossipPacket) {
        self.leaseId = leaseId
        self.windowNumber = windowNumber
        self.timeoutAt = timeoutAt
        self.evolveBudget = evolveBudget
        self.taskType = taskType
        self.evaluateAlgorithms = evaluateAlgorithms
        self.seedAlgorithms = seedAlgorithms
        self.gossip = gossip
    }
}

/// One algorithm's score as a miner submits it (here `NaN` equals `NaN`).
public struct EvaluationEntry: Codable, Sendable, Equatable {
    public var algorithmId: Int64
    public var score: WireScore

    enum CodingKeys: String, CodingKey {
        case algorithmId = "algorithm_id"
        case score
    }

    public init(algorithmId: Int64, score: WireScore) {
        self.algorithmId = algorithmId
        self.score = score
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.algorithmId == b.algorithmId && (a.score == b.score || (a.score.isNaN && b.score.isNaN))
    }
}

/// One evolved algorithm of a lease submit: its DSL and the ids of its parents.
public struct EvolutionEntry: Codable, Sendable, Equatable {
    public var parentAlgorithmIds: [Int64]
    public var algorithmDsl: String

    enum CodingKeys: String, CodingKey {
        case parentAlgorithmIds = "parent_algorithm_ids"
        case algorithmDsl = "algorithm_dsl"
    }

    public init(parentAlgorithmIds: [Int64], algorithmDsl: String) {
        self.parentAlgorithmIds = parentAlgorithmIds
        self.algorithmDsl = algorithmDsl
    }
}

/// The body of `POST /api/v1/tasks/{lease_id}/submit_lease`: evaluations, evolutions, optional
/// gossip and the iteration count.
public struct LeaseSubmission: Codable, Sendable, Equatable {
    public var evaluations: [EvaluationEntry]
    public var evolutions: [EvolutionEntry]
    public var gossip: GossipPacket?
    public var iterations: Int

    enum CodingKeys: String, CodingKey {
        case evaluations, evolutions, gossip, iterations
    }

    public init(evaluations: [EvaluationEntry], evolutions: [EvolutionEntry], gossip: GossipPacket? = nil,
                iterations: Int) {
        self.evaluations = evaluations
        self.evolutions = evolutions
        self.gossip = gossip
        self.iterations = iterations
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        evaluations = try c.decodeIfPresent([EvaluationEntry].self, forKey: .evaluations) ?? []
        evolutions = try c.decodeIfPresent([EvolutionEntry].self, forKey: .evolutions) ?? []
        gossip = try c.decodeIfPresent(GossipPacket.self, forKey: .gossip)
        iterations = try c.decodeIfPresent(Int.self, forKey: .iterations) ?? (evaluations.count)
        guard Self.iterationRange.contains(iterations) else {
            throw DecodingError.dataCorruptedError(
                forKey: .iterations, in: c,
                debugDescription: "must be an integer in \(Self.iterationRange.lowerBound)...\(Self.iterationRange.upperBound)")
        }
    }

    /// What `iterations` may be (the pool stores it as a 32-bit counter).
    public static let iterationRange = 0...Int(Int32.max)
}

/// One submitted evolution the pool refused while the rest of its submit landed.
public struct EvolutionRejection: Codable, Sendable, Equatable {
    /// Position in the submitted `evolutions` list (0-based).
    public var index: Int
    /// `empty_program` (nothing left to run once unreadable lines are dropped) or `invalid_dsl`.
    public var code: String
    public var detail: String

    public init(index: Int, code: String, detail: String) {
        self.index = index
        self.code = code
        self.detail = detail
    }
}

/// The answer of the submit routes (`submit_lease`, `submit_evolution`, `submit_evaluation`): what
/// was accepted or refused, and which algorithms reached consensus.
public struct SubmitResponse: Codable, Sendable, Equatable {
    public var status: String
    public var leaseId: String
    public var evaluationsAccepted: Int
    public var evaluationsInvalid: Int
    public var evolutionsAccepted: [Int64]
    /// Evolutions refused one by one (always present; empty when none).
    public var evolutionsRejected: [EvolutionRejection]
    public var consensusReached: [Int64]

    enum CodingKeys: String, CodingKey {
        case status
        case leaseId = "lease_id"
        case evaluationsAccepted = "evaluations_accepted"
        case evaluationsInvalid = "evaluations_invalid"
        case evolutionsAccepted = "evolutions_accepted"
        case evolutionsRejected = "evolutions_rejected"
        case consensusReached = "consensus_reached"
    }

    public init(status: String, leaseId: String, evaluationsAccepted: Int, evaluationsInvalid: Int,
                evolutionsAccepted: [Int64], evolutionsRejected: [EvolutionRejection] = [], consensusReached: [Int64]) {
        self.status = status
        self.leaseId = leaseId
        self.evaluationsAccepted = evaluationsAccepted
        self.evaluationsInvalid = evaluationsInvalid
        self.evolutionsAccepted = evolutionsAccepted
        self.evolutionsRejected = evolutionsRejected
        self.consensusReached = consensusReached
    }

    /// Reads `evolutions_rejected` as empty when absent (responses stored before it existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = try c.decode(String.self, forKey: .status)
        leaseId = try c.decode(String.self, forKey: .leaseId)
        evaluationsAccepted = try c.decode(Int.self, forKey: .evaluationsAccepted)
        evaluationsInvalid = try c.decode(Int.self, forKey: .evaluationsInvalid)
        evolutionsAccepted = try c.decode([Int64].self, forKey: .evolutionsAccepted)
        evolutionsRejected = try c.decodeIfPresent([EvolutionRejection].self, forKey: .evolutionsRejected) ?? []
        consensusReached = try c.decode([Int64].self, forKey: .consensusReached)
    }
}

/// `POST /tasks/request`: `task_type` here is the work kind, `evolve` or `evaluate`.
public struct TaskRequest: Codable, Sendable, Equatable {
    public var taskType: String?
    public var problemType: String?
    enum CodingKeys: String, CodingKey {
        case taskType = "task_type"
        case problemType = "problem_type"
    }
    public init(taskType: String? = nil, problemType: String? = nil) {
        self.taskType = taskType
        self.problemType = problemType
    }
}

/// The answer of `POST /api/v1/tasks/request`: the batch id, its algorithms and its deadline.
public struct BatchResponse: Codable, Sendable, Equatable {
    public var batchId: String
    public var taskType: String
    public var algorithms: [AlgorithmRecord]
    public var timeoutAt: String
    enum CodingKeys: String, CodingKey {
        case batchId = "batch_id"
        case taskType = "task_type"
        case algorithms
        case timeoutAt = "timeout_at"
    }
    public init(batchId: String, taskType: String, algorithms: [AlgorithmRecord], timeoutAt: String) {
        self.batchId = batchId
        self.taskType = taskType
        self.algorithms = algorithms
        self.timeoutAt = timeoutAt
    }
}

/// A parent algorithm by id (`parent_functions` of `submit_evolution`).
public struct ParentRef: Codable, Sendable, Equatable {
    public var id: Int64
    public init(id: Int64) { self.id = id }
}

/// The body of `POST /api/v1/tasks/{batch_id}/submit_evolution`: one evolved function and its parents.
public struct EvolutionSubmission: Codable, Sendable, Equatable {
    public var evolvedFunction: String
    public var parentFunctions: [ParentRef]
    enum CodingKeys: String, CodingKey {
        case evolvedFunction = "evolved_function"
        case parentFunctions = "parent_functions"
    }
    public init(evolvedFunction: String, parentFunctions: [ParentRef]) {
        self.evolvedFunction = evolvedFunction
        self.parentFunctions = parentFunctions
    }
}

/// The body of `POST /api/v1/tasks/{batch_id}/submit_evaluation`: a score per algorithm of the batch.
public struct EvaluationSubmission: Codable, Sendable, Equatable {
    public var evaluations: [EvaluationEntry]
    public init(evaluations: [EvaluationEntry]) { self.evaluations = evaluations }
}
