/// # PoolAPI
///
/// Owns the Pool's wire format: every request and response body of the Pool API as a
/// Codable type with its snake_case field names (compatible with the BitSota miner
/// client), defined once and used by the server (`PoolServer`) and the client (`Miner`).
/// It also names the API's paths and the stable error texts clients match on.
import Foundation
import TimeText
@_exported import WireJSON

/// The Pool API's paths.
public enum PoolPaths {
    public static let health = "/health"
    public static let register = "/api/v1/miners/register"
    public static let stats = "/api/v1/miners/stats"
    public static let leaderboard = "/api/v1/miners/leaderboard"
    public static let pendingEvaluations = "/api/v1/tasks/pending_evaluations"
    public static let request = "/api/v1/tasks/request"
    public static let lease = "/api/v1/tasks/lease"
    public static let activeTask = "/api/v1/tasks/active"
    public static func submitLease(_ id: String) -> String { "/api/v1/tasks/\(id)/submit_lease" }
    public static func submitEvolution(_ id: String) -> String { "/api/v1/tasks/\(id)/submit_evolution" }
    public static func submitEvaluation(_ id: String) -> String { "/api/v1/tasks/\(id)/submit_evaluation" }
    public static let results = "/api/v1/results"
    public static let sota = "/api/v1/results/sota"
    public static func verify(_ id: Int64) -> String { "/api/v1/results/verify/\(id)" }
    public static let monitorSummary = "/api/v1/monitor/summary"
    public static let recipientColdkey = "/api/v1/miners/recipient-coldkey"
    public static func recipientColdkey(_ hotkey: String) -> String { "/api/v1/miners/recipient-coldkey/\(hotkey)" }
    public static let coldkeyAddressUpdate = "/api/v1/miners/coldkey_address/update"
    /// Root alias the BitSota GUI calls.
    public static let rootColdkeyAddressUpdate = "/coldkey_address/update"
    public static let claimsHealth = "/claims/health"
    public static let claimEpochs = "/claims/epochs"
    public static let claimEpoch = "/claims/epoch"
    public static func claimEpoch(_ epoch: Int64) -> String { "/claims/epoch/\(epoch)" }
    public static func claimProof(_ hotkey: String) -> String { "/claims/epoch/proof/\(hotkey)" }
    public static func claimProof(_ epoch: Int64, _ hotkey: String) -> String { "/claims/epoch/\(epoch)/proof/\(hotkey)" }
}

/// Error texts the BitSota client matches on (kept as the start of `detail`) and our codes.
public enum PoolErrorText {
    public static let activeTask = "Miner already has active task"
    public static let windowExhausted = "Lease already issued for this window. Wait for next window."
    public static let leaseNotFound = "Active lease assignment not found"
}

/// Machine codes of the Pool API's JSON errors (`{"detail", "code"}`).
public enum PoolErrorCode {
    public static let activeTask = ErrorCode("ACTIVE_TASK_EXISTS")
    public static let windowExhausted = ErrorCode("LEASE_WINDOW_EXHAUSTED")
    public static let leaseNotFound = ErrorCode("LEASE_NOT_FOUND")
    public static let noWork = ErrorCode("NO_WORK_AVAILABLE")
    public static let claimNotFound = ErrorCode("claim_not_found")
    public static let claimOverflow = ErrorCode("claim_overflow")
    public static let claimRootMismatch = ErrorCode("claim_root_mismatch")
    public static let duplicateEvaluation = ErrorCode("duplicate_evaluation")
    public static let evaluationNotInLease = ErrorCode("evaluation_not_in_lease")
    public static let iterationsTooLow = ErrorCode("iterations_too_low")
    public static let emptyProgram = ErrorCode("empty_program")
    public static let epochNotFound = ErrorCode("epoch_not_found")
    public static let invalidColdkey = ErrorCode("invalid_coldkey")
    public static let invalidDSL = ErrorCode("invalid_dsl")
    public static let invalidEpoch = ErrorCode("invalid_epoch")
    public static let invalidHotkey = ErrorCode("invalid_hotkey")
    public static let invalidTaskKind = ErrorCode("invalid_task_kind")
    public static let minerNotFound = ErrorCode("miner_not_found")
    public static let monitorTokenInvalid = ErrorCode("monitor_token_invalid")
    public static let monitorTokenMissing = ErrorCode("monitor_token_missing")
    public static let notOperator = ErrorCode("not_operator")
    public static let recipientNotFound = ErrorCode("recipient_not_found")
    public static let resultNotCompleted = ErrorCode("result_not_completed")
    public static let resultNotFound = ErrorCode("result_not_found")
    public static let simWindowDisabled = ErrorCode("sim_window_disabled")
    public static let unknownParent = ErrorCode("unknown_parent")
    public static let unknownTaskType = ErrorCode("unknown_task_type")
}

