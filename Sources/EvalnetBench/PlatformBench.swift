import AsyncHTTPClient
import Foundation
import Hotkeys
import Logging
import NIOCore
import PlatformAPI
import PlatformServer
import ServiceLifecycle
import SignedClient
import Store
import Validator

/// Claim → results cycles per second: 8 concurrent validators against a real Platform server
/// on loopback, each polling as the validator's job loop does: signed POST /jobs/claim for the
/// oldest pending job of the challenge, each followed by its signed POST results, until the
/// platform answers that none is left. A claim is never lost to another validator (a 409
/// would be counted as lost). Runs on SQLite, and on PostgreSQL (a fresh database, dropped
/// afterwards) when EVALNET_TEST_POSTGRES_URL is set.
func runPlatformBenchmarks(jobsPerValidator: Int) async throws {
    try await benchPlatform(label: "sqlite", url: "sqlite:" + FileManager.default.temporaryDirectory
        .appendingPathComponent("evalnet-bench-\(UUID().uuidString).db").path, jobsPerValidator: jobsPerValidator)
    if let base = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !base.isEmpty {
        try await withFreshPostgresDatabase(base) {
            try await benchPlatform(label: "postgres", url: $0, jobsPerValidator: jobsPerValidator)
        }
    } else {
        print("platform.claim_results_cycle[postgres] skipped (EVALNET_TEST_POSTGRES_URL not set)")
    }
}

/// Runs `body` on a new, empty database on the server of `base`, dropped afterwards (also
/// when `body` throws), so a run never starts from an earlier run's rows or schema.
func withFreshPostgresDatabase<T>(_ base: String, _ body: (String) async throws -> T) async throws -> T {
    guard case let .postgres(s) = try DatabaseLocation.parse(base) else { throw StoreError.badURL(base) }
    let name = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    let admin = try await PostgresStore.open(s, logger: Logger(label: "bench"), maxConnections: 1)
    let result: Result<T, any Error>
    do {
        try await admin.execute("CREATE DATABASE \(name)")
        let url = s.url(database: String(name))
        result = .success(try await body(url))
    } catch { result = .failure(error) }
    _ = try? await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    await admin.shutdown()
    return try result.get()
}

private struct BenchClient: Sendable {
    let http: HTTPClient
    let base: String

    func send(_ method: String, _ path: String, headers: [(String, String)], body: String? = nil) async throws
        -> (status: Int, body: ByteBuffer)
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = method == "GET" ? .GET : .POST
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), bytes)
    }

    static func validatorHeaders(_ key: SR25519Keypair) -> [(String, String)] {
        SignedRequest.headers(for: key).map { ($0.name, $0.value) } + [(PlatformHeaders.validatorHotkey, key.publicKey.ss58Address)]
    }
}

/// `evalnet-bench platform --replicas N` (PostgreSQL only): the claim → results cycle with one
/// server process and with N on one database, validator i talking to replica i mod N.
func runPlatformReplicaBenchmarks(replicas: Int, jobsPerValidator: Int) async throws {
    guard let base = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !base.isEmpty else {
        print("platform.claim_results_cycle[replicas] skipped (set EVALNET_TEST_POSTGRES_URL)")
        return
    }
    for n in [1, replicas] {
        try await withFreshPostgresDatabase(base) { url in
            try await benchPlatform(label: "postgres, \(n) replica\(n == 1 ? "" : "s")", url: url, jobsPerValidator: jobsPerValidator, replicas: n)
        }
    }
}

