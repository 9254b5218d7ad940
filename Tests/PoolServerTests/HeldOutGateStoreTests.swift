import AlgorithmDSL
import Foundation
import Hotkeys
import MinerEngine
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import TestSupport
import Testing

/// The held-out gate through the pool's submit path, on both backends: an author submits
/// learners, three honest evaluators score them on the public suite with the engine (as miners
/// do), and the pool decides the SOTA on consensus and on its own held-out tasks.
@Suite struct HeldOutGateStoreTests {
    static let heldOutSeed = 4242

    static func lms(_ lr: Double) -> String {
        """
        # setup
        s2 = \(String(format: "%.4f", lr))
        # predict
        s0 = dot(v1, v0)
        # learn
        s3 = s1 - s0
        s3 = s3 * s2
        v2 = s3 * v0
        v1 = v1 + v2
        """
    }

    /// Learning rates (a, overfit, genuine, worse): the overfit learner beats `a` on the public
    /// suite but not on the pool's held-out tasks; the genuine one beats it on both; the worse one
    /// is below it on the public suite. Found by scoring a grid with the same suites the pool
    /// uses, not assumed.
    static func pickLearners() throws -> (a: Double, overfit: Double, genuine: Double, worse: Double, heldOut: Evaluator) {
        let publicSuite = try Evaluator(taskType: "scalar_linear")
        let rules = PoolRules()
        let heldOut = try Evaluator(taskType: "scalar_linear", config: try HeldOutScorer.suite(
            taskType: "scalar_linear", seed: heldOutSeed, tasks: rules.heldOutTasks, samples: rules.heldOutSamples, inputDim: 16))
        let grid = (1...60).map { Double($0) * 0.005 }
        let scored = grid.map { lr in (lr, publicSuite.score(dsl: lms(lr)), heldOut.score(dsl: lms(lr))) }
        for a in scored {
            guard let o = scored.first(where: { $0.1 > a.1 && $0.2 < a.2 }),
                  let g = scored.first(where: { $0.1 > a.1 && $0.2 > a.2 }),
                  let w = scored.first(where: { $0.1.isFinite && $0.1 < a.1 })
            else { continue }
            return (a.0, o.0, g.0, w.0, heldOut)
        }
        throw PickError()
    }

    struct PickError: Error {}

