import Foundation
import Hotkeys
import Logging
import Miner
import PoolAPI
import PoolServer
import ServiceKit

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

/// Drives authenticated register → lease → submit cycles from `clients` concurrent miners
/// against a pool served on loopback, for `seconds`, and prints cycles per second for each
/// `slice` of the run (a rate that decays as history grows shows there), failures by kind
/// (`transient` covers 5xx and transport errors), and p50/p99 latency per endpoint.
func runPoolBenchmark(database: String, label: String, clients: Int = 8, seconds: Double = 15,
                      slice: Double = 5) async throws {
    var logger = Logger(label: "bench.pool")
    logger.logLevel = .error
    var config = PoolConfig()
    config.port = 0
    config.database = database
    config.rules.consensusThreshold = 3
    let stopper = ServiceStopper()
    let (server, port) = try await launchServer { [config, logger] ready in
        try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: logger, stopper: stopper, onReady: ready)
    }
    let dsl = "# setup\ns2 = 0.01\n# predict\ns0 = dot(v0, v1)\n# learn\ns3 = s1 - s0"
    let start = Date()
    let end = start.addingTimeInterval(seconds)
    let log = try await withThrowingTaskGroup(of: MinerLog.self) { group in
        for _ in 0..<clients {
            group.addTask {
                let client = PoolClient(baseURL: "http://127.0.0.1:\(port)", keypair: .generate())
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
                            ? [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id), algorithmDsl: dsl)] : []
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
    await stopper.stop()
    _ = await server.result
    let slices = max(1, Int((seconds / slice).rounded(.down)))
    let rates = (0..<slices).map { k -> String in
        let lo = Double(k) * slice, hi = lo + slice
        return String(format: "%.0f", Double(log.completions.filter { $0 >= lo && $0 < hi }.count) / slice)
    }
    print(String(format: "pool.cycles_per_second.%@ %.1f (%d cycles, %d clients, %.0f s); per %.0f s slice: %@",
                 label, Double(log.completions.count) / seconds, log.completions.count, clients, seconds, slice,
                 rates.joined(separator: " ")))
    print(String(format: "pool.latency_ms.%@ lease p50 %.1f p99 %.1f; submit_lease p50 %.1f p99 %.1f", label,
                 quantile(log.leaseMs, 0.5), quantile(log.leaseMs, 0.99), quantile(log.submitMs, 0.5), quantile(log.submitMs, 0.99)))
    let failures = log.failures.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
    print("pool.failures.\(label) \(failures.isEmpty ? "none" : failures.joined(separator: ", "))")
}

/// `evalnet-bench pool [--miners N] [--seconds S] [--slice S]`: SQLite, then PostgreSQL when
/// EVALNET_TEST_POSTGRES_URL is set.
func runPoolBenchmarks(clients: Int, seconds: Double, slice: Double) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try await runPoolBenchmark(database: "sqlite:" + dir.appendingPathComponent("pool.db").path, label: "sqlite",
                               clients: clients, seconds: seconds, slice: slice)
    if let pg = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !pg.isEmpty {
        try await runPoolBenchmark(database: pg, label: "postgres", clients: clients, seconds: seconds, slice: slice)
    } else {
        print("pool.cycles_per_second.postgres skipped (set EVALNET_TEST_POSTGRES_URL)")
    }
    try? FileManager.default.removeItem(at: dir)
}
