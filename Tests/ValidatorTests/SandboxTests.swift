import Foundation
import Hotkeys
import Logging
import ProcessKit
import ServiceKit
import Testing
@testable import Validator

#if canImport(Glibc)
import Glibc
#endif

/// A validator's files laid out as in production (key file, config, challenge checkout and
/// job directories under one work dir) and a local executor whose challenge is the hostile
/// evaluator.
struct HostileSetup {
    let tmp: TempDir
    let validatorDir: URL
    let keyFile: URL
    let secret: String
    let jobsRoot: URL
    let challengeDir: URL
    let executor: LocalExecutor

    init(maxProcesses: Int = 64) throws {
        tmp = try TempDir("sandbox")
        validatorDir = tmp.sub("validator")
        jobsRoot = validatorDir.appendingPathComponent("jobs")
        challengeDir = validatorDir.appendingPathComponent("challenges/hostile")
        keyFile = validatorDir.appendingPathComponent("hotkey.json")
        secret = "SECRET-\(UUID().uuidString)"
        try FileManager.default.createDirectory(at: challengeDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: jobsRoot, withIntermediateDirectories: true)
        try Data("{\"secret_phrase\": \"\(secret)\"}\n".utf8).write(to: keyFile)
        try Data("key_file = \"\(keyFile.path)\"\n# \(secret)\n".utf8).write(to: validatorDir.appendingPathComponent("config.toml"))
        try Data(hostileEvaluator.utf8).write(to: challengeDir.appendingPathComponent("hostile.py"))
        executor = LocalExecutor(options: LocalExecutorOptions(workRoot: jobsRoot, maxProcesses: maxProcesses,
                                                               termGraceSeconds: 0.5))
    }

    func cleanup() { tmp.cleanup() }

    func challenge(_ attack: String, env: [String: String] = [:]) -> ProvisionedChallenge {
        adHocChallenge(challengeDir, command: ["python3", "{challenge_dir}/hostile.py", attack], env: env.merging([
            "KEY_FILE": keyFile.path, "VALIDATOR_PID": String(getpid()), "JOBS_ROOT": jobsRoot.path, "HOST_TMP": tmp.path,
        ]) { a, _ in a })
    }

    func run(_ attack: String, env: [String: String] = [:], diskMb: Int = 64, timeout: Double = 60) async -> JobOutcome {
        await executor.execute(job: job("job-\(attack)", timeout: timeout,
                                        resources: ResourceLimits(cpuCores: 1, memoryMb: 512, diskMb: diskMb)),
                               challenge: challenge(attack, env: env))
    }

    /// Everything the job reported, as one string (to look for leaks).
    static func text(_ o: JobOutcome) -> String {
        ([o.error ?? "", o.exitStatus ?? ""] + o.logs + o.metrics.map { "\($0.key)=\($0.value)" }).joined(separator: "\n")
    }

    /// The attack was refused: the job failed with the evaluator's "all attempts denied"
    /// line as its error, nothing leaked, and a normal job on the same executor then succeeds.
    func expectRefused(_ o: JobOutcome, mentioning reason: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) async {
        let all = Self.text(o)
        #expect(o.status == .failed, "\(o)", sourceLocation: sourceLocation)
        #expect(o.error?.contains("all attempts denied") == true, "\(o)", sourceLocation: sourceLocation)
        if let reason { #expect(o.error?.contains(reason) == true, "\(o)", sourceLocation: sourceLocation) }
        #expect(!all.contains("LEAKED"), "\(all)", sourceLocation: sourceLocation)
        #expect(!all.contains(secret), "\(all)", sourceLocation: sourceLocation)
        await expectCarriesOn(sourceLocation: sourceLocation)
    }

    func expectCarriesOn(sourceLocation: SourceLocation = #_sourceLocation) async {
        let next = await run("ok")
        #expect(next.status == .completed, "\(next)", sourceLocation: sourceLocation)
        #expect(next.score == 0.5, sourceLocation: sourceLocation)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: jobsRoot.path)) ?? []
        #expect(left.filter { $0.hasPrefix("job-") }.isEmpty, "\(left)", sourceLocation: sourceLocation)
        // No sandbox init lingers as our zombie (other tests' runs come and go meanwhile).
        #expect(await eventually(10) { zombieChildren(named: "bwrap").isEmpty }, sourceLocation: sourceLocation)
    }
}

/// A hostile evaluator against the sandboxed local executor: every escape attempt fails or
/// is killed, the job is reported with the reason, the executor carries on, nothing is left
/// running. Needs bubblewrap (`scripts/ensure-deps.sh` installs it).
@Suite("Sandbox")
struct SandboxTests {
    init() throws {
        let probe = Sandbox.probe()
        try #require(probe.available, "the bubblewrap sandbox does not work here: \(probe.problem ?? "-")")
    }

