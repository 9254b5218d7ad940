import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import TestSupport
import Testing

/// Load-balancer health checks, and two pool replicas (separate connection pools and
/// routers) on one database.
@Suite struct PoolReplicaTests {
    @Test(arguments: TestDatabases.available)
    func readinessFollowsTheDatabaseAndTheDrain(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let drain = DrainState()
        let app = Application(router: makePoolRouter(store: h.store, config: h.config, drain: drain))
        try await app.test(.router) { client in
            let c = PoolClientForTests(client: client)
            let live = try await c.call(.get, HealthChecks.live)
            #expect(live.status == .ok)
            #expect(try live.decode(HealthChecks.Live.self) == .init(status: "alive"))
            let ready = try await c.call(.get, HealthChecks.ready)
            #expect(ready.status == .ok)
            #expect(try ready.decode(HealthChecks.Ready.self) == .init(status: "ready", database: backend.rawValue))
            drain.begin()
            let draining = try await c.call(.get, HealthChecks.ready)
            #expect(draining.status == .serviceUnavailable)
            #expect(draining.error?.code == "draining")
            #expect(try await c.call(.get, HealthChecks.live).status == .ok)
        }
        // A database that cannot be reached: not ready, still alive.
        await h.db.shutdown()
        let closed = Application(router: makePoolRouter(store: h.store, config: h.config))
        try await closed.test(.router) { client in
            let c = PoolClientForTests(client: client)
            let ready = try await c.call(.get, HealthChecks.ready)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.error?.code == "database_unavailable")
            #expect(try await c.call(.get, HealthChecks.live).status == .ok)
        }
    }

    /// Miners spread over two replicas: no 5xx, every consensus reported exactly once, and
    /// the counts and points stored are those of the one-process oracle over the history.
    @Test func minersOverTwoReplicasReachConsensusAsWithOne() async throws {
        guard TestDatabases.available.contains(.postgres) else { return }
        var rules = PoolPointsTests.rules(seed: 3)
        rules.repetitionScope = .both
        let rulesUsed = rules
        let url = try await TestDatabases.freshURL(.postgres)
        var config = PoolConfig()
        config.rules = rules
        let configUsed = config
        var stores: [PoolStore] = []
        for _ in 0..<2 {
            let db = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
            let store = PoolStore(db: db, rules: rules, algorithms: AlgorithmCatalog())
            try await store.prepare(now: Date().timeIntervalSince1970)
            stores.append(store)
        }
        let apps = stores.map { Application(router: makePoolRouter(store: $0, config: configUsed)) }
        let keys = Keys.make(24)
        let outcome = try await apps[0].test(.router) { one in
            try await apps[1].test(.router) { two in
                let clients = [PoolClientForTests(client: one), PoolClientForTests(client: two)]
                return try await withThrowingTaskGroup(of: (failures: [String], cycles: Int, consensus: Int).self) { group in
                    for (n, key) in keys.enumerated() {
                        group.addTask {
                            var rng = SeededGenerator(seed: UInt64(n) + 300)
                            var failures: [String] = [], cycles = 0, consensus = 0
                            for step in 0..<6 {
                                // Each request goes to either replica, as behind a load balancer.
                                let c = clients[(n + step) % 2]
                                let r = try await c.call(.post, PoolPaths.lease, key: key,
                                                         json: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 1 + rng.below(6)))
                                if r.status.code >= 500 { failures.append("lease \(r.status): \(r.text)") }
                                guard r.status == .ok else { continue }
                                let lease = try r.decode(LeaseResponse.self)
                                let evaluations = lease.evaluateAlgorithms.map { PoolPointsTests.evaluation($0.id, &rng) }
                                let evolutions = lease.evolveBudget > 0
                                    ? [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id),
                                                      algorithmDsl: PoolPointsTests.variants[rng.below(PoolPointsTests.variants.count)])]
                                    : []
                                let s = try await clients[(n + step + 1) % 2].submit(key, lease.leaseId, LeaseSubmission(
                                    evaluations: evaluations, evolutions: evolutions, iterations: 1))
                                if s.status.code >= 500 { failures.append("submit \(s.status): \(s.text)") }
                                #expect(s.status == .ok, "\(s.text)")
                                if s.status == .ok {
                                    cycles += 1
                                    consensus += try s.decode(SubmitResponse.self).consensusReached.count
                                }
                            }
                            return (failures, cycles, consensus)
                        }
                    }
                    return try await group.reduce(into: (failures: [String](), cycles: 0, consensus: 0)) {
                        $0.failures += $1.failures
                        $0.cycles += $1.cycles
                        $0.consensus += $1.consensus
                    }
                }
            }
        }
        let db = stores[0].db
        #expect(outcome.failures == [])
        #expect(outcome.cycles > 80, "\(outcome.cycles) lease→submit cycles")
        let reached = try await db.queryOne("SELECT COUNT(*) AS n FROM algorithms WHERE consensus_window IS NOT NULL", [])?.int("n")
        #expect(reached == Int64(outcome.consensus), "each consensus reported once, by the replica that reached it")
        #expect(outcome.consensus > 5)
        let compared = try await PointsOracle.check(db, rules: rulesUsed)
        #expect(compared > 10)
        for s in stores { await s.db.shutdown() }
    }
}
