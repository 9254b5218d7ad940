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
    /// Cut the evaluator off (the sandbox's network namespace, or `unshare -n` without the
    /// sandbox) when this host allows it, else run with network and say so in the logs.
    case auto
    /// Refuse to run an evaluator that cannot be cut off.
    case required
    /// Never isolate.
    case off
}

/// Whether evaluators run inside the bubblewrap sandbox (`[sandbox] mode`).
public enum SandboxMode: String, Sendable, Codable, CaseIterable {
    /// Refuse to run evaluators when the sandbox does not work on this host (the default;
    /// `evalnet validator run` does not start).
    case required
    /// Sandbox when possible; otherwise run evaluators unsandboxed, saying so loudly at
    /// start and on every job.
    case auto
    /// Never sandbox: evaluators run as the validator's user and can read its files —
    /// an explicit opt-out, for trusted challenges only.
    case off
}

/// Settings of `LocalExecutor`: work directories, network and sandbox policy, limits and output caps.
public struct LocalExecutorOptions: Sendable, Equatable {
    /// Per-job working directories are created (and removed) under this directory.
    public var workRoot: URL
    public var network: NetworkPolicy
    public var sandbox: SandboxMode
    /// RLIMIT_NPROC inside the sandbox: processes and threads of one evaluation.
    public var maxProcesses: Int
    /// Host paths the sandbox binds read-only at the same place (e.g. `/opt/swift` for an
    /// evaluator that needs a toolchain outside `/usr`).
    public var readOnlyPaths: [String]
    /// The `bwrap` executable; `nil` → looked up on `PATH`.
    public var bubblewrapPath: String?
    public var maxStdoutBytes: Int
    public var maxStderrBytes: Int
    /// Seconds between SIGTERM and SIGKILL when the group is stopped.
    public var termGraceSeconds: Double
    /// RLIMIT_CPU = ceil(timeout × cpu_cores × factor) + 1 seconds.
    public var cpuTimeFactor: Double
    /// Keep working directories after the run (debugging). Sandboxed, the writable work
    /// directory is a tmpfs that ends with the sandbox; what is kept is the host directory
    /// holding the job's inputs.
    public var keepWorkDirs: Bool

    public init(workRoot: URL, network: NetworkPolicy = .auto, sandbox: SandboxMode = .required,
                maxProcesses: Int = 256, readOnlyPaths: [String] = [], bubblewrapPath: String? = nil,
                maxStdoutBytes: Int = 1 << 20, maxStderrBytes: Int = 64 << 10, termGraceSeconds: Double = 2,
                cpuTimeFactor: Double = 1, keepWorkDirs: Bool = false) {
        self.workRoot = workRoot
        self.network = network
        self.sandbox = sandbox
        self.maxProcesses = maxProcesses
        self.readOnlyPaths = readOnlyPaths
        self.bubblewrapPath = bubblewrapPath
        self.maxStdoutBytes = maxStdoutBytes
        self.maxStderrBytes = maxStderrBytes
        self.termGraceSeconds = termGraceSeconds
        self.cpuTimeFactor = cpuTimeFactor
        self.keepWorkDirs = keepWorkDirs
    }
}

/// The isolation the local executor gives evaluators on this host, under its options.
public struct LocalIsolation: Sendable, Equatable {
    /// Evaluators run inside the bubblewrap sandbox.
    public var sandboxed: Bool
    /// Evaluators have no network.
    public var networkIsolated: Bool
    /// Set when a protection the options require is unavailable: every job is refused
    /// with this reason (and `runValidator` does not start).
    public var refusal: String?
    /// One paragraph for the operator (printed by `evalnet validator run` at start).
    public var summary: String
}

