/// # Validator
///
/// Owns the validator's building blocks below the job loop: the resource quota
/// (`CVMQuotaManager`, per-challenge reservations by emission share and demand), challenge
/// checkouts pinned to a commit and verified against their compose hash
/// (`ChallengeManager`), the evaluator contract (`EvaluatorDeclaration`, result parsing),
/// the executors that turn a job into a `JobOutcome` (`LocalExecutor`: sandboxed child
/// process group; `DstackExecutor`: a VM per job through the dstack VMM API), and the
/// validator's configuration (`ValidatorConfig`, `config.toml` + `EVALNET_VALIDATOR_*`).
/// Talking to the Platform API (PlatformClient) and the job loop (JobManager) live elsewhere
/// and call into these.
import Foundation
import ServiceKit

/// An amount of compute: a capacity, a reservation, or one job's request.
public struct ResourceLimits: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var cpuCores: Int
    public var memoryMb: Int
    public var diskMb: Int
    public var gpuCount: Int

    public init(cpuCores: Int, memoryMb: Int, diskMb: Int, gpuCount: Int = 0) {
        self.cpuCores = cpuCores
        self.memoryMb = memoryMb
        self.diskMb = diskMb
        self.gpuCount = gpuCount
    }

    public static let zero = ResourceLimits(cpuCores: 0, memoryMb: 0, diskMb: 0, gpuCount: 0)

    /// What one job gets when nothing else is said: 1 core, 1 GiB memory, 1 GiB disk.
    public static let defaultJob = ResourceLimits(cpuCores: 1, memoryMb: 1024, diskMb: 1024, gpuCount: 0)

    enum CodingKeys: String, CodingKey {
        case cpuCores = "cpu_cores"
        case memoryMb = "memory_mb"
        case diskMb = "disk_mb"
        case gpuCount = "gpu_count"
    }

    /// The four amounts in a fixed order (cpu, memory, disk, gpu).
    public var components: [Int] { [cpuCores, memoryMb, diskMb, gpuCount] }
    public static let componentNames = ["cpu_cores", "memory_mb", "disk_mb", "gpu_count"]

    public init(components c: [Int]) {
        self.init(cpuCores: c[0], memoryMb: c[1], diskMb: c[2], gpuCount: c[3])
    }

    /// Every amount ≤ the other's.
    public func fits(in other: ResourceLimits) -> Bool {
        zip(components, other.components).allSatisfy { $0 <= $1 }
    }

    public var isNonNegative: Bool { components.allSatisfy { $0 >= 0 } }
    public var isZero: Bool { components.allSatisfy { $0 == 0 } }

    public static func + (a: ResourceLimits, b: ResourceLimits) -> ResourceLimits {
        ResourceLimits(components: zip(a.components, b.components).map { $0 + $1 })
    }

    /// Component-wise difference, never below zero.
    public func saturatingSubtract(_ b: ResourceLimits) -> ResourceLimits {
        ResourceLimits(components: zip(components, b.components).map { max(0, $0 - $1) })
    }

    /// Component-wise minimum.
    public func min(_ b: ResourceLimits) -> ResourceLimits {
        ResourceLimits(components: zip(components, b.components).map { Swift.min($0, $1) })
    }

    public var description: String {
        "cpu_cores=\(cpuCores) memory_mb=\(memoryMb) disk_mb=\(diskMb) gpu_count=\(gpuCount)"
    }
}

/// The miner's submission: bytes handed to the evaluator as a file.
public struct Submission: Sendable, Equatable {
    /// The evaluator's `submission_filename` is used when nil.
    public var filename: String?
    public var content: Data

    public init(content: Data, filename: String? = nil) {
        self.content = content
        self.filename = filename
    }

    public init(text: String, filename: String? = nil) {
        self.init(content: Data(text.utf8), filename: filename)
    }
}

