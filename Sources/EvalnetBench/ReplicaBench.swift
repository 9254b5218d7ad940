import Foundation

/// `evalnet-bench pool --replicas N` (PostgreSQL only): the same miners against one pool
/// process and then against N on one database, each run on a fresh database, so the two
/// figures differ only in the number of replicas.
func runPoolReplicaBenchmarks(plan: PoolBenchPlan) async throws {
    guard let base = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !base.isEmpty else {
        print("pool.cycles_per_second.replicas skipped (set EVALNET_TEST_POSTGRES_URL)")
        return
    }
    for n in [1, plan.replicas] {
        var run = plan
        run.replicas = n
        try await withFreshPostgresDatabase(base) { try await runPoolBenchmark(database: $0, label: "postgres.replicas\(n)", plan: run) }
    }
}
