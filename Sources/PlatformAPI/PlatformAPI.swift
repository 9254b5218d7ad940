/// # PlatformAPI
///
/// Owns the Platform API's wire format: every request and response body (validator,
/// miner and admin routes), the WebSocket messages pushed to validators (`new_job`,
/// `challenge_updated`, `job_cancelled`, plus `welcome`/`pong`), the API's paths, header
/// names and error codes. Snake_case field names come from the seed contract. It depends
/// on Foundation only, so the server (`PlatformServer`) and the validator client share it.
import Foundation
import TimeText
@_exported import WireJSON

// MARK: - Paths and headers

public enum PlatformPaths {
    public static let health = "/health"
    // Validator API (seed contract).
    public static let activeChallenges = "/challenges/active"
    public static let pendingJobs = "/jobs/pending"
    public static func job(_ id: String) -> String { "/jobs/\(id)" }
    public static func claim(_ id: String) -> String { "/jobs/\(id)/claim" }
    public static func start(_ id: String) -> String { "/jobs/\(id)/start" }
    public static func results(_ id: String) -> String { "/jobs/\(id)/results" }
    public static func ormQuery(_ challengeId: String) -> String { "/challenges/\(challengeId)/orm/query" }
    public static func validatorSocket(_ hotkey: String) -> String { "/validators/\(hotkey)/ws" }
    // Miners and public reads.
    public static func submissions(_ challengeId: String) -> String { "/challenges/\(challengeId)/submissions" }
    public static func submission(_ id: String) -> String { "/submissions/\(id)" }
    public static func leaderboard(_ challengeId: String) -> String { "/challenges/\(challengeId)/leaderboard" }
    public static func weights(_ mechanismId: Int) -> String { "/mechanisms/\(mechanismId)/weights" }
    // Admin (Authorization: Bearer <token>).
    public static let adminChallenges = "/admin/challenges"
    public static func adminChallenge(_ id: String) -> String { "/admin/challenges/\(id)" }
    public static func adminActivate(_ id: String) -> String { "/admin/challenges/\(id)/activate" }
    public static func adminDeactivate(_ id: String) -> String { "/admin/challenges/\(id)/deactivate" }
    public static let adminValidators = "/admin/validators"
    public static func adminValidator(_ hotkey: String) -> String { "/admin/validators/\(hotkey)" }
    public static func adminCancelJob(_ id: String) -> String { "/admin/jobs/\(id)/cancel" }
}

/// Defaults shared by the platform server and its clients, so a validator started with its
/// defaults reaches a platform started with its defaults.
public enum PlatformDefaults {
    /// `evalnet platform serve --port` default.
    public static let port = 8435
    /// `evalnet platform serve --host` default.
    public static let host = "127.0.0.1"
    /// The validator's default `platform_api_url`.
    public static var localURL: String { "http://\(host):\(port)" }
}

public enum PlatformHeaders {
    /// The validator's SS58 hotkey; must equal the signed `X-Key`.
    public static let validatorHotkey = "X-Validator-Hotkey"
    /// On the WebSocket upgrade: the last event `seq` the client received (resume point).
    public static let lastEventSeq = "X-Last-Event-Seq"
}

/// Query parameters accepted on the WebSocket upgrade URL, for clients that cannot set
/// headers on the upgrade request: `key`, `timestamp`, `signature` stand for `X-Key`,
/// `X-Timestamp`, `X-Signature`; `since` for `X-Last-Event-Seq`.
public enum PlatformSocketQuery {
    public static let key = "key"
    public static let timestamp = "timestamp"
    public static let signature = "signature"
    public static let since = "since"
}