    @Test(arguments: TestDatabases.available)
    func gateRefusesOverfitAndAcceptsGenuinelyBetter(_ backend: Backend) async throws {
        let (lrA, lrOverfit, lrGenuine, lrWorse, heldOut) = try Self.pickLearners()
        let operatorKey = SR25519Keypair.generate()
        let h = try await PoolHarness.make(backend) {
            $0.heldOutSeed = Self.heldOutSeed
            $0.operatorHotkeys = [operatorKey.publicKey.ss58Address]
        }
        let author = SR25519Keypair.generate()
        let evaluators = Keys.make(3)
        let publicSuite = try Evaluator(taskType: "scalar_linear")
        try await h.run { c in
            @Sendable func evolve(_ dsl: String) async throws -> Int64 {
                let lease = try await c.lease(author)
                #expect(lease.evolveBudget == 1)
                let r = try await c.submit(author, lease.leaseId, LeaseSubmission(
                    evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: [], algorithmDsl: dsl)], iterations: 1))
                #expect(r.status == .ok, "\(r.text)")
                return try #require(try r.decode(SubmitResponse.self).evolutionsAccepted.first)
            }
            /// Each evaluator leases and scores `ids` (read from its lease) on the public suite.
            @Sendable func evaluate(_ ids: Set<Int64>) async throws {
                for k in evaluators {
                    let lease = try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
                    let entries = lease.evaluateAlgorithms.filter { ids.contains($0.id) }.map {
                        EvaluationEntry(algorithmId: $0.id, score: publicSuite.score(dsl: $0.algorithmDsl))
                    }
                    #expect(entries.count == ids.count)
                    let r = try await c.submit(k, lease.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1))
                    #expect(r.status == .ok, "\(r.text)")
                }
            }
            func sota() async throws -> SOTAResponse {
                try await c.call(.get, PoolPaths.sota + "?task_type=scalar_linear").decode(SOTAResponse.self)
            }

            let a = try await evolve(Self.lms(lrA))
            try await evaluate([a])
            let first = try await sota()
            #expect(first.algorithmId == a)
            #expect(first.heldOutScore == heldOut.score(dsl: Self.lms(lrA)))

            // One below the SOTA on consensus cannot replace it whatever its held-out score: it
            // is scored, and the pool does not run its held-out tasks for it.
            let worse = try await evolve(Self.lms(lrWorse))
            try await evaluate([worse])
            let worseRow = try #require(try await h.db.queryOne(
                "SELECT status, consensus_score, held_out_score FROM algorithms WHERE id = ?", [.int(worse)]))
            #expect(try worseRow.string("status") == "scored")
            #expect(try worseRow.double("consensus_score") < (first.sotaThreshold ?? 0))
            #expect(try worseRow.value("held_out_score") == .null)
            #expect(try await sota().algorithmId == a)

            let overfit = try await evolve(Self.lms(lrOverfit))
            let genuine = try await evolve(Self.lms(lrGenuine))
            // The overfit learner reaches consensus first (alone), higher than the SOTA on the
            // public suite: it is scored but does not become a result or the SOTA.
            try await evaluate([overfit])
            let row = try #require(try await h.db.queryOne(
                "SELECT status, consensus_score, held_out_score FROM algorithms WHERE id = ?", [.int(overfit)]))
            #expect(try row.string("status") == "scored")
            #expect(try row.double("consensus_score") > (first.sotaThreshold ?? 1))
            #expect(try row.double("held_out_score") < (first.heldOutScore ?? 0))
            #expect(try await sota().algorithmId == a)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM results WHERE algorithm_id = ?", [.int(overfit)])?.int("n") == 0)

            // The genuinely better one replaces the SOTA; both scores are shown.
            try await evaluate([genuine])
            let now = try await sota()
            #expect(now.algorithmId == genuine)
            #expect(now.sotaThreshold == publicSuite.score(dsl: Self.lms(lrGenuine)))
            #expect(now.heldOutScore == heldOut.score(dsl: Self.lms(lrGenuine)))
            let raw = try await c.call(.get, PoolPaths.sota + "?task_type=scalar_linear")
            #expect(raw.text.contains("\"held_out_score\""))
            let results = try await c.call(.get, PoolPaths.results + "?status=completed&task_type=scalar_linear", key: author)
                .decode(ResultsResponse.self).results
            #expect(Set(results.map(\.algorithmId)) == [a, genuine])
            #expect(results.allSatisfy { $0.heldOutScore != nil })

            // verify shows the held-out detail.
            let resultId = try #require(now.resultId)
            let v = try await c.call(.post, PoolPaths.verify(resultId), key: operatorKey).decode(ResultRecord.self)
            let detail = try #require(v.heldOut)
            #expect(detail.taskCount == PoolRules().heldOutTasks && detail.taskScores.count == detail.taskCount)
            #expect(detail.score == now.heldOutScore && detail.consensusScore == now.sotaThreshold)
            #expect(v.heldOutScore == now.heldOutScore)
        }
    }

    /// The secret seed is generated once, stored, and not in any answer.
    @Test(arguments: TestDatabases.available)
    func heldOutSeedIsGeneratedStoredAndNotServed(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let stored = try #require(try await h.db.queryOne("SELECT value FROM pool_secrets WHERE name = 'held_out_seed'", [])?
            .string("value"))
        #expect(Int(stored) != nil)
        // A second prepare (a restart) keeps it.
        try await h.store.prepare(now: h.clock.now)
        #expect(try await h.db.queryOne("SELECT value FROM pool_secrets WHERE name = 'held_out_seed'", [])?.string("value") == stored)
        let key = SR25519Keypair.generate()
        let checkText = stored.count >= 6  // a short number could appear in any text by chance
        try await h.run { c in
            for path in ["/health", PoolPaths.sota + "?task_type=scalar_linear", "/api/v1/monitor/summary", "/openapi.json"] {
                let r = try await c.call(.get, path)
                #expect(r.status == .ok)
                if checkText { #expect(!r.text.contains(stored), "\(path) must not carry the secret") }
            }
            let lease = try await c.lease(key)
            if checkText { #expect(!String(decoding: try JSONBody.encoder().encode(lease), as: UTF8.self).contains(stored)) }
            #expect(lease.evalSuite == nil, "no rotation by default")
        }
    }

    /// Suite rotation: every lease of a window carries the same suite, so honest evaluators
    /// agree; the next window gets another suite, and votes on different suites are not mixed.
    @Test(arguments: TestDatabases.available)
    func rotationKeepsConsensusWithinAWindow(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) { $0.rules.suiteRotation = true }
        let keys = Keys.make(4)
        try await h.run { c in
            func evaluator(_ suite: EvalSuite) throws -> Evaluator {
                try Evaluator(taskType: "scalar_linear", config: SuiteConfig(taskCount: suite.taskCount, nSamples: suite.samples,
                                                                           seed: suite.seed))
            }
            var leases: [LeaseResponse] = []
            for k in keys.prefix(3) { leases.append(try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))) }
            let suite = try #require(leases[0].evalSuite)
            #expect(leases.allSatisfy { $0.evalSuite == suite })
            #expect(suite == h.store.evalSuite(window: leases[0].windowNumber))
            let target = try #require(leases[0].evaluateAlgorithms.first)
            var reached: [Int64] = []
            for (k, lease) in zip(keys.prefix(3), leases) {
                // Each evaluator builds its own engine from the lease's suite.
                let e = try evaluator(try #require(lease.evalSuite))
                let entries = lease.evaluateAlgorithms.filter { $0.id == target.id }
                    .map { EvaluationEntry(algorithmId: $0.id, score: e.score(dsl: $0.algorithmDsl)) }
                let r = try await c.submit(k, lease.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1))
                reached += try r.decode(SubmitResponse.self).consensusReached
            }
            #expect(reached == [target.id], "three evaluations on the window's suite agree")
            let fixed = try await h.db.queryOne("SELECT consensus_score FROM algorithms WHERE id = ?", [.int(target.id)])?
                .double("consensus_score")
            #expect(fixed == (try evaluator(suite).score(dsl: target.algorithmDsl)))

            // Another candidate: two votes in this window, the third in the next window on that
            // window's suite: no consensus from mixed suites.
            let other = try #require(leases[0].evaluateAlgorithms.first { $0.id != target.id })
            var second: [LeaseResponse] = []
            for k in keys.prefix(2) { second.append(try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))) }
            for (k, lease) in zip(keys.prefix(2), second) {
                let e = try evaluator(try #require(lease.evalSuite))
                let entries = lease.evaluateAlgorithms.filter { $0.id == other.id }
                    .map { EvaluationEntry(algorithmId: $0.id, score: e.score(dsl: $0.algorithmDsl)) }
                #expect(entries.count == 1)
                _ = try await c.submit(k, lease.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1))
            }
            h.clock.advance(Double(h.config.rules.windowSeconds))
            let late = try await c.lease(keys[3], LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            let nextSuite = try #require(late.evalSuite)
            #expect(nextSuite != suite && late.windowNumber == leases[0].windowNumber + 1)
            let e = try evaluator(nextSuite)
            let entries = late.evaluateAlgorithms.filter { $0.id == other.id }
                .map { EvaluationEntry(algorithmId: $0.id, score: e.score(dsl: $0.algorithmDsl)) }
            #expect(entries.count == 1)
            let r = try await c.submit(keys[3], late.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1))
            #expect(try r.decode(SubmitResponse.self).consensusReached.isEmpty)
            #expect(try await h.db.queryOne("SELECT status FROM algorithms WHERE id = ?", [.int(other.id)])?.string("status")
                == "in_evaluation")
        }
    }
}
