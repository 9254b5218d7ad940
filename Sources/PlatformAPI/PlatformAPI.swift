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

/// The Platform API's paths (validator, miner and public, admin).
public enum PlatformPaths {
    public static let health = "/health"
    // Validator API (seed contract).
    public static let activeChallenges = "/challenges/active"
    public static let pendingJobs = "/jobs/pending"
    public static func job(_ id: String) -> String { "/jobs/\(id)" }
    public static func claim(_ id: String) -> String { "/jobs/\(id)/claim" }
    /// Claim the oldest pending job the caller may take (`PlatformQueryNames.challengeId`
    /// narrows it to one challenge); 204 when there is none.
    public static let claimNext = "/jobs/claim"
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

/// Header names of the Platform API besides the signed-request ones.
public enum PlatformHeaders {
    /// The validator's SS58 hotkey; must equal the signed `X-Key`.
    public static let validatorHotkey = "X-Validator-Hotkey"
    /// On the WebSocket upgrade: the last event `seq` the client received (resume point).
    public static let lastEventSeq = "X-Last-Event-Seq"
}

/// Query parameter names of the HTTP routes.
public enum PlatformQueryNames {
    /// `POST /jobs/claim?challenge_id=…`: claim a job of this challenge only.
    public static let challengeId = "challenge_id"
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
