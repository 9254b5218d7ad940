import Foundation
import Hotkeys
import Logging
import Miner
import PoolAPI
import PoolServer
import ServiceKit
import Store

/// What one miner saw: completed cycles (by the time they completed), failures by kind,
/// and the latency of each call.
struct MinerLog: Sendable {
    var completions: [Double] = []
    var failures: [String: Int] = [:]
    var leaseMs: [Double] = []
    var submitMs: [Double] = []

    mutating func merge(_ other: MinerLog) {
        completions += other.completions
        for (k, v) in other.failures { failures[k, default: 0] += v }
        leaseMs += other.leaseMs
        submitMs += other.submitMs
    }
}

/// The `q` quantile (0...1) of `values`, in the unit given.
func quantile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))]
}

/// What a pool benchmark run is: how many miners, for how long, reported per `slice`
/// seconds, and how much history to pre-load before the miners start.
struct PoolBenchPlan: Sendable {
    var clients = 8
    var seconds = 15.0
    var slice = 5.0
    var preloadEvaluations = 0
    /// Pool processes (replicas) on the one database; miner i talks to replica i mod replicas.
    var replicas = 1
    /// A pool already running elsewhere (`--url`): the miners drive it and no server is
    /// started here, so the load generator and the pool can be on different machines.
    var url: String?
}

