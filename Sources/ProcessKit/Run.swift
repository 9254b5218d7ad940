import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a child can be cut off from the network on this host, and how.
public enum NetworkIsolation {
    /// The argv prefix that runs a command in a new, empty network namespace, or `nil`
    /// when the OS refuses. Linux: `unshare -n` (root or CAP_SYS_ADMIN), else
    /// `unshare -r -n` (unprivileged user namespace); each is tried once by running
    /// `/bin/true` through it. Other systems: `nil`.
    public static let prefix: [String]? = detect()

    static func detect() -> [String]? {
        #if os(Linux)
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/bin:/bin:/usr/sbin:/sbin"
        guard let unshare = path.split(separator: ":").map({ "\($0)/unshare" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        for candidate in [[unshare, "-n", "--"], [unshare, "-r", "-n", "--"]] where runQuietly(candidate + ["/bin/true"]) {
            return candidate
        }
        #endif
        return nil
    }

    /// Runs argv synchronously with no output; true when it exits 0.
    static func runQuietly(_ argv: [String]) -> Bool {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        let (rc, pid) = SpawnFileActions.spawn(argv, environment: nil, actions: &actions, attributes: nil)
        guard rc == 0 else { return false }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        return ProcessGroup.decode(raw) == .exited(0)
    }
}

/// How a run ended.
public enum RunEnd: String, Sendable, Equatable {
    /// The command exited on its own (any status).
    case exited
    /// The wall-clock limit passed; the group was killed.
    case timedOut
    /// The calling task was cancelled; the group was killed.
    case cancelled
}

/// The result of `ProcessGroup.run`.
public struct RunResult: Sendable {
    public var end: RunEnd
    public var status: ExitStatus
    public var stdout: CapturedOutput
    public var stderr: CapturedOutput
    /// What the request's `extraOutputs` captured, in order.
    public var extra: [CapturedOutput]
    public var pgid: pid_t
    /// True when no member of the group existed any more after teardown.
    public var groupGone: Bool
    public var elapsed: Duration
}

extension ProcessGroup {
    /// Spawns `request`, waits for it to exit, at most `timeout` (wall clock), and stops
    /// early when the calling task is cancelled. Whatever the ending, the whole group is
    /// then killed and reaped (background processes an evaluator leaves behind die with
    /// it) before this returns.
    public static func run(_ request: SpawnRequest, timeout: Duration, grace: Duration = .seconds(2)) async throws -> RunResult {
        let start = ContinuousClock.now
        let group = try spawn(request)
        let exited = await group.waitForLeader(until: start + timeout)
        let end: RunEnd = exited ? .exited : (Task.isCancelled ? .cancelled : .timedOut)
        let (status, gone) = await group.terminate(grace: grace)
        let output = await group.collectAllOutput()
        return RunResult(end: end, status: status, stdout: output.stdout, stderr: output.stderr, extra: output.extra,
                         pgid: group.pgid, groupGone: gone, elapsed: ContinuousClock.now - start)
    }
}
