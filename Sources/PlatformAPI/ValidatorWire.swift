// The validator routes' bodies: active challenges, pending jobs, claims, results and
// read-only queries over a challenge's data.
import Foundation
import TimeText

/// One entry of `GET /challenges/active`.
public struct ActiveChallenge: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var githubRepo: String
    public var githubCommit: String
    public var composeHash: String
    public var mechanismId: Int
    public var emissionShare: Double

    enum CodingKeys: String, CodingKey {
        case id, name, status
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
    }

    public init(id: String, name: String, status: String, githubRepo: String, githubCommit: String,
                composeHash: String, mechanismId: Int, emissionShare: Double) {
        self.id = id
        self.name = name
        self.status = status
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
    }
}

/// The body of `GET /challenges/active`.
public struct ActiveChallengesResponse: Codable, Sendable, Equatable {
    public var challenges: [ActiveChallenge]
    public init(challenges: [ActiveChallenge]) { self.challenges = challenges }
}

/// One entry of `GET /jobs/pending` (jobs the calling validator may claim, oldest first).
public struct PendingJob: Codable, Sendable, Equatable {
    public var id: String
    public var challengeId: String
    public var submissionId: String
    public var minerHotkey: String
    public var status: String
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, status
        case challengeId = "challenge_id"
        case submissionId = "submission_id"
        case minerHotkey = "miner_hotkey"
        case createdAt = "created_at"
    }

    public init(id: String, challengeId: String, submissionId: String, minerHotkey: String, status: String,
                createdAt: String) {
        self.id = id
        self.challengeId = challengeId
        self.submissionId = submissionId
        self.minerHotkey = minerHotkey
        self.status = status
        self.createdAt = createdAt
    }
}

/// The body of `GET /jobs/pending`.
public struct PendingJobsResponse: Codable, Sendable, Equatable {
    public var jobs: [PendingJob]
    public init(jobs: [PendingJob]) { self.jobs = jobs }
}

/// What a miner submitted: inline code, or a reference to an artifact stored elsewhere.
public struct SubmissionPayload: Codable, Sendable, Equatable {
    public var code: String?
    public var artifact: ArtifactReference?

    public init(code: String? = nil, artifact: ArtifactReference? = nil) {
        self.code = code
        self.artifact = artifact
    }
}

/// A submission stored elsewhere: its URL and the SHA-256 of its bytes.
public struct ArtifactReference: Codable, Sendable, Equatable {
    /// `https://` (or `http://`) URL of the artifact.
    public var url: String
    /// Hex SHA-256 of the artifact bytes (64 lowercase hex characters).
    public var sha256: String

    public init(url: String, sha256: String) {
        self.url = url
        self.sha256 = sha256
    }
}

/// `POST /jobs/{id}/claim` → 200. The seed fields (`id`, `challenge_id`, `submission_id`,
/// `status`) plus what the claimer needs to run the job.
public struct ClaimResponse: Codable, Sendable, Equatable {
    public var id: String
    public var challengeId: String
    public var submissionId: String
    public var status: String
    public var minerHotkey: String
    /// The claim lapses at this time unless results arrive (the job then returns to pending).
    public var claimExpiresAt: String
    /// 1 for the first claim of this job, 2 after one expired claim, …
    public var attempt: Int
    public var payload: SubmissionPayload

    enum CodingKeys: String, CodingKey {
        case id, status, attempt, payload
        case challengeId = "challenge_id"
        case submissionId = "submission_id"
        case minerHotkey = "miner_hotkey"
        case claimExpiresAt = "claim_expires_at"
    }

    public init(id: String, challengeId: String, submissionId: String, status: String, minerHotkey: String,
                claimExpiresAt: String, attempt: Int, payload: SubmissionPayload) {
        self.id = id
        self.challengeId = challengeId
        self.submissionId = submissionId
        self.status = status
        self.minerHotkey = minerHotkey
        self.claimExpiresAt = claimExpiresAt
        self.attempt = attempt
        self.payload = payload
    }
}

