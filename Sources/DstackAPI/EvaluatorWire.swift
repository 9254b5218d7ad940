// The HTTP contract between the validator and the evaluator inside a VM.
import Foundation

/// The convention between a per-job VM's evaluator service and the validator (see
/// docs/evaluator-contract.md): an HTTP server on `vm_port` inside the VM answering
/// `GET /health` (200 when ready) and `POST /evaluate` (`EvaluateRequest` →
/// the evaluator's result JSON).
public enum EvaluatorService {
    public static let healthPath = "/health"
    public static let evaluatePath = "/evaluate"
    /// The port the evaluator listens on inside the VM when the challenge does not say.
    public static let defaultVMPort = 8080
}

/// Body of `POST /evaluate` on a per-job VM.
public struct EvaluateRequest: Codable, Sendable, Equatable {
    public var jobId: String
    public var challengeId: String
    public var submissionId: String
    public var minerHotkey: String
    /// The submission file's name (no directories).
    public var submissionFilename: String
    /// The submission bytes, base64.
    public var submissionBase64: String
    /// Wall-clock budget the evaluator should respect, seconds.
    public var timeoutSeconds: Double

    public init(jobId: String, challengeId: String, submissionId: String, minerHotkey: String, submissionFilename: String,
                submissionBase64: String, timeoutSeconds: Double) {
        self.jobId = jobId
        self.challengeId = challengeId
        self.submissionId = submissionId
        self.minerHotkey = minerHotkey
        self.submissionFilename = submissionFilename
        self.submissionBase64 = submissionBase64
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case jobId = "job_id"
        case challengeId = "challenge_id"
        case submissionId = "submission_id"
        case minerHotkey = "miner_hotkey"
        case submissionFilename = "submission_filename"
        case submissionBase64 = "submission_b64"
        case timeoutSeconds = "timeout_s"
    }
}