/// The embedded executor: runs the challenge's declared evaluator command on this machine,
/// inside a bubblewrap sandbox (`[sandbox] mode`, default `required`).
///
/// Sandboxed, per job (see `Sandbox`/`SandboxSpec` in ProcessKit for the mechanics):
/// - new mount, PID, IPC, UTS, cgroup and (unless `network = "off"`) network namespaces;
///   `--die-with-parent`, `--new-session`; the evaluator is never root: a validator running
///   as root starts bwrap privileged and drops to a dedicated host uid per job (no
///   capabilities, `no_new_privs`); a non-root validator's evaluator runs in a user
///   namespace with nested user namespaces disabled; a seccomp filter
///   (`Sandbox.seccompFilter`) refuses new user namespaces, mounts and a few other risky
///   system calls in both cases;
/// - it sees the system directories, a few `/etc` files, a synthetic passwd/group/hosts,
///   the challenge checkout at `/challenge` (read-only), the configured `read_only_paths`,
///   a fresh `/proc` (its own processes only) and a minimal `/dev` — nothing of the
///   validator's home, key file, config, database, work directory or other jobs;
/// - the only writable place is `/job` (cwd, `HOME`; `/tmp`, `TMPDIR` and `/dev/shm` lead
///   into it), a tmpfs of the job's `disk_mb`, so the kernel bounds every byte the evaluator
///   and its children write, in any number of files (ENOSPC beyond it). RLIMIT_FSIZE alone
///   bounds one file, and a watcher that measures the directory only notices after the
///   fact; a size-limited tmpfs is a hard bound without root-only tools (loop devices,
///   quotas). The price: those bytes live in memory (swappable), like the job's RAM;
/// - rlimits as before (CPU, address space, file size, open files, no core) plus
///   RLIMIT_NPROC = `max_processes`, which counts exactly this job's processes because the
///   job has its own uid (root) or user namespace (non-root) — a fork bomb hits EAGAIN;
/// - the whole process group is killed at the end; the PID namespace dies with its init,
///   so nothing the evaluator started survives it. A process still running when the
///   evaluator exits fails the job ("left N processes running").
///
/// The submission is copied into `/job` from a read-only input directory; the evaluator's
/// result file is passed back on a pipe. Without the sandbox (`auto` on a host where it
/// does not work, or `off`) the evaluator runs as before: a fresh host working directory,
/// the same environment and rlimits, `unshare -n` for the network where allowed — and it
/// can read whatever the validator's user can read.
public struct LocalExecutor: Executor {
    public let name = "local"
    public let options: LocalExecutorOptions
    let logger: Logger

    public init(options: LocalExecutorOptions, logger: Logger = Logger(label: "evalnet.validator.local")) {
        self.options = options
        self.logger = logger
    }

    /// Paths inside the sandbox.
    static let jobDirectory = "/job"
    static let challengeDirectory = "/challenge"
    static let inputDirectory = "/.evalnet/in"
    static let resultFileName = ".evalnet-result.json"

    /// The sandbox probe for these options (`nil` when the sandbox is off).
    var probe: Sandbox.Probe? {
        options.sandbox == .off ? nil : Sandbox.probe(bwrap: options.bubblewrapPath)
    }

    /// Whether evaluators run without network on this host under the configured policy.
    public var networkIsolated: Bool { isolation.networkIsolated }

    /// What isolation evaluators get here (the sandbox is probed once per process).
    public var isolation: LocalIsolation {
        let probe = self.probe
        let sandboxed = probe?.available == true
        let networkIsolated = options.network != .off && (sandboxed || NetworkIsolation.prefix != nil)
        var refusal: String?
        if options.sandbox == .required && !sandboxed {
            refusal = "the evaluator sandbox is required but unavailable: \(probe?.problem ?? "unknown")"
                + " — install bubblewrap, or set [sandbox] mode = \"auto\" or \"off\" to run evaluators unsandboxed"
        } else if options.network == .required && !networkIsolated {
            refusal = "network isolation is required but unavailable on this host (unshare -n refused)"
        }
        let network = networkIsolated ? (sandboxed ? "no network (empty network namespace)" : "no network (unshare -n)")
            : options.network == .off ? "host network (network = \"off\")" : "NETWORK AVAILABLE (unshare -n refused)"
        let summary: String
        if let refusal {
            summary = "REFUSING evaluations: \(refusal)"
        } else if sandboxed, let probe {
            summary = "bubblewrap sandbox (\(probe.bwrap ?? "bwrap")): evaluator as \(probe.identityKind); "
                + "new mount/PID/IPC/UTS namespaces; system directories and the challenge read-only; "
                + "only writable place a tmpfs work directory of the job's disk_mb; at most \(options.maxProcesses) "
                + "processes; CPU/memory/file-size/open-file limits; \(network)"
        } else {
            let why = options.sandbox == .off ? "[sandbox] mode = \"off\"" : "sandbox unavailable: \(probe?.problem ?? "-")"
            summary = "WARNING: NO SANDBOX (\(why)) — evaluators run as the validator's user and can read its key file, "
                + "config and other jobs; rlimits only, no process or total-disk cap; \(network)"
        }
        return LocalIsolation(sandboxed: sandboxed, networkIsolated: networkIsolated, refusal: refusal, summary: summary)
    }

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
        let isolation = self.isolation
        if let refusal = isolation.refusal { return failure(.failed, refusal) }
        if Task.isCancelled { return failure(.cancelled, "cancelled") }
        if !isolation.sandboxed && options.sandbox != .off {
            logger.warning("running evaluator WITHOUT a sandbox: it can read what the validator's user can read",
                           metadata: ["job": "\(job.jobId)", "reason": "\(probe?.problem ?? "-")"])
        }