/// Machine codes of the JSON errors (`{"detail", "code"}`) clients may branch on.
public enum PlatformErrorCode {
    public static let notRegistered = ErrorCode("validator_not_registered")
    public static let hotkeyMismatch = ErrorCode("validator_hotkey_mismatch")
    public static let missingValidatorHotkey = ErrorCode("validator_hotkey_missing")
    public static let adminTokenMissing = ErrorCode("admin_token_missing")
    public static let adminTokenInvalid = ErrorCode("admin_token_invalid")
    public static let adminDisabled = ErrorCode("admin_disabled")
    public static let challengeNotFound = ErrorCode("challenge_not_found")
    public static let challengeInactive = ErrorCode("challenge_inactive")
    public static let challengeNameTaken = ErrorCode("challenge_name_taken")
    public static let emissionShareExceeded = ErrorCode("emission_share_exceeded")
    public static let jobNotFound = ErrorCode("job_not_found")
    public static let jobNotPending = ErrorCode("job_not_pending")
    public static let jobAlreadyClaimed = ErrorCode("job_already_claimed")
    public static let alreadyEvaluatingSubmission = ErrorCode("already_evaluating_submission")
    public static let notClaimer = ErrorCode("not_claimer")
    public static let jobNotClaimed = ErrorCode("job_not_claimed")
    public static let jobFinished = ErrorCode("job_already_finished")
    public static let submissionNotFound = ErrorCode("submission_not_found")
    public static let payloadTooLarge = ErrorCode("payload_too_large")
    public static let tooManyOpenSubmissions = ErrorCode("too_many_open_submissions")
    public static let validatorNotFound = ErrorCode("validator_not_found")
    public static let queryRejected = ErrorCode("query_rejected")
    public static let queryForbidden = ErrorCode("query_forbidden")
    public static let queryTimeout = ErrorCode("query_timeout")
    /// The query result is larger than the platform's result byte cap (400).
    public static let queryResultTooLarge = ErrorCode("query_result_too_large")
    public static let queryFailed = ErrorCode("query_failed")
    public static let invalidField = ErrorCode("invalid_field")
    public static let upgradeRequired = ErrorCode("websocket_upgrade_required")
    public static let invalidMechanism = ErrorCode("invalid_mechanism")
}

/// Times on the wire are RFC 3339 / ISO 8601 UTC strings (`2025-01-01T00:00:00Z`).
public enum PlatformTime {
    public static func string(_ unixSeconds: Double) -> String {
        guard unixSeconds.isFinite else { return "1970-01-01T00:00:00Z" }
        return RFC3339.utc(unixSeconds, fraction: false)
    }

    public static func parse(_ text: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)?.timeIntervalSince1970
    }
}

// MARK: - Validator API

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

// MARK: - WebSocket messages (server → validator)

public enum PlatformMessageType {
    public static let newJob = "new_job"
    public static let challengeUpdated = "challenge_updated"
    public static let jobCancelled = "job_cancelled"
    public static let welcome = "welcome"
    public static let ping = "ping"
    public static let pong = "pong"
    public static let error = "error"
    public static let reconnect = "reconnect"
}

/// The WebSocket close code a draining server sends after `reconnect` (RFC 6455 registry:
/// 1012 "Service Restart").
public let platformServiceRestartCloseCode: UInt16 = 1012

/// A job the validator may claim now (a wake-up: claim it over HTTP; a 409 means another
/// validator was faster).
public struct NewJobMessage: Codable, Sendable, Equatable {
    public var type: String
    public var jobId: String
    public var challengeId: String
    /// Event sequence number; pass the last one received as `since` when reconnecting.
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case type, seq
        case jobId = "job_id"
        case challengeId = "challenge_id"
    }

    public init(jobId: String, challengeId: String, seq: Int64? = nil) {
        self.type = PlatformMessageType.newJob
        self.jobId = jobId
        self.challengeId = challengeId
        self.seq = seq
    }
}

/// A challenge's code or compose changed, or it was activated/deactivated: re-read
/// `GET /challenges/active`.
public struct ChallengeUpdatedMessage: Codable, Sendable, Equatable {
    public var type: String
    public var challengeId: String
    public var githubCommit: String
    public var composeHash: String?
    public var status: String?
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case type, seq, status
        case challengeId = "challenge_id"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
    }

    public init(challengeId: String, githubCommit: String, composeHash: String? = nil, status: String? = nil,
                seq: Int64? = nil) {
        self.type = PlatformMessageType.challengeUpdated
        self.challengeId = challengeId
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.status = status
        self.seq = seq
    }
}

/// Stop working on this job: the claim expired or an admin cancelled it.
public struct JobCancelledMessage: Codable, Sendable, Equatable {
    public var type: String
    public var jobId: String
    public var reason: String?
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case type, seq, reason
        case jobId = "job_id"
    }

    public init(jobId: String, reason: String? = nil, seq: Int64? = nil) {
        self.type = PlatformMessageType.jobCancelled
        self.jobId = jobId
        self.reason = reason
        self.seq = seq
    }
}

