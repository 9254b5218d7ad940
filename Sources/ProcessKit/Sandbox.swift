import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who the sandboxed command runs as, and how the sandbox gets the right to build its mounts.
public enum SandboxIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The launcher is root. bubblewrap runs privileged — no user namespace, so nothing maps
    /// back to root — sets up the namespaces and mounts, then `setpriv` runs the command as
    /// host uid/gid `uid` with no capabilities (bounding set emptied), no supplementary groups
    /// and `no_new_privs`. Give each concurrent run its own `uid` (`SandboxUIDs`): RLIMIT_NPROC
    /// counts per uid, so a dedicated uid makes it a per-run process cap.
    case dropToUID(UInt32)
    /// The launcher is not root. bubblewrap creates a user namespace in which the command
    /// keeps the launcher's uid (no capabilities outside it); nested user namespaces are
    /// disabled. RLIMIT_NPROC set inside counts only that namespace's processes.
    case userNamespace

    public var description: String {
        switch self {
        case let .dropToUID(uid): return "uid \(uid) (privileged bwrap, then setpriv: no capabilities, no_new_privs)"
        case .userNamespace: return "the validator's uid inside a new user namespace (nested user namespaces disabled)"
        }
    }

    /// What a run started by this process uses: `dropToUID` when the effective uid is 0.
    public static func forCurrentProcess(uid: () -> UInt32 = SandboxUIDs.acquire) -> SandboxIdentity {
        geteuid() == 0 ? .dropToUID(uid()) : .userNamespace
    }
}

/// One bubblewrap sandbox: what it sees and where it may write.
///
/// Inside: new mount, PID, IPC, UTS, cgroup (where available) and — unless `shareNetwork` —
/// network namespaces (plus a user namespace when not started by root); the system
/// directories (`/usr`, `/bin`, `/sbin`, `/lib*`, as on the host: directories bound
/// read-only, merged-/usr symlinks recreated) and a short list of harmless `/etc` files
/// (`Sandbox.etcEntries`); `readOnly` binds; a fresh `/proc` of the new PID namespace; a
/// minimal `/dev` (null, zero, full, random, urandom, the fd links); a tmpfs of
/// `writableBytes` at `writableDirectory` — the only writable place; the root itself is
/// remounted read-only at the end. Nothing else of the host exists inside: no home
/// directories, no `/root`, `/home`, `/var`, `/run`, `/tmp` of the host, no host `/proc`.
public struct SandboxSpec: Sendable, Equatable {
    /// A host path (`source`) bound read-only at `destination` inside the sandbox.
    public struct Bind: Sendable, Equatable {
        public var source: String
        public var destination: String

        public init(_ source: String, at destination: String) {
            self.source = source
            self.destination = destination
        }
    }

    /// A symlink created inside the sandbox at `path`, pointing to `target`.
    public struct Symlink: Sendable, Equatable {
        public var target: String
        public var path: String

        public init(_ path: String, to target: String) {
            self.path = path
            self.target = target
        }
    }

    /// Host paths bound read-only, in order (after the system directories).
    public var readOnly: [Bind]
    /// The only writable place: a tmpfs mounted here, empty at start.
    public var writableDirectory: String
    /// Size of that tmpfs (bytes); the kernel refuses writes beyond it (ENOSPC).
    public var writableBytes: Int
    /// Symlinks created inside (e.g. `/tmp` → a directory under `writableDirectory`).
    public var symlinks: [Symlink]
    /// Keep the host's network (no network namespace); also binds the resolver files.
    public var shareNetwork: Bool
    public var hostname: String
    public var identity: SandboxIdentity

    public init(readOnly: [Bind] = [], writableDirectory: String, writableBytes: Int, symlinks: [Symlink] = [],
                shareNetwork: Bool = false, hostname: String = "sandbox", identity: SandboxIdentity) {
        self.readOnly = readOnly
        self.writableDirectory = writableDirectory
        self.writableBytes = writableBytes
        self.symlinks = symlinks
        self.shareNetwork = shareNetwork
        self.hostname = hostname
        self.identity = identity
    }
}