/// One job as an executor sees it.
public struct EvaluationJob: Sendable, Equatable {
    public var jobId: String
    public var challengeId: String
    public var submissionId: String
    public var minerHotkey: String
    public var submission: Submission
    /// What the job may use (normally the quota allocation granted for it).
    public var resources: ResourceLimits
    /// Wall-clock limit of the evaluation, seconds.
    public var timeoutSeconds: Double

    public init(jobId: String, challengeId: String, submissionId: String, minerHotkey: String, submission: Submission,
                resources: ResourceLimits = .defaultJob, timeoutSeconds: Double = 600) {
        self.jobId = jobId
        self.challengeId = challengeId
        self.submissionId = submissionId
        self.minerHotkey = minerHotkey
        self.submission = submission
        self.resources = resources
        self.timeoutSeconds = timeoutSeconds
    }
}

/// How a job ended, from the network's point of view.
public enum OutcomeStatus: String, Codable, Sendable, Equatable {
    /// The evaluator scored the submission.
    case completed
    /// The evaluator refused the submission (invalid, does not load, …): a real result
    /// with score 0 unless the evaluator gave one, and `error` saying why.
    case rejected
    /// The evaluator or the machinery failed (crash, no result, VM did not boot): not the
    /// miner's fault; the job should be retried or failed, not scored.
    case failed
    /// The wall-clock limit passed; `error` is "timeout".
    case timeout
    /// The job was cancelled; `error` is "cancelled".
    case cancelled
}

/// The result of executing a job. Encodes as the Platform API results body
/// (`score, metrics, logs, execution_time_ms, error`) plus `status` and `exit_status`.
public struct JobOutcome: Codable, Sendable, Equatable {
    public var status: OutcomeStatus
    public var score: Double?
    public var metrics: [String: JSONValue]
    public var logs: [String]
    public var executionTimeMs: Int64
    public var error: String?
    /// "exit status N" / "killed by signal N (NAME)", when a process ended.
    public var exitStatus: String?

    public init(status: OutcomeStatus, score: Double? = nil, metrics: [String: JSONValue] = [:], logs: [String] = [],
                executionTimeMs: Int64 = 0, error: String? = nil, exitStatus: String? = nil) {
        self.status = status
        self.score = score
        self.metrics = metrics
        self.logs = logs
        self.executionTimeMs = executionTimeMs
        self.error = error
        self.exitStatus = exitStatus
    }

    enum CodingKeys: String, CodingKey {
        case status, score, metrics, logs, error
        case executionTimeMs = "execution_time_ms"
        case exitStatus = "exit_status"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(score, forKey: .score)
        try c.encode(metrics, forKey: .metrics)
        try c.encode(logs, forKey: .logs)
        try c.encode(executionTimeMs, forKey: .executionTimeMs)
        try c.encode(error, forKey: .error)
        try c.encodeIfPresent(exitStatus, forKey: .exitStatus)
    }

    /// Whether the outcome is a result to report as the submission's score
    /// (`completed` or `rejected`), as opposed to an execution failure.
    public var isScored: Bool { status == .completed || status == .rejected }
}

/// Runs jobs. Implementations never throw: every failure is a `JobOutcome` with `error`.
/// Cancelling the calling task stops the evaluation promptly (the child process group
/// or the VM is torn down) and yields status `cancelled`.
public protocol Executor: Sendable {
    /// A short name for logs ("local", "dstack").
    var name: String { get }
    func execute(job: EvaluationJob, challenge: ProvisionedChallenge) async -> JobOutcome
}

extension Executor {
    /// The seed's name for `execute(job:challenge:)`.
    public func executeJob(_ job: EvaluationJob, challenge: ProvisionedChallenge) async -> JobOutcome {
        await execute(job: job, challenge: challenge)
    }
}

/// Milliseconds of a Duration.
func milliseconds(_ d: Duration) -> Int64 {
    let (s, atto) = d.components
    return s * 1000 + atto / 1_000_000_000_000_000
}
