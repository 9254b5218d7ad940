import Foundation
import Hotkeys
import Logging
import Miner
import PoolAPI
import PoolServer
import ServiceKit

/// Drives authenticated register → lease → submit cycles from `clients` concurrent miners
/// against a pool served on loopback, for `seconds`, and prints cycles per second.
func runPoolBenchmark(database: String, label: String, clients: Int = 8, seconds: Double = 15) async throws {
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
    let end = Date().addingTimeInterval(seconds)
    let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
        for _ in 0..<clients {
            group.addTask {
                let client = PoolClient(baseURL: "http://127.0.0.1:\(port)", keypair: .generate())
                var cycles = 0, errors = 0
                _ = try await client.register()
                while Date() < end {
                    do {
                        let lease = try await client.lease(LeaseRequest(taskType: "scalar_linear", evalBatchSize: 4, seedBatchSize: 2))
                        let evals = lease.evaluateAlgorithms.map { EvaluationEntry(algorithmId: $0.id, score: 0.5 + Double($0.id % 5) / 100) }
                        let evos = lease.evolveBudget > 0
                            ? [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id), algorithmDsl: dsl)] : []
                        _ = try await client.submit(leaseId: lease.leaseId, LeaseSubmission(evaluations: evals, evolutions: evos, iterations: 1))
                        cycles += 1
                    } catch {
                        errors += 1
                    }
                }
                await client.shutdown()
                return (cycles, errors)
            }
        }
        return try await group.reduce(into: (0, 0)) { $0.0 += $1.0; $0.1 += $1.1 }
    }
    await stopper.stop()
    _ = await server.result
    print(String(format: "pool.cycles_per_second.%@ %.1f (%d cycles, %d errors, %d clients, %.0f s)",
                 label, Double(counts.0) / seconds, counts.0, counts.1, clients, seconds))
}

func runPoolBenchmarks() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try await runPoolBenchmark(database: "sqlite:" + dir.appendingPathComponent("pool.db").path, label: "sqlite")
    if let pg = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !pg.isEmpty {
        try await runPoolBenchmark(database: pg, label: "postgres")
    } else {
        print("pool.cycles_per_second.postgres skipped (set EVALNET_TEST_POSTGRES_URL)")
    }
    try? FileManager.default.removeItem(at: dir)
}