/// First message on every connection. `lastSeq` is the newest event at connect time;
/// `replayed` how many catch-up messages follow before live events.
public struct WelcomeMessage: Codable, Sendable, Equatable {
    public var type: String
    public var validatorHotkey: String
    public var lastSeq: Int64
    public var replayed: Int
    /// `since` (resume after the client's last seq) or `snapshot` (all claimable pending jobs).
    public var mode: String

    enum CodingKeys: String, CodingKey {
        case type, replayed, mode
        case validatorHotkey = "validator_hotkey"
        case lastSeq = "last_seq"
    }

    public init(validatorHotkey: String, lastSeq: Int64, replayed: Int, mode: String) {
        self.type = PlatformMessageType.welcome
        self.validatorHotkey = validatorHotkey
        self.lastSeq = lastSeq
        self.replayed = replayed
        self.mode = mode
    }
}

/// Answer to a client `{"type":"ping"}` (application-level keep-alive; the server also
/// sends WebSocket protocol pings).
public struct PongMessage: Codable, Sendable, Equatable {
    public var type: String
    public var ts: Double?

    public init(ts: Double? = nil) {
        self.type = PlatformMessageType.pong
        self.ts = ts
    }
}

/// The server is shutting down (a replica draining behind a load balancer): reconnect now,
/// with `since` = the last seq received, and the catch-up fills any gap. The connection is
/// closed next with code 1012.
public struct ReconnectMessage: Codable, Sendable, Equatable {
    public var type: String
    public var reason: String?

    public init(reason: String? = nil) {
        self.type = PlatformMessageType.reconnect
        self.reason = reason
    }
}

/// Client → server message (`{"type":"ping"}`).
public struct ClientMessage: Codable, Sendable, Equatable {
    public var type: String
    public var ts: Double?

    public init(type: String, ts: Double? = nil) {
        self.type = type
        self.ts = ts
    }
}

/// Any server → validator message, decoded by its `type`.
public enum PlatformServerMessage: Sendable, Equatable {
    case newJob(NewJobMessage)
    case challengeUpdated(ChallengeUpdatedMessage)
    case jobCancelled(JobCancelledMessage)
    case welcome(WelcomeMessage)
    case pong(PongMessage)
    case reconnect(ReconnectMessage)
    case other(type: String)

    private struct Envelope: Decodable { let type: String }

    public static func decode(_ text: String) throws -> PlatformServerMessage {
        let data = Data(text.utf8)
        let d = JSONDecoder()
        let type = try d.decode(Envelope.self, from: data).type
        switch type {
        case PlatformMessageType.newJob: return .newJob(try d.decode(NewJobMessage.self, from: data))
        case PlatformMessageType.challengeUpdated:
            return .challengeUpdated(try d.decode(ChallengeUpdatedMessage.self, from: data))
        case PlatformMessageType.jobCancelled: return .jobCancelled(try d.decode(JobCancelledMessage.self, from: data))
        case PlatformMessageType.welcome: return .welcome(try d.decode(WelcomeMessage.self, from: data))
        case PlatformMessageType.pong: return .pong(try d.decode(PongMessage.self, from: data))
        case PlatformMessageType.reconnect: return .reconnect(try d.decode(ReconnectMessage.self, from: data))
        default: return .other(type: type)
        }
    }

    /// The event sequence number, for messages that carry one.
    public var seq: Int64? {
        switch self {
        case let .newJob(m): return m.seq
        case let .challengeUpdated(m): return m.seq
        case let .jobCancelled(m): return m.seq
        default: return nil
        }
    }
}

// MARK: - Miner API and public reads

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

public struct MinerWeight: Codable, Sendable, Equatable {
    public var hotkey: String
    public var weight: Double

    public init(hotkey: String, weight: Double) {
        self.hotkey = hotkey
        self.weight = weight
    }
}

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

// MARK: - Admin API