/// Drives authenticated register → lease → submit cycles from `clients` concurrent miners
/// against a pool served on loopback, for `seconds`, and prints cycles per second for each
/// `slice` of the run (a rate that decays as history grows shows there), failures by kind
/// (`transient` covers 5xx and transport errors), p50/p99 latency per endpoint, and the CPU
/// each cycle cost per slice (`CPUSample`: this process, and PostgreSQL's processes when the
/// database is PostgreSQL — on this machine, as the bench starts it). With
/// `preloadEvaluations`, that much history (earlier windows' scored algorithms, completed
/// leases, evaluations and reputation) is written first, so the run shows whether a
/// request's cost depends on it.
/// `database` nil: the miners drive the stateless floor server instead (`runFloorPool`);
/// with `plan.url`, the pool at that address (neither is started, nothing is pre-loaded).
func runPoolBenchmark(database: String?, label: String, plan: PoolBenchPlan) async throws {
    var logger = Logger(label: "bench.pool")
    logger.logLevel = .error
    var config = PoolConfig()
    config.port = 0
    config.database = database ?? ""
    config.rules.consensusThreshold = 3
    let stoppers = (0..<max(1, plan.replicas)).map { _ in ServiceStopper() }
    var servers: [(task: Task<Void, any Error>, port: Int)] = []
    for stopper in stoppers where plan.url == nil {
        servers.append(try await launchServer { [config, logger] ready in
            if database == nil {
                try await runFloorPool(rules: config.rules, maxBodyBytes: config.maxBodyBytes, logger: logger,
                                       stopper: stopper, onReady: ready)
            } else {
                try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: logger, stopper: stopper, onReady: ready)
            }
        })
    }
    let addresses = plan.url.map { [$0] } ?? servers.map { "http://127.0.0.1:\($0.port)" }
    if plan.preloadEvaluations > 0, plan.url == nil, let database {
        let clock = ContinuousClock()
        let started = clock.now
        let window = Int64(config.rules.windowClock().number(at: Date().timeIntervalSince1970))
        try await preloadHistory(database: database, evaluations: plan.preloadEvaluations, currentWindow: window, logger: logger)
        print(String(format: "pool.preload.%@ %d evaluations of history written in %.1f s", label, plan.preloadEvaluations,
                     (clock.now - started) / .milliseconds(1) / 1000))
    }
    // Each evolution its own program, as real miners mostly send: LMS with a learning rate of
    // its own, which its learn phase reads, so no two programs score alike on the held-out
    // tasks and the SOTA can move (repeats of one program are a separate, bounded cost: the
    // window's repeats of that hash).
    func dsl() -> String { lmsProgram(rate: String(format: "%.6f", Double.random(in: 0.001...0.1))) }
    let start = Date()
    let end = start.addingTimeInterval(plan.seconds)
    let slices = max(1, Int((plan.seconds / plan.slice).rounded(.down)))
    let sampler = Task { await sampleCPU(every: plan.slice, slices: slices) }
    let log = try await withThrowingTaskGroup(of: MinerLog.self) { group in
        for i in 0..<plan.clients {
            group.addTask {
                let client = PoolClient(baseURL: addresses[i % addresses.count], keypair: .generate())
                var log = MinerLog()
                _ = try await client.register()
                while Date() < end {
                    do {
                        let t0 = Date()
                        let lease = try await client.lease(LeaseRequest(taskType: "scalar_linear", evalBatchSize: 4, seedBatchSize: 2))
                        let t1 = Date()
                        log.leaseMs.append(t1.timeIntervalSince(t0) * 1000)
                        let evals = lease.evaluateAlgorithms.map { EvaluationEntry(algorithmId: $0.id, score: 0.5 + Double($0.id % 5) / 100) }
                        let evos = lease.evolveBudget > 0
                            ? [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id), algorithmDsl: dsl())] : []
                        _ = try await client.submit(leaseId: lease.leaseId, LeaseSubmission(evaluations: evals, evolutions: evos, iterations: 1))
                        let t2 = Date()
                        log.submitMs.append(t2.timeIntervalSince(t1) * 1000)
                        log.completions.append(t2.timeIntervalSince(start))
                    } catch let error as PoolClientError {
                        switch error {
                        case .transient: log.failures["transient (5xx or transport)", default: 0] += 1
                        case let .rejected(status, code, _, _): log.failures["\(status) \(code)", default: 0] += 1
                        case let .notFound(code, _): log.failures["404 \(code)", default: 0] += 1
                        case .badResponse: log.failures["bad response", default: 0] += 1
                        }
                    } catch {
                        log.failures["\(type(of: error))", default: 0] += 1
                    }
                }
                await client.shutdown()
                return log
            }
        }
        return try await group.reduce(into: MinerLog()) { $0.merge($1) }
    }
    for stopper in stoppers { await stopper.stop() }
    for server in servers { _ = await server.task.result }
    let samples = await sampler.value
    let rates = (0..<slices).map { k -> Double in
        let lo = Double(k) * plan.slice, hi = lo + plan.slice
        return Double(log.completions.filter { $0 >= lo && $0 < hi }.count) / plan.slice
    }
    print(String(format: "pool.cycles_per_second.%@ %.1f (%d cycles, %d clients, %.0f s%@); per %.0f s slice: %@",
                 label, Double(log.completions.count) / plan.seconds, log.completions.count, plan.clients, plan.seconds,
                 plan.preloadEvaluations > 0 ? ", after \(plan.preloadEvaluations) evaluations of history" : "",
                 plan.slice, rates.map { String(format: "%.0f", $0) }.joined(separator: " ")))
    if let first = rates.first, let last = rates.last, first > 0 {
        print(String(format: "pool.last_vs_first_slice.%@ %.2f", label, last / first))
    }
    print(String(format: "pool.latency_ms.%@ lease p50 %.1f p99 %.1f; submit_lease p50 %.1f p99 %.1f", label,
                 quantile(log.leaseMs, 0.5), quantile(log.leaseMs, 0.99), quantile(log.submitMs, 0.5), quantile(log.submitMs, 0.99)))
    func costs(_ name: String, _ value: (CPUSample) -> Double?) -> String? {
        guard let ms = cpuPerCycle(samples, rates: rates, slice: plan.slice, value), let first = ms.first, let last = ms.last
        else { return nil }
        return String(format: "%@ %@ (last/first %.2f)", name, ms.map { String(format: "%.2f", $0) }.joined(separator: " "),
                      last / first)
    }
    var cost = [costs(plan.url == nil ? "this process (server and miners)" : "this process (miners)", { $0.process })]
    if label == "postgres" { cost.append(costs("PostgreSQL server processes", { $0.postgres })) }
    print("pool.cpu_ms_per_cycle.\(label) \(cost.compactMap { $0 }.joined(separator: "; "))")
    let failures = log.failures.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
    print("pool.failures.\(label) \(failures.isEmpty ? "none" : failures.joined(separator: ", "))")
}

