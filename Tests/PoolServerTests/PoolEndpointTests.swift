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

@Suite struct PoolBasicsTests {
    @Test(arguments: TestDatabases.available)
    func healthDocsMetricsAndUnknownRoutes(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        try await h.run { c in
            let health = try await c.call(.get, "/health")
            #expect(health.status == .ok)
            let body = try health.decode(HealthResponse.self)
            #expect(body.status == "healthy" && body.timeRemainingS > 0 && body.timeRemainingS <= 3600)
            let spec = try await c.call(.get, "/openapi.json")
            #expect(spec.status == .ok && spec.text.contains("/api/v1/tasks/{lease_id}/submit_lease"))
            let docs = try await c.call(.get, "/docs")
            #expect(docs.status == .ok && docs.text.contains("<html"))
            let missing = try await c.call(.get, "/api/v1/nope")
            #expect(missing.status == .notFound && missing.error?.code == "not_found")
            let metrics = try await c.call(.get, "/metrics")
            #expect(metrics.status == .ok && metrics.text.contains("hb_requests"))
        }
    }

    @Test(arguments: TestDatabases.available)
    func signedHeadersAreRequiredAndChecked(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        let other = SR25519Keypair.generate()
        try await h.run { c in
            let none = try await c.call(.post, PoolPaths.register)
            #expect(none.status == .unauthorized && none.error?.code == "auth_missing_header")

            // A signature by another key over the right message.
            var forged = PoolClientForTests.headers(key)
            forged[.init("X-Signature")!] = SignedRequest.headers(for: other).first { $0.name == "X-Signature" }!.value
            let bad = try await c.call(.post, PoolPaths.register, headers: forged)
            #expect(bad.status == .unauthorized && bad.error?.code == "auth_bad_signature")

            // Stale timestamp (signed correctly, 10 minutes old).
            var stale: HTTPFields = [:]
            for (n, v) in SignedRequest.headers(for: key, now: Date().addingTimeInterval(-600)) { stale[.init(n)!] = v }
            let old = try await c.call(.post, PoolPaths.register, headers: stale)
            #expect(old.status == .unauthorized && old.error?.code == "auth_timestamp_skew")

            // Garbage values.
            var garbage = PoolClientForTests.headers(key)
            garbage[.init("X-Key")!] = "not-an-address"
            #expect(try await c.call(.post, PoolPaths.register, headers: garbage).error?.code == "auth_bad_key")
            garbage = PoolClientForTests.headers(key)
            garbage[.init("X-Signature")!] = "zz"
            #expect(try await c.call(.post, PoolPaths.register, headers: garbage).error?.code == "auth_bad_signature_format")

            // A replayed header triple is refused.
            var once: HTTPFields = [:]
            for (n, v) in SignedRequest.headers(for: key) { once[.init(n)!] = v }
            #expect(try await c.call(.post, PoolPaths.register, headers: once).status == .ok)
            let replay = try await c.call(.post, PoolPaths.register, headers: once)
            #expect(replay.status == .unauthorized && replay.error?.code == "auth_replayed")
        }
    }