/// `POST /admin/challenges`. Defaults: status `active`, validators_per_submission 1,
/// max_retries 3, claim_timeout_s 1800.
public struct CreateChallengeRequest: Codable, Sendable, Equatable {
    public var name: String
    public var githubRepo: String
    public var githubCommit: String
    public var composeHash: String
    public var mechanismId: Int
    public var emissionShare: Double
    public var status: String?
    public var validatorsPerSubmission: Int?
    public var maxRetries: Int?
    public var claimTimeoutS: Int?

    enum CodingKeys: String, CodingKey {
        case name, status
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
        case validatorsPerSubmission = "validators_per_submission"
        case maxRetries = "max_retries"
        case claimTimeoutS = "claim_timeout_s"
    }

    public init(name: String, githubRepo: String, githubCommit: String, composeHash: String, mechanismId: Int,
                emissionShare: Double, status: String? = nil, validatorsPerSubmission: Int? = nil,
                maxRetries: Int? = nil, claimTimeoutS: Int? = nil) {
        self.name = name
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.status = status
        self.validatorsPerSubmission = validatorsPerSubmission
        self.maxRetries = maxRetries
        self.claimTimeoutS = claimTimeoutS
    }
}

/// `PATCH /admin/challenges/{id}`: any subset of the fields; absent fields keep their value.
public struct UpdateChallengeRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var githubRepo: String?
    public var githubCommit: String?
    public var composeHash: String?
    public var mechanismId: Int?
    public var emissionShare: Double?
    public var validatorsPerSubmission: Int?
    public var maxRetries: Int?
    public var claimTimeoutS: Int?

    enum CodingKeys: String, CodingKey {
        case name
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
        case validatorsPerSubmission = "validators_per_submission"
        case maxRetries = "max_retries"
        case claimTimeoutS = "claim_timeout_s"
    }

    public init(name: String? = nil, githubRepo: String? = nil, githubCommit: String? = nil,
                composeHash: String? = nil, mechanismId: Int? = nil, emissionShare: Double? = nil,
                validatorsPerSubmission: Int? = nil, maxRetries: Int? = nil, claimTimeoutS: Int? = nil) {
        self.name = name
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.validatorsPerSubmission = validatorsPerSubmission
        self.maxRetries = maxRetries
        self.claimTimeoutS = claimTimeoutS
    }
}

/// A challenge with its configuration (admin views).
public struct ChallengeDetail: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var githubRepo: String
    public var githubCommit: String
    public var composeHash: String
    public var mechanismId: Int
    public var emissionShare: Double
    public var validatorsPerSubmission: Int
    public var maxRetries: Int
    public var claimTimeoutS: Int
    /// PostgreSQL schema (or SQLite file stem) holding the challenge's own tables.
    public var dataNamespace: String
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, status
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
        case validatorsPerSubmission = "validators_per_submission"
        case maxRetries = "max_retries"
        case claimTimeoutS = "claim_timeout_s"
        case dataNamespace = "data_namespace"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, name: String, status: String, githubRepo: String, githubCommit: String,
                composeHash: String, mechanismId: Int, emissionShare: Double, validatorsPerSubmission: Int,
                maxRetries: Int, claimTimeoutS: Int, dataNamespace: String, createdAt: String, updatedAt: String) {
        self.id = id
        self.name = name
        self.status = status
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.validatorsPerSubmission = validatorsPerSubmission
        self.maxRetries = maxRetries
        self.claimTimeoutS = claimTimeoutS
        self.dataNamespace = dataNamespace
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct ChallengeListResponse: Codable, Sendable, Equatable {
    public var challenges: [ChallengeDetail]
    public init(challenges: [ChallengeDetail]) { self.challenges = challenges }
}

public struct ValidatorEntry: Codable, Sendable, Equatable {
    public var hotkey: String
    /// `config` (from --validator) or `admin` (added through the API).
    public var source: String
    public var connected: Bool
    public var addedAt: String

    enum CodingKeys: String, CodingKey {
        case hotkey, source, connected
        case addedAt = "added_at"
    }

    public init(hotkey: String, source: String, connected: Bool, addedAt: String) {
        self.hotkey = hotkey
        self.source = source
        self.connected = connected
        self.addedAt = addedAt
    }
}

public struct ValidatorListResponse: Codable, Sendable, Equatable {
    public var validators: [ValidatorEntry]
    public init(validators: [ValidatorEntry]) { self.validators = validators }
}
