import Foundation
import PoolCore
@testable import PoolServer
import Store
import TestSupport
import Testing

/// The lease issuer picks candidates in SQL (`pickCandidates`: one indexed query with row
/// locks); `CandidateSelection.select` states the rule. On random pool states both must pick
/// the same ids in the same order, on both backends.
@Suite struct CandidateSelectionSQLTests {
    @Test(arguments: TestDatabases.available)
    func sqlPicksWhatTheRulePicks(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let store = h.store, db = h.db
        do {
            let miners = (0..<5).map { "miner-\($0)" }
            let now = h.clock.now
            for m in miners {
                try await db.execute("INSERT INTO miners (hotkey, registered_at, last_seen_at) VALUES (?, ?, ?)",
                                     [.text(m), .double(now), .double(now)])
            }
            try await db.execute(
                """
                INSERT INTO assignments (id, miner, kind, task_type, window_number, evolve_budget, issued_at, timeout_at, status)
                VALUES ('history', 'miner-0', 'lease', 'scalar_linear', 0, 0, 0, 0, 'completed')
                """)
            // The shipped seeds are candidates too: retire them, so the state is all ours.
            try await db.execute("UPDATE algorithms SET status = 'scored', consensus_score = 0.1")
            let cap = store.rules.candidateSlotCap
            for seed in UInt64(1)...6 {
                var rng = SeededGenerator(seed: seed)
                try await db.execute("DELETE FROM evaluations")
                try await db.execute("UPDATE algorithms SET status = 'scored' WHERE status = 'in_evaluation'")
                var slots: [CandidateSlot] = []
                for i in 0..<40 {
                    let author: String? = rng.chance(0.2) ? nil : miners[rng.below(miners.count)]
                    let evalCount = rng.below(cap + 1), reserved = rng.below(3)
                    let row = try #require(try await db.queryOne(
                        """
                        INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, author, origin, window_created, status,
                          eval_count, reserved, created_at)
                        VALUES ('scalar_linear', 4, 'x', ?, ?, 'evolution', 0, 'in_evaluation', ?, ?, ?) RETURNING id
                        """, [.text("h\(seed)-\(i)"), .from(author), .int(Int64(evalCount)), .int(Int64(reserved)), .double(now)]))
                    let id = try row.int("id")
                    var by: Set<String> = []
                    for m in miners where rng.chance(0.25) {
                        by.insert(m)
                        try await db.execute(
                            """
                            INSERT INTO evaluations (assignment_id, algorithm_id, evaluator, score, window_number, created_at)
                            VALUES ('history', ?, ?, 0.5, 0, ?)
                            """, [.int(id), .text(m), .double(now)])
                    }
                    slots.append(CandidateSlot(id: Int(id), evalCount: evalCount, author: author, alreadyEvaluatedBy: by,
                                               activeSlots: reserved))
                }
                for hotkey in miners + ["newcomer"] {
                    for batch in [1, 3, 8] {
                        let expected = CandidateSelection.select(slots, for: hotkey, batchSize: batch, rules: store.rules)
                        // Picking reserves slots; the transaction is rolled back so the state stays.
                        struct Rollback: Error { let ids: [Int] }
                        var picked: [Int] = []
                        do {
                            try await db.transaction { tx in
                                let rows = try await store.pickCandidates(tx, taskType: "scalar_linear", hotkey: hotkey, limit: batch)
                                throw Rollback(ids: try rows.map { Int(try $0.int("id")) })
                            }
                        } catch let r as Rollback { picked = r.ids }
                        #expect(picked == expected, "seed \(seed) \(hotkey) batch \(batch)")
                    }
                }
            }
        } catch {
            await db.shutdown()
            throw error
        }
        await db.shutdown()
    }

    /// On SQLite the pick reads `algorithms_pick` in its own order and stops at the first
    /// `limit` candidates that qualify, without sorting every candidate in evaluation
    /// (migration 9): SQLite's plan of the statement the store runs says so.
    @Test func onSQLiteThePickReadsItsIndexInPickOrder() async throws {
        let h = try await PoolHarness.make(.sqlite)
        final class Recorder: SQLExecutor, @unchecked Sendable {
            let base: any SQLExecutor
            var statements: [(sql: String, binds: [SQLValue])] = []
            init(_ base: any SQLExecutor) { self.base = base }
            var dialect: SQLDialect { base.dialect }
            func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
                statements.append((sql, binds))
                return try await base.query(sql, binds)
            }
        }
        do {
            let recorder = Recorder(h.db)
            _ = try await h.store.pickCandidates(recorder, taskType: "scalar_linear", hotkey: "someone", limit: 4)
            let pick = try #require(recorder.statements.first)
            let plan = try await h.db.query("EXPLAIN QUERY PLAN " + pick.sql, pick.binds).map { try $0.string("detail") }
            #expect(plan.contains { $0.contains("INDEX algorithms_pick") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }
}