/// The bubblewrap (`bwrap`) sandbox: finding it, checking that it works here, and the argv
/// prefix that runs a command inside a `SandboxSpec`.
public enum Sandbox {
    /// `/etc` entries bound (read-only, when present): what the dynamic loader, common
    /// interpreters and libc need. Not passwd/group/shadow/hostname/hosts or anything with
    /// credentials — callers bind their own minimal `passwd`/`group`/`hosts`.
    public static let etcEntries = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone",
                                    "nsswitch.conf", "mime.types", "protocols", "services", "os-release", "debian_version",
                                    "perl", "python3"]
    /// `/etc` entries added when the sandbox shares the host's network.
    public static let networkEtcEntries = ["resolv.conf", "gai.conf", "host.conf", "ssl/certs", "ca-certificates",
                                           "ca-certificates.conf", "pki/tls/certs", "pki/ca-trust"]
    /// Top-level system paths reproduced inside (directories bound read-only, symlinks recreated).
    public static let systemPaths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    /// Device nodes bound from the host into the minimal `/dev`.
    public static let devices = ["null", "zero", "full", "random", "urandom"]

    /// `bwrap` on `PATH`, else in /usr/bin or /bin; `nil` when absent.
    public static func findBubblewrap(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let dirs = (path ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/local/bin"]
        return dirs.map { "\($0)/bwrap" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `setpriv` (util-linux), used to drop root inside the sandbox.
    public static func findSetpriv() -> String? {
        ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The argv prefix that runs a command inside `spec`; append the command (absolute
    /// path or one found on the `PATH` passed in the environment — inside the sandbox).
    /// `infoFD`: a descriptor of the launched process on which bwrap writes its JSON info
    /// (`child-pid`: the host pid of the namespace's init, to reap it afterwards).
    /// `seccompFD`: a descriptor of the launched process from which bwrap reads
    /// `seccompFilter` (see `SpawnRequest.extraInputs`).
    public static func prefix(bwrap: String, spec: SandboxSpec, infoFD: Int32? = nil, seccompFD: Int32? = nil,
                              setpriv: String? = findSetpriv()) -> [String] {
        var a = [bwrap]
        switch spec.identity {
        case .dropToUID:
            // Privileged bubblewrap: every namespace but the user one (a user namespace made
            // by root maps the sandbox user back to root, which RLIMIT_NPROC ignores).
            a += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            if !spec.shareNetwork { a += ["--unshare-net"] }
        case .userNamespace:
            a += ["--unshare-all", "--unshare-user", "--disable-userns"]
            if spec.shareNetwork { a += ["--share-net"] }
        }
        a += ["--die-with-parent", "--new-session", "--hostname", spec.hostname]
        if let infoFD { a += ["--info-fd", String(infoFD)] }
        if let seccompFD { a += ["--seccomp", String(seccompFD)] }
        a += systemMounts()
        // bwrap creates missing parents of a mount point with mode 0700, which would hide
        // /etc, /opt, … from a dropped uid: make every parent explicitly (0755) first.
        var made = Set(["/"] + systemPaths)
        func parents(of path: String) {
            var prefix = ""
            for component in path.split(separator: "/").dropLast() {
                prefix += "/" + component
                if made.insert(prefix).inserted { a += ["--dir", prefix] }
            }
        }
        func bind(_ option: String, _ source: String, _ destination: String) {
            parents(of: destination)
            a += [option, source, destination]
        }
        let etc = etcEntries + (spec.shareNetwork ? networkEtcEntries : [])
        let ownEtc = Set(spec.readOnly.map(\.destination))
        for name in etc where !ownEtc.contains("/etc/\(name)") {
            for path in expand("/etc/\(name)") where FileManager.default.fileExists(atPath: path) {
                bind("--ro-bind-try", path, path)
            }
        }
        a += ["--proc", "/proc", "--dir", "/dev"]
        made.formUnion(["/proc", "/dev"])
        for d in devices { a += ["--dev-bind", "/dev/\(d)", "/dev/\(d)"] }
        a += ["--symlink", "/proc/self/fd", "/dev/fd", "--symlink", "/proc/self/fd/0", "/dev/stdin",
              "--symlink", "/proc/self/fd/1", "/dev/stdout", "--symlink", "/proc/self/fd/2", "/dev/stderr"]
        // A read-only path under a symlinked place (the validator's own binary under /tmp,
        // say) is mounted at the symlink's target instead, after the tmpfs exists, so the
        // symlink can still be made and the path still resolves inside.
        func redirect(_ destination: String) -> (String, SandboxSpec.Symlink)? {
            for s in spec.symlinks where destination.hasPrefix(s.path + "/") {
                return (s.target + destination.dropFirst(s.path.count), s)
            }
            return nil
        }
        var later: [(source: String, destination: String)] = []
        var targets: [String] = []
        for b in spec.readOnly {
            if let (moved, link) = redirect(b.destination) {
                later.append((b.source, moved))
                if !targets.contains(link.target) { targets.append(link.target) }
            } else {
                bind("--ro-bind", b.source, b.destination)
            }
        }
        // The writable tmpfs: root-owned when bwrap is privileged, so open to the dropped uid
        // (the only non-root user inside); owned by the sandbox user in a user namespace.
        let perms = { if case .dropToUID = spec.identity { return "0777" } else { return "0700" } }()
        parents(of: spec.writableDirectory)
        a += ["--perms", perms, "--size", String(max(4096, spec.writableBytes)), "--tmpfs", spec.writableDirectory]
        made.insert(spec.writableDirectory)
        for s in spec.symlinks {
            parents(of: s.path)
            a += ["--symlink", s.target, s.path]
        }
        for target in targets {
            parents(of: target)
            a += ["--perms", perms == "0777" ? "1777" : "0700", "--dir", target]
            made.insert(target)
        }
        for (source, destination) in later { bind("--ro-bind", source, destination) }
        a += ["--chdir", spec.writableDirectory, "--remount-ro", "/", "--"]
        if case let .dropToUID(uid) = spec.identity {
            a += [setpriv ?? "/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        }
        return a
    }

    /// A seccomp filter (classic BPF, `struct sock_filter[]`, for bwrap `--seccomp`) that
    /// refuses with EPERM what an unprivileged process could use to widen its reach or the
    /// kernel's attack surface: `unshare`, `clone` with CLONE_NEWUSER, `setns`, mounting
    /// (`mount`, `umount2`, `pivot_root`, the new mount API), the kernel keyrings, `bpf`,
    /// `perf_event_open`, `userfaultfd` and io_uring; `clone3` gets ENOSYS (its flags cannot
    /// be inspected; libc falls back to `clone`). Above all this stops an evaluator of a root
    /// validator — a plain uid outside any user namespace — from creating a user namespace
    /// and mounting a tmpfs of its own past the work directory's size. x86_64 (x32 calls
    /// refused) and aarch64; another architecture's calls (e.g. i386 via `int 0x80`) kill the
    /// process. `nil` when this build is for neither.
    public static let seccompFilter: [UInt8]? = {
        #if arch(x86_64) || arch(arm64)
        return SeccompAssembler.program()
        #else
        return nil
        #endif
    }()

    /// The host's system directories as bwrap arguments.
    static func systemMounts() -> [String] {
        var a: [String] = []
        for path in systemPaths {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                a += ["--symlink", target, path]
            } else {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
                    a += ["--ro-bind", path, path]
                }
            }
        }
        return a
    }

    /// `/etc/python3` also covers `/etc/python3.11` etc.
    static func expand(_ path: String) -> [String] {
        let name = (path as NSString).lastPathComponent
        guard name == "python3" else { return [path] }
        let dir = (path as NSString).deletingLastPathComponent
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("python3.") }.sorted().map { "\(dir)/\($0)" }
        return [path] + versions
    }

    /// Whether sandboxes can be started here, and if not, why.
    public struct Probe: Sendable, Equatable {
        public var bwrap: String?
        /// Empty when the sandbox works.
        public var problem: String?
        public var identityKind: String

        public var available: Bool { problem == nil }
    }

    private static let probes = Mutex<[String: Probe]>([:])

    /// Starts one sandbox like the real ones (same namespaces, mounts, identity; a small
    /// tmpfs that must be writable; no network) running `/bin/sh -c …`; cached per bwrap
    /// path. A missing `bwrap`/`setpriv` or any failure makes the sandbox unavailable, with
    /// bwrap's own message as the reason.
    public static func probe(bwrap explicit: String? = nil) -> Probe {
        let key = explicit ?? ""
        if let cached = probes.withLock({ $0[key] }) { return cached }
        let result = runProbe(explicit: explicit)
        probes.withLock { $0[key] = result }
        return result
    }

    private static func runProbe(explicit: String?) -> Probe {
        let root = geteuid() == 0
        let kind = root ? "privileged bwrap + setpriv to a dedicated uid" : "bwrap in a user namespace"
        #if os(Linux)
        guard let bwrap = explicit ?? findBubblewrap() else {
            return Probe(bwrap: nil, problem: "bwrap (bubblewrap) not found on PATH; install the bubblewrap package",
                         identityKind: kind)
        }
        guard FileManager.default.isExecutableFile(atPath: bwrap) else {
            return Probe(bwrap: bwrap, problem: "\(bwrap) is not an executable file", identityKind: kind)
        }
        if root && findSetpriv() == nil {
            return Probe(bwrap: bwrap, problem: "setpriv (util-linux) not found; needed to drop root inside the sandbox",
                         identityKind: kind)
        }
        let uid = root ? SandboxUIDs.acquire() : 0
        defer { if root { SandboxUIDs.release(uid) } }
        let spec = SandboxSpec(writableDirectory: "/probe", writableBytes: 1 << 20,
                               identity: root ? .dropToUID(uid) : .userNamespace)
        let script = "cd /probe && echo ok > f && test ! -e /root/. && test ! -w /usr && exit 0; exit 3"
        let argv = prefix(bwrap: bwrap, spec: spec, infoFD: 3, seccompFD: seccompFilter == nil ? nil : 4)
            + ["/bin/sh", "-c", script]
        let (status, stderr, info) = runCapturing(argv, input4: seccompFilter)
        reapNamespaceInit(info: info)
        if status == .exited(0) { return Probe(bwrap: bwrap, problem: nil, identityKind: kind) }
        let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return Probe(bwrap: bwrap, problem: "\(bwrap) does not work here (\(status.map(\.description) ?? "not started"))"
                        + (message.isEmpty ? "" : ": \(message.prefix(300))"), identityKind: kind)
        #else
        return Probe(bwrap: nil, problem: "bubblewrap sandboxes need Linux", identityKind: kind)
        #endif
    }

    /// The `child-pid` of bwrap's `--info-fd` JSON, if any.
    public static func namespaceInitPid(info: [UInt8]) -> pid_t? {
        struct Info: Decodable {
            let childPid: Int32
            enum CodingKeys: String, CodingKey { case childPid = "child-pid" }
        }
        // Only the first JSON object counts (bwrap writes one, then closes the descriptor).
        guard let end = info.firstIndex(of: UInt8(ascii: "}")) else { return nil }
        return (try? JSONDecoder().decode(Info.self, from: Data(info[...end])))?.childPid
    }

    /// Reaps the namespace init named in `info` once it is gone (synchronous, short).
    static func reapNamespaceInit(info: [UInt8]) {
        guard let child = namespaceInitPid(info: info), child > 0 else { return }
        for _ in 0..<400 {
            var raw: Int32 = 0
            let r = waitpid(child, &raw, WNOHANG)
            if r == child || (r < 0 && errno != EINTR) { return }
            usleep(5000)
        }
    }

    /// Runs argv (stdin /dev/null, stdout discarded) and returns its status, stderr and what
    /// it wrote on descriptor 3. Blocking; for short probes only.
    static func runCapturing(_ argv: [String], input4: [UInt8]? = nil) -> (ExitStatus?, String, [UInt8]) {
        let input: Int32
        if let input4 {
            guard let fd = try? filledPipe(input4) else { return (nil, "pipe failed", []) }
            input = fd
        } else {
            input = -1
        }
        defer { if input >= 0 { close(input) } }
        var errPipe: [Int32] = [-1, -1]
        var infoPipe: [Int32] = [-1, -1]
        guard pipe(&errPipe) == 0 else { return (nil, "pipe failed", []) }
        guard pipe(&infoPipe) == 0 else {
            close(errPipe[0]); close(errPipe[1])
            return (nil, "pipe failed", [])
        }
        for fd in errPipe + infoPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let errWrite = errPipe[1], infoWrite = infoPipe[1]
        let env = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"]
        let spawned: pid_t? = SpawnThread.shared.perform {
            #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t? = nil
            #else
            var actions = posix_spawn_file_actions_t()
            #endif
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, errWrite, 2)
            posix_spawn_file_actions_adddup2(&actions, infoWrite, 3)
            if input >= 0 { posix_spawn_file_actions_adddup2(&actions, input, 4) }
            SpawnFileActions.closeFrom(&actions, 5)
            let (rc, pid) = SpawnFileActions.spawn(argv, environment: env, actions: &actions, attributes: nil)
            return rc == 0 ? pid : nil
        }
        close(errPipe[1])
        close(infoPipe[1])
        defer {
            close(errPipe[0])
            close(infoPipe[0])
        }
        guard let pid = spawned else { return (nil, "cannot start \(argv[0])", []) }
        let errBytes = readAll(errPipe[0], limit: 16 << 10)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let info = readAll(infoPipe[0], limit: 4096)
        return (ProcessGroup.decode(raw), String(decoding: errBytes, as: UTF8.self), info)
    }

    private static func readAll(_ fd: Int32, limit: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                if out.count < limit { out.append(contentsOf: buffer[0..<min(n, limit - out.count)]) }
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return out
            }
        }
    }
}

