/// # ProcessKit
///
/// Owns running untrusted commands as whole process groups: spawning through
/// `posix_spawn` into a fresh process group with a clean signal state and no inherited file
/// descriptors beyond the ones asked for, applying resource limits in the child (`ulimit` in
/// a tiny `/bin/sh` prologue: RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NOFILE,
/// RLIMIT_NPROC, no core dumps), an isolation prefix (a bubblewrap sandbox, see `Sandbox`,
/// or `unshare -n`, detected at run time), capped capture of stdout/stderr and of extra
/// output descriptors, and tearing a group down (SIGTERM, grace, SIGKILL) until no member
/// is left — reaping re-parented orphans as a child subreaper on Linux so the group id
/// really disappears.
import CProcessShim
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a child ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case let .exited(code): return "exit status \(code)"
        case let .signaled(sig): return "killed by signal \(sig) (\(signalName(sig)))"
        }
    }

    public var succeeded: Bool { self == .exited(0) }
}

/// A conventional name for the common signals (for messages).
public func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGHUP: return "SIGHUP"
    case SIGINT: return "SIGINT"
    case SIGQUIT: return "SIGQUIT"
    case SIGILL: return "SIGILL"
    case SIGABRT: return "SIGABRT"
    case SIGFPE: return "SIGFPE"
    case SIGKILL: return "SIGKILL"
    case SIGSEGV: return "SIGSEGV"
    case SIGPIPE: return "SIGPIPE"
    case SIGALRM: return "SIGALRM"
    case SIGTERM: return "SIGTERM"
    case SIGXCPU: return "SIGXCPU"
    case SIGXFSZ: return "SIGXFSZ"
    case SIGBUS: return "SIGBUS"
    default: return "signal \(sig)"
    }
}

/// Per-process limits applied in the child before it executes the command.
/// Each is a `setrlimit` of the child (and inherited by its descendants, each of which
/// gets its own budget); `nil` leaves the inherited limit.
public struct ResourceRLimits: Sendable, Equatable {
    /// RLIMIT_CPU: CPU seconds before SIGXCPU (then SIGKILL).
    public var cpuSeconds: Int?
    /// RLIMIT_AS: address-space size in KiB (allocations beyond it fail).
    public var addressSpaceKiB: Int?
    /// RLIMIT_FSIZE: largest file the process may write, in bytes (rounded up to 512).
    public var fileSizeBytes: Int?
    /// RLIMIT_NOFILE: open file descriptors.
    public var openFiles: Int?
    /// RLIMIT_NPROC: processes (and threads) of the child's real user id, counted by the
    /// kernel per user (per user namespace). Only a bound when that user runs nothing else:
    /// give the child a dedicated uid or user namespace (the bubblewrap sandbox does).
    /// Not enforced for root.
    public var processes: Int?

    public init(cpuSeconds: Int? = nil, addressSpaceKiB: Int? = nil, fileSizeBytes: Int? = nil, openFiles: Int? = nil,
                processes: Int? = nil) {
        self.cpuSeconds = cpuSeconds
        self.addressSpaceKiB = addressSpaceKiB
        self.fileSizeBytes = fileSizeBytes
        self.openFiles = openFiles
        self.processes = processes
    }

    /// The `/bin/sh` lines that apply the limits; each failure exits 125.
    var shellLines: [String] {
        var lines = ["ulimit -c 0 2>/dev/null"]
        if let v = cpuSeconds { lines.append("ulimit -t \(max(1, v)) || exit 125") }
        if let v = addressSpaceKiB { lines.append("ulimit -v \(max(1024, v)) || exit 125") }
        if let v = fileSizeBytes { lines.append("ulimit -f \(max(1, (v + 511) / 512)) || exit 125") }
        if let v = openFiles { lines.append("ulimit -n \(max(16, v)) || exit 125") }
        // bash (and POSIX) spell RLIMIT_NPROC `-u`; dash, Debian's /bin/sh, spells it `-p`.
        if let v = processes { lines.append("ulimit -u \(max(1, v)) 2>/dev/null || ulimit -p \(max(1, v)) || exit 125") }
        return lines
    }
}

/// Where a child's output goes.
public enum OutputDestination: Sendable, Equatable {
    /// Captured in memory: at most `maxBytes`, keeping the first or the last bytes.
    case capture(maxBytes: Int, keep: CaptureKeep)
    /// Appended to a file (created with mode 0644).
    case file(String)
    case discard
}

/// Which bytes a capped capture keeps: the first (`head`) or the last (`tail`).
public enum CaptureKeep: Sendable, Equatable {
    case head
    case tail
}

