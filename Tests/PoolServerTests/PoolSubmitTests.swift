import AlgorithmDSL
import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PoolAPI
import PoolCore
import PoolServer
import Store
import TestSupport
import Testing

@Suite struct PoolSubmitTests {
    static let validDSL = """
        # setup
        s2 = 0.01
        # predict
        s0 = dot(v0, v1)
        # learn
        s3 = s1 - s0
        """

    @Test(arguments: TestDatabases.available)
    func submitValidatesAndIsAtomicAndIdempotent(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate(), stranger = SR25519Keypair.generate()
        try await h.run { c in
            let lease = try await c.lease(key)
            let ids = lease.evaluateAlgorithms.map(\.id)
            #expect(ids.count >= 2)
            let good = LeaseSubmission(
                evaluations: [EvaluationEntry(algorithmId: ids[0], score: 0.75)],
                evolutions: [EvolutionEntry(parentAlgorithmIds: [ids[0]], algorithmDsl: Self.validDSL)],
                gossip: GossipPacket(taskType: "scalar_linear", algorithmIds: [ids[0]]), iterations: 10)

            // Someone else's lease: 404, nothing changes.
            let foreign = try await c.submit(stranger, lease.leaseId, good)
            #expect(foreign.status == .notFound && foreign.error?.code == PoolErrorCode.leaseNotFound)
            // An evaluation of an algorithm not in the lease: 400, and the valid parts are not stored either.
            var outside = good
            outside.evaluations.append(EvaluationEntry(algorithmId: 999_999, score: 0.5))
            let rejected = try await c.submit(key, lease.leaseId, outside)
            #expect(rejected.status == .badRequest && rejected.error?.code == "evaluation_not_in_lease")
            // An oversized program: 422 at submit time, nothing stored. (An unreadable one is
            // refused on its own while the rest lands: PoolCompatTests.)
            var badDSL = good
            badDSL.evolutions = [EvolutionEntry(parentAlgorithmIds: [ids[0]],
                                                algorithmDsl: String(repeating: "s0 = s1 + s2\n", count: 6_000))]
            let dslReply = try await c.submit(key, lease.leaseId, badDSL)
            #expect(dslReply.status == .unprocessableContent && dslReply.error?.code == "invalid_dsl")
            // Duplicate evaluation ids: 400.
            var dup = good
            dup.evaluations.append(EvaluationEntry(algorithmId: ids[0], score: 0.7))
            #expect(try await c.submit(key, lease.leaseId, dup).status == .badRequest)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM evaluations", [])?.int("n") == 0)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM algorithms WHERE origin = 'evolution'", [])?.int("n") == 0)

            let ok = try await c.submit(key, lease.leaseId, good)
            #expect(ok.status == .ok, "\(ok.text)")
            let first = try ok.decode(SubmitResponse.self)
            #expect(first.evaluationsAccepted == 1 && first.evolutionsAccepted.count == 1)
            // The stored evolution is the normalised canonical form.
            let stored = try #require(try await h.db.queryOne("SELECT dsl FROM algorithms WHERE id = ?", [.int(first.evolutionsAccepted[0])]))
            #expect(try stored.string("dsl") == normalizeForPool(dsl: Self.validDSL, taskType: "scalar_linear", inputDim: 16))

            // Identical repeat: same answer, nothing new.
            let again = try await c.submit(key, lease.leaseId, good)
            let againBody = try again.decode(SubmitResponse.self)
            #expect(again.status == .ok && againBody == first)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM evaluations", [])?.int("n") == 1)
            // A different body on a completed lease: 404.
            var different = good
            different.iterations = 11
            #expect(try await c.submit(key, lease.leaseId, different).status == .notFound)
            // Unevaluated slots of the completed lease were released.
            #expect(try await h.db.queryOne("SELECT SUM(reserved) AS n FROM algorithms", [])?.int("n") == 0)
        }
    }

