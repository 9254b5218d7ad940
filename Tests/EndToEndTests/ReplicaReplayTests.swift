import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hotkeys
import PlatformAPI
import PoolAPI
import Store
import TestSupport
import Testing

/// Two server processes of the same service on one PostgreSQL database: a signature used
/// on one is refused by the other, in either order and when both get it at once.
@Suite(.serialized) struct ReplicaReplayTests {
    /// The `evalnet` binary built beside this test bundle.
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("evalnet")
    }

    /// Starts `evalnet <args> --port P` and waits until `/health` answers; returns the process and port.
    static func start(_ args: [String]) async throws -> (Process, Int) {
        let port = TestPorts.unused()
        let p = Process()
        p.executableURL = binary
        p.arguments = args + ["--port", String(port), "--log-level", "error"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        for _ in 0..<600 {
            if let r = try? await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/health"), timeoutSeconds: 2), r.status == 200 {
                return (p, port)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        p.terminate()
        throw POSIXError(.ETIMEDOUT)
    }

    static func signed(_ key: SR25519Keypair, extra: HostileRequests.Headers = []) -> HostileRequests.Headers {
        SignedRequest.headers(for: key).map { ($0.name, Array($0.value.utf8)) } + extra
    }

    /// Sends the same signed request to both replicas: one after the other each way, then at once.
    static func checkReplay(ports: (Int, Int), method: String, path: String,
                            headers: @Sendable () -> HostileRequests.Headers) async throws {
        for (first, second) in [(ports.0, ports.1), (ports.1, ports.0)] {
            let h = headers()
            let a = try await RawHTTP.exchange(port: first, RawHTTP.request(method, path, headers: h))
            #expect(a.status == 200, "\(a.head) \(a.text)")
            let b = try await RawHTTP.exchange(port: second, RawHTTP.request(method, path, headers: h))
            #expect(b.status == 401 && b.text.contains("auth_replayed"), "\(b.head) \(b.text)")
        }
        for _ in 0..<10 {
            let h = headers()
            async let a = RawHTTP.exchange(port: ports.0, RawHTTP.request(method, path, headers: h))
            async let b = RawHTTP.exchange(port: ports.1, RawHTTP.request(method, path, headers: h))
            let statuses = [try await a.status, try await b.status]
            #expect(statuses.sorted { ($0 ?? 0) < ($1 ?? 0) } == [200, 401], "\(statuses)")
        }
    }

    @Test func poolReplicasShareOneReplayLedger() async throws {
        guard TestDatabases.available.contains(.postgres) else { return }
        let url = try await TestDatabases.freshURL(.postgres)
        let (one, p1) = try await Self.start(["pool", "serve", "--database", url])
        defer { one.terminate() }
        let (two, p2) = try await Self.start(["pool", "serve", "--database", url])
        defer { two.terminate() }
        let key = SR25519Keypair.generate()
        try await Self.checkReplay(ports: (p1, p2), method: "POST", path: PoolPaths.register) { Self.signed(key) }
    }

    /// SIGTERM: readiness turns 503 (liveness stays 200) while the process keeps serving for
    /// `--drain-seconds`, then it exits.
    @Test(arguments: ["pool", "platform"])
    func sigtermDrainsBeforeExiting(_ service: String) async throws {
        let url = try await TestDatabases.freshURL(.sqlite)
        let (process, port) = try await Self.start([service, "serve", "--database", url, "--drain-seconds", "2"])
        defer { if process.isRunning { process.terminate() } }
        let ready = try await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/health/ready"))
        #expect(ready.status == 200, "\(ready.head) \(ready.text)")
        process.terminate()
        try await Task.sleep(for: .milliseconds(400))
        let draining = try await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/health/ready"))
        #expect(draining.status == 503 && draining.text.contains("\"code\":\"draining\""), "\(draining.head) \(draining.text)")
        let live = try await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/health/live"))
        #expect(live.status == 200)
        #expect(process.isRunning, "still serving during the drain")
        for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!process.isRunning, "exited after the drain")
    }

    /// The process sweeping is killed (SIGKILL: no drain, no goodbye): the other replica's
    /// sweeper takes over within a period or two, and runs stay at one per period meanwhile.
    @Test(arguments: ["pool", "platform"])
    func aKilledSweeperIsReplacedByTheOtherReplica(_ service: String) async throws {
        guard TestDatabases.available.contains(.postgres) else { return }
        let url = try await TestDatabases.freshURL(.postgres)
        let args = [service, "serve", "--database", url, "--sweep-interval", "0.3"]
        let (one, p1) = try await Self.start(args + ["--replica-id", "one"])
        defer { if one.isRunning { one.terminate() } }
        let (two, p2) = try await Self.start(args + ["--replica-id", "two"])
        defer { if two.isRunning { two.terminate() } }
        _ = (p1, p2)
        let db = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
        let name = "\(service)-sweeper"
        func latest() async throws -> (holder: String, runs: Int64, startedAt: Double)? {
            guard let r = try await db.queryOne("SELECT holder, runs, started_at FROM periodic_runs WHERE name = ?", [.text(name)])
            else { return nil }
            return (try r.string("holder"), try r.int("runs"), try r.double("started_at"))
        }
        do {
            var before: (holder: String, runs: Int64, startedAt: Double)?
            for _ in 0..<100 {
                before = try await latest()
                if (before?.runs ?? 0) >= 3 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let sweeping = try #require(before, "nobody swept")
            let victim = sweeping.holder == "one" ? one : two
            let survivor = sweeping.holder == "one" ? "two" : "one"
            kill(victim.processIdentifier, SIGKILL)
            let killedAt = ContinuousClock.now
            var after = sweeping
            while after.holder != survivor, ContinuousClock.now - killedAt < .seconds(10) {
                try await Task.sleep(for: .milliseconds(20))
                after = try await latest() ?? after
            }
            let takeover = (ContinuousClock.now - killedAt) / .seconds(1)
            #expect(after.holder == survivor, "the surviving replica took the sweeper over")
            // At most: the victim's next turn falls due (one period), then the survivor's next
            // attempt (one more period), plus scheduling slack on a loaded machine.
            #expect(takeover < 1.5, "took over \(takeover) s after the kill (period 0.3 s)")
            print("\(service) sweeper taken over \(String(format: "%.2f", takeover)) s after SIGKILL (period 0.3 s)")
        } catch {
            Issue.record("\(error)")
        }
        await db.shutdown()
    }

    @Test func platformReplicasShareOneReplayLedger() async throws {
        guard TestDatabases.available.contains(.postgres) else { return }
        let url = try await TestDatabases.freshURL(.postgres)
        let v = SR25519Keypair.generate()
        let args = ["platform", "serve", "--database", url, "--validator", v.publicKey.ss58Address]
        let (one, p1) = try await Self.start(args)
        defer { one.terminate() }
        let (two, p2) = try await Self.start(args)
        defer { two.terminate() }
        let hotkey: HostileRequests.Headers = [(PlatformHeaders.validatorHotkey, Array(v.publicKey.ss58Address.utf8))]
        try await Self.checkReplay(ports: (p1, p2), method: "GET", path: PlatformPaths.pendingJobs) { Self.signed(v, extra: hotkey) }
    }
}