/// Writes `evaluations` evaluations of history into a prepared pool database: a quarter as
/// many evolutions scored in the 500 windows before `currentWindow`, each from a completed
/// lease with its items and four evaluations by 1,000 earlier miners, and their reputation
/// rows. Set-based statements (a recursive counter), one transaction.
func preloadHistory(database: String, evaluations: Int, currentWindow: Int64, logger: Logger) async throws {
    let db = try await openDatabase(try DatabaseLocation.parse(database), logger: logger)
    let algorithms = max(1, evaluations / 4)
    let now = Date().timeIntervalSince1970
    try await db.transaction { tx in
        func series(_ n: Int) -> String {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(n))"
        }
        let hotkey = "'history-' || (i % 1000)"
        // DSL hashes as real ones are (hex of SHA-256, in no order), so the hash indexes the
        // run inserts into are as large and as scattered as a long run's own.
        let randomHash = tx.dialect == .postgres ? "encode(sha256(('history-' || i)::bytea), 'hex')" : "lower(hex(randomblob(32)))"
        try await tx.execute(
            "INSERT INTO miners (hotkey, registered_at, last_seen_at) \(series(1000)) SELECT 'history-' || (i - 1), ?, ? FROM n",
            [.double(now - 86_400 * 30), .double(now - 86_400)])
        try await tx.execute(
            """
            INSERT INTO assignments (id, miner, kind, task_type, window_number, evolve_budget, issued_at, timeout_at, status,
              iterations, completed_at, evaluations_count)
            \(series(algorithms)) SELECT 'history-lease-' || i, \(hotkey), 'lease', 'scalar_linear', ? - 1 - (i % 500), 1,
              ?, ?, 'completed', 1, ?, 4 FROM n
            """, [.int(currentWindow), .double(now - 3600), .double(now - 3000), .double(now - 3500)])
        try await tx.execute(
            """
            INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, parent_ids, author, origin, source_assignment,
              window_created, status, eval_count, consensus_score, consensus_window, created_at)
            \(series(algorithms)) SELECT 'scalar_linear', 4, '# setup\ns2 = 0.0' || i || '\n# predict\ns0 = dot(v0, v1)\n# learn\ns3 = s1 - s0',
              \(randomHash), '', \(hotkey), 'evolution', 'history-lease-' || i, ? - 1 - (i % 500), 'scored', 4,
              0.1 + (i % 1000) * 0.0001, ? - 1 - (i % 500), ? FROM n
            """, [.int(currentWindow), .int(currentWindow), .double(now - 3500)])
        // Each history lease lists the algorithm it produced; its four evaluations are filed
        // under that lease.
        try await tx.execute(
            """
            INSERT INTO assignment_items (assignment_id, algorithm_id, role, position)
            SELECT a.source_assignment, a.id, 'seed', 0 FROM algorithms a WHERE a.source_assignment LIKE 'history-lease-%'
            """)
        for j in 0..<4 {
            try await tx.execute(
                """
                INSERT INTO evaluations (assignment_id, algorithm_id, evaluator, score, window_number, created_at, in_consensus)
                SELECT a.source_assignment, a.id, 'history-' || ((a.id + \(j) * 250 + 1) % 1000), a.consensus_score,
                  a.consensus_window, ?, 1 FROM algorithms a WHERE a.source_assignment LIKE 'history-lease-%'
                """, [.double(now - 3400)])
        }
        try await tx.execute(
            """
            INSERT INTO reputation (miner, window_number, evaluator_points, evolver_points, agreements, disagreements, reward)
            SELECT evaluator, window_number, COUNT(*), 0, COUNT(*), 0, 0 FROM evaluations
            WHERE evaluator LIKE 'history-%' GROUP BY evaluator, window_number
            """)
    }
    await db.shutdown()
}

/// `evalnet-bench pool [--miners N] [--seconds S | --minutes M] [--slice S] [--backend sqlite|postgres|both|none]
/// [--preload EVALUATIONS]`: SQLite, then PostgreSQL when EVALNET_TEST_POSTGRES_URL is set.
func runPoolBenchmarks(plan: PoolBenchPlan, backend: String) async throws {
    if backend == "none" {
        try await runPoolBenchmark(database: nil, label: "none", plan: plan)
        return
    }
    if backend != "postgres" {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try await runPoolBenchmark(database: "sqlite:" + dir.appendingPathComponent("pool.db").path, label: "sqlite", plan: plan)
        try? FileManager.default.removeItem(at: dir)
    }
    if backend != "sqlite" {
        if let pg = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !pg.isEmpty {
            // A fresh database each run: the figures never depend on an earlier run's history.
            try await withFreshPostgresDatabase(pg) { try await runPoolBenchmark(database: $0, label: "postgres", plan: plan) }
        } else {
            print("pool.cycles_per_second.postgres skipped (set EVALNET_TEST_POSTGRES_URL)")
        }
    }
}
