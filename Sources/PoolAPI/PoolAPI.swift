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