/// A score that may be non-finite on the wire (`-Infinity`, `NaN` as Python writes them).
public typealias WireScore = Double

/// The body of `GET /health` (and `GET /status`): the current window number, its seconds left and length.
public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    public var windowNumber: Int64
    public var currentBlock: Int64
    public var timeRemainingS: Int64
    public var windowSeconds: Int64
    /// Evaluators (other than the author) a candidate needs to reach consensus.
    public var consensusThreshold: Int?
    /// Miners that must be mining for any candidate to reach consensus (threshold + 1: an
    /// author never evaluates its own candidate).
    public var minersNeededForConsensus: Int?

    enum CodingKeys: String, CodingKey {
        case status
        case windowNumber = "window_number"
        case currentBlock = "current_block"
        case timeRemainingS = "time_remaining_s"
        case windowSeconds = "window_seconds"
        case consensusThreshold = "consensus_threshold"
        case minersNeededForConsensus = "miners_needed_for_consensus"
    }

    public init(status: String, windowNumber: Int64, currentBlock: Int64, timeRemainingS: Int64, windowSeconds: Int64,
                consensusThreshold: Int? = nil) {
        self.consensusThreshold = consensusThreshold
        self.minersNeededForConsensus = consensusThreshold.map { $0 + 1 }
        self.status = status
        self.windowNumber = windowNumber
        self.currentBlock = currentBlock
        self.timeRemainingS = timeRemainingS
        self.windowSeconds = windowSeconds
    }
}

/// The body of `POST /api/v1/miners/register`: the miner's reputation, registration and last-seen times.
public struct MinerInfo: Codable, Sendable, Equatable {
    public var hotkey: String
    public var reputation: Double
    public var windowReputation: Double
    public var registeredAt: String
    public var lastSeenAt: String

    enum CodingKeys: String, CodingKey {
        case hotkey, reputation
        case windowReputation = "window_reputation"
        case registeredAt = "registered_at"
        case lastSeenAt = "last_seen_at"
    }

    public init(hotkey: String, reputation: Double, windowReputation: Double, registeredAt: String, lastSeenAt: String) {
        self.hotkey = hotkey
        self.reputation = reputation
        self.windowReputation = windowReputation
        self.registeredAt = registeredAt
        self.lastSeenAt = lastSeenAt
    }
}

/// The pool-wide part of `StatsResponse`: miner counts, candidates in evaluation, SOTA per task type.
public struct PoolSummary: Codable, Sendable, Equatable {
    public var minersTotal: Int64
    public var minersActiveWindow: Int64
    public var candidatesInEvaluation: Int64
    public var sotaByTask: [String: Double]

    enum CodingKeys: String, CodingKey {
        case minersTotal = "miners_total"
        case minersActiveWindow = "miners_active_window"
        case candidatesInEvaluation = "candidates_in_evaluation"
        case sotaByTask = "sota_by_task"
    }

    public init(minersTotal: Int64, minersActiveWindow: Int64, candidatesInEvaluation: Int64, sotaByTask: [String: Double]) {
        self.minersTotal = minersTotal
        self.minersActiveWindow = minersActiveWindow
        self.candidatesInEvaluation = candidatesInEvaluation
        self.sotaByTask = sotaByTask
    }
}