/// `POST /jobs/{id}/results` body. A non-null `error` marks the job failed (`score` may
/// then be omitted); otherwise `score` is required (finite, ≥ 0).
public struct JobResultRequest: Codable, Sendable, Equatable {
    public var score: Double?
    public var metrics: [String: JSONValue]?
    public var logs: [String]?
    public var executionTimeMs: Int64?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case score, metrics, logs, error
        case executionTimeMs = "execution_time_ms"
    }

    public init(score: Double?, metrics: [String: JSONValue]? = nil, logs: [String]? = nil,
                executionTimeMs: Int64? = nil, error: String? = nil) {
        self.score = score
        self.metrics = metrics
        self.logs = logs
        self.executionTimeMs = executionTimeMs
        self.error = error
    }
}

/// A job as seen by `GET /jobs/{id}` (the payload only for its claimer).
public struct JobView: Codable, Sendable, Equatable {
    public var id: String
    public var challengeId: String
    public var submissionId: String
    public var minerHotkey: String
    public var status: String
    public var validatorHotkey: String?
    public var retryCount: Int
    public var maxRetries: Int
    public var createdAt: String
    public var claimedAt: String?
    public var startedAt: String?
    public var claimExpiresAt: String?
    public var finishedAt: String?
    public var score: Double?
    public var executionTimeMs: Int64?
    public var error: String?
    public var payload: SubmissionPayload?

    enum CodingKeys: String, CodingKey {
        case id, status, score, error, payload
        case challengeId = "challenge_id"
        case submissionId = "submission_id"
        case minerHotkey = "miner_hotkey"
        case validatorHotkey = "validator_hotkey"
        case retryCount = "retry_count"
        case maxRetries = "max_retries"
        case createdAt = "created_at"
        case claimedAt = "claimed_at"
        case startedAt = "started_at"
        case claimExpiresAt = "claim_expires_at"
        case finishedAt = "finished_at"
        case executionTimeMs = "execution_time_ms"
    }

    public init(id: String, challengeId: String, submissionId: String, minerHotkey: String, status: String,
                validatorHotkey: String?, retryCount: Int, maxRetries: Int, createdAt: String, claimedAt: String?,
                startedAt: String?, claimExpiresAt: String?, finishedAt: String?, score: Double?,
                executionTimeMs: Int64?, error: String?, payload: SubmissionPayload?) {
        self.id = id
        self.challengeId = challengeId
        self.submissionId = submissionId
        self.minerHotkey = minerHotkey
        self.status = status
        self.validatorHotkey = validatorHotkey
        self.retryCount = retryCount
        self.maxRetries = maxRetries
        self.createdAt = createdAt
        self.claimedAt = claimedAt
        self.startedAt = startedAt
        self.claimExpiresAt = claimExpiresAt
        self.finishedAt = finishedAt
        self.score = score
        self.executionTimeMs = executionTimeMs
        self.error = error
        self.payload = payload
    }
}

/// `POST /challenges/{id}/orm/query`: one read-only SQL statement over the challenge's own
/// tables (`agents`, `evaluations`); `?` placeholders bound from `params` in order.
public struct OrmQueryRequest: Codable, Sendable, Equatable {
    public var query: String
    public var params: [JSONValue]?

    public init(query: String, params: [JSONValue]? = nil) {
        self.query = query
        self.params = params
    }
}

/// The answer of `POST /challenges/{id}/orm/query`: the rows kept, their count, and whether more
/// were cut off.
public struct OrmQueryResponse: Codable, Sendable, Equatable {
    public var rows: [[String: JSONValue]]
    public var rowCount: Int
    /// True when the result had more rows than the server's cap and was cut to the cap.
    public var truncated: Bool

    enum CodingKeys: String, CodingKey {
        case rows, truncated
        case rowCount = "row_count"
    }

    public init(rows: [[String: JSONValue]], rowCount: Int, truncated: Bool) {
        self.rows = rows
        self.rowCount = rowCount
        self.truncated = truncated
    }
}
