import Foundation
import Hotkeys
import Hummingbird
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import TestSupport
import Testing

/// The oracle check: reputation rows kept incrementally equal `WindowPoints.compute` over
/// each window, with the oracle's inputs read back from the database.
enum PointsOracle {
    /// `WindowPoints.compute` over `window`, its inputs read back from the database.
    static func compute(_ db: any SQLDatabase, rules: PoolRules, window: Int64) async throws -> WindowPointsResult {
        try await PoolStore(db: db, rules: rules, algorithms: AlgorithmCatalog()).windowPointsFromHistory(db, window: window)
    }

    /// What a reputation row holds (every field of `MinerPoints`).
    struct Row: Equatable, CustomStringConvertible {
        var evaluatorPoints, evolverPoints, totalImprovement, total, reward: Double
        var agreements, disagreements, evolutionsConsidered, repeatedEvolutions: Int
        var inConsensus, rewardEligible: Bool

        init(_ p: MinerPoints) {
            evaluatorPoints = p.evaluatorPoints; evolverPoints = p.evolverPoints
            totalImprovement = p.totalImprovement; total = p.total; reward = p.reward
            agreements = p.agreements; disagreements = p.disagreements
            evolutionsConsidered = p.evolutionsConsidered; repeatedEvolutions = p.repeatedEvolutions
            inConsensus = p.inConsensus; rewardEligible = p.rewardEligible
        }

        init(_ r: SQLRow) throws {
            evaluatorPoints = try r.double("evaluator_points"); evolverPoints = try r.double("evolver_points")
            totalImprovement = try r.double("total_improvement"); total = try r.double("total_points")
            reward = try r.double("reward")
            agreements = Int(try r.int("agreements")); disagreements = Int(try r.int("disagreements"))
            evolutionsConsidered = Int(try r.int("evolutions_considered"))
            repeatedEvolutions = Int(try r.int("repeated_evolutions"))
            inConsensus = try r.bool("in_consensus"); rewardEligible = try r.bool("reward_eligible")
        }

        var description: String {
            "eval \(evaluatorPoints) evol \(evolverPoints) impr \(totalImprovement) total \(total) reward \(reward) "
                + "a/d \(agreements)/\(disagreements) evo \(evolutionsConsidered) rep \(repeatedEvolutions) "
                + "in \(inConsensus) eligible \(rewardEligible)"
        }
    }

    static func stored(_ db: any SQLExecutor, window: Int64) async throws -> [String: Row] {
        var out: [String: Row] = [:]
        for r in try await db.query("SELECT * FROM reputation WHERE window_number = ?", [.int(window)]) {
            out[try r.string("miner")] = try Row(r)
        }
        return out
    }

    /// Every window with points or consensus events: stored rows == oracle, exactly.
    /// Returns the number of (window, miner) rows compared.
    @discardableResult
    static func check(_ db: any SQLDatabase, rules: PoolRules) async throws -> Int {
        var windows: Set<Int64> = []
        for r in try await db.query("SELECT DISTINCT window_number AS w FROM reputation", []) { windows.insert(try r.int("w")) }
        for r in try await db.query("SELECT DISTINCT consensus_window AS w FROM algorithms WHERE consensus_window IS NOT NULL", []) {
            windows.insert(try r.int("w"))
        }
        var compared = 0
        for w in windows.sorted() {
            let expected = try await compute(db, rules: rules, window: w).miners
            let actual = try await stored(db, window: w)
            #expect(Set(actual.keys) == Set(expected.keys), "window \(w): miners")
            for (hotkey, p) in expected.sorted(by: { $0.key < $1.key }) {
                let want = Row(p)
                #expect(actual[hotkey] == want, "window \(w) miner \(hotkey): stored \(String(describing: actual[hotkey])) oracle \(want)")
                compared += 1
            }
        }
        // The running reward totals the leaderboard reads equal the sums over the rows.
        var sums: [String: Double] = [:]
        for r in try await db.query("SELECT miner, SUM(reward) AS s FROM reputation GROUP BY miner", []) {
            sums[try r.string("miner")] = try r.double("s")
        }
        var kept: [String: Double] = [:]
        for r in try await db.query("SELECT miner, total FROM reputation_totals", []) { kept[try r.string("miner")] = try r.double("total") }
        for (miner, sum) in sums {
            let total = kept[miner] ?? 0
            #expect(abs(total - sum) <= 1e-9 * max(1, abs(sum)), "reward total of \(miner): kept \(total), rows sum to \(sum)")
        }
        for (miner, total) in kept where sums[miner] == nil { #expect(abs(total) <= 1e-9, "reward total of \(miner) without rows") }
        return compared
    }
}

@Suite struct PoolPointsTests {
    /// DSL variants; few of them, so evolutions repeat one another's hashes.
    static let variants: [String] = (1...4).map { i in
        """
        # setup
        s2 = 0.0\(i)
        # predict
        s0 = dot(v0, v1)
        # learn
        s3 = s1 - s0
        """
    }