private func benchPlatform(label: String, url: String, validatorCount: Int = Int(ProcessInfo.processInfo.environment["BENCH_VALIDATORS"] ?? "8") ?? 8, jobsPerValidator: Int, replicas: Int = 1) async throws {
    var logger = Logger(label: "evalnet.bench.platform")
    logger.logLevel = .error
    let validators = (0..<validatorCount).map { _ in SR25519Keypair.generate() }
    var config = PlatformConfig()
    config.database = url
    config.port = 0
    config.adminToken = "bench-admin"
    config.validators = validators.map(\.publicKey.ss58Address)
    config.sweepIntervalSeconds = nil
    config.limits.maxOpenSubmissionsPerMiner = Int.max

    // One server process per replica: its own connection pool, store and event hub.
    var replicaStores: [(db: any SQLDatabase, store: PlatformStore, group: ServiceGroup, server: Task<Void, any Error>, port: Int)] = []
    for _ in 0..<max(1, replicas) {
        let db = try await openDatabase(try DatabaseLocation.parse(url), logger: logger)
        let store = PlatformStore(db: db, limits: config.limits, logger: logger)
        try await store.prepare(validators: config.validators, now: Date().timeIntervalSince1970)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = try await makePlatformApplication(store: store, hub: EventHub(), config: config, logger: logger,
                                                    onReady: { portSink.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let server = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw StoreError.backend("server did not start") }
        replicaStores.append((db, store, group, server, port))
    }
    let db = replicaStores[0].db, store = replicaStores[0].store
    func stopAll() async {
        for r in replicaStores {
            await r.group.triggerGracefulShutdown()
            _ = await r.server.result
            await r.store.shutdown()
            await r.db.shutdown()
        }
    }

    let http = HTTPClient.untraced()
    let clients = replicaStores.map { BenchClient(http: http, base: "http://127.0.0.1:\($0.port)") }
    let client = clients[0]
    do {
        let create = CreateChallengeRequest(name: "bench", githubRepo: "https://github.com/example/bench",
                                            githubCommit: "0123456789abcdef", composeHash: "sha256:bench", mechanismId: 1,
                                            emissionShare: 1, validatorsPerSubmission: 1, maxRetries: 3, claimTimeoutS: 600)
        let body = String(decoding: try JSONEncoder().encode(create), as: UTF8.self)
        let created = try await client.send("POST", PlatformPaths.adminChallenges,
                                            headers: [("Authorization", "Bearer bench-admin")], body: body)
        guard created.status == 201 else { throw StoreError.backend("create challenge: \(created.status)") }
        let challenge = try JSONDecoder().decode(ChallengeDetail.self, from: Data(buffer: created.body))
        let miner = SR25519Keypair.generate()
        let total = validatorCount * jobsPerValidator
        for i in 0..<total {
            _ = try await store.submit(challengeId: challenge.id, miner: miner.publicKey.ss58Address,
                                       payload: SubmissionPayload(code: "solution \(i)"), now: Date().timeIntervalSince1970)
        }

        let resultBody = String(decoding: try JSONEncoder().encode(JobResultRequest(
            score: 0.5, metrics: ["accuracy": .number(0.5)], logs: ["ok"], executionTimeMs: 1)), as: UTF8.self)
        let start = ContinuousClock.now
        let cpuBefore = CPUSample.now()
        let claimNext = PlatformPaths.claimNext + queryString([(PlatformQueryNames.challengeId, challenge.id)])
        let counts = try await withThrowingTaskGroup(of: (cycles: Int, lost: Int, time: [Double]).self) { group in
            for (i, v) in validators.enumerated() {
                let client = clients[i % clients.count]
                group.addTask {
                    var cycles = 0, lost = 0
                    var time = [0.0, 0.0]
                    let clock = ContinuousClock()
                    func timed<T>(_ i: Int, _ body: () async throws -> T) async rethrows -> T {
                        let t0 = clock.now
                        let r = try await body()
                        let d = clock.now - t0
                        time[i] += d.inSeconds
                        return r
                    }
                    // As the validator's job loop polls (`JobManager.pollOnce`): claims of the
                    // oldest pending job of the challenge, each result posted at once here (the
                    // job itself is not run), until the platform answers that none is left.
                    while true {
                        let claim = try await timed(0) { try await client.send("POST", claimNext, headers: BenchClient.validatorHeaders(v)) }
                        if claim.status == 409 {
                            lost += 1
                            continue
                        }
                        if claim.status == 204 { return (cycles, lost, time) }
                        guard claim.status == 200 else { throw StoreError.backend("claim: \(claim.status)") }
                        let job = try JSONDecoder().decode(ClaimResponse.self, from: Data(buffer: claim.body))
                        let posted = try await timed(1) { try await client.send("POST", PlatformPaths.results(job.id),
                                                           headers: BenchClient.validatorHeaders(v), body: resultBody) }
                        guard posted.status == 204 else { throw StoreError.backend("results: \(posted.status)") }
                        cycles += 1
                    }
                }
            }
            var sum = (cycles: 0, lost: 0, time: [0.0, 0.0])
            for try await c in group {
                sum.cycles += c.cycles
                sum.lost += c.lost
                for i in 0..<2 { sum.time[i] += c.time[i] }
            }
            return sum
        }
        let elapsed = ContinuousClock.now - start
        let cpuAfter = CPUSample.now()
        let seconds = elapsed.inSeconds
        let done = try await db.queryOne("SELECT COUNT(*) AS n FROM jobs WHERE status = 'completed'", [])?.int("n") ?? 0
        print(String(format: "platform.claim_results_cycle[%@] %.0f cycles/s (%d validators, %d cycles, %d lost claims, %.2f s; %lld jobs completed of %d)",
                     label, Double(counts.cycles) / seconds, validatorCount, counts.cycles, counts.lost, seconds, done, total))
        // Claims include the last one of each validator, which finds nothing left (204).
        print(String(format: "  mean latency: claim %.1f ms, results %.1f ms",
                     counts.time[0] / Double(max(1, counts.cycles + counts.lost + validatorCount)) * 1000,
                     counts.time[1] / Double(max(1, counts.cycles)) * 1000))
        // What a cycle cost in CPU: this process (the platform server and the validators) and,
        // on PostgreSQL, the database server's processes.
        let perCycle = { (a: Double, b: Double) in (b - a) / Double(max(1, counts.cycles)) }
        var cost = String(format: "  cpu ms per cycle: this process (server and validators) %.2f",
                          perCycle(cpuBefore.process, cpuAfter.process))
        if label != "sqlite", let a = cpuBefore.postgres, let b = cpuAfter.postgres {
            cost += String(format: "; PostgreSQL server processes %.2f", perCycle(a, b))
        }
        print(cost)
    } catch {
        try? await http.shutdown()
        await stopAll()
        throw error
    }
    try await http.shutdown()
    await stopAll()
}