    @Test("the evaluator runs as an unprivileged user in its own namespaces and sees only the sandbox")
    func identity() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let o = await h.run("identity")
        #expect(o.status == .completed, "\(o)")
        let m = o.metrics
        #expect(m["uid"] != .number(0) && m["uid"] != nil)
        #expect(m["euid"] != .number(0))
        #expect(m["caps"] == .array([.string("0000000000000000"), .string("0000000000000000"),
                                      .string("0000000000000000")]) || getuid() != 0, "\(m)")
        #expect(m["no_new_privs"] == .array([.string("1")]), "\(m)")
        #expect(m["cwd"] == .string("/job"))
        #expect(m["home"] == .string("/job"))
        #expect(m["hostname"] == .string("evalnet-sandbox"))
        #expect(m["tmp_is_job"] == .bool(true))
        // Only the sandbox's own processes: its init, the wrapper, the evaluator.
        if case let .array(pids)? = m["pids"] { #expect(pids.count <= 3, "\(pids)") } else { Issue.record("no pids") }
        if case let .array(entries)? = m["root"] {
            let names = Set(entries.compactMap { if case let .string(s) = $0 { return s } else { return nil } })
            #expect(!names.contains("root") && !names.contains("home") && !names.contains("var") && !names.contains("run"),
                    "\(names)")
            // The system directories, the sandbox's own, and the top directories of the
            // evalnet binary and Swift runtime shown read-only (e.g. /opt, /work).
            let own = LocalExecutor.ownProgramPaths.compactMap { $0.split(separator: "/").first.map(String.init) }
            #expect(names.isSubset(of: Set(["bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "dev", "tmp",
                                            "job", "challenge", ".evalnet"] + own)), "\(names)")
        } else {
            Issue.record("no root listing")
        }
    }

    @Test("reading the validator's key file — by path, via /proc/<pid>/root, or its environment via /proc — fails")
    func keyFile() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        // Sanity: the validator's environment has variables the sandbox does not pass on,
        // so a readable /proc/<validator>/environ would show up as "foreign".
        let sandboxNames: Set<String> = ["PATH", "LANG", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PWD", "SHLVL", "_"]
        #expect(ProcessInfo.processInfo.environment.keys.contains { !sandboxNames.contains($0) && !$0.hasPrefix("EVALNET_") })
        let o = await h.run("key")
        await h.expectRefused(o, mentioning: "No such file or directory")
    }

    @Test("writing outside the work directory fails; the host sees no new file")
    func writeOutside() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let o = await h.run("write")
        await h.expectRefused(o, mentioning: "Read-only file system")
        for dir in [h.challengeDir, h.validatorDir, h.jobsRoot, h.tmp.url] {
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("pwned").path), "\(dir.path)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/usr/pwned"))
        #expect(!FileManager.default.fileExists(atPath: "/pwned"))
    }

    @Test("another job's directory — on disk or a job running at the same time — cannot be listed or read")
    func otherJobs() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let other = h.jobsRoot.appendingPathComponent("job-other-1234")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("OTHER-JOB-SECRET".utf8).write(to: other.appendingPathComponent("secret.txt"))
        // A job that is running meanwhile, holding a secret in its own work directory.
        let marker = uniqueSleepArgument()
        let running = adHocChallenge(h.challengeDir, command: [
            "/bin/sh", "-c", "echo RUNNING-JOB-SECRET > running.txt; sleep \(marker)",
        ])
        let exec = h.executor
        let background = Task { await exec.execute(job: job("job-running", timeout: 120), challenge: running) }
        #expect(await eventually { !processes(commandLine: ["sleep", marker]).isEmpty })
        let o = await h.run("otherjob", env: ["OTHER_JOB": other.path])
        background.cancel()
        #expect(await background.value.status == .cancelled)
        try FileManager.default.removeItem(at: other)
        await h.expectRefused(o, mentioning: "No such file or directory")
        #expect(!HostileSetup.text(o).contains("OTHER-JOB-SECRET"))
        #expect(!HostileSetup.text(o).contains("RUNNING-JOB-SECRET"))
        #expect(processes(commandLine: ["sleep", marker]).isEmpty)
    }

    @Test("connecting to a server on 127.0.0.1 fails")
    func loopbackServer() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let listener = try TCPListener()
        defer { listener.close() }
        let o = await h.run("net", env: ["PORT": String(listener.port)])
        await h.expectRefused(o, mentioning: "connect 127.0.0.1")
        #expect(!listener.hasPendingConnection)
    }

    @Test("a fork bomb of 10,000 processes stops at the process cap and leaves nothing running")
    func forkBomb() async throws {
        let h = try HostileSetup(maxProcesses: 64)
        defer { h.cleanup() }
        let marker = uniqueSleepArgument()
        let o = await h.run("fork", env: ["MARKER": marker])
        await h.expectRefused(o, mentioning: "Resource temporarily unavailable")
        let forked = o.error.flatMap { e in
            e.range(of: "fork failed after ").map { Int(e[$0.upperBound...].prefix { $0.isNumber }) ?? -1 }
        }
        #expect(forked.map { $0 >= 0 && $0 < 64 } == true, "\(o.error ?? "-")")
        #expect(processes(commandLine: ["sleep", marker]).isEmpty)
    }

    @Test("writing 10 GB stops at the work directory's size (disk_mb), wherever inside it is written")
    func diskFill() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let o = await h.run("disk", diskMb: 48)
        await h.expectRefused(o, mentioning: "No space left on device")
        let mib = o.error.flatMap { e in
            e.range(of: "stopped after ").map { Int(e[$0.upperBound...].prefix { $0.isNumber }) ?? -1 }
        }
        #expect(mib.map { $0 >= 0 && $0 <= 48 } == true, "\(o.error ?? "-")")
    }

    @Test("creating a user namespace (to mount a tmpfs past the size cap) fails")
    func userNamespace() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let o = await h.run("userns")
        await h.expectRefused(o, mentioning: "unshare(CLONE_NEWUSER)")
    }

    @Test("a child left running after the evaluator exits is killed and the job fails with the reason")
    func leftoverChild() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let marker = uniqueSleepArgument()
        let o = await h.run("child", env: ["MARKER": marker])
        #expect(o.status == .failed, "\(o)")
        #expect(o.error?.contains("left 2 process(es) running") == true, "\(o)")
        #expect(o.score == nil)
        #expect(processes(commandLine: ["sleep", marker]).isEmpty)
        await h.expectCarriesOn()
    }

    @Test("a required sandbox that does not work here refuses jobs; auto runs unsandboxed; off never sandboxes")
    func unavailable() async throws {
        let tmp = try TempDir("sandbox")
        defer { tmp.cleanup() }
        let check = adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "echo \"{\\\"score\\\": 1, \\\"logs\\\": \\\"$EVALNET_SANDBOX\\\"}\""])
        func executor(_ mode: SandboxMode, bwrap: String? = "/nonexistent/bwrap") -> LocalExecutor {
            LocalExecutor(options: LocalExecutorOptions(workRoot: tmp.sub("jobs"), sandbox: mode, bubblewrapPath: bwrap))
        }
        let required = executor(.required)
        #expect(!required.isolation.sandboxed)
        #expect(required.isolation.refusal?.contains("sandbox is required but unavailable") == true)
        #expect(required.isolation.summary.hasPrefix("REFUSING"))
        let refused = await required.execute(job: job(), challenge: check)
        #expect(refused.status == .failed)
        #expect(refused.error?.contains("/nonexistent/bwrap") == true, "\(refused)")

        let auto = executor(.auto)
        #expect(auto.isolation.refusal == nil)
        #expect(auto.isolation.summary.contains("NO SANDBOX"))
        let unsandboxed = await auto.execute(job: job(), challenge: check)
        #expect(unsandboxed.status == .completed, "\(unsandboxed)")
        #expect(unsandboxed.logs == ["none"])

        let off = executor(.off, bwrap: nil)
        #expect(!off.isolation.sandboxed)
        #expect(off.isolation.summary.contains("mode = \"off\""))
        #expect(await off.execute(job: job(), challenge: check).logs == ["none"])

        let sandboxed = executor(.required, bwrap: nil)
        #expect(sandboxed.isolation.sandboxed)
        #expect(sandboxed.isolation.summary.hasPrefix("bubblewrap sandbox"))
        #expect(await sandboxed.execute(job: job(), challenge: check).logs == ["bubblewrap"])
    }

    @Test("evalnet itself and the Swift runtime it loaded are shown read-only (a challenge may run `evalnet score`)")
    func ownProgram() async throws {
        let paths = LocalExecutor.ownProgramPaths
        #expect(paths.contains { $0.hasSuffix("/evalnet") }, "\(paths)")
        let h = try HostileSetup()
        defer { h.cleanup() }
        let evalnet = try #require(paths.first { $0.hasSuffix("/evalnet") })
        let o = await h.executor.execute(job: job(), challenge: adHocChallenge(h.challengeDir, command: [
            "/bin/sh", "-c", "\(evalnet) --help >/dev/null && echo '{\"score\": 1}'",
        ]))
        #expect(o.status == .completed, "\(o)")
    }

    @Test("a read-only path under /tmp (a validator built or installed there) is readable, and /tmp stays the job's scratch")
    func readOnlyPathUnderTmp() async throws {
        let h = try HostileSetup()
        defer { h.cleanup() }
        let shared = h.tmp.sub("shared-under-tmp")
        #expect(shared.path.hasPrefix("/tmp/"), "the test needs a directory under /tmp: \(shared.path)")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: shared.appendingPathComponent("data.txt"))
        let executor = LocalExecutor(options: LocalExecutorOptions(workRoot: h.jobsRoot, readOnlyPaths: [shared.path]))
        let o = await executor.execute(job: job(), challenge: adHocChallenge(h.challengeDir, command: [
            "/bin/sh", "-c",
            "test \"$(cat \(shared.path)/data.txt)\" = hello && ! touch \(shared.path)/x 2>/dev/null"
                + " && echo scratch > /tmp/s && case \"$(readlink -f /tmp)\" in /job*) echo '{\"score\": 1}';; esac",
        ]))
        #expect(o.status == .completed && o.score == 1, "\(o)")
        #expect(!FileManager.default.fileExists(atPath: shared.appendingPathComponent("x").path))
    }

    @Test("a validator whose required sandbox does not work refuses to start; with mode auto it starts")
    func validatorRefusesToStart() async throws {
        let tmp = try TempDir("sandbox")
        defer { tmp.cleanup() }
        var config = ValidatorConfig()
        config.workDir = tmp.sub("validator").path
        config.platformAPIURL = "http://127.0.0.1:9"
        config.sandboxBubblewrapPath = "/nonexistent/bwrap"
        #expect(config.isolationReport().refusal?.contains("/nonexistent/bwrap") == true)
        #expect(config.isolationReport().summary.hasPrefix("executor local: REFUSING evaluations"))
        let logger = Logger(label: "test")
        await #expect(throws: ValidatorStartError.self) {
            try await runValidator(config: config, keypair: SR25519Keypair.generate(), logger: logger)
        }
        config.sandboxMode = .auto
        #expect(config.isolationReport().refusal == nil)
        let stopper = ServiceStopper()
        let started = Task { try await runValidator(config: config, keypair: SR25519Keypair.generate(), logger: logger,
                                                    stopper: stopper, onStart: { _ in await stopper.stop() }) }
        try await started.value
    }

    @Test("the wrapper's report line is parsed strictly")
    func report() {
        #expect(SandboxReport(Array("evalnet-sandbox rc=0 left=0 result=1\n{\"score\": 1}".utf8))
            == SandboxReport(exitCode: 0, leftRunning: 0, result: Array("{\"score\": 1}".utf8)))
        #expect(SandboxReport(Array("evalnet-sandbox rc=137 left=3 result=0\n".utf8))?.leftRunning == 3)
        #expect(SandboxReport(Array("evalnet-sandbox rc=1 left=0 result=0\n".utf8))?.result == nil)
        #expect(SandboxReport(Array("something else\n".utf8)) == nil)
        #expect(SandboxReport(Array("evalnet-sandbox rc=1".utf8)) == nil)
        #expect(LocalExecutor.shellStatus(139) == .signaled(SIGSEGV))
        #expect(LocalExecutor.shellStatus(2) == .exited(2))
    }
}

/// Children of this process that have exited but were not reaped, by command name.
func zombieChildren(named name: String) -> [pid_t] {
    let me = getpid()
    return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
        guard let pid = pid_t(entry) else { return nil }
        let stat = String(decoding: readWholeFile("/proc/\(entry)/stat"), as: UTF8.self)
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let comm = stat[stat.index(after: open)..<close]
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        guard rest.count > 2, rest[0] == "Z", pid_t(rest[1]) == me, comm == name else { return nil }
        return pid
    }
}

extension TCPListener {
    /// Whether a connection is waiting to be accepted.
    var hasPendingConnection: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }
}