/// What to run. `command[0]` is looked up in the `PATH` of `environment`.
public struct SpawnRequest: Sendable {
    public var command: [String]
    /// The child's whole environment (nothing else is inherited).
    public var environment: [String: String]
    public var workingDirectory: String
    public var limits: ResourceRLimits
    /// argv prefix that isolates the command (a `Sandbox` invocation, or
    /// `NetworkIsolation.prefix` to remove network access), or empty. The prologue that
    /// applies `limits` and changes to `workingDirectory` runs inside it.
    public var isolationPrefix: [String]
    public var stdout: OutputDestination
    public var stderr: OutputDestination
    /// Further output descriptors of the child: element i is its descriptor 3 + i. Every
    /// other descriptor of this process is closed in the child.
    public var extraOutputs: [OutputDestination]
    /// Input descriptors of the child (descriptor → bytes it reads from it): each a pipe
    /// filled and closed before the child starts, so at most 64 KiB each. Use descriptors
    /// above those of `extraOutputs`.
    public var extraInputs: [Int32: [UInt8]]

    public init(command: [String], environment: [String: String], workingDirectory: String,
                limits: ResourceRLimits = .init(), isolationPrefix: [String] = [],
                stdout: OutputDestination = .capture(maxBytes: 1 << 20, keep: .head),
                stderr: OutputDestination = .capture(maxBytes: 256 << 10, keep: .tail),
                extraOutputs: [OutputDestination] = [], extraInputs: [Int32: [UInt8]] = [:]) {
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.limits = limits
        self.isolationPrefix = isolationPrefix
        self.stdout = stdout
        self.stderr = stderr
        self.extraOutputs = extraOutputs
        self.extraInputs = extraInputs
    }

    /// The exit statuses the sandbox prologue itself uses.
    public static let limitSetupFailed: Int32 = 125
    public static let workingDirectoryFailed: Int32 = 126
    public static let commandNotFound: Int32 = 127

    /// The full argv executed: [isolation prefix] /bin/sh -c PROLOGUE evalnet-sandbox DIR COMMAND...
    var argv: [String] {
        let script = (["cd -- \"$1\" || exit 126", "shift"] + limits.shellLines + ["exec \"$@\""]).joined(separator: "\n")
        return isolationPrefix + ["/bin/sh", "-c", script, "evalnet-sandbox", workingDirectory] + command
    }
}

/// Why a process could not be started: an empty command or a failed system call.
public enum SpawnError: Error, CustomStringConvertible, Sendable {
    case emptyCommand
    case system(String, Int32)

    public var description: String {
        switch self {
        case .emptyCommand: return "no command to run"
        case let .system(call, err): return "\(call) failed: \(String(cString: strerror(err)))"
        }
    }
}

/// Output captured from a pipe.
public struct CapturedOutput: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Bytes the child wrote in total (more than `bytes.count` when capped).
    public var totalBytes: Int

    public init(bytes: [UInt8] = [], totalBytes: Int = 0) {
        self.bytes = bytes
        self.totalBytes = totalBytes
    }

    public var truncated: Bool { totalBytes > bytes.count }
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A child running as the leader of its own process group (pgid == pid).
public final class ProcessGroup: Sendable {
    public let pid: pid_t
    public var pgid: pid_t { pid }
    private let stdoutCapture: PipeCapture?
    private let stderrCapture: PipeCapture?
    private let extraCaptures: [PipeCapture?]
    private let status = Mutex<ExitStatus?>(nil)

    /// Linux: become a child subreaper once, so a group's orphans come back to us to be
    /// reaped (otherwise a non-reaping PID 1 would keep them as zombies in the group).
    public static let subreaperEnabled: Bool = evalnet_set_child_subreaper() == 0

    private init(pid: pid_t, stdout: PipeCapture?, stderr: PipeCapture?, extra: [PipeCapture?]) {
        self.pid = pid
        stdoutCapture = stdout
        stderrCapture = stderr
        extraCaptures = extra
    }

    /// Starts `request` in a new process group.
    ///
    /// The `posix_spawn` happens on one long-lived thread of this process (`SpawnThread`):
    /// Linux delivers a child's parent-death signal (`PR_SET_PDEATHSIG`, which bubblewrap's
    /// `--die-with-parent` uses) when the *thread* that created it exits, and the threads
    /// of Swift's concurrency pool may come and go while an evaluation runs.
    public static func spawn(_ request: SpawnRequest) throws -> ProcessGroup {
        guard !request.command.isEmpty else { throw SpawnError.emptyCommand }
        _ = subreaperEnabled
        return try SpawnThread.shared.perform { Result { try spawnNow(request) } }.get()
    }