/// The body of `GET /api/v1/miners/stats`: the caller's reputation, work counts, payouts and
/// active assignment, plus the pool summary.
public struct StatsResponse: Codable, Sendable, Equatable {
    public var hotkey: String
    public var reputation: Double
    public var windowReputation: Double
    public var windowNumber: Int64
    public var evaluationsSubmitted: Int64
    public var evaluationsInConsensus: Int64
    public var evaluationsOutOfConsensus: Int64
    public var evolutionsSubmitted: Int64
    public var evolutionsAccepted: Int64
    public var pendingRao: Int64
    public var paidRao: Int64
    public var activeAssignment: String?
    public var pool: PoolSummary
    /// The caller's own evolutions still waiting for evaluators (other miners).
    public var ownCandidatesWaiting: Int64?
    /// Evaluators a candidate needs for consensus.
    public var consensusThreshold: Int?

    enum CodingKeys: String, CodingKey {
        case hotkey, reputation, pool
        case ownCandidatesWaiting = "own_candidates_waiting"
        case consensusThreshold = "consensus_threshold"
        case windowReputation = "window_reputation"
        case windowNumber = "window_number"
        case evaluationsSubmitted = "evaluations_submitted"
        case evaluationsInConsensus = "evaluations_in_consensus"
        case evaluationsOutOfConsensus = "evaluations_out_of_consensus"
        case evolutionsSubmitted = "evolutions_submitted"
        case evolutionsAccepted = "evolutions_accepted"
        case pendingRao = "pending_rao"
        case paidRao = "paid_rao"
        case activeAssignment = "active_assignment"
    }

    public init(hotkey: String, reputation: Double, windowReputation: Double, windowNumber: Int64,
                evaluationsSubmitted: Int64, evaluationsInConsensus: Int64, evaluationsOutOfConsensus: Int64,
                evolutionsSubmitted: Int64, evolutionsAccepted: Int64, pendingRao: Int64, paidRao: Int64,
                activeAssignment: String?, pool: PoolSummary) {
        self.hotkey = hotkey
        self.reputation = reputation
        self.windowReputation = windowReputation
        self.windowNumber = windowNumber
        self.evaluationsSubmitted = evaluationsSubmitted
        self.evaluationsInConsensus = evaluationsInConsensus
        self.evaluationsOutOfConsensus = evaluationsOutOfConsensus
        self.evolutionsSubmitted = evolutionsSubmitted
        self.evolutionsAccepted = evolutionsAccepted
        self.pendingRao = pendingRao
        self.paidRao = paidRao
        self.activeAssignment = activeAssignment
        self.pool = pool
    }
}

/// One miner of `GET /api/v1/miners/leaderboard`, ranked by total reputation.
public struct LeaderboardEntry: Codable, Sendable, Equatable {
    public var rank: Int
    public var hotkey: String
    public var reputation: Double
    public var windowReputation: Double
    public var evaluations: Int64
    public var evolutions: Int64
    public var lastSeenAt: String

    enum CodingKeys: String, CodingKey {
        case rank, hotkey, reputation, evaluations, evolutions
        case windowReputation = "window_reputation"
        case lastSeenAt = "last_seen_at"
    }

    public init(rank: Int, hotkey: String, reputation: Double, windowReputation: Double, evaluations: Int64,
                evolutions: Int64, lastSeenAt: String) {
        self.rank = rank
        self.hotkey = hotkey
        self.reputation = reputation
        self.windowReputation = windowReputation
        self.evaluations = evaluations
        self.evolutions = evolutions
        self.lastSeenAt = lastSeenAt
    }
}

/// The body of `GET /api/v1/miners/leaderboard`: the top miners and the number of miners in all.
public struct LeaderboardResponse: Codable, Sendable, Equatable {
    public var miners: [LeaderboardEntry]
    public var total: Int64
    public init(miners: [LeaderboardEntry], total: Int64) {
        self.miners = miners
        self.total = total
    }
}

