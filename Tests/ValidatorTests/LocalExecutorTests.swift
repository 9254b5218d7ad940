import Foundation
import ProcessKit
import ServiceKit
import Testing
@testable import Validator

#if canImport(Glibc)
import Glibc
#endif

/// Host processes whose argv is exactly `argv` (zombies, whose command line is empty, are
/// not counted: they run nothing).
func processes(commandLine argv: [String]) -> [pid_t] {
    let wanted = Array(argv.joined(separator: "\0").utf8) + [0]
    return hostProcesses().filter { $0.1 == wanted }.map(\.0)
}

/// Host processes whose command line contains `text` (arguments joined by spaces).
func processes(containing text: String) -> [pid_t] {
    hostProcesses().filter { String(decoding: $0.1.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text) }.map(\.0)
}

/// (pid, raw /proc/<pid>/cmdline) of every process but this one.
func hostProcesses() -> [(pid_t, [UInt8])] {
    let me = getpid()
    return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
        let data = readWholeFile("/proc/\(entry)/cmdline")
        guard let pid = pid_t(entry), pid != me, !data.isEmpty else { return nil }
        return (pid, data)
    }
}

/// A `sleep` argument no other test uses (a number of seconds, so `sleep` accepts it).
func uniqueSleepArgument() -> String {
    "600.\(UInt32.random(in: 100_000...999_999))\(UInt32.random(in: 100_000...999_999))"
}

/// The process group `pgid` no longer exists (kill(-pgid, 0) fails with ESRCH).
func groupIsGone(_ pgid: pid_t) -> Bool {
    kill(-pgid, 0) == -1 && errno == ESRCH
}

func readPid(_ url: URL) -> pid_t? {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
    return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
}

@Suite("ProcessKit")
struct ProcessKitTests {
    @Test("run captures output and the exit status; the group is gone afterwards")
    func runsAndReaps() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["/bin/sh", "-c", "echo out; echo err >&2; exit 7"], environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: tmp.path), timeout: .seconds(30))
        #expect(r.end == .exited)
        #expect(r.status == .exited(7))
        #expect(r.stdout.text == "out\n")
        #expect(r.stderr.text == "err\n")
        #expect(r.groupGone)
        #expect(groupIsGone(r.pgid))
    }

    @Test("timeout kills the whole group, background children included")
    func timeoutKillsGroup() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"], environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: tmp.path), timeout: .milliseconds(300), grace: .milliseconds(200))
        #expect(r.end == .timedOut)
        #expect(r.groupGone)
        #expect(groupIsGone(r.pgid))
    }

    @Test("a child ignoring SIGTERM is killed after the grace period")
    func ignoresTerm() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["/bin/sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60"], environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: tmp.path), timeout: .milliseconds(200), grace: .milliseconds(200))
        #expect(r.end == .timedOut)
        #expect(r.status == .signaled(SIGKILL))
        #expect(groupIsGone(r.pgid))
    }

    @Test("stdout is capped at the head, stderr keeps the tail")
    func caps() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i; echo err$i >&2; i=$((i+1)); done"],
            environment: ["PATH": "/usr/bin:/bin"], workingDirectory: tmp.path,
            stdout: .capture(maxBytes: 100, keep: .head), stderr: .capture(maxBytes: 100, keep: .tail)),
            timeout: .seconds(30))
        #expect(r.stdout.bytes.count == 100)
        #expect(r.stdout.truncated)
        #expect(r.stdout.text.hasPrefix("line0\nline1\n"))
        #expect(r.stderr.bytes.count == 100)
        #expect(r.stderr.text.hasSuffix("err1999\n"))
    }

    @Test("limits are applied in the child")
    func limits() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["/bin/sh", "-c", "ulimit -t; ulimit -v; ulimit -n; pwd"], environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: tmp.path,
            limits: ResourceRLimits(cpuSeconds: 7, addressSpaceKiB: 200_000, fileSizeBytes: 1 << 20, openFiles: 64)),
            timeout: .seconds(30))
        let lines = r.stdout.text.split(separator: "\n").map(String.init)
        #expect(lines.prefix(3) == ["7", "200000", "64"])
        #expect(lines.last.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == tmp.url.resolvingSymlinksInPath().path)
    }

    @Test("extra outputs are the child's descriptors 3, 4, …; no other descriptor of this process is inherited")
    func extraOutputs() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        // An inheritable descriptor (no FD_CLOEXEC), as a careless parent might leave one.
        let raw = open("/dev/null", O_RDONLY)
        let inheritable = fcntl(raw, F_DUPFD, Int32(200))
        close(raw)
        defer { close(inheritable) }
        #expect(inheritable >= 200)
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["/bin/sh", "-c", "echo three >&3; echo four >&4; ls /proc/self/fd"], environment: ["PATH": "/usr/bin:/bin"],
            workingDirectory: tmp.path, extraOutputs: [.capture(maxBytes: 100, keep: .head), .capture(maxBytes: 100, keep: .head)]),
            timeout: .seconds(30))
        #expect(r.extra.map(\.text) == ["three\n", "four\n"])
        let fds = r.stdout.text.split(separator: "\n").compactMap { Int32($0) }
        #expect(fds.contains(4))
        #expect(!fds.contains(inheritable), "\(fds)")
    }

    @Test("the process limit (RLIMIT_NPROC) is applied in the child")
    func processLimit() async throws {
        let tmp = try TempDir("pk")
        defer { tmp.cleanup() }
        let r = try await ProcessGroup.run(SpawnRequest(
            command: ["python3", "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_NPROC)[0])"],
            environment: ["PATH": "/usr/bin:/bin"], workingDirectory: tmp.path, limits: ResourceRLimits(processes: 4321)),
            timeout: .seconds(30))
        #expect(r.stdout.text == "4321\n", "\(r.stderr.text)")
    }
}

