import Foundation
import Logging
import ProcessKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether evaluators may use the network.
public enum NetworkPolicy: String, Sendable, Codable, CaseIterable {
    /// Cut the evaluator off (`unshare -n`) when this host allows it, else run with network
    /// and say so in the logs.
    case auto
    /// Refuse to run an evaluator that cannot be cut off.
    case required
    /// Never isolate.
    case off
}

public struct LocalExecutorOptions: Sendable, Equatable {
    /// Per-job working directories are created (and removed) under this directory.
    public var workRoot: URL
    public var network: NetworkPolicy
    public var maxStdoutBytes: Int
    public var maxStderrBytes: Int
    /// Seconds between SIGTERM and SIGKILL when the group is stopped.
    public var termGraceSeconds: Double
    /// RLIMIT_CPU = ceil(timeout × cpu_cores × factor) + 1 seconds.
    public var cpuTimeFactor: Double
    /// Keep working directories after the run (debugging).
    public var keepWorkDirs: Bool

    public init(workRoot: URL, network: NetworkPolicy = .auto, maxStdoutBytes: Int = 1 << 20,
                maxStderrBytes: Int = 64 << 10, termGraceSeconds: Double = 2, cpuTimeFactor: Double = 1,
                keepWorkDirs: Bool = false) {
        self.workRoot = workRoot
        self.network = network
        self.maxStdoutBytes = maxStdoutBytes
        self.maxStderrBytes = maxStderrBytes
        self.termGraceSeconds = termGraceSeconds
        self.cpuTimeFactor = cpuTimeFactor
        self.keepWorkDirs = keepWorkDirs
    }
}

/// The embedded executor: runs the challenge's declared evaluator command as a child
/// process group on this machine.
///
/// Per job: a fresh working directory (the process's cwd, `HOME` and `TMPDIR`, removed
/// afterwards) holding the submission file; a minimal environment (`PATH`, `LANG`, the
/// `EVALNET_*` variables and the declaration's `env`; nothing else of the validator's);
/// limits applied in the child: RLIMIT_CPU (timeout × cores), RLIMIT_AS (the job's
/// memory), RLIMIT_FSIZE (the job's disk, per file), RLIMIT_NOFILE 1024, no core dumps;
/// no network when `unshare -n` works here (see `networkIsolated`); stdout and stderr
/// captured with caps; a wall-clock limit after which the whole group gets SIGTERM, then
/// SIGKILL. Cancelling the calling task does the same. Not a security boundary like a VM:
/// the evaluator runs as the validator's user and can read what that user can read.
public struct LocalExecutor: Executor {
    public let name = "local"
    public let options: LocalExecutorOptions
    let logger: Logger

    public init(options: LocalExecutorOptions, logger: Logger = Logger(label: "evalnet.validator.local")) {
        self.options = options
        self.logger = logger
    }

    /// Whether evaluators run without network on this host under the configured policy.
    public var networkIsolated: Bool { options.network != .off && NetworkIsolation.prefix != nil }

    public func execute(job: EvaluationJob, challenge: ProvisionedChallenge) async -> JobOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        func elapsed() -> Int64 { milliseconds(clock.now - start) }
        func failure(_ status: OutcomeStatus, _ why: String, logs: [String] = []) -> JobOutcome {
            JobOutcome(status: status, score: status == .rejected ? 0 : nil, logs: logs, executionTimeMs: elapsed(), error: why)
        }
        let declaration = challenge.declaration
        guard let command = declaration.command else {
            return failure(.failed, "challenge \(challenge.spec.id) declares no [evaluator] command; it can only run in a VM")
        }
        if job.submission.content.count > declaration.maxSubmissionBytes {
            return failure(.rejected, "submission is \(job.submission.content.count) bytes; the challenge accepts at most \(declaration.maxSubmissionBytes)")
        }
        var isolation: [String] = []
        switch options.network {
        case .off: break
        case .auto, .required:
            if let prefix = NetworkIsolation.prefix {
                isolation = prefix
            } else if options.network == .required {
                return failure(.failed, "network isolation is required but unavailable on this host (unshare -n refused)")
            }
        }
        if Task.isCancelled { return failure(.cancelled, "cancelled") }

        let fm = FileManager.default
        let workDir = options.workRoot.appendingPathComponent("job-\(safeName(job.jobId))-\(UUID().uuidString.prefix(8))")
        defer {
            if !options.keepWorkDirs { try? fm.removeItem(at: workDir) }
        }
        let filename = safeName(job.submission.filename ?? declaration.submissionFilename)
        let submissionPath = workDir.appendingPathComponent(filename).path
        let outputPath = workDir.appendingPathComponent(".evalnet-result.json").path
        do {
            try fm.createDirectory(at: workDir.appendingPathComponent("tmp"), withIntermediateDirectories: true)
            try job.submission.content.write(to: URL(fileURLWithPath: submissionPath))
        } catch {
            return failure(.failed, "cannot prepare working directory \(workDir.path): \(error)")
        }