/// The body of `GET /api/v1/tasks/pending_evaluations`: how many candidates the caller may still evaluate.
public struct PendingEvaluationsResponse: Codable, Sendable, Equatable {
    public var hasPendingEvaluations: Bool
    public var count: Int64
    enum CodingKeys: String, CodingKey {
        case hasPendingEvaluations = "has_pending_evaluations"
        case count
    }
    public init(hasPendingEvaluations: Bool, count: Int64) {
        self.hasPendingEvaluations = hasPendingEvaluations
        self.count = count
    }
}

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

/// An entry of `GET /api/v1/results` (and the answer of `POST /api/v1/results/verify/{result_id}`):
/// an algorithm whose score replaced its task's SOTA, `completed` until an operator verifies it.
public struct ResultRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var taskType: String
    public var algorithmId: Int64
    public var algorithmDsl: String
    public var inputDim: Int
    public var score: Double
    public var minerHotkey: String?
    public var status: String
    public var createdAt: String
    public var verifiedAt: String?
    /// The pool's own score of the algorithm on its secret held-out tasks (null: not scored).
    public var heldOutScore: Double?
    /// Per-task detail of the held-out check (on `verify`).
    public var heldOut: HeldOutDetail?

    enum CodingKeys: String, CodingKey {
        case heldOutScore = "held_out_score"
        case heldOut = "held_out"
        case id, score, status
        case taskType = "task_type"
        case algorithmId = "algorithm_id"
        case algorithmDsl = "algorithm_dsl"
        case inputDim = "input_dim"
        case minerHotkey = "miner_hotkey"
        case createdAt = "created_at"
        case verifiedAt = "verified_at"
    }

    public init(id: Int64, taskType: String, algorithmId: Int64, algorithmDsl: String, inputDim: Int, score: Double,
                minerHotkey: String?, status: String, createdAt: String, verifiedAt: String?,
                heldOutScore: Double? = nil, heldOut: HeldOutDetail? = nil) {
        self.heldOutScore = heldOutScore
        self.heldOut = heldOut
        self.id = id
        self.taskType = taskType
        self.algorithmId = algorithmId
        self.algorithmDsl = algorithmDsl
        self.inputDim = inputDim
        self.score = score
        self.minerHotkey = minerHotkey
        self.status = status
        self.createdAt = createdAt
        self.verifiedAt = verifiedAt
    }
}

/// What the pool's held-out check found for an algorithm.
public struct HeldOutDetail: Codable, Sendable, Equatable {
    /// Median of `task_scores`; null when the program failed on a held-out task.
    public var score: Double?
    public var taskCount: Int
    public var taskScores: [Double]
    /// The consensus score on the public suite, for comparison.
    public var consensusScore: Double?
    /// consensus − held-out: how much better the program looks on the public tasks.
    public var gap: Double?
    public var failure: String?

    enum CodingKeys: String, CodingKey {
        case score, gap, failure
        case taskCount = "task_count"
        case taskScores = "task_scores"
        case consensusScore = "consensus_score"
    }

    public init(score: Double?, taskCount: Int, taskScores: [Double], consensusScore: Double?, failure: String?) {
        self.score = score
        self.taskCount = taskCount
        self.taskScores = taskScores
        self.consensusScore = consensusScore
        self.gap = score.flatMap { h in consensusScore.map { $0 - h } }
        self.failure = failure
    }
}

/// The body of `GET /api/v1/results`.
public struct ResultsResponse: Codable, Sendable, Equatable {
    public var results: [ResultRecord]
    public init(results: [ResultRecord]) { self.results = results }
}

/// The body of `GET /api/v1/results/sota`: a task type's current SOTA score and the result that set it.
public struct SOTAResponse: Codable, Sendable, Equatable {
    public var taskType: String
    public var sotaThreshold: Double?
    public var resultId: Int64?
    public var algorithmId: Int64?
    public var updatedAt: String?
    /// The SOTA's score on the pool's held-out tasks (a new SOTA must beat it too).
    public var heldOutScore: Double?

    enum CodingKeys: String, CodingKey {
        case heldOutScore = "held_out_score"
        case taskType = "task_type"
        case sotaThreshold = "sota_threshold"
        case resultId = "result_id"
        case algorithmId = "algorithm_id"
        case updatedAt = "updated_at"
    }