    /// A candidate's "true" score, so honest evaluators agree.
    static func truth(_ id: Int64) -> Double { 0.3 + Double(id % 13) / 40 }

    static func evaluation(_ id: Int64, _ rng: inout SeededGenerator) -> EvaluationEntry {
        let roll = rng.unit()
        let score: Double
        if roll < 0.7 { score = truth(id) * (1 + rng.unit() * 0.02) }       // agrees
        else if roll < 0.95 { score = truth(id) * 2 + 0.5 + rng.unit() }    // disagrees
        else { score = .nan }                                                // invalid
        return EvaluationEntry(algorithmId: id, score: score)
    }

    static func rules(seed: UInt64) -> PoolRules {
        var rules = PoolConfig().rules
        rules.windowSeconds = 300
        rules.leaseTTLSeconds = 120
        rules.leasesPerWindow = nil
        rules.consensusThreshold = 2
        rules.evalSlotMargin = 2
        rules.repetitionPenalty = 0.25
        rules.minRewardActivity = 2
        rules.repetitionScope = PoolRules.RepetitionScope.allCases[Int(seed % 3)]
        rules.baselineMode = PoolRules.BaselineMode.allCases[Int((seed / 3) % 3)]
        return rules
    }

    @Test(arguments: TestDatabases.available, [UInt64(1), 3, 5, 7])
    func randomInterleavingsMatchTheOracle(_ backend: Backend, _ seed: UInt64) async throws {
        let rules = Self.rules(seed: seed)
        let h = try await PoolHarness.make(backend) { $0.rules = rules }
        do { try await Self.drive(h, rules: rules, seed: seed) } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }

    /// A pool upgraded from before incremental points has rows without the counters the
    /// increments add to; the one-time recount rebuilds every window exactly.
    @Test(arguments: TestDatabases.available)
    func recountRebuildsRowsWrittenBeforeCounters(_ backend: Backend) async throws {
        let rules = Self.rules(seed: 4)
        let h = try await PoolHarness.make(backend) { $0.rules = rules }
        do {
            try await Self.drive(h, rules: rules, seed: 4)
            // What rows written by the old code look like: the later columns at their defaults.
            try await h.db.execute(
                """
                UPDATE reputation SET evolutions_considered = 0, repeated_evolutions = 0, total_improvement = 0,
                  total_points = 0, in_consensus = 0, reward_eligible = 0
                """)
            try await h.db.execute("DELETE FROM reputation WHERE miner IN (SELECT miner FROM reputation ORDER BY miner LIMIT 1)")
            try await h.store.recountAllWindows()
            #expect(try await PointsOracle.check(h.db, rules: rules) > 10)
        } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }

    static func drive(_ h: PoolHarness, rules: PoolRules, seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let miners = (0..<6).map { "miner-\($0)" }
        var active: [String: LeaseResponse] = [:]
        var timeouts: [String: Double] = [:]
        var submits = 0, consensus = 0
        for _ in 0..<260 {
            let m = miners[rng.below(miners.count)]
            let now = h.clock.now
            if let lease = active[m] {
                if now >= (timeouts[m] ?? 0) || rng.chance(0.05) {
                    active[m] = nil  // left to expire
                } else {
                    let evaluations = lease.evaluateAlgorithms.filter { _ in rng.chance(0.9) }.map { evaluation($0.id, &rng) }
                    var evolutions: [EvolutionEntry] = []
                    if lease.evolveBudget > 0 && rng.chance(0.8) {
                        let pool = lease.seedAlgorithms.map(\.id) + lease.evaluateAlgorithms.map(\.id)
                        let parents = pool.filter { _ in rng.chance(0.6) }
                        evolutions.append(EvolutionEntry(
                            parentAlgorithmIds: parents, algorithmDsl: variants[rng.below(variants.count)]))
                    }
                    let response = try await h.store.submit(
                        hotkey: m, assignmentId: lease.leaseId,
                        submission: LeaseSubmission(evaluations: evaluations, evolutions: evolutions, iterations: 1), now: now)
                    submits += 1
                    consensus += response.consensusReached.count
                    active[m] = nil
                }
            } else {
                do {
                    let lease = try await h.store.lease(
                        hotkey: m, request: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 1 + rng.below(6)), now: now)
                    active[m] = lease
                    timeouts[m] = now + Double(rules.leaseTTLSeconds) - 1
                } catch let e as APIError where e.status == .notFound || e.status == .badRequest {
                    // no work, or the miner still holds a lease it let go of: fine
                }
            }
            h.clock.advance(Double(rng.below(25)))
            if rng.chance(0.1) { try await h.store.expireOverdue(now: h.clock.now) }
        }
        let compared = try await PointsOracle.check(h.db, rules: rules)
        #expect(submits > 50 && consensus > 10 && compared > 10, "submits \(submits) consensus \(consensus) rows \(compared)")
        let windows = try await h.db.queryOne("SELECT COUNT(DISTINCT window_number) AS n FROM reputation", [])?.int("n") ?? 0
        #expect(windows >= 2)
        let repeats = try await h.db.queryOne("SELECT SUM(repeated_evolutions) AS n FROM reputation", [])?.int("n") ?? 0
        #expect(repeats > 0, "the run exercises repetition")
    }