/// Builds `Sandbox.seccompFilter`.
enum SeccompAssembler {
    enum Op {
        case loadWord(UInt32)
        case jumpIfEqual(UInt32, String, else: String? = nil)
        case jumpIfAtLeast(UInt32, String)
        case jumpIfAnyBit(UInt32, String)
        case ret(UInt32)
        case label(String)
    }

    static let auditArchX86_64: UInt32 = 0xC000_003E
    static let auditArchAArch64: UInt32 = 0xC000_00B7
    static let retAllow: UInt32 = 0x7FFF_0000
    static let retKillProcess: UInt32 = 0x8000_0000
    static func retErrno(_ e: Int32) -> UInt32 { 0x0005_0000 | UInt32(e) }
    static let cloneNewUser: UInt32 = 0x1000_0000
    static let clone3: UInt32 = 435
    /// mount API: open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr
    /// (same numbers on both architectures); io_uring_setup/enter/register.
    static let common: [UInt32] = [428, 429, 430, 431, 432, 433, 442, 425, 426, 427]
    /// unshare, setns, mount, umount2, pivot_root, add_key, request_key, keyctl, bpf,
    /// perf_event_open, userfaultfd — and clone.
    static let x86_64: (refused: [UInt32], clone: UInt32) = ([272, 308, 165, 166, 155, 248, 249, 250, 321, 298, 323], 56)
    static let aarch64: (refused: [UInt32], clone: UInt32) = ([97, 268, 40, 39, 41, 217, 218, 219, 280, 241, 282], 220)