    @Test(arguments: TestDatabases.available)
    func nonFiniteScoresAreRecordedAsInvalid(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let lease = try await c.lease(key)
            let ids = lease.evaluateAlgorithms.map(\.id)
            // The Python client writes bare -Infinity / NaN tokens.
            let raw = "{\"evaluations\": [{\"algorithm_id\": \(ids[0]), \"score\": -Infinity}, {\"algorithm_id\": \(ids[1]), \"score\": NaN}], \"evolutions\": [], \"gossip\": null, \"iterations\": 2}"
            let r = try await c.call(.post, PoolPaths.submitLease(lease.leaseId), key: key, raw: raw)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.decode(SubmitResponse.self)
            #expect(body.evaluationsInvalid == 2 && body.evaluationsAccepted == 0)
            let rows = try await h.db.query("SELECT score FROM evaluations", [])
            #expect(rows.count == 2 && rows.allSatisfy { (try? $0.value("score")) == .null })
        }
    }

    @Test(arguments: TestDatabases.available)
    func consensusReputationResultsSOTAAndVerify(_ backend: Backend) async throws {
        let operatorKey = SR25519Keypair.generate()
        // Scores here are made up, not the programs' own: the held-out check (HeldOutGateStoreTests)
        // is off so the SOTA is the best consensus score.
        let h = try await PoolHarness.make(backend) {
            $0.operatorHotkeys = [operatorKey.publicKey.ss58Address]
            $0.rules.heldOutTasks = 0
        }
        let honest = Keys.make(3)
        let liar = SR25519Keypair.generate()
        try await h.run { c in
            // Three honest evaluators agree (within 10 %) on the same candidates; one liar does not.
            let everyone = honest + [liar]
            var leases: [LeaseResponse] = []
            for k in everyone { leases.append(try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))) }
            let target = try #require(leases[0].evaluateAlgorithms.first?.id)
            for (i, k) in everyone.enumerated() {
                let lease = leases[i]
                let entries = lease.evaluateAlgorithms.map { a -> EvaluationEntry in
                    let base = 0.5 + Double(a.id % 7) / 100
                    return EvaluationEntry(algorithmId: a.id, score: k.seed == liar.seed ? 0.05 : base + Double(i) * 0.001)
                }
                let r = try await c.submit(k, lease.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: entries.count))
                #expect(r.status == .ok, "\(r.text)")
                if i == 2 { #expect(try r.decode(SubmitResponse.self).consensusReached.contains(target)) }
            }
            let cand = try #require(try await h.db.queryOne("SELECT status, consensus_score FROM algorithms WHERE id = ?", [.int(target)]))
            #expect(try cand.string("status") == "scored")
            let score = try cand.double("consensus_score")
            #expect(abs(score - (0.5 + Double(target % 7) / 100 + 0.001)) < 1e-9, "median of the honest cluster")
            let liarVerdicts = try await h.db.query("SELECT in_consensus FROM evaluations WHERE evaluator = ?", [.text(liar.publicKey.ss58Address)])
            #expect(!liarVerdicts.isEmpty && liarVerdicts.allSatisfy { (try? $0.value("in_consensus")) == .int(0) })

            // Leaderboard: honest evaluators above the liar.
            let board = try await c.call(.get, PoolPaths.leaderboard).decode(LeaderboardResponse.self)
            #expect(board.miners.count == 4)
            #expect(board.miners.last?.hotkey == liar.publicKey.ss58Address)
            #expect(board.miners.first.map { $0.reputation > 0 } == true)
            let stats = try await c.call(.get, PoolPaths.stats, key: honest[0]).decode(StatsResponse.self)
            #expect(stats.evaluationsInConsensus > 0 && stats.reputation > 0)

            // The best consensus score is a completed result and the SOTA.
            let sota = try await c.call(.get, PoolPaths.sota + "?task_type=scalar_linear").decode(SOTAResponse.self)
            let best = try await h.db.queryOne("SELECT MAX(consensus_score) AS m FROM algorithms WHERE task_type = 'scalar_linear'", [])?.double("m")
            #expect(sota.sotaThreshold == best)
            let resultId = try #require(sota.resultId)
            let completed = try await c.call(.get, PoolPaths.results + "?status=completed&task_type=scalar_linear", key: honest[0])
                .decode(ResultsResponse.self)
            #expect(completed.results.contains { $0.id == resultId && $0.status == "completed" })
            #expect(try await c.call(.get, PoolPaths.results, key: honest[0]).decode(ResultsResponse.self).results.isEmpty)

            // Verify: operators only; unknown 404; twice 409.
            #expect(try await c.call(.post, PoolPaths.verify(resultId), key: honest[0]).status == .forbidden)
            #expect(try await c.call(.post, PoolPaths.verify(987_654), key: operatorKey).status == .notFound)
            let v = try await c.call(.post, PoolPaths.verify(resultId), key: operatorKey)
            let verifiedRecord = try v.decode(ResultRecord.self)
            #expect(v.status == .ok && verifiedRecord.status == "verified")
            #expect(try await c.call(.post, PoolPaths.verify(resultId), key: operatorKey).status == .conflict)
            let verified = try await c.call(.get, PoolPaths.results + "?task_type=scalar_linear", key: honest[1]).decode(ResultsResponse.self)
            #expect(verified.results.map(\.id) == [resultId])
            #expect(try await c.call(.get, PoolPaths.results + "?min_score=abc", key: honest[1]).status == .unprocessableContent)
        }
    }

    @Test(arguments: TestDatabases.available)
    func evolutionsEarnPointsAndEpochsPayInIntegerRAO(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) {
            $0.rules.consensusThreshold = 2
            $0.rules.minPayoutRao = 1
        }
        let evolver = SR25519Keypair.generate()
        let judges = Keys.make(2)
        try await h.run { c in
            let lease = try await c.lease(evolver, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 2))
            let r = try await c.submit(evolver, lease.leaseId, LeaseSubmission(
                evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id), algorithmDsl: Self.validDSL)],
                iterations: 5))
            let newId = try #require(try r.decode(SubmitResponse.self).evolutionsAccepted.first)
            for j in judges {
                let l = try await c.lease(j, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
                #expect(l.evaluateAlgorithms.contains { $0.id == newId })
                let entries = l.evaluateAlgorithms.map { EvaluationEntry(algorithmId: $0.id, score: $0.id == newId ? 0.9 : 0.2) }
                #expect(try await c.submit(j, l.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1)).status == .ok)
            }
            // The evolver never evaluates its own evolution.
            let own = try await c.lease(evolver, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            #expect(!own.evaluateAlgorithms.contains { $0.id == newId })
            let evoPoints = try await h.db.queryOne("SELECT evolver_points FROM reputation WHERE miner = ?", [.text(evolver.publicKey.ss58Address)])
            #expect(try evoPoints?.double("evolver_points") ?? 0 > 0)

            // Close the window: one epoch, exact RAO accounting.
            h.clock.advance(3600)
            let closed = try await h.store.closeFinishedEpochs(now: h.clock.now)
            #expect(closed.count == 1)
            #expect(try await h.store.closeFinishedEpochs(now: h.clock.now).isEmpty, "an epoch closes once")
            let e = try #require(try await h.db.queryOne("SELECT * FROM epochs", []))
            let total = try e.int("fee_rao") + e.int("paid_rao") + e.int("carried_rao") + e.int("unallocated_rao")
            #expect(total == Int64(h.config.rules.epochBudgetRao))
            let paid = try await h.db.queryOne("SELECT SUM(paid_rao) AS p FROM miners", [])?.int("p")
            let epochPaid = try e.int("paid_rao")
            #expect(paid == epochPaid)
            let stats = try await c.call(.get, PoolPaths.stats, key: evolver).decode(StatsResponse.self)
            #expect(stats.paidRao > 0)
        }
    }

    /// An evolution reaching consensus records what its points are judged against: the SOTA
    /// before it, its parents' best consensus score and the best one in its source lease —
    /// read in the statement that scores it, checked here against separate reads.
    @Test(arguments: TestDatabases.available)
    func consensusRecordsTheSOTAAndBaselinesItWasJudgedAgainst(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) { $0.rules.consensusThreshold = 2 }
        let evolver = SR25519Keypair.generate()
        let judges = Keys.make(2)
        try await h.run { c in
            // The judges score every shipped candidate, each differently: the seeds reach consensus.
            @Sendable func judge(_ score: @escaping @Sendable (Int64) -> Double) async throws {
                for j in judges {
                    let l = try await c.lease(j, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
                    let entries = l.evaluateAlgorithms.map { EvaluationEntry(algorithmId: $0.id, score: score($0.id)) }
                    #expect(try await c.submit(j, l.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1)).status == .ok)
                }
            }
            try await judge { 0.2 + Double($0) / 1000 }
            let sotaBefore = try #require(try await h.db.queryOne("SELECT score FROM sota WHERE task_type = 'scalar_linear'", []))
                .double("score")
            let lease = try await c.lease(evolver, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 0, seedBatchSize: 2))
            // Seeds come best first: the parent is the second, so the lease's best is not the parent's.
            #expect(lease.seedAlgorithms.count == 2)
            let parents = try [#require(lease.seedAlgorithms.last).id]
            let r = try await c.submit(evolver, lease.leaseId, LeaseSubmission(
                evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: parents, algorithmDsl: Self.validDSL)], iterations: 5))
            let newId = try #require(try r.decode(SubmitResponse.self).evolutionsAccepted.first)
            try await judge { $0 == newId ? 0.95 : 0.2 }

            let row = try #require(try await h.db.queryOne("SELECT * FROM algorithms WHERE id = ?", [.int(newId)]))
            #expect(try row.string("status") == "scored")
            #expect(try row.double("consensus_score") == 0.95)
            #expect(try row.double("sota_before") == sotaBefore)
            let parentBest = try await h.db.queryOne(
                "SELECT consensus_score AS m FROM algorithms WHERE id = ?", [.int(parents[0])])?.double("m")
            #expect(try row.optionalDouble("parent_best") == parentBest)
            let localBest = try await h.db.queryOne(
                """
                SELECT MAX(a.consensus_score) AS m FROM assignment_items i JOIN algorithms a ON a.id = i.algorithm_id
                WHERE i.assignment_id = ?
                """, [.text(lease.leaseId)])?.double("m")
            #expect(try row.optionalDouble("local_best") == localBest)
            #expect(localBest != parentBest)
            // A seed reaching consensus has no baselines.
            let seed = try #require(try await h.db.queryOne("SELECT * FROM algorithms WHERE id = ?", [.int(parents[0])]))
            #expect(try seed.value("parent_best") == .null && seed.value("local_best") == .null)
        }
    }

    @Test(arguments: TestDatabases.available)
    func simpleBatchesEvolveAndEvaluate(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let bad = try await c.call(.post, PoolPaths.request, key: key, json: TaskRequest(taskType: "dance"))
            #expect(bad.status == .unprocessableContent)
            let evolve = try await c.call(.post, PoolPaths.request, key: key, json: TaskRequest(taskType: "evolve", problemType: "scalar_linear"))
                .decode(BatchResponse.self)
            #expect(evolve.taskType == "evolve" && evolve.algorithms.count >= 2)
            // Evaluating on an evolve batch is refused (it is not an evaluate batch).
            let wrongKind = try await c.call(.post, PoolPaths.submitEvaluation(evolve.batchId), key: key,
                                             json: EvaluationSubmission(evaluations: []))
            #expect(wrongKind.status == .notFound)
            let sub = try await c.call(.post, PoolPaths.submitEvolution(evolve.batchId), key: key, json: EvolutionSubmission(
                evolvedFunction: Self.validDSL, parentFunctions: evolve.algorithms.map { ParentRef(id: $0.id) }))
            #expect(sub.status == .ok, "\(sub.text)")
            let evaluate = try await c.call(.post, PoolPaths.request, key: key, json: TaskRequest(taskType: "evaluate", problemType: "scalar_linear"))
                .decode(BatchResponse.self)
            #expect(!evaluate.algorithms.isEmpty)
            let ev = try await c.call(.post, PoolPaths.submitEvaluation(evaluate.batchId), key: key, json: EvaluationSubmission(
                evaluations: evaluate.algorithms.map { EvaluationEntry(algorithmId: $0.id, score: 0.4) }))
            #expect(ev.status == .ok, "\(ev.text)")
            #expect(try await c.call(.get, PoolPaths.stats, key: key).decode(StatsResponse.self).evaluationsSubmitted == Int64(evaluate.algorithms.count))
        }
    }
}