    private static func spawnNow(_ request: SpawnRequest) throws -> ProcessGroup {
        let argv = request.argv

        #if canImport(Darwin)
        var attr: posix_spawnattr_t? = nil
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var attr = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        let flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawnattr_setflags(&attr, Int16(flags))
        posix_spawnattr_setpgroup(&attr, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ] {
            sigaddset(&defaults, sig)
        }
        posix_spawnattr_setsigdefault(&attr, &defaults)

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        func closeAll() {
            for fd in parentEnds + childEnds { close(fd) }
        }
        func route(_ destination: OutputDestination, to target: Int32) throws -> Int32? {
            switch destination {
            case .discard:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                return nil
            case let .file(path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                return nil
            case .capture:
                var fds: [Int32] = [-1, -1]
                guard pipe(&fds) == 0 else { throw SpawnError.system("pipe", errno) }
                // Move both ends above the child's target descriptors (0...2 + extras), so
                // no dup2 below can overwrite a source that a later one still needs.
                for i in 0..<2 {
                    let high = fcntl(fds[i], F_DUPFD_CLOEXEC, Int32(16))
                    if high >= 0 {
                        close(fds[i])
                        fds[i] = high
                    } else {
                        _ = fcntl(fds[i], F_SETFD, FD_CLOEXEC)
                    }
                }
                parentEnds.append(fds[0])
                childEnds.append(fds[1])
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                return fds[0]
            }
        }
        let outRead: Int32?
        let errRead: Int32?
        var extraReads: [Int32?] = []
        do {
            outRead = try route(request.stdout, to: 1)
            errRead = try route(request.stderr, to: 2)
            for (i, destination) in request.extraOutputs.enumerated() {
                extraReads.append(try route(destination, to: Int32(3 + i)))
            }
            for (target, bytes) in request.extraInputs.sorted(by: { $0.key < $1.key }) {
                let fd = try filledPipe(bytes)
                childEnds.append(fd)
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        } catch {
            closeAll()
            throw error
        }
        // Nothing else of this process reaches the child (descriptors a parent process
        // left without FD_CLOEXEC would otherwise pass through into a sandbox).
        let lowestClosed = max(Int32(3 + request.extraOutputs.count), (request.extraInputs.keys.max() ?? 0) + 1)
        SpawnFileActions.closeFrom(&actions, lowestClosed)

        let environment = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let (rc, pid) = withUnsafePointer(to: &attr) {
            SpawnFileActions.spawn(argv, environment: environment, actions: &actions, attributes: $0)
        }
        for fd in childEnds { close(fd) }
        guard rc == 0 else {
            for fd in parentEnds { close(fd) }
            throw SpawnError.system("posix_spawn \(argv[0])", rc)
        }
        func capture(_ fd: Int32?, _ destination: OutputDestination) -> PipeCapture? {
            guard let fd, case let .capture(maxBytes, keep) = destination else { return nil }
            let c = PipeCapture(fd: fd, maxBytes: maxBytes, keep: keep)
            c.start()
            return c
        }
        return ProcessGroup(pid: pid, stdout: capture(outRead, request.stdout), stderr: capture(errRead, request.stderr),
                            extra: zip(extraReads, request.extraOutputs).map { capture($0, $1) })
    }

    /// The exit status once the leader has been reaped by `terminate`.
    public var exitStatus: ExitStatus? { status.withLock { $0 } }

    /// Whether the leader has exited (it stays a zombie, holding the group id, until
    /// `terminate` reaps it).
    public var leaderExited: Bool {
        if status.withLock({ $0 }) != nil { return true }
        return evalnet_child_has_exited(pid) != 0
    }

    /// Whether any process of the group still exists (including zombies).
    public var groupExists: Bool { Self.groupExists(pgid) }

    public static func groupExists(_ pgid: pid_t) -> Bool {
        if kill(-pgid, 0) == 0 { return true }
        return errno != ESRCH
    }

    public func signalGroup(_ sig: Int32) {
        guard status.withLock({ $0 }) == nil || groupExists else { return }
        _ = kill(-pgid, sig)
    }

    /// Waits until the leader exits, `deadline` passes or the task is cancelled.
    /// Returns true when the leader exited.
    public func waitForLeader(until deadline: ContinuousClock.Instant) async -> Bool {
        var delay = 2
        while !leaderExited {
            if Task.isCancelled || ContinuousClock.now >= deadline { return false }
            do { try await Task.sleep(for: .milliseconds(delay)) } catch { return leaderExited }
            delay = min(delay * 2, 50)
        }
        return true
    }

    /// Ends the whole group and reaps it: SIGTERM (when the leader is still running),
    /// up to `grace` for it to exit, then SIGKILL to every member; reaps the leader and,
    /// as subreaper, orphaned members. Safe to call more than once; never cancelled
    /// (runs to completion even from a cancelled task). Returns the leader's status and
    /// whether the group is confirmed gone.
    @discardableResult
    public func terminate(grace: Duration = .seconds(2), reapTimeout: Duration = .seconds(10)) async -> (ExitStatus, Bool) {
        let group = self
        return await Task.detached {
            await group.terminateNow(grace: grace, reapTimeout: reapTimeout)
        }.value
    }

    private func terminateNow(grace: Duration, reapTimeout: Duration) async -> (ExitStatus, Bool) {
        if let done = status.withLock({ $0 }) {
            return (done, await reapMembers(timeout: reapTimeout))
        }
        if !leaderExited {
            _ = kill(-pgid, SIGTERM)
            _ = await waitForLeader(until: .now + grace)
        }
        // The leader is a zombie or still running: either way it holds the group id, so
        // this cannot reach an unrelated group.
        _ = kill(-pgid, SIGKILL)
        var raw: Int32 = 0
        var result: ExitStatus = .signaled(SIGKILL)
        // SIGKILL was sent: the leader dies promptly; poll rather than block a thread.
        while true {
            let r = waitpid(pid, &raw, WNOHANG)
            if r == pid {
                result = Self.decode(raw)
                break
            }
            if r == 0 {
                try? await Task.sleep(for: .milliseconds(2))
                continue
            }
            if errno == EINTR { continue }
            break
        }
        status.withLock { $0 = result }
        return (result, await reapMembers(timeout: reapTimeout))
    }

    /// Kills and reaps what is left of the group (members re-parented to us); true when
    /// the group id no longer exists.
    private func reapMembers(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if !Self.groupExists(pgid) { return true }
            _ = kill(-pgid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(-pgid, &raw, WNOHANG) > 0 {}
            if !Self.groupExists(pgid) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    static func decode(_ raw: Int32) -> ExitStatus {
        let low = raw & 0x7F
        if low == 0 { return .exited((raw >> 8) & 0xFF) }
        return .signaled(low)
    }

    /// Reaps `child`, a process that is not in this group but may have been re-parented to
    /// this process (the subreaper) — e.g. a sandbox's namespace init, which its launcher
    /// does not always reap before exiting. Polls (without blocking a thread) until it is
    /// reaped, is not our child (`ECHILD`: someone else reaped it) or `timeout` passes;
    /// never signals it. Returns true unless it is still our running child at the end.
    @discardableResult
    public static func reapChild(_ child: pid_t, timeout: Duration = .seconds(5)) async -> Bool {
        guard child > 0 else { return true }
        let deadline = ContinuousClock.now + timeout
        while true {
            var raw: Int32 = 0
            let r = waitpid(child, &raw, WNOHANG)
            if r == child { return true }
            if r < 0 {
                if errno == EINTR { continue }
                return true
            }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits up to `timeout` for the output pipes to reach end-of-file (after the group
    /// is gone they do at once), then returns what was captured (`extra`: the
    /// `extraOutputs`, in order; empty for those not captured).
    /// Not cancelled by the calling task.
    public func collectOutput(timeout: Duration = .seconds(2)) async -> (stdout: CapturedOutput, stderr: CapturedOutput) {
        let all = await collectAllOutput(timeout: timeout)
        return (all.stdout, all.stderr)
    }

    public func collectAllOutput(timeout: Duration = .seconds(2)) async
        -> (stdout: CapturedOutput, stderr: CapturedOutput, extra: [CapturedOutput])
    {
        let captures = ([stdoutCapture, stderrCapture] + extraCaptures).compactMap { $0 }
        await Task.detached {
            let deadline = ContinuousClock.now + timeout
            for capture in captures {
                while !capture.isDone {
                    if ContinuousClock.now >= deadline {
                        capture.stop()
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
        }.value
        return (stdoutCapture?.snapshot() ?? CapturedOutput(), stderrCapture?.snapshot() ?? CapturedOutput(),
                extraCaptures.map { $0?.snapshot() ?? CapturedOutput() })
    }
}

/// The read end (moved above 15, FD_CLOEXEC) of a pipe holding `bytes`, its write end closed.
func filledPipe(_ bytes: [UInt8]) throws -> Int32 {
    // More than a pipe holds would block here.
    guard bytes.count <= 65536 else { throw SpawnError.system("input of \(bytes.count) bytes", E2BIG) }
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw SpawnError.system("pipe", errno) }
    defer { close(fds[1]) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else {
            let err = errno
            close(fds[0])
            throw SpawnError.system("write to an input pipe", err)
        }
        offset += n
    }
    let high = fcntl(fds[0], F_DUPFD_CLOEXEC, Int32(16))
    if high >= 0 {
        close(fds[0])
        return high
    }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    return fds[0]
}

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), looked up at run time: the
/// Swift Glibc module does not import it. Where it is missing nothing is added.
enum SpawnFileActions {
    #if canImport(Darwin)
    typealias Actions = posix_spawn_file_actions_t?
    typealias Attributes = posix_spawnattr_t?
    #else
    typealias Actions = posix_spawn_file_actions_t
    typealias Attributes = posix_spawnattr_t
    #endif

    /// `posix_spawn` of `argv` (`argv[0]` is the path) with `environment` as `KEY=VALUE`
    /// strings (nil: this process's own), the C strings made and freed here. Returns the
    /// call's result code and the child's pid.
    static func spawn(_ argv: [String], environment: [String]?, actions: inout Actions,
                      attributes: UnsafePointer<Attributes>?) -> (rc: Int32, pid: pid_t) {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = (environment ?? []).map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = cArgs.withUnsafeMutableBufferPointer { a in
            cEnv.withUnsafeMutableBufferPointer { e in
                guard let ab = a.baseAddress, let eb = e.baseAddress else { return EINVAL }
                return posix_spawn(&pid, argv[0], &actions, attributes, ab, environment == nil ? environ : eb)
            }
        }
        return (rc, pid)
    }

    #if os(Linux)
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    static let addCloseFrom: AddCloseFrom? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) {
        _ = addCloseFrom?(&actions, lowest)
    }
    #else
    static func closeFrom(_ actions: inout posix_spawn_file_actions_t?, _ lowest: Int32) {}
    #endif

    /// Whether descriptors beyond the requested ones are closed in children.
    static var closesInheritedDescriptors: Bool {
        #if os(Linux)
        return addCloseFrom != nil
        #else
        return false
        #endif
    }
}

/// One thread that lives as long as the process and performs every `posix_spawn` (see
/// `ProcessGroup.spawn`).
final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let wake = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in loop() }
        thread.name = "evalnet-spawn"
        thread.start()
    }

    private func loop() -> Never {
        while true {
            wake.wait()
            let work = queue.withLock { q in
                let w = q
                q.removeAll()
                return w
            }
            for item in work { item() }
        }
    }

    /// Runs `body` on the spawn thread and waits for its result (a short, blocking call).
    func perform<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        queue.withLock { $0.append {
            let value = body()
            result.withLock { $0 = value }
            done.signal()
        } }
        wake.signal()
        done.wait()
        return result.withLock { value in
            guard let v = value else { preconditionFailure("spawn thread returned no result") }
            return v
        }
    }
}

/// Drains one pipe on a dedicated thread, keeping at most `maxBytes`.
final class PipeCapture: Sendable {
    struct State {
        var bytes: [UInt8] = []
        var total = 0
        var done = false
        var stopRequested = false
    }

    let fd: Int32
    let maxBytes: Int
    let keep: CaptureKeep
    let state = Mutex(State())

    init(fd: Int32, maxBytes: Int, keep: CaptureKeep) {
        self.fd = fd
        self.maxBytes = max(0, maxBytes)
        self.keep = keep
    }

    func start() {
        Thread.detachNewThread { [self] in self.loop() }
    }

    var isDone: Bool { state.withLock { $0.done } }

    func stop() { state.withLock { $0.stopRequested = true } }

    func snapshot() -> CapturedOutput {
        state.withLock { CapturedOutput(bytes: $0.bytes, totalBytes: $0.total) }
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            pfd.revents = 0
            let ready = poll(&pfd, 1, 50)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                if state.withLock({ $0.stopRequested }) { break }
                continue
            }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                append(buffer[0..<n])
            } else if n == 0 {
                break
            } else if errno != EINTR && errno != EAGAIN {
                break
            }
        }
        close(fd)
        state.withLock { $0.done = true }
    }

    private func append(_ chunk: ArraySlice<UInt8>) {
        state.withLock { s in
            s.total += chunk.count
            switch keep {
            case .head:
                let room = maxBytes - s.bytes.count
                if room > 0 { s.bytes.append(contentsOf: chunk.prefix(room)) }
            case .tail:
                s.bytes.append(contentsOf: chunk.suffix(maxBytes))
                if s.bytes.count > maxBytes { s.bytes.removeFirst(s.bytes.count - maxBytes) }
            }
        }
    }
}