        let substitutions = ["{challenge_dir}": challenge.directory.path, "{work_dir}": workDir.path,
                             "{submission}": submissionPath, "{output}": outputPath]
        let argv = command.map { arg in substitutions.reduce(arg) { $0.replacingOccurrences(of: $1.key, with: $1.value) } }
        var timeout = max(0.1, job.timeoutSeconds)
        if let own = declaration.timeoutSeconds { timeout = min(timeout, own) }

        var env = declaration.environment
        let parentPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        env.merge([
            "PATH": parentPath,
            "LANG": "C.UTF-8",
            "HOME": workDir.path,
            "TMPDIR": workDir.appendingPathComponent("tmp").path,
            "PYTHONDONTWRITEBYTECODE": "1",
            "EVALNET_JOB_ID": job.jobId,
            "EVALNET_CHALLENGE_ID": job.challengeId,
            "EVALNET_SUBMISSION_ID": job.submissionId,
            "EVALNET_MINER_HOTKEY": job.minerHotkey,
            "EVALNET_SUBMISSION": submissionPath,
            "EVALNET_OUTPUT": outputPath,
            "EVALNET_WORK_DIR": workDir.path,
            "EVALNET_CHALLENGE_DIR": challenge.directory.path,
            "EVALNET_TIMEOUT_S": String(Int(timeout.rounded(.up))),
            "EVALNET_CPU_CORES": String(job.resources.cpuCores),
            "EVALNET_MEMORY_MB": String(job.resources.memoryMb),
            "EVALNET_NETWORK": isolation.isEmpty ? "available" : "none",
        ]) { _, new in new }

        let cores = Double(max(1, job.resources.cpuCores))
        let limits = ResourceRLimits(
            cpuSeconds: Int((timeout * cores * options.cpuTimeFactor).rounded(.up)) + 1,
            addressSpaceKiB: job.resources.memoryMb > 0 ? job.resources.memoryMb * 1024 : nil,
            fileSizeBytes: job.resources.diskMb > 0 ? job.resources.diskMb << 20 : nil,
            openFiles: 1024)
        let request = SpawnRequest(
            command: argv, environment: env, workingDirectory: workDir.path, limits: limits, isolationPrefix: isolation,
            stdout: .capture(maxBytes: options.maxStdoutBytes, keep: .head),
            stderr: .capture(maxBytes: options.maxStderrBytes, keep: .tail))

        logger.debug("starting evaluator", metadata: ["job": "\(job.jobId)", "argv": "\(argv)", "isolated": "\(!isolation.isEmpty)"])
        let run: RunResult
        do {
            run = try await ProcessGroup.run(request, timeout: .milliseconds(Int64(timeout * 1000)),
                                             grace: .milliseconds(Int64(options.termGraceSeconds * 1000)))
        } catch {
            return failure(.failed, "cannot start evaluator: \(error)")
        }
        if !run.groupGone {
            logger.warning("evaluator process group still present after teardown", metadata: ["pgid": "\(run.pgid)"])
        }
        let stderrTail = tailLines(run.stderr.text, EvaluatorLimits.stderrTailLines)
        let ms = milliseconds(run.elapsed)
        switch run.end {
        case .timedOut:
            return JobOutcome(status: .timeout, logs: stderrTail, executionTimeMs: ms, error: "timeout",
                              exitStatus: run.status.description)
        case .cancelled:
            return JobOutcome(status: .cancelled, logs: stderrTail, executionTimeMs: ms, error: "cancelled",
                              exitStatus: run.status.description)
        case .exited:
            break
        }
        var exitCode: Int32?
        var exitText = run.status.description
        switch run.status {
        case let .exited(code):
            exitCode = code
            if code == SpawnRequest.commandNotFound { exitText += " (command not found: \(argv[0]))" }
            if code == SpawnRequest.limitSetupFailed { exitText += " (resource limits could not be applied)" }
        case let .signaled(sig):
            if sig == SIGXCPU { exitText += " — CPU time limit exceeded" }
            if sig == SIGXFSZ { exitText += " — file size limit exceeded" }
        }
        let parsed: Result<EvaluatorResult, EvaluatorResultError>
        if let data = fm.contents(atPath: outputPath), !data.isEmpty {
            parsed = Result { try EvaluatorResult.parse(Array(data)) }.mapError { $0 as? EvaluatorResultError ?? .notJSON("\($0)") }
        } else if run.stdout.truncated {
            parsed = .failure(.tooLarge(run.stdout.totalBytes))
        } else {
            parsed = Result { try EvaluatorResult.fromStdout(run.stdout.text) }.mapError { $0 as? EvaluatorResultError ?? .notJSON("\($0)") }
        }
        return OutcomeRules.outcome(exitCode: exitCode, exitDescription: exitText, result: parsed,
                                    stderrTail: stderrTail, elapsedMs: ms)
    }
}

/// A string safe as one path component: [A-Za-z0-9._-], at most 64 characters.
func safeName(_ s: String) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    var out = String(s.map { allowed.contains($0) ? $0 : "_" }.prefix(64))
    if out.isEmpty || out == "." || out == ".." { out = "_" + out }
    return out
}
