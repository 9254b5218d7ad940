// The miner routes' bodies and the public reads (leaderboard, weights, health).
import Foundation
import TimeText

/// `POST /challenges/{id}/submissions` (signed by the miner's hotkey): exactly one of
/// `code` or `artifact`.
public typealias SubmissionRequest = SubmissionPayload

/// One evaluation job of a submission, as shown to anyone.
public struct SubmissionJob: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var validatorHotkey: String?
    public var score: Double?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case id, status, score, error
        case validatorHotkey = "validator_hotkey"
    }

    public init(id: String, status: String, validatorHotkey: String?, score: Double?, error: String?) {
        self.id = id
        self.status = status
        self.validatorHotkey = validatorHotkey
        self.score = score
        self.error = error
    }
}

/// `GET /submissions/{id}` and the 201 of a submission. `status`: pending (no job claimed
/// yet), evaluating, completed (all jobs finished, at least one completed) or failed.
/// `score` aggregates the completed jobs (median; see PlatformCore.ScoreAggregation).
public struct SubmissionView: Codable, Sendable, Equatable {
    public var id: String
    public var challengeId: String
    public var minerHotkey: String
    public var status: String
    public var score: Double?
    public var payloadKind: String
    public var payloadSha256: String
    public var jobsTotal: Int
    public var jobsCompleted: Int
    public var jobsFailed: Int
    public var jobs: [SubmissionJob]
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, status, score, jobs
        case challengeId = "challenge_id"
        case minerHotkey = "miner_hotkey"
        case payloadKind = "payload_kind"
        case payloadSha256 = "payload_sha256"
        case jobsTotal = "jobs_total"
        case jobsCompleted = "jobs_completed"
        case jobsFailed = "jobs_failed"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, challengeId: String, minerHotkey: String, status: String, score: Double?,
                payloadKind: String, payloadSha256: String, jobsTotal: Int, jobsCompleted: Int, jobsFailed: Int,
                jobs: [SubmissionJob], createdAt: String, updatedAt: String) {
        self.id = id
        self.challengeId = challengeId
        self.minerHotkey = minerHotkey
        self.status = status
        self.score = score
        self.payloadKind = payloadKind
        self.payloadSha256 = payloadSha256
        self.jobsTotal = jobsTotal
        self.jobsCompleted = jobsCompleted
        self.jobsFailed = jobsFailed
        self.jobs = jobs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One miner of `GET /challenges/{id}/leaderboard`: its best completed submission, score and weight.
public struct LeaderboardEntry: Codable, Sendable, Equatable {
    public var rank: Int
    public var minerHotkey: String
    public var submissionId: String
    public var score: Double
    /// The miner's share of this challenge's weight (score / Σ scores), before emission share.
    public var weight: Double
    public var completedAt: String

    enum CodingKeys: String, CodingKey {
        case rank, score, weight
        case minerHotkey = "miner_hotkey"
        case submissionId = "submission_id"
        case completedAt = "completed_at"
    }

    public init(rank: Int, minerHotkey: String, submissionId: String, score: Double, weight: Double,
                completedAt: String) {
        self.rank = rank
        self.minerHotkey = minerHotkey
        self.submissionId = submissionId
        self.score = score
        self.weight = weight
        self.completedAt = completedAt
    }
}

/// `GET /challenges/{id}/leaderboard`: each miner's best completed submission.
public struct LeaderboardResponse: Codable, Sendable, Equatable {
    public var challengeId: String
    public var entries: [LeaderboardEntry]

    enum CodingKeys: String, CodingKey {
        case entries
        case challengeId = "challenge_id"
    }

    public init(challengeId: String, entries: [LeaderboardEntry]) {
        self.challengeId = challengeId
        self.entries = entries
    }
}

/// One miner's normalized weight in `GET /mechanisms/{id}/weights`.
public struct MinerWeight: Codable, Sendable, Equatable {
    public var hotkey: String
    public var weight: Double

    public init(hotkey: String, weight: Double) {
        self.hotkey = hotkey
        self.weight = weight
    }
}

/// One active challenge of `GET /mechanisms/{id}/weights`: its emission share and how many miners it ranks.
public struct MechanismChallengeShare: Codable, Sendable, Equatable {
    public var challengeId: String
    public var name: String
    public var emissionShare: Double
    public var miners: Int
    /// False when the challenge had no positive score: its share stays unallocated.
    public var allocated: Bool

    enum CodingKeys: String, CodingKey {
        case name, miners, allocated
        case challengeId = "challenge_id"
        case emissionShare = "emission_share"
    }

    public init(challengeId: String, name: String, emissionShare: Double, miners: Int, allocated: Bool) {
        self.challengeId = challengeId
        self.name = name
        self.emissionShare = emissionShare
        self.miners = miners
        self.allocated = allocated
    }
}

/// `GET /mechanisms/{id}/weights`: normalized miner weights of one mechanism, sorted by
/// hotkey; `total` ≤ 1 (the remainder is unallocated — validators burn it to UID 0).
public struct MechanismWeightsResponse: Codable, Sendable, Equatable {
    public var mechanismId: Int
    public var weights: [MinerWeight]
    public var total: Double
    public var challenges: [MechanismChallengeShare]

    enum CodingKeys: String, CodingKey {
        case weights, total, challenges
        case mechanismId = "mechanism_id"
    }

    public init(mechanismId: Int, weights: [MinerWeight], total: Double, challenges: [MechanismChallengeShare]) {
        self.mechanismId = mechanismId
        self.weights = weights
        self.total = total
        self.challenges = challenges
    }
}

/// The body of `GET /health`: the database backend, connected validators and the last event `seq`.
public struct PlatformHealth: Codable, Sendable, Equatable {
    public var status: String
    public var database: String
    public var validatorsConnected: Int
    public var lastEventSeq: Int64

    enum CodingKeys: String, CodingKey {
        case status, database
        case validatorsConnected = "validators_connected"
        case lastEventSeq = "last_event_seq"
    }

    public init(status: String, database: String, validatorsConnected: Int, lastEventSeq: Int64) {
        self.status = status
        self.database = database
        self.validatorsConnected = validatorsConnected
        self.lastEventSeq = lastEventSeq
    }
}
