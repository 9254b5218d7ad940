import Foundation
import Logging
import Store

/// `evalnet-bench pg-roundtrip [--statements N] [--tasks T] [--per-transaction K]` (only when
/// named; needs EVALNET_TEST_POSTGRES_URL): what one statement's round trip costs through the
/// store — T tasks each run transactions of K one-row statements (a key lookup on a small
/// table, as most of the services' statements are) until N statements have run, and the run
/// prints statements per second and the CPU per statement of this process (the PostgresNIO
/// client) and of PostgreSQL's server processes. BEGIN and COMMIT count as statements: they
/// are round trips too.
func runRoundTripBenchmark(statements: Int, tasks: Int, perTransaction: Int) async throws {
    guard let base = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !base.isEmpty else {
        print("pg.roundtrip skipped (set EVALNET_TEST_POSTGRES_URL)")
        return
    }
    try await withFreshPostgresDatabase(base) { url in
        var logger = Logger(label: "evalnet.bench.roundtrip")
        logger.logLevel = .error
        let db = try await openDatabase(try DatabaseLocation.parse(url), logger: logger)
        try await db.execute("CREATE TABLE rt (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
        try await db.execute("INSERT INTO rt SELECT g, g * 7 FROM generate_series(1, 1000) AS g")
        let transactions = max(1, statements / max(1, perTransaction + 2) / max(1, tasks))
        let run = { () async throws -> (Double, CPUSample, CPUSample) in
            let before = CPUSample.now()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for t in 0..<tasks {
                    group.addTask {
                        for i in 0..<transactions {
                            try await db.transaction { tx in
                                for k in 0..<perTransaction {
                                    let id = Int64((t * 7919 + i * 31 + k) % 1000 + 1)
                                    _ = try await tx.query("SELECT v FROM rt WHERE id = ?", [.int(id)])
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            return ((ContinuousClock.now - start).inSeconds, before, CPUSample.now())
        }
        _ = try await run()  // warm-up: connections opened, statements prepared
        let (seconds, before, after) = try await run()
        let total = Double(transactions * tasks * (perTransaction + 2))
        var line = String(format: "pg.roundtrip %.0f statements/s (%d tasks, transactions of %d + BEGIN/COMMIT, %.0f statements); CPU µs per statement: this process %.1f",
                          total / seconds, tasks, perTransaction, total, (after.process - before.process) * 1000 / total)
        if let a = before.postgres, let b = after.postgres { line += String(format: ", PostgreSQL %.1f", (b - a) * 1000 / total) }
        print(line)
        await db.shutdown()
    }
}