        let fm = FileManager.default
        let hostDir = options.workRoot.appendingPathComponent("job-\(safeName(job.jobId))-\(UUID().uuidString.prefix(8))")
        defer {
            if !options.keepWorkDirs { try? fm.removeItem(at: hostDir) }
        }
        let filename = safeName(job.submission.filename ?? declaration.submissionFilename)
        let sandboxed = isolation.sandboxed
        // Inside the sandbox the evaluator sees fixed paths; without it, the host ones.
        let workDir = sandboxed ? Self.jobDirectory : hostDir.path
        let challengeDir = sandboxed ? Self.challengeDirectory : challenge.directory.path
        let submissionPath = workDir + "/" + filename
        let outputPath = workDir + "/" + Self.resultFileName
        let identity: SandboxIdentity? = sandboxed ? SandboxIdentity.forCurrentProcess() : nil
        defer { if case let .dropToUID(uid)? = identity { SandboxUIDs.release(uid) } }
        do {
            if sandboxed, let identity {
                try prepareSandboxInputs(hostDir, filename: filename, content: job.submission.content, identity: identity)
            } else {
                try fm.createDirectory(at: hostDir.appendingPathComponent("tmp"), withIntermediateDirectories: true)
                try job.submission.content.write(to: URL(fileURLWithPath: submissionPath))
            }
        } catch {
            return failure(.failed, "cannot prepare working directory \(hostDir.path): \(error)")
        }

        let substitutions = ["{challenge_dir}": challengeDir, "{work_dir}": workDir,
                             "{submission}": submissionPath, "{output}": outputPath]
        let argv = command.map { arg in substitutions.reduce(arg) { $0.replacingOccurrences(of: $1.key, with: $1.value) } }
        var timeout = max(0.1, job.timeoutSeconds)
        if let own = declaration.timeoutSeconds { timeout = min(timeout, own) }

        var env = declaration.environment
        let parentPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        env.merge([
            "PATH": parentPath,
            "LANG": "C.UTF-8",
            "HOME": workDir,
            "TMPDIR": workDir + "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "EVALNET_JOB_ID": job.jobId,
            "EVALNET_CHALLENGE_ID": job.challengeId,
            "EVALNET_SUBMISSION_ID": job.submissionId,
            "EVALNET_MINER_HOTKEY": job.minerHotkey,
            "EVALNET_SUBMISSION": submissionPath,
            "EVALNET_OUTPUT": outputPath,
            "EVALNET_WORK_DIR": workDir,
            "EVALNET_CHALLENGE_DIR": challengeDir,
            "EVALNET_TIMEOUT_S": String(Int(timeout.rounded(.up))),
            "EVALNET_CPU_CORES": String(job.resources.cpuCores),
            "EVALNET_MEMORY_MB": String(job.resources.memoryMb),
            "EVALNET_NETWORK": isolation.networkIsolated ? "none" : "available",
            "EVALNET_SANDBOX": sandboxed ? "bubblewrap" : "none",
        ]) { _, new in new }

