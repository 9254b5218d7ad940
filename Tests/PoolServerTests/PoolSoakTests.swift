import Foundation
import Hotkeys
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import Synchronization
import TestSupport
import Testing

/// The crash a fault-injecting database simulates: the transaction stops mid-way, as if the
/// process died there, and the backend rolls everything it wrote back.
struct SimulatedCrash: Error {}

/// A database that kills chosen transactions part-way: inside a transaction, when a
/// statement matching `trigger` is about to run and `shouldKill()` says so, it throws
/// `SimulatedCrash` instead of running it — after the statements before it were written.
final class FaultyDatabase: SQLDatabase {
    let inner: any SQLDatabase
    let trigger: String
    let shouldKill: @Sendable () -> Bool
    let kills = Atomic<Int>(0)

    init(_ inner: any SQLDatabase, trigger: String, shouldKill: @escaping @Sendable () -> Bool) {
        self.inner = inner
        self.trigger = trigger
        self.shouldKill = shouldKill
    }

    var dialect: SQLDialect { inner.dialect }
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] { try await inner.query(sql, binds) }
    func shutdown() async { await inner.shutdown() }

    func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await inner.transaction { tx in try await body(Executor(inner: tx, owner: self)) }
    }

    struct Executor: SQLExecutor {
        let inner: any SQLExecutor
        let owner: FaultyDatabase
        var dialect: SQLDialect { inner.dialect }
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            if sql.contains(owner.trigger), owner.shouldKill() {
                owner.kills.add(1, ordering: .relaxed)
                throw SimulatedCrash()
            }
            return try await inner.query(sql, binds)
        }
    }
}

/// Many miners at once doing lease → submit cycles, on each backend: no 5xx, every
/// submission counted exactly once (the pool's counters equal what the miners sent), window
/// points equal the oracle; and the same while some submits die mid-transaction — each of
/// those is rolled back whole and the miner's identical retry lands.
@Suite struct PoolSoakTests {
    struct MinerTally: Sendable {
        var evaluations = 0
        var evolutions = 0
        var cycles = 0
        var killed = 0
        var failures: [String] = []
    }

    static func soak(_ backend: Backend, killEvery: Int?) async throws {
        let rules = PoolPointsTests.rules(seed: 4)
        let counter = Atomic<Int>(0)
        let faulty = Mutex<FaultyDatabase?>(nil)
        // The submit transaction has written the lease's evaluations, algorithm counts and
        // evolutions when it updates the miner's counters: a crash there loses all of them.
        let h = try await PoolHarness.make(backend, configure: { $0.rules = rules }) { db in
            guard let every = killEvery else { return db }
            let f = FaultyDatabase(db, trigger: "UPDATE miners SET evaluations_submitted") {
                counter.add(1, ordering: .relaxed).newValue % every == 0
            }
            faulty.withLock { $0 = f }
            return f
        }
        let keys = Keys.make(32)
        try await h.run { c in
            for key in keys { try await c.register(key) }
            let tallies = try await withThrowingTaskGroup(of: (String, MinerTally).self) { group in
                for (n, key) in keys.enumerated() {
                    group.addTask {
                        var rng = SeededGenerator(seed: UInt64(n) + 500)
                        var t = MinerTally()
                        for _ in 0..<8 {
                            let r = try await c.call(.post, PoolPaths.lease, key: key,
                                                     json: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 1 + rng.below(5)))
                            if r.status.code >= 500 { t.failures.append("lease \(r.status): \(r.text)") }
                            guard r.status == .ok else { continue }
                            let lease = try r.decode(LeaseResponse.self)
                            let submission = LeaseSubmission(
                                evaluations: lease.evaluateAlgorithms.map { PoolPointsTests.evaluation($0.id, &rng) },
                                evolutions: lease.evolveBudget > 0
                                    ? [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id),
                                                      algorithmDsl: PoolPointsTests.variants[rng.below(PoolPointsTests.variants.count)])]
                                    : [],
                                iterations: 1)
                            var s = try await c.submit(key, lease.leaseId, submission)
                            var attempts = 1
                            while s.status == .internalServerError, killEvery != nil, attempts < 6 {
                                // Killed mid-transaction (a retry may be killed too): the
                                // identical retry must land.
                                t.killed += 1
                                attempts += 1
                                s = try await c.submit(key, lease.leaseId, submission)
                            }
                            if s.status.code >= 500 { t.failures.append("submit \(s.status): \(s.text)") }
                            guard s.status == .ok else {
                                t.failures.append("submit \(s.status): \(s.text)")
                                continue
                            }
                            t.cycles += 1
                            t.evaluations += submission.evaluations.count
                            t.evolutions += submission.evolutions.count
                        }
                        return (key.publicKey.ss58Address, t)
                    }
                }
                var all: [String: MinerTally] = [:]
                for try await (hotkey, t) in group { all[hotkey] = t }
                return all
            }
            #expect(tallies.values.flatMap(\.failures) == [])
            let cycles = tallies.values.map(\.cycles).reduce(0, +)
            #expect(cycles == 32 * 8, "every cycle completed")
            if killEvery != nil {
                let killed = tallies.values.map(\.killed).reduce(0, +)
                #expect(killed > 5, "some submits were killed mid-transaction (\(killed))")
                #expect(killed == faulty.withLock { $0?.kills.load(ordering: .relaxed) ?? -1 })
            }
            // Every submission counted once: the pool's counters and rows equal what each
            // miner sent in the submits that were answered 200.
            for (hotkey, t) in tallies {
                let m = try #require(try await h.db.queryOne(
                    "SELECT evaluations_submitted, evolutions_submitted FROM miners WHERE hotkey = ?", [.text(hotkey)]))
                #expect(try m.int("evaluations_submitted") == Int64(t.evaluations), "\(hotkey)")
                #expect(try m.int("evolutions_submitted") == Int64(t.evolutions), "\(hotkey)")
                let rows = try await h.db.queryOne("SELECT COUNT(*) AS n FROM evaluations WHERE evaluator = ?", [.text(hotkey)])
                #expect(try rows?.int("n") == Int64(t.evaluations), "\(hotkey): evaluation rows")
                let completed = try await h.db.queryOne(
                    "SELECT COUNT(*) AS n FROM assignments WHERE miner = ? AND status = 'completed'", [.text(hotkey)])
                #expect(try completed?.int("n") == Int64(t.cycles), "\(hotkey): completed leases")
            }
            // Reserved evaluation slots all given back: no lease is active.
            let reserved = try await h.db.queryOne("SELECT COALESCE(SUM(reserved), 0) AS n FROM algorithms", [])?.int("n")
            #expect(reserved == 0)
            #expect(try await PointsOracle.check(h.db, rules: rules) > 10)
        }
    }

    @Test(arguments: TestDatabases.available)
    func thirtyTwoMinersCountedOnceAndMatchTheOracle(_ backend: Backend) async throws {
        try await Self.soak(backend, killEvery: nil)
    }

    @Test(arguments: TestDatabases.available)
    func submitsKilledMidTransactionLeaveNothingAndTheirRetriesLand(_ backend: Backend) async throws {
        try await Self.soak(backend, killEvery: 9)
    }
}