    public init(taskType: String, sotaThreshold: Double?, resultId: Int64?, algorithmId: Int64?, updatedAt: String?) {
        self.taskType = taskType
        self.sotaThreshold = sotaThreshold
        self.resultId = resultId
        self.algorithmId = algorithmId
        self.updatedAt = updatedAt
    }

    /// Every key is always written; a task without a SOTA yet has explicit `null`s (the
    /// upstream miner reads `sota_threshold` and must see `null`, not a missing key).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(taskType, forKey: .taskType)
        if let sotaThreshold { try c.encode(sotaThreshold, forKey: .sotaThreshold) } else { try c.encodeNil(forKey: .sotaThreshold) }
        if let resultId { try c.encode(resultId, forKey: .resultId) } else { try c.encodeNil(forKey: .resultId) }
        if let algorithmId { try c.encode(algorithmId, forKey: .algorithmId) } else { try c.encodeNil(forKey: .algorithmId) }
        if let updatedAt { try c.encode(updatedAt, forKey: .updatedAt) } else { try c.encodeNil(forKey: .updatedAt) }
        if let heldOutScore { try c.encode(heldOutScore, forKey: .heldOutScore) } else { try c.encodeNil(forKey: .heldOutScore) }
    }
}

/// Body of the recipient-coldkey update routes: `recipient_coldkey`, or the legacy
/// `coldkey_address` the BitSota GUI sends. Either is an SS58 address (whitespace-trimmed).
public struct RecipientColdkeyUpdate: Codable, Sendable, Equatable {
    public var recipientColdkey: String?
    public var coldkeyAddress: String?

    enum CodingKeys: String, CodingKey {
        case recipientColdkey = "recipient_coldkey"
        case coldkeyAddress = "coldkey_address"
    }

    public init(recipientColdkey: String? = nil, coldkeyAddress: String? = nil) {
        self.recipientColdkey = recipientColdkey
        self.coldkeyAddress = coldkeyAddress
    }

    /// The address to store: `recipient_coldkey` when given, else `coldkey_address`, trimmed.
    public var address: String? {
        (recipientColdkey ?? coldkeyAddress)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Answer of a recipient-coldkey update.
public struct RecipientColdkeyUpdated: Codable, Sendable, Equatable {
    public var status: String
    public var hotkey: String
    public var recipientColdkey: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case status, hotkey
        case recipientColdkey = "recipient_coldkey"
        case updatedAt = "updated_at"
    }

    public init(status: String = "success", hotkey: String, recipientColdkey: String, updatedAt: String) {
        self.status = status
        self.hotkey = hotkey
        self.recipientColdkey = recipientColdkey
        self.updatedAt = updatedAt
    }
}

/// A hotkey's payout mapping; `recipient_coldkey` and `updated_at` are `null` when unset.
public struct RecipientColdkeyMapping: Codable, Sendable, Equatable {
    public var hotkey: String
    public var recipientColdkey: String?
    public var updatedAt: String?

    enum CodingKeys: String, CodingKey {
        case hotkey
        case recipientColdkey = "recipient_coldkey"
        case updatedAt = "updated_at"
    }

    public init(hotkey: String, recipientColdkey: String?, updatedAt: String?) {
        self.hotkey = hotkey
        self.recipientColdkey = recipientColdkey
        self.updatedAt = updatedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hotkey, forKey: .hotkey)
        if let recipientColdkey { try c.encode(recipientColdkey, forKey: .recipientColdkey) } else {
            try c.encodeNil(forKey: .recipientColdkey)
        }
        if let updatedAt { try c.encode(updatedAt, forKey: .updatedAt) } else { try c.encodeNil(forKey: .updatedAt) }
    }
}

/// `GET /claims/health`.
public struct ClaimsHealth: Codable, Sendable, Equatable {
    public var status: String
    public var epochsPublished: Int
    public var latestEpoch: Int64?
    public var leafHash: String

    enum CodingKeys: String, CodingKey {
        case status
        case epochsPublished = "epochs_published"
        case latestEpoch = "latest_epoch"
        case leafHash = "leaf_hash"
    }