        let cores = Double(max(1, job.resources.cpuCores))
        let diskBytes = (job.resources.diskMb > 0 ? job.resources.diskMb : ResourceLimits.defaultJob.diskMb) << 20
        var limits = ResourceRLimits(
            cpuSeconds: Int((timeout * cores * options.cpuTimeFactor).rounded(.up)) + 1,
            addressSpaceKiB: job.resources.memoryMb > 0 ? job.resources.memoryMb * 1024 : nil,
            fileSizeBytes: job.resources.diskMb > 0 ? diskBytes : nil,
            openFiles: 1024)
        var request = SpawnRequest(
            command: argv, environment: env, workingDirectory: workDir, limits: limits, isolationPrefix: [],
            stdout: .capture(maxBytes: options.maxStdoutBytes, keep: .head),
            stderr: .capture(maxBytes: options.maxStderrBytes, keep: .tail))
        if sandboxed, let identity, let bwrap = probe?.bwrap {
            // Per-uid (root) or per-user-namespace (non-root) count: this job's processes only.
            limits.processes = options.maxProcesses
            request.limits = limits
            var binds: [SandboxSpec.Bind] = [
                SandboxSpec.Bind(challenge.directory.path, at: Self.challengeDirectory),
                SandboxSpec.Bind(hostDir.appendingPathComponent("in").path, at: Self.inputDirectory),
            ]
            for name in ["passwd", "group", "hosts"] {
                binds.append(SandboxSpec.Bind(hostDir.appendingPathComponent("etc/\(name)").path, at: "/etc/\(name)"))
            }
            binds += (Self.ownProgramPaths + options.readOnlyPaths).map { SandboxSpec.Bind($0, at: $0) }
            let scratch = Self.jobDirectory + "/tmp"
            let spec = SandboxSpec(
                readOnly: binds, writableDirectory: Self.jobDirectory, writableBytes: diskBytes,
                symlinks: [SandboxSpec.Symlink("/tmp", to: scratch), SandboxSpec.Symlink("/dev/shm", to: scratch)],
                shareNetwork: options.network == .off, hostname: "evalnet-sandbox", identity: identity)
            let seccomp = Sandbox.seccompFilter
            request.isolationPrefix = Sandbox.prefix(bwrap: bwrap, spec: spec, infoFD: 4, seccompFD: seccomp == nil ? nil : 5)
            if let seccomp { request.extraInputs = [5: seccomp] }
            request.command = ["/bin/sh", "-c", Self.wrapperScript, "evalnet-job"] + argv
            request.extraOutputs = [.capture(maxBytes: EvaluatorLimits.maxResultBytes + 4096, keep: .head),
                                    .capture(maxBytes: 4096, keep: .head)]
        } else if isolation.networkIsolated, let prefix = NetworkIsolation.prefix {
            request.isolationPrefix = prefix
        }

        logger.debug("starting evaluator", metadata: ["job": "\(job.jobId)", "argv": "\(argv)", "sandboxed": "\(sandboxed)",
                                                      "network_isolated": "\(isolation.networkIsolated)"])
        let run: RunResult
        do {
            run = try await ProcessGroup.run(request, timeout: .milliseconds(Int64(timeout * 1000)),
                                             grace: .milliseconds(Int64(options.termGraceSeconds * 1000)))
        } catch {
            return failure(.failed, "cannot start evaluator: \(error)")
        }
        if sandboxed, run.extra.count > 1, let nsInit = Sandbox.namespaceInitPid(info: run.extra[1].bytes) {
            // bwrap may exit before reaping the namespace's init, which then comes to us.
            if !(await ProcessGroup.reapChild(nsInit)) {
                logger.warning("sandbox init still present after teardown", metadata: ["pid": "\(nsInit)"])
            }
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

        var status = run.status
        var resultBytes: [UInt8]?
        if sandboxed {
            let report = SandboxReport(run.extra.first?.bytes ?? [])
            if let report {
                status = Self.shellStatus(report.exitCode)
                if report.leftRunning > 0 {
                    let said = stderrTail.last.map { ": \($0)" } ?? ""
                    return JobOutcome(status: .failed, logs: stderrTail, executionTimeMs: ms,
                                      error: "the evaluator left \(report.leftRunning) process(es) running after it exited "
                                          + "(\(status.description)\(said)); the sandbox killed them",
                                      exitStatus: status.description)
                }
                resultBytes = report.result
            } else {
                if run.status == .exited(1), let line = run.stderr.text.split(separator: "\n").last(where: { $0.hasPrefix("bwrap:") }) {
                    return JobOutcome(status: .failed, logs: stderrTail, executionTimeMs: ms,
                                      error: "the sandbox could not start: \(line)", exitStatus: run.status.description)
                }
                if case let .exited(code) = run.status { status = Self.shellStatus(code) }
            }
        } else if let data = fm.contents(atPath: outputPath) {
            resultBytes = Array(data)
        }

        var exitCode: Int32?
        var exitText = status.description
        switch status {
        case let .exited(code):
            exitCode = code
            if code == SpawnRequest.commandNotFound { exitText += " (command not found: \(argv[0]))" }
            if code == SpawnRequest.limitSetupFailed { exitText += " (resource limits could not be applied)" }
            if code == SpawnRequest.workingDirectoryFailed { exitText += " (the working directory could not be prepared)" }
        case let .signaled(sig):
            if sig == SIGXCPU { exitText += " — CPU time limit exceeded" }
            if sig == SIGXFSZ { exitText += " — file size limit exceeded" }
        }
        let parsed: Result<EvaluatorResult, EvaluatorResultError>
        if let data = resultBytes, !data.isEmpty {
            parsed = Result { try EvaluatorResult.parse(data) }.mapError { $0 as? EvaluatorResultError ?? .notJSON("\($0)") }
        } else if run.stdout.truncated {
            parsed = .failure(.tooLarge(run.stdout.totalBytes))
        } else {
            parsed = Result { try EvaluatorResult.fromStdout(run.stdout.text) }.mapError { $0 as? EvaluatorResultError ?? .notJSON("\($0)") }
        }
        return OutcomeRules.outcome(exitCode: exitCode, exitDescription: exitText, result: parsed,
                                    stderrTail: stderrTail, elapsedMs: ms)
    }