    @Test(arguments: TestDatabases.available)
    func concurrentMinersNever5xxAndMatchTheOracle(_ backend: Backend) async throws {
        var rules = Self.rules(seed: 2)
        rules.repetitionScope = .both
        let rulesUsed = rules
        let h = try await PoolHarness.make(backend) { $0.rules = rules }
        let keys = Keys.make(32)
        try await h.run { c in
            let (failures, cycles) = try await withThrowingTaskGroup(of: ([String], Int).self) { group in
                for (n, key) in keys.enumerated() {
                    group.addTask {
                        var rng = SeededGenerator(seed: UInt64(n) + 100)
                        var failures: [String] = [], cycles = 0
                        for _ in 0..<5 {
                            let r = try await c.call(
                                .post, PoolPaths.lease, key: key,
                                json: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 1 + rng.below(6)))
                            if r.status.code >= 500 { failures.append("lease \(r.status): \(r.text)") }
                            guard r.status == .ok else { continue }
                            let lease = try r.decode(LeaseResponse.self)
                            let evaluations = lease.evaluateAlgorithms.map { Self.evaluation($0.id, &rng) }
                            let evolutions = lease.evolveBudget > 0
                                ? [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id),
                                                  algorithmDsl: Self.variants[rng.below(Self.variants.count)])] : []
                            let s = try await c.submit(key, lease.leaseId, LeaseSubmission(
                                evaluations: evaluations, evolutions: evolutions, iterations: 1))
                            if s.status.code >= 500 { failures.append("submit \(s.status): \(s.text)") }
                            #expect(s.status == .ok, "\(s.text)")
                            if s.status == .ok { cycles += 1 }
                        }
                        return (failures, cycles)
                    }
                }
                var failures: [String] = [], cycles = 0
                for try await (f, n) in group {
                    failures += f
                    cycles += n
                }
                return (failures, cycles)
            }
            #expect(failures == [])
            #expect(cycles > 100, "\(cycles) lease→submit cycles")
            let compared = try await PointsOracle.check(h.db, rules: rulesUsed)
            #expect(compared > 10)
        }
    }
    /// Floating-point addition is not associative: an author's evolutions reaching consensus
    /// out of id order must still sum in id order, as `compute` does.
    @Test(arguments: TestDatabases.available)
    func improvementsSumInIdOrderWhateverTheConsensusOrder(_ backend: Backend) async throws {
        var rules = Self.rules(seed: 0)
        rules.baselineMode = .genealogy
        let h = try await PoolHarness.make(backend) { $0.rules = rules }
        do {
            let now = h.clock.now
            var evolutions: [Int64] = []
            for dsl in Self.variants.prefix(3) {
                let lease = try await h.store.lease(hotkey: "x", request: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 1), now: now)
                let r = try await h.store.submit(hotkey: "x", assignmentId: lease.leaseId, submission: LeaseSubmission(
                    evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: [], algorithmDsl: dsl)], iterations: 1), now: now)
                evolutions += r.evolutionsAccepted
            }
            try #require(evolutions.count == 3)
            // Scores by id order: 0.1, 0.2, 0.3; consensus in the order 3rd, 2nd, 1st.
            let scores = [0.1, 0.2, 0.3]
            for i in [2, 1, 0] {
                for judge in ["j1", "j2"] {
                    let lease = try await h.store.lease(hotkey: judge, request: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64), now: now)
                    #expect(lease.evaluateAlgorithms.contains { $0.id == evolutions[i] })
                    _ = try await h.store.submit(hotkey: judge, assignmentId: lease.leaseId, submission: LeaseSubmission(
                        evaluations: [EvaluationEntry(algorithmId: evolutions[i], score: scores[i])], evolutions: [], iterations: 1), now: now)
                }
            }
            let row = try #require(try await h.db.queryOne(
                "SELECT total_improvement, evolutions_considered FROM reputation WHERE miner = 'x'", []))
            #expect(try row.int("evolutions_considered") == 3)
            let idOrder: Double = (0.1 + 0.2) + 0.3
            let consensusOrder: Double = (0.3 + 0.2) + 0.1
            #expect(idOrder != consensusOrder, "the orders differ in the last bit")
            #expect(try row.double("total_improvement") == idOrder)
            try await PointsOracle.check(h.db, rules: rules)
        } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }
}