    public init(status: String, epochsPublished: Int, latestEpoch: Int64?, leafHash: String) {
        self.status = status
        self.epochsPublished = epochsPublished
        self.latestEpoch = latestEpoch
        self.leafHash = leafHash
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(epochsPublished, forKey: .epochsPublished)
        if let latestEpoch { try c.encode(latestEpoch, forKey: .latestEpoch) } else { try c.encodeNil(forKey: .latestEpoch) }
        try c.encode(leafHash, forKey: .leafHash)
    }
}

/// `GET /claims/epochs`: published epochs, ascending; the default is the latest.
public struct ClaimEpochList: Codable, Sendable, Equatable {
    public var epochs: [Int64]
    public var defaultEpoch: Int64?

    enum CodingKeys: String, CodingKey {
        case epochs
        case defaultEpoch = "default_epoch"
    }

    public init(epochs: [Int64], defaultEpoch: Int64?) {
        self.epochs = epochs
        self.defaultEpoch = defaultEpoch
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochs, forKey: .epochs)
        if let defaultEpoch { try c.encode(defaultEpoch, forKey: .defaultEpoch) } else { try c.encodeNil(forKey: .defaultEpoch) }
    }
}

/// A published claim epoch: the Merkle root over its leaves and what they add up to.
public struct ClaimEpochInfo: Codable, Sendable, Equatable {
    public var epoch: Int64
    /// `0x`-prefixed hex BLAKE2b-256 root.
    public var root: String
    public var numOfLeaves: Int
    /// Σ leaf amounts: the cumulative RAO every leaf may claim up to this epoch.
    public var totalRao: UInt64
    /// RAO paid by this epoch alone.
    public var epochPaidRao: UInt64
    public var publishedAt: String

    enum CodingKeys: String, CodingKey {
        case epoch, root
        case numOfLeaves = "num_of_leaves"
        case totalRao = "total_rao"
        case epochPaidRao = "epoch_paid_rao"
        case publishedAt = "published_at"
    }

    public init(epoch: Int64, root: String, numOfLeaves: Int, totalRao: UInt64, epochPaidRao: UInt64, publishedAt: String) {
        self.epoch = epoch
        self.root = root
        self.numOfLeaves = numOfLeaves
        self.totalRao = totalRao
        self.epochPaidRao = epochPaidRao
        self.publishedAt = publishedAt
    }
}

/// A hotkey's claim in one epoch: its leaf and the sibling hashes up to the root.
public struct ClaimProof: Codable, Sendable, Equatable {
    public var epoch: Int64
    public var index: Int
    public var hotkey: String
    /// SS58 address the claim pays (the mapped coldkey at publication, else the hotkey itself).
    public var recipientColdkey: String
    /// Cumulative RAO earned by the hotkey up to and including this epoch.
    public var amountRao: UInt64
    /// Sibling hashes from the leaf up, `0x`-prefixed hex.
    public var proof: [String]
    public var proofCount: Int
    public var root: String
    /// `0x`-prefixed hex of the leaf hash.
    public var leaf: String

    enum CodingKeys: String, CodingKey {
        case epoch, index, hotkey, proof, root, leaf
        case recipientColdkey = "recipient_coldkey"
        case amountRao = "amount_rao"
        case proofCount = "proof_count"
    }

    public init(epoch: Int64, index: Int, hotkey: String, recipientColdkey: String, amountRao: UInt64, proof: [String],
                root: String, leaf: String) {
        self.epoch = epoch
        self.index = index
        self.hotkey = hotkey
        self.recipientColdkey = recipientColdkey
        self.amountRao = amountRao
        self.proof = proof
        self.proofCount = proof.count
        self.root = root
        self.leaf = leaf
    }
}

