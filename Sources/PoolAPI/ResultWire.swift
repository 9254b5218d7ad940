// Verified results, the SOTA per task type and the held-out detail.
import Foundation

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