    /// Host paths every sandbox shows read-only so that a challenge can use this program as
    /// its evaluator (`evalnet score …`, as the demo's challenge does): the `evalnet`
    /// executable (this process's own when it is `evalnet`, else an `evalnet` beside it, and
    /// `$EVALNET_BIN`), and the directory of the Swift runtime it loaded (`libswiftCore.so`)
    /// when that lies outside the system directories (e.g. `/opt/swift/usr/lib/swift/linux`).
    /// Programs and libraries only — no data of the validator's.
    static let ownProgramPaths: [String] = {
        let fm = FileManager.default
        var paths: [String] = []
        func addExecutable(_ path: String) {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: path),
                  !paths.contains(path) else { return }
            paths.append(path)
        }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if me.lastPathComponent == "evalnet" { addExecutable(me.path) }
        addExecutable(me.deletingLastPathComponent().appendingPathComponent("evalnet").path)
        if let bin = ProcessInfo.processInfo.environment["EVALNET_BIN"], bin.hasPrefix("/") {
            addExecutable(URL(fileURLWithPath: bin).resolvingSymlinksInPath().path)
        }
        let maps = String(decoding: readWholeFile("/proc/self/maps"), as: UTF8.self)
        let runtime = maps.split(separator: "\n").lazy.compactMap { line -> String? in
            guard let slash = line.firstIndex(of: "/") else { return nil }
            let path = String(line[slash...])
            return (path as NSString).lastPathComponent == "libswiftCore.so" ? (path as NSString).deletingLastPathComponent : nil
        }.first
        if let runtime, !Sandbox.systemPaths.contains(where: { runtime == $0 || runtime.hasPrefix($0 + "/") }) {
            paths.append(runtime)
        }
        return paths
    }()

    /// A shell's `$?`: 128 + N means the command was killed by signal N.
    static func shellStatus(_ code: Int32) -> ExitStatus {
        code > 128 && code < 128 + 65 ? .signaled(code - 128) : .exited(code)
    }

    /// The host side of the sandbox's inputs: `in/` (the submission, bound read-only and
    /// copied into the tmpfs by the wrapper) and `etc/` (passwd, group, hosts naming only
    /// root, the sandbox user and nobody). World-readable: a root validator's evaluator runs
    /// as another uid.
    func prepareSandboxInputs(_ hostDir: URL, filename: String, content: Data, identity: SandboxIdentity) throws {
        let fm = FileManager.default
        let dirAttributes: [FileAttributeKey: Any] = [.posixPermissions: 0o755]
        let input = hostDir.appendingPathComponent("in")
        let etc = hostDir.appendingPathComponent("etc")
        try fm.createDirectory(at: input, withIntermediateDirectories: true, attributes: dirAttributes)
        try fm.createDirectory(at: etc, withIntermediateDirectories: true, attributes: dirAttributes)
        try fm.setAttributes(dirAttributes, ofItemAtPath: hostDir.path)
        let uid: UInt32
        switch identity {
        case let .dropToUID(u): uid = u
        case .userNamespace: uid = getuid()
        }
        let files: [(URL, Data)] = [
            (input.appendingPathComponent(filename), content),
            (etc.appendingPathComponent("passwd"), Data("""
                root:x:0:0:root:/:/usr/sbin/nologin
                evaluator:x:\(uid):\(uid):evalnet evaluator:\(Self.jobDirectory):/bin/sh
                nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

                """.utf8)),
            (etc.appendingPathComponent("group"), Data("root:x:0:\nevaluator:x:\(uid):\nnogroup:x:65534:\n".utf8)),
            (etc.appendingPathComponent("hosts"), Data("127.0.0.1 localhost evalnet-sandbox\n::1 localhost\n".utf8)),
        ]
        for (url, data) in files {
            try data.write(to: url)
            try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
        }
    }

    /// Runs inside the sandbox as the evaluator's user, under all its limits, in `/job`:
    /// copies the inputs in, runs the evaluator (`"$@"`) without the report descriptor 3,
    /// then counts processes still alive besides itself and the namespace init (without
    /// forking: builtins only) and writes one line `evalnet-sandbox rc=N left=N result=0|1`
    /// to descriptor 3, followed by the result file (at most 1 MiB + 1) when there is one and
    /// nothing is left running.
    static let wrapperScript = """
        mkdir -p \(jobDirectory)/tmp && cp -R \(inputDirectory)/. \(jobDirectory)/ || {
          echo "evalnet-sandbox: cannot copy the submission into \(jobDirectory) (larger than the job's disk_mb?)" >&2
          exit 126
        }
        "$@" 3>&-
        rc=$?
        left=0
        for d in /proc/[0-9]*; do
          p=${d#/proc/}
          [ "$p" = 1 ] && continue
          [ "$p" = "$$" ] && continue
          st=
          read -r st 2>/dev/null < "$d/stat" || true
          [ -n "$st" ] || continue
          case "${st##*) }" in Z*|X*) ;; *) left=$((left + 1)) ;; esac
        done
        if [ "$left" -eq 0 ] && [ -f "$EVALNET_OUTPUT" ]; then
          printf 'evalnet-sandbox rc=%s left=0 result=1\\n' "$rc" >&3
          head -c \(EvaluatorLimits.maxResultBytes + 1) -- "$EVALNET_OUTPUT" >&3
        else
          printf 'evalnet-sandbox rc=%s left=%s result=0\\n' "$rc" "$left" >&3
        fi
        exit "$rc"
        """
}