    @Test(arguments: TestDatabases.available)
    func registerStatsLeaderboardAndPending(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let statsBefore = try await c.call(.get, PoolPaths.stats, key: key)
            #expect(statsBefore.status == .notFound && statsBefore.error?.code == "miner_not_found")
            let reg = try await c.call(.post, PoolPaths.register, key: key)
            let info = try reg.decode(MinerInfo.self)
            #expect(info.hotkey == key.publicKey.ss58Address && info.reputation == 0)
            let stats = try await c.call(.get, PoolPaths.stats, key: key).decode(StatsResponse.self)
            #expect(stats.pool.minersTotal == 1 && stats.pool.candidatesInEvaluation >= 6 && stats.activeAssignment == nil)
            let board = try await c.call(.get, PoolPaths.leaderboard).decode(LeaderboardResponse.self)
            #expect(board.total == 1 && board.miners.first?.hotkey == key.publicKey.ss58Address)
            #expect(try await c.call(.get, PoolPaths.leaderboard + "?limit=0").status == .unprocessableContent)
            #expect(try await c.call(.get, PoolPaths.leaderboard + "?limit=abc").status == .unprocessableContent)
            let pending = try await c.call(.get, PoolPaths.pendingEvaluations, key: key).decode(PendingEvaluationsResponse.self)
            #expect(pending.hasPendingEvaluations && pending.count >= 6)
        }
    }

    @Test(arguments: TestDatabases.available)
    func monitorTokenIsEnforcedWhenConfigured(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) { $0.monitorToken = "s3cret" }
        try await h.run { c in
            let missing = try await c.call(.get, PoolPaths.monitorSummary)
            #expect(missing.status == .unauthorized && missing.error?.code == "monitor_token_missing")
            let wrong = try await c.call(.get, PoolPaths.monitorSummary, headers: [.init("X-Monitor-Token")!: "nope"])
            #expect(wrong.status == .unauthorized && wrong.error?.code == "monitor_token_invalid")
            let ok = try await c.call(.get, PoolPaths.monitorSummary, headers: [.init("X-Monitor-Token")!: "s3cret"])
            #expect(ok.status == .ok)
            let summary = try ok.decode(MonitorSummary.self)
            #expect(summary.candidates.inEvaluation >= 6 && summary.alerts.overall == "ok")
        }
    }
}