    static func program() -> [UInt8] {
        var ops: [Op] = [.loadWord(4), .jumpIfEqual(auditArchX86_64, "x86_64"),
                         .jumpIfEqual(auditArchAArch64, "aarch64", else: "kill")]
        for (name, table) in [("x86_64", x86_64), ("aarch64", aarch64)] {
            ops.append(.label(name))
            ops.append(.loadWord(0))
            if name == "x86_64" { ops.append(.jumpIfAtLeast(0x4000_0000, "eperm")) }  // x32 ABI
            for nr in table.refused + common { ops.append(.jumpIfEqual(nr, "eperm")) }
            ops += [.jumpIfEqual(clone3, "enosys"), .jumpIfEqual(table.clone, "clone"), .ret(retAllow)]
        }
        // clone: the low word of the first argument (the flags) at offset 16.
        ops += [.label("clone"), .loadWord(16), .jumpIfAnyBit(cloneNewUser, "eperm"), .ret(retAllow),
                .label("eperm"), .ret(retErrno(EPERM)), .label("enosys"), .ret(retErrno(ENOSYS)),
                .label("kill"), .ret(retKillProcess)]
        return assemble(ops)
    }

    /// `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`, little-endian.
    static func assemble(_ ops: [Op]) -> [UInt8] {
        var labels: [String: Int] = [:]
        var index = 0
        for op in ops {
            if case let .label(name) = op { labels[name] = index } else { index += 1 }
        }
        var out: [UInt8] = []
        var i = 0
        func offset(_ label: String?) -> UInt8 {
            guard let label else { return 0 }
            guard let target = labels[label], target > i, target - i - 1 <= 255 else {
                preconditionFailure("seccomp filter: bad jump to \(label)")
            }
            return UInt8(target - i - 1)
        }
        func emit(_ code: UInt16, _ jt: UInt8, _ jf: UInt8, _ k: UInt32) {
            out += [UInt8(code & 0xFF), UInt8(code >> 8), jt, jf,
                    UInt8(k & 0xFF), UInt8((k >> 8) & 0xFF), UInt8((k >> 16) & 0xFF), UInt8(k >> 24)]
            i += 1
        }
        for op in ops {
            switch op {
            case .label: continue
            case let .loadWord(at): emit(0x20, 0, 0, at)                            // BPF_LD|BPF_W|BPF_ABS
            case let .jumpIfEqual(k, to, other): emit(0x15, offset(to), offset(other), k)  // BPF_JMP|BPF_JEQ|BPF_K
            case let .jumpIfAtLeast(k, to): emit(0x35, offset(to), 0, k)           // BPF_JMP|BPF_JGE|BPF_K
            case let .jumpIfAnyBit(k, to): emit(0x45, offset(to), 0, k)            // BPF_JMP|BPF_JSET|BPF_K
            case let .ret(k): emit(0x06, 0, 0, k)                                   // BPF_RET|BPF_K
            }
        }
        return out
    }
}

/// Host uids for sandboxed runs started by root, one per concurrent run.
///
/// The range starts far above ordinary accounts and the usual subordinate-id ranges
/// (100000–…); no account needs to exist. Each process starts at its own offset, so two
/// validators on one host rarely pick the same uid (if they do, the two runs only share
/// one process cap).
public enum SandboxUIDs {
    public static let base: UInt32 = 0x6000_0000
    public static let count: UInt32 = 1 << 16

    private struct State {
        var next: UInt32
        var inUse: Set<UInt32> = []
    }

    private static let state = Mutex(State(next: UInt32(truncatingIfNeeded: getpid()) &* 40503 % count))

    /// A uid no other run of this process is using.
    public static func acquire() -> UInt32 {
        state.withLock { s in
            for _ in 0..<count {
                let uid = base + s.next
                s.next = (s.next + 1) % count
                if !s.inUse.contains(uid) {
                    s.inUse.insert(uid)
                    return uid
                }
            }
            return base
        }
    }

    public static func release(_ uid: UInt32) {
        _ = state.withLock { $0.inUse.remove(uid) }
    }
}