/// What the sandbox wrapper reported on descriptor 3 (see `LocalExecutor.wrapperScript`).
struct SandboxReport: Equatable {
    var exitCode: Int32
    var leftRunning: Int
    var result: [UInt8]?

    init(exitCode: Int32, leftRunning: Int, result: [UInt8]?) {
        self.exitCode = exitCode
        self.leftRunning = leftRunning
        self.result = result
    }

    init?(_ bytes: [UInt8]) {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard header.first == "evalnet-sandbox" else { return nil }
        var fields: [String: Int] = [:]
        for item in header.dropFirst() {
            let kv = item.split(separator: "=", maxSplits: 1)
            if kv.count == 2, let v = Int(kv[1]) { fields[String(kv[0])] = v }
        }
        guard let rc = fields["rc"], let left = fields["left"], let hasResult = fields["result"],
              let code = Int32(exactly: rc) else { return nil }
        exitCode = code
        leftRunning = left
        result = hasResult == 1 ? Array(bytes[(newline + 1)...]) : nil
    }
}

/// The whole content of a (proc) file, read until end of file: Foundation's readers stop
/// at the size `stat` reports, which is 0 or one page for /proc files.
func readWholeFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            out.append(contentsOf: buffer[0..<n])
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            return out
        }
    }
}

/// A string safe as one path component: [A-Za-z0-9._-], at most 64 characters.
func safeName(_ s: String) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    var out = String(s.map { allowed.contains($0) ? $0 : "_" }.prefix(64))
    if out.isEmpty || out == "." || out == ".." { out = "_" + out }
    return out
}