@Suite struct PoolLeaseTests {
    @Test(arguments: TestDatabases.available)
    func freshPoolLeasesSeedsAndEnforcesOneActiveTask(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let lease = try await c.lease(key, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 8, seedBatchSize: 2, gossipLimit: 5))
            #expect(!lease.evaluateAlgorithms.isEmpty, "a fresh pool has work")
            #expect(lease.evaluateAlgorithms.allSatisfy { $0.taskType == "scalar_linear" && $0.inputDim == 16 })
            #expect(lease.evolveBudget == 1)
            let timeout = try #require(WireTime.parse(lease.timeoutAt))
            #expect(abs(timeout - (h.clock.now + Double(h.config.rules.leaseTTLSeconds))) < 1)
            let again = try await c.call(.post, PoolPaths.lease, key: key, json: LeaseRequest(taskType: "scalar_linear"))
            #expect(again.status == .badRequest)
            #expect(again.error?.detail.hasPrefix(PoolErrorText.activeTask) == true)
            #expect(again.error?.code == PoolErrorCode.activeTask)
            // Abandoning frees the miner and the slots.
            #expect(try await c.call(.delete, PoolPaths.activeTask, key: key).status == .ok)
            #expect(try await c.call(.delete, PoolPaths.activeTask, key: key).status == .notFound)
            _ = try await c.lease(key)
        }
    }

    @Test(arguments: TestDatabases.available)
    func windowQuotaPolicyWhenConfigured(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) { $0.rules.leasesPerWindow = 1 }
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let lease = try await c.lease(key)
            let done = try await c.submit(key, lease.leaseId, LeaseSubmission(evaluations: [], evolutions: [], iterations: 0))
            #expect(done.status == .ok, "\(done.text)")
            let second = try await c.call(.post, PoolPaths.lease, key: key, json: LeaseRequest(taskType: "scalar_linear"))
            #expect(second.status == .badRequest && second.error?.detail == PoolErrorText.windowExhausted)
            #expect(second.headers[.retryAfter] != nil)
            h.clock.advance(3600)
            _ = try await c.lease(key)
        }
    }

    @Test(arguments: TestDatabases.available)
    func badLeaseRequestsAreRefusedWithoutStoringAnything(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) { $0.maxBodyBytes = 2048 }
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let unknown = try await c.call(.post, PoolPaths.lease, key: key, json: LeaseRequest(taskType: "mnist_huge"))
            #expect(unknown.status == .unprocessableContent && unknown.error?.code == "unknown_task_type")
            let big = try await c.call(.post, PoolPaths.lease, key: key, json: LeaseRequest(taskType: "scalar_linear", evalBatchSize: 1000))
            #expect(big.status == .unprocessableContent)
            let gossip = try await c.call(.post, PoolPaths.lease, key: key, json: LeaseRequest(taskType: "scalar_linear", gossipLimit: 51))
            #expect(gossip.status == .unprocessableContent)
            let malformed = try await c.call(.post, PoolPaths.lease, key: key, raw: "{\"task_type\": ")
            #expect(malformed.status == .unprocessableContent && malformed.error?.code == "invalid_body")
            let wrongType = try await c.call(.post, PoolPaths.lease, key: key, raw: "{\"eval_batch_size\": \"eight\"}")
            #expect(wrongType.status == .unprocessableContent && wrongType.error?.detail.contains("eval_batch_size") == true)
            let huge = try await c.call(.post, PoolPaths.lease, key: key, raw: "{\"task_type\": \"" + String(repeating: "x", count: 5000) + "\"}")
            #expect(huge.status == .contentTooLarge && huge.error?.code == "body_too_large")
            let sim = try await c.call(.post, PoolPaths.lease, key: key, raw: "{\"task_type\": \"scalar_linear\", \"sim_window_number\": 3}")
            #expect(sim.status == .badRequest)
            let active = try await h.db.queryOne("SELECT COUNT(*) AS n FROM assignments", [])?.int("n")
            #expect(active == 0)
        }
    }

    @Test(arguments: TestDatabases.available)
    func expiredLeaseSlotsGoBackToOtherMiners(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) {
            $0.rules.consensusThreshold = 1
            $0.rules.evalSlotMargin = 0
        }
        let a = SR25519Keypair.generate(), b = SR25519Keypair.generate()
        try await h.run { c in
            let first = try await c.lease(a, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            #expect(!first.evaluateAlgorithms.isEmpty)
            // With one slot per candidate, b finds nothing to evaluate while a holds them.
            let blocked = try await c.lease(b, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            #expect(blocked.evaluateAlgorithms.isEmpty)
            #expect(try await c.call(.delete, PoolPaths.activeTask, key: b).status == .ok)
            h.clock.advance(Double(h.config.rules.leaseTTLSeconds) + 1)
            // Submitting the expired lease is refused and changes nothing.
            let late = try await c.submit(a, first.leaseId, LeaseSubmission(
                evaluations: first.evaluateAlgorithms.map { EvaluationEntry(algorithmId: $0.id, score: 0.5) }, evolutions: [], iterations: 1))
            #expect(late.status == .notFound && late.error?.detail.hasPrefix(PoolErrorText.leaseNotFound) == true)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM evaluations", [])?.int("n") == 0)
            #expect(try await h.store.expireOverdue(now: h.clock.now) == 1)
            let second = try await c.lease(b, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            #expect(Set(second.evaluateAlgorithms.map(\.id)) == Set(first.evaluateAlgorithms.map(\.id)))
        }
    }

    @Test(arguments: TestDatabases.available)
    func concurrentLeasesNeverOverfillASlot(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let keys = Keys.make(12)
        try await h.run { c in
            let leases = try await withThrowingTaskGroup(of: LeaseResponse.self) { group in
                for k in keys { group.addTask { try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 8)) } }
                return try await group.reduce(into: [LeaseResponse]()) { $0.append($1) }
            }
            #expect(leases.count == keys.count)
            var perCandidate: [Int64: Int] = [:]
            for l in leases { for a in l.evaluateAlgorithms { perCandidate[a.id, default: 0] += 1 } }
            #expect(!perCandidate.isEmpty)
            #expect(perCandidate.values.allSatisfy { $0 <= h.config.rules.candidateSlotCap }, "\(perCandidate)")
            let reserved = try await h.db.query("SELECT id, reserved FROM algorithms WHERE reserved > 0", [])
            for r in reserved { #expect(Int(try r.int("reserved")) == perCandidate[try r.int("id")]) }
        }
    }
}
