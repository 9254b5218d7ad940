import Foundation
import Store
import TestSupport
import Testing

/// `PeriodicRuns`: one claim wins per period across replicas (PostgreSQL); every claim wins on SQLite.
@Suite struct PeriodicRunsTests {
    /// Claims from two replicas (separate connection pools) at once: `wins` of them succeed.
    static func contend(_ a: PeriodicRuns, _ b: PeriodicRuns, claims: Int) async throws -> [String] {
        try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<claims {
                let r = i % 2 == 0 ? a : b
                group.addTask { try await r.claim("sweeper", interval: 3600) ? r.holder : nil }
            }
            return try await group.reduce(into: [String]()) { if let w = $1 { $0.append(w) } }
        }
    }

    @Test(arguments: TestDatabases.available)
    func oneClaimWinsEachPeriodAcrossReplicas(_ backend: Backend) async throws {
        let url = try await TestDatabases.freshURL(backend)
        let one = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
        let two = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
        try await PeriodicRuns.prepare(one)
        try await PeriodicRuns.prepare(two)
        let a = PeriodicRuns(db: one, holder: "a"), b = PeriodicRuns(db: two, holder: "b")
        let first = try await Self.contend(a, b, claims: 16)
        if backend == .sqlite {
            // One process: every turn runs, nothing is recorded.
            #expect(first.count == 16)
            #expect(try await a.latest("sweeper") == nil)
        } else {
            #expect(first.count == 1, "\(first)")
            #expect(try await a.latest("sweeper")?.holder == first.first)
            #expect(try await a.latest("sweeper")?.runs == 1)
            // Within the period nobody wins, the winner included.
            #expect(try await Self.contend(a, b, claims: 8).isEmpty)
            // The period passes (as if an hour went by): again exactly one wins.
            try await one.execute("UPDATE periodic_runs SET next_due = next_due - 7200 WHERE name = 'sweeper'")
            let second = try await Self.contend(a, b, claims: 16)
            #expect(second.count == 1, "\(second)")
            #expect(try await b.latest("sweeper")?.runs == 2)
            // Another job's periods are its own.
            #expect(try await a.claim("other", interval: 3600))
        }
        await one.shutdown()
        await two.shutdown()
    }
}