@Suite("LocalExecutor")
struct LocalExecutorTests {
    func executor(_ tmp: TempDir, network: NetworkPolicy = .auto) -> LocalExecutor {
        LocalExecutor(options: LocalExecutorOptions(workRoot: tmp.sub("jobs"), network: network, termGraceSeconds: 0.5))
    }

    @Test("the example challenge scores a real submission")
    func exampleScores() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let (_, challenge) = try await Example.provision(in: tmp)
        let outcome = await executor(tmp).execute(job: job(submission: Example.goodSubmission), challenge: challenge)
        #expect(outcome.status == .completed, "\(outcome)")
        #expect(outcome.error == nil)
        #expect(outcome.score == Example.expectedAccuracy)
        #expect(outcome.metrics["accuracy"] == .number(Example.expectedAccuracy))
        #expect(outcome.metrics["samples"] == .number(600))
        #expect(outcome.logs.contains("accuracy 0.9533"))
        #expect(outcome.exitStatus == "exit status 0")
        // The working directory is gone.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp.sub("jobs").path)) ?? []
        #expect(left.isEmpty)
    }

    @Test("a weaker submission scores lower; a broken one is rejected with score 0")
    func exampleRejects() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let (_, challenge) = try await Example.provision(in: tmp)
        let weak = await executor(tmp).execute(job: job(submission: "def predict(f):\n    return 0\n"), challenge: challenge)
        #expect(weak.status == .completed)
        #expect(weak.score == 0.61)
        let broken = await executor(tmp).execute(job: job(submission: "def predict(f) return 0"), challenge: challenge)
        #expect(broken.status == .rejected)
        #expect(broken.score == 0)
        #expect(broken.error?.contains("SyntaxError") == true)
        #expect(broken.isScored)
    }

    @Test("an oversized submission is rejected before anything runs")
    func oversized() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        var challenge = adHocChallenge(tmp.url, command: ["/bin/true"])
        challenge.declaration.maxSubmissionBytes = 10
        let o = await executor(tmp).execute(job: job(submission: String(repeating: "x", count: 11)), challenge: challenge)
        #expect(o.status == .rejected)
        #expect(o.error?.contains("at most 10") == true)
    }

    @Test("evaluator timeout: error \"timeout\" and nothing it started is left")
    func timeout() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let marker = uniqueSleepArgument()
        let challenge = adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "sleep \(marker) & sleep \(marker)"])
        let o = await executor(tmp).execute(job: job(timeout: 1), challenge: challenge)
        #expect(o.status == .timeout)
        #expect(o.error == "timeout")
        #expect(o.score == nil)
        #expect(processes(commandLine: ["sleep", marker]).isEmpty)
    }

    @Test("the declaration's own timeout applies when smaller than the job's")
    func declarationTimeout() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let challenge = adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "sleep 60"], timeout: 0.5)
        let o = await executor(tmp).execute(job: job(timeout: 600), challenge: challenge)
        #expect(o.status == .timeout)
    }

    @Test("crash: non-zero exit is a failure with the exit status and stderr tail")
    func crashExit() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let challenge = adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "echo starting >&2; echo 'boom: out of cheese' >&2; exit 3"])
        let o = await executor(tmp).execute(job: job(), challenge: challenge)
        #expect(o.status == .failed)
        #expect(o.exitStatus == "exit status 3")
        #expect(o.error?.contains("exit status 3") == true)
        #expect(o.error?.contains("boom: out of cheese") == true)
        #expect(o.logs == ["starting", "boom: out of cheese"])
        #expect(!o.isScored)
    }

    @Test("crash: death by signal is reported with the signal")
    func crashSignal() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let challenge = adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "kill -SEGV $$"])
        let o = await executor(tmp).execute(job: job(), challenge: challenge)
        #expect(o.status == .failed)
        #expect(o.exitStatus?.contains("SIGSEGV") == true)
    }

    @Test("exit 0 without a JSON result is a failure; a missing command is reported")
    func noResult() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let o = await executor(tmp).execute(job: job(), challenge: adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "echo hello"]))
        #expect(o.status == .failed)
        #expect(o.error?.contains("no valid result") == true)
        let missing = await executor(tmp).execute(job: job(), challenge: adHocChallenge(tmp.url, command: ["no-such-evaluator-xyz"]))
        #expect(missing.status == .failed)
        #expect(missing.exitStatus?.contains("command not found") == true)
    }

    @Test("the result may be written to $EVALNET_OUTPUT; the submission arrives as a file with the job's variables")
    func contractVariables() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let script = """
            test "$(cat "$EVALNET_SUBMISSION")" = "payload" || exit 9
            test "$EVALNET_JOB_ID" = "job-42" || exit 10
            test "$EVALNET_MINER_HOTKEY" = "5Miner" || exit 11
            test "$(pwd)" = "$EVALNET_WORK_DIR" || exit 12
            test -z "$SECRET_OF_VALIDATOR" || exit 13
            printf '{"score": 0.5, "metrics": {"k": "v"}, "logs": "a\\\\nb", "error": null}' > "$EVALNET_OUTPUT"
            echo 'not json on stdout'
            """
        let o = await executor(tmp).execute(job: job("job-42", submission: "payload"),
                                            challenge: adHocChallenge(tmp.url, command: ["/bin/sh", "-c", script]))
        #expect(o.status == .completed, "\(o)")
        #expect(o.score == 0.5)
        #expect(o.metrics == ["k": .string("v")])
        #expect(o.logs == ["a", "b"])
    }

    @Test("exit 2 with an error result is a scored rejection")
    func exitTwo() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let o = await executor(tmp).execute(job: job(), challenge: adHocChallenge(
            tmp.url, command: ["/bin/sh", "-c", "echo '{\"score\": null, \"error\": \"not a program\"}'; exit 2"]))
        #expect(o.status == .rejected)
        #expect(o.score == 0)
        #expect(o.error == "not a program")
    }

    @Test("the memory limit (RLIMIT_AS) stops a large allocation")
    func memoryLimit() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let challenge = adHocChallenge(tmp.url, command: [
            "python3", "-c", "b = bytearray(700 * 1024 * 1024); print('{\"score\": 1}')",
        ])
        let o = await executor(tmp).execute(job: job(resources: ResourceLimits(cpuCores: 1, memoryMb: 256, diskMb: 64)),
                                            challenge: challenge)
        #expect(o.status == .failed)
        #expect(o.error?.contains("MemoryError") == true, "\(o)")
    }

    @Test("cancellation mid-run stops promptly and nothing it started is left")
    func cancellation() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let marker = uniqueSleepArgument()
        let challenge = adHocChallenge(tmp.url, command: ["/bin/sh", "-c", "sleep \(marker) & sleep \(marker)"])
        let exec = executor(tmp)
        let task = Task { await exec.execute(job: job(timeout: 120), challenge: challenge) }
        #expect(await eventually { processes(commandLine: ["sleep", marker]).count == 2 })
        let cancelledAt = ContinuousClock.now
        task.cancel()
        let o = await task.value
        #expect(o.status == .cancelled)
        #expect(o.error == "cancelled")
        #expect(ContinuousClock.now - cancelledAt < .seconds(20))
        #expect(processes(commandLine: ["sleep", marker]).isEmpty)
    }

    @Test("no network for the evaluator when the host allows unshare -n")
    func networkIsolation() async throws {
        let tmp = try TempDir("le")
        defer { tmp.cleanup() }
        let listener = try TCPListener()
        defer { listener.close() }
        let probe = """
            import socket, json
            try:
                socket.create_connection(("127.0.0.1", \(listener.port)), timeout=3).close()
                reached = 1
            except OSError:
                reached = 0
            print(json.dumps({"score": reached}))
            """
        let challenge = adHocChallenge(tmp.url, command: ["python3", "-c", probe])
        let open = await executor(tmp, network: .off).execute(job: job(), challenge: challenge)
        #expect(open.score == 1, "\(open)")
        let isolated = executor(tmp, network: .auto)
        let o = await isolated.execute(job: job(), challenge: challenge)
        if isolated.networkIsolated {
            #expect(o.score == 0, "\(o)")
        } else {
            #expect(o.score == 1)
            let required = await executor(tmp, network: .required).execute(job: job(), challenge: challenge)
            #expect(required.status == .failed)
        }
    }
}

/// A listening TCP socket on 127.0.0.1 (never accepts; the backlog completes connects).
final class TCPListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        struct SocketError: Error {}
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard sock >= 0 else { throw SocketError() }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0, listen(sock, 16) == 0 else {
            _ = Glibc.close(sock)
            throw SocketError()
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) }
        }
        fd = sock
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