/// The body of `GET /api/v1/monitor/summary`: window, miner, lease, candidate and result counts,
/// SOTA per task type, and alerts.
public struct MonitorSummary: Codable, Sendable, Equatable {
    /// The current window and its seconds left.
    public struct Window: Codable, Sendable, Equatable {
        public init(number: Int64, timeRemainingS: Int64) {
            self.number = number
            self.timeRemainingS = timeRemainingS
        }
        public var number: Int64
        public var timeRemainingS: Int64
        enum CodingKeys: String, CodingKey {
            case number
            case timeRemainingS = "time_remaining_s"
        }
    }
    /// Active and overdue leases; leases issued and completed in the last 15 minutes, and the share
    /// of those completed without evaluations.
    public struct Leases: Codable, Sendable, Equatable {
        public init(active: Int64, issued15m: Int64, completed15m: Int64, zeroEvalRatio: Double, overdue: Int64) {
            self.active = active
            self.issued15m = issued15m
            self.completed15m = completed15m
            self.zeroEvalRatio = zeroEvalRatio
            self.overdue = overdue
        }
        public var active: Int64
        public var issued15m: Int64
        public var completed15m: Int64
        public var zeroEvalRatio: Double
        public var overdue: Int64
        enum CodingKeys: String, CodingKey {
            case active, overdue
            case issued15m = "issued_15m"
            case completed15m = "completed_15m"
            case zeroEvalRatio = "zero_eval_ratio"
        }
    }
    /// Candidate algorithms in evaluation, scored by consensus, and without consensus.
    public struct Candidates: Codable, Sendable, Equatable {
        public init(inEvaluation: Int64, withConsensus: Int64, noConsensus: Int64) {
            self.inEvaluation = inEvaluation
            self.withConsensus = withConsensus
            self.noConsensus = noConsensus
        }
        public var inEvaluation: Int64
        public var withConsensus: Int64
        public var noConsensus: Int64
        enum CodingKeys: String, CodingKey {
            case inEvaluation = "in_evaluation"
            case withConsensus = "with_consensus"
            case noConsensus = "no_consensus"
        }
    }
    /// Results by status: completed and verified.
    public struct Results: Codable, Sendable, Equatable {
        public init(completed: Int64, verified: Int64) {
            self.completed = completed
            self.verified = verified
        }
        public var completed: Int64
        public var verified: Int64
    }
    /// One alert: its code, severity (`warn` or `crit`) and message.
    public struct Alert: Codable, Sendable, Equatable {
        public init(code: String, severity: String, message: String) {
            self.code = code
            self.severity = severity
            self.message = message
        }
        public var code: String
        public var severity: String
        public var message: String
    }
    /// The alerts, their count per severity, and `overall` (`ok`, `warn` or `crit`).
    public struct Alerts: Codable, Sendable, Equatable {
        public init(overall: String, counts: [String: Int], items: [Alert]) {
            self.overall = overall
            self.counts = counts
            self.items = items
        }
        public var overall: String
        public var counts: [String: Int]
        public var items: [Alert]
    }

    public var generatedAt: String
    public var window: Window
    public var miners: [String: Int64]
    public var leases: Leases
    public var candidates: Candidates
    public var results: Results
    public var sota: [String: Double]
    public var alerts: Alerts

    enum CodingKeys: String, CodingKey {
        case window, miners, leases, candidates, results, sota, alerts
        case generatedAt = "generated_at"
    }

    public init(generatedAt: String, window: Window, miners: [String: Int64], leases: Leases, candidates: Candidates,
                results: Results, sota: [String: Double], alerts: Alerts) {
        self.generatedAt = generatedAt
        self.window = window
        self.miners = miners
        self.leases = leases
        self.candidates = candidates
        self.results = results
        self.sota = sota
        self.alerts = alerts
    }
}

/// ISO-8601 UTC timestamps as the API writes them.
public enum WireTime {
    /// `unixSeconds` as RFC 3339 UTC with milliseconds (`2026-11-30T16:36:34.123Z`), the
    /// text `ISO8601DateFormatter` gives with internet date-time and fractional seconds,
    /// written directly. Times outside years 1...9999 (and non-finite ones) are clamped into them.
    public static func string(_ unixSeconds: Double) -> String {
        RFC3339.utc(unixSeconds, fraction: true)
    }

    public static func parse(_ text: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)?.timeIntervalSince1970
    }
}
