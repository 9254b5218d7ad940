import AlgorithmDSL
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

/// Real clients of the original pool work unchanged: lenient evolutions, payout recipients,
/// Merkle claims and an explicit-null SOTA.
@Suite struct PoolCompatTests {
    static func json(_ reply: Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.body), options: [.fragmentsAllowed]) as? [String: Any])
    }

    // MARK: 1. One bad evolution does not fail the submit

    @Test(arguments: TestDatabases.available)
    func droppedLinesAreStoredNormalisedAndTheLeaseCompletes(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate(), other = SR25519Keypair.generate()
        // `s2 = s0 * 0.5` (an immediate operand) cannot be expressed; the upstream parser drops it.
        let submitted = "# setup\ns2 = 0.01\n# predict\ns0 = dot(v0, v1)\ns2 = s0 * 0.5\n# learn\ns3 = s1 - s0\n"
        let readable = "# setup\ns2 = 0.01\n# predict\ns0 = dot(v0, v1)\n# learn\ns3 = s1 - s0\n"
        try await h.run { c in
            let lease = try await c.lease(key)
            let ids = lease.evaluateAlgorithms.map(\.id)
            let submission = LeaseSubmission(
                evaluations: [EvaluationEntry(algorithmId: ids[0], score: 0.5)],
                evolutions: [EvolutionEntry(parentAlgorithmIds: [ids[0]], algorithmDsl: submitted)], iterations: 3)
            let r = try await c.submit(key, lease.leaseId, submission)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.decode(SubmitResponse.self)
            #expect(body.status == "completed" && body.evaluationsAccepted == 1 && body.evolutionsAccepted.count == 1)
            #expect(body.evolutionsRejected.isEmpty)
            // Always present on the wire, an empty array when nothing was refused.
            #expect(try (Self.json(r)["evolutions_rejected"] as? [Any])?.isEmpty == true, "\(r.text)")

            let newId = try #require(body.evolutionsAccepted.first)
            let stored = try #require(try await h.db.queryOne("SELECT dsl FROM algorithms WHERE id = ?", [.int(newId)]))
            let canonical = try normalizeForPool(dsl: readable, taskType: "scalar_linear", inputDim: 16)
            #expect(try stored.string("dsl") == canonical)
            let status = try await h.db.queryOne("SELECT status FROM assignments WHERE id = ?", [.text(lease.leaseId)])
            #expect(try status?.string("status") == "completed")

            // Every evaluator is served the normalised text.
            let theirs = try await c.lease(other, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            let served = try #require(theirs.evaluateAlgorithms.first { $0.id == newId })
            #expect(served.algorithmDsl == canonical)

            // An identical repeat answers the stored response.
            let again = try await c.submit(key, lease.leaseId, submission)
            #expect(try again.status == .ok && (again.decode(SubmitResponse.self)) == body)
        }
    }

    @Test(arguments: TestDatabases.available)
    func anEvolutionWithNothingLeftIsRefusedAloneAndTheRestLands(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let lease = try await c.lease(key)
            let ids = lease.evaluateAlgorithms.map(\.id)
            let submission = LeaseSubmission(
                evaluations: ids.prefix(2).map { EvaluationEntry(algorithmId: $0, score: 0.25) },
                evolutions: [EvolutionEntry(parentAlgorithmIds: [ids[0]], algorithmDsl: "# predict\ns0 = s1 * 0.5\ns0 = frobnicate(v0)")],
                gossip: GossipPacket(taskType: "scalar_linear", algorithmIds: [ids[0]]), iterations: 4)
            let r = try await c.submit(key, lease.leaseId, submission)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.decode(SubmitResponse.self)
            #expect(body.evaluationsAccepted == 2 && body.evolutionsAccepted.isEmpty)
            #expect(body.evolutionsRejected.map(\.index) == [0] && body.evolutionsRejected.first?.code == "empty_program")
            #expect(body.evolutionsRejected.first?.detail.contains("evolutions[0]") == true)
            let wire = try #require(try Self.json(r)["evolutions_rejected"] as? [[String: Any]])
            #expect(wire.count == 1 && wire[0]["index"] as? Int == 0 && wire[0]["code"] as? String == "empty_program"
                && wire[0]["detail"] is String)

            // The evaluations, the gossip and the completion landed; no evolution was stored.
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM evaluations", [])?.int("n") == 2)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM gossip", [])?.int("n") == 1)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM algorithms WHERE origin = 'evolution'", [])?.int("n") == 0)
            let a = try #require(try await h.db.queryOne("SELECT status FROM assignments WHERE id = ?", [.text(lease.leaseId)]))
            #expect(try a.string("status") == "completed")
            let m = try #require(try await h.db.queryOne(
                "SELECT evolutions_submitted, evolutions_accepted FROM miners WHERE hotkey = ?", [.text(key.publicKey.ss58Address)]))
            #expect(try m.int("evolutions_submitted") == 1 && m.int("evolutions_accepted") == 0)

            // Idempotent repeat, and the miner is not locked out: a new lease is issued.
            let again = try await c.submit(key, lease.leaseId, submission)
            #expect(try again.status == .ok && (again.decode(SubmitResponse.self)) == body)
            let next = try await c.call(.post, PoolPaths.lease, key: key, json: LeaseRequest(taskType: "scalar_linear"))
            #expect(next.status == .ok, "\(next.text)")

            // A program without a predict step (early upstream programs) is accepted.
            let lease2 = try next.decode(LeaseResponse.self)
            let r2 = try await c.submit(key, lease2.leaseId, LeaseSubmission(
                evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: [], algorithmDsl: "# setup\ns2 = 0.5\n# learn\ns3 = s1 - s0")],
                iterations: 1))
            let b2 = try r2.decode(SubmitResponse.self)
            #expect(r2.status == .ok && b2.evolutionsAccepted.count == 1 && b2.evolutionsRejected.isEmpty, "\(r2.text)")
        }
    }

    @Test(arguments: TestDatabases.available)
    func simpleBatchEvolutionIsReportedPerItem(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await h.run { c in
            let batch = try await c.call(.post, PoolPaths.request, key: key, json: TaskRequest(taskType: "evolve", problemType: "scalar_linear"))
                .decode(BatchResponse.self)
            let r = try await c.call(.post, PoolPaths.submitEvolution(batch.batchId), key: key, json: EvolutionSubmission(
                evolvedFunction: "s0 = frobnicate(v0)", parentFunctions: batch.algorithms.map { ParentRef(id: $0.id) }))
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.decode(SubmitResponse.self)
            #expect(body.evolutionsAccepted.isEmpty && body.evolutionsRejected == [
                EvolutionRejection(index: 0, code: "empty_program", detail: body.evolutionsRejected.first?.detail ?? ""),
            ])
            let a = try #require(try await h.db.queryOne("SELECT status FROM assignments WHERE id = ?", [.text(batch.batchId)]))
            #expect(try a.string("status") == "completed")
            // An oversized program is still a schema error of the whole request.
            let batch2 = try await c.call(.post, PoolPaths.request, key: key, json: TaskRequest(taskType: "evolve", problemType: "scalar_linear"))
                .decode(BatchResponse.self)
            let huge = try await c.call(.post, PoolPaths.submitEvolution(batch2.batchId), key: key, json: EvolutionSubmission(
                evolvedFunction: String(repeating: "s0 = s1 + s2\n", count: 6_000), parentFunctions: []))
            #expect(huge.status == .unprocessableContent && huge.error?.code == "invalid_dsl")
        }
    }

    // MARK: 4. SOTA without a result

    @Test(arguments: TestDatabases.available)
    func sotaWithoutAResultCarriesExplicitNulls(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        try await h.run { c in
            let r = try await c.call(.get, PoolPaths.sota + "?task_type=scalar_linear")
            #expect(r.status == .ok)
            let object = try Self.json(r)
            #expect(object["task_type"] as? String == "scalar_linear")
            for k in ["sota_threshold", "updated_at", "result_id", "algorithm_id"] {
                #expect(object[k] is NSNull, "\(k) in \(r.text)")
            }
            #expect(try r.decode(SOTAResponse.self).sotaThreshold == nil)
        }
    }

    // MARK: 2. Payout recipient

    static func recipientHeaders(_ key: SR25519Keypair, signing coldkey: String, now: Date = Date()) -> HTTPFields {
        var h: HTTPFields = [:]
        for (n, v) in SignedRequest.headers(for: key, now: now, message: {
            SignedRequest.recipientColdkeyMessage(timestamp: $0, recipientColdkey: coldkey)
        }) {
            h[.init(n)!] = v
        }
        return h
    }

    @Test(arguments: TestDatabases.available)
    func recipientColdkeyRoutesAreSignedOverTheColdkey(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let miner = SR25519Keypair.generate()
        let coldkey = SR25519Keypair.generate().publicKey.ss58Address
        let coldkey2 = SR25519Keypair.generate().publicKey.ss58Address
        let hotkey = miner.publicKey.ss58Address
        try await h.run { c in
            // Unset: own mapping has nulls; public lookup 404; a malformed hotkey 422.
            let unset = try await c.call(.get, PoolPaths.recipientColdkey, key: miner)
            #expect(unset.status == .ok)
            let unsetBody = try Self.json(unset)
            #expect(unsetBody["hotkey"] as? String == hotkey && unsetBody["recipient_coldkey"] is NSNull
                && unsetBody["updated_at"] is NSNull, "\(unset.text)")
            let missing = try await c.call(.get, PoolPaths.recipientColdkey(hotkey))
            #expect(missing.status == .notFound && missing.error?.code == "recipient_not_found")
            #expect(try await c.call(.get, PoolPaths.recipientColdkey("not-an-address")).error?.code == "invalid_hotkey")
            #expect(try await c.call(.get, PoolPaths.recipientColdkey, key: nil).status == .unauthorized)

            // PUT, signed over `recipient_coldkey:update:{ts}:{coldkey}`.
            let put = try await c.call(.put, PoolPaths.recipientColdkey, raw: #"{"recipient_coldkey": "\#(coldkey)"}"#,
                                       headers: Self.recipientHeaders(miner, signing: coldkey))
            #expect(put.status == .ok, "\(put.text)")
            let updated = try put.decode(RecipientColdkeyUpdated.self)
            #expect(updated.status == "success" && updated.hotkey == hotkey && updated.recipientColdkey == coldkey)
            #expect(WireTime.parse(updated.updatedAt) != nil)
            let mine = try await c.call(.get, PoolPaths.recipientColdkey, key: miner).decode(RecipientColdkeyMapping.self)
            #expect(mine.recipientColdkey == coldkey && mine.updatedAt == updated.updatedAt)
            let lookup = try await c.call(.get, PoolPaths.recipientColdkey(hotkey))
            #expect(try lookup.status == .ok && (lookup.decode(RecipientColdkeyMapping.self)) == mine)

            // The GUI's root alias with the legacy field, padded: the trimmed address is signed and stored.
            let headers = Self.recipientHeaders(miner, signing: coldkey2)
            let gui = try await c.call(.post, PoolPaths.rootColdkeyAddressUpdate, raw: #"{"coldkey_address": "  \#(coldkey2)\n"}"#,
                                       headers: headers)
            #expect(try gui.status == .ok && (gui.decode(RecipientColdkeyUpdated.self)).recipientColdkey == coldkey2, "\(gui.text)")
            #expect(try await c.call(.get, PoolPaths.recipientColdkey(hotkey)).decode(RecipientColdkeyMapping.self)
                .recipientColdkey == coldkey2)
            // The same headers again: replayed.
            let replay = try await c.call(.post, PoolPaths.rootColdkeyAddressUpdate, raw: #"{"coldkey_address": "\#(coldkey2)"}"#,
                                          headers: headers)
            #expect(replay.status == .unauthorized && replay.error?.code == "auth_replayed")

            // The other aliases.
            let aliases: [(HTTPRequest.Method, String)] = [(.post, PoolPaths.recipientColdkey), (.post, PoolPaths.coldkeyAddressUpdate)]
            for (method, path) in aliases {
                let r = try await c.call(method, path, raw: #"{"recipient_coldkey": "\#(coldkey)"}"#,
                                         headers: Self.recipientHeaders(miner, signing: coldkey))
                #expect(try r.status == .ok && (r.decode(RecipientColdkeyUpdated.self)).recipientColdkey == coldkey, "\(path): \(r.text)")
            }

            // A plain `auth:{ts}` signature, or one over another coldkey, does not authorise an update.
            let plain = try await c.call(.put, PoolPaths.recipientColdkey, key: miner, raw: #"{"recipient_coldkey": "\#(coldkey2)"}"#)
            #expect(plain.status == .unauthorized && plain.error?.code == "auth_bad_signature")
            let swapped = try await c.call(.put, PoolPaths.recipientColdkey, raw: #"{"recipient_coldkey": "\#(coldkey2)"}"#,
                                           headers: Self.recipientHeaders(miner, signing: coldkey))
            #expect(swapped.status == .unauthorized && swapped.error?.code == "auth_bad_signature")
            #expect(try await c.call(.get, PoolPaths.recipientColdkey(hotkey)).decode(RecipientColdkeyMapping.self)
                .recipientColdkey == coldkey)

            // Not an SS58 address (correctly signed), a bad checksum, or no address at all: 422.
            var corrupted = Array(coldkey)
            corrupted[10] = corrupted[10] == "A" ? "B" : "A"
            for bad in ["hello", String(corrupted), ""] {
                let r = try await c.call(.put, PoolPaths.recipientColdkey, raw: #"{"recipient_coldkey": "\#(bad)"}"#,
                                         headers: Self.recipientHeaders(miner, signing: bad))
                #expect(r.status == .unprocessableContent && r.error?.code == "invalid_coldkey", "\(bad): \(r.text)")
            }
            let none = try await c.call(.put, PoolPaths.recipientColdkey, raw: "{}", headers: Self.recipientHeaders(miner, signing: ""))
            #expect(none.status == .unprocessableContent && none.error?.code == "invalid_coldkey", "\(none.text)")
            let stale = try await c.call(.put, PoolPaths.recipientColdkey, raw: #"{"recipient_coldkey": "\#(coldkey)"}"#,
                                         headers: Self.recipientHeaders(miner, signing: coldkey, now: Date().addingTimeInterval(-900)))
            #expect(stale.status == .unauthorized && stale.error?.code == "auth_timestamp_skew")
        }
    }

    // MARK: 3. Merkle claims

    /// One scored evolution and two judges in window 0, then the window closes (one epoch).
    static func payOneEpoch(_ h: PoolHarness, _ c: PoolClientForTests, evolver: SR25519Keypair, judges: [SR25519Keypair]) async throws {
        let lease = try await c.lease(evolver, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 2))
        let r = try await c.submit(evolver, lease.leaseId, LeaseSubmission(
            evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: lease.seedAlgorithms.map(\.id), algorithmDsl: PoolSubmitTests.validDSL)],
            iterations: 5))
        let newId = try #require(try r.decode(SubmitResponse.self).evolutionsAccepted.first)
        for j in judges {
            let l = try await c.lease(j, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
            let entries = l.evaluateAlgorithms.map { EvaluationEntry(algorithmId: $0.id, score: $0.id == newId ? 0.9 : 0.2) }
            #expect(try await c.submit(j, l.leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: 1)).status == .ok)
        }
        h.clock.advance(3600)
        #expect(try await h.store.closeFinishedEpochs(now: h.clock.now).count == 1)
    }

    @Test(arguments: TestDatabases.available)
    func claimProofsVerifyAgainstThePublishedRoot(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) {
            $0.rules.consensusThreshold = 2
            $0.rules.minPayoutRao = 1
        }
        let evolver = SR25519Keypair.generate()
        let judges = Keys.make(2)
        let coldkey = SR25519Keypair.generate().publicKey.ss58Address
        try await h.run { c in
            let empty = try await c.call(.get, PoolPaths.claimEpochs)
            let emptyBody = try Self.json(empty)
            #expect(try empty.status == .ok && emptyBody["default_epoch"] is NSNull && (empty.decode(ClaimEpochList.self)).epochs.isEmpty)
            let noEpoch = try await c.call(.get, PoolPaths.claimEpoch)
            #expect(noEpoch.status == .notFound && noEpoch.error?.code == "epoch_not_found")
            #expect(try await c.call(.get, PoolPaths.claimsHealth).status == .ok)

            // The evolver maps a coldkey before the epoch is published.
            let set = try await c.call(.put, PoolPaths.recipientColdkey, raw: #"{"recipient_coldkey": "\#(coldkey)"}"#,
                                       headers: Self.recipientHeaders(evolver, signing: coldkey))
            #expect(set.status == .ok, "\(set.text)")
            try await Self.payOneEpoch(h, c, evolver: evolver, judges: judges)

            let list = try await c.call(.get, PoolPaths.claimEpochs).decode(ClaimEpochList.self)
            let epoch = try #require(list.defaultEpoch)
            #expect(list.epochs == [epoch])
            let info = try await c.call(.get, PoolPaths.claimEpoch(epoch)).decode(ClaimEpochInfo.self)
            #expect(try await c.call(.get, PoolPaths.claimEpoch).decode(ClaimEpochInfo.self) == info)
            let paid = try await h.db.query("SELECT miner, paid_rao FROM payouts WHERE epoch = ? AND paid_rao > 0", [.int(epoch)])
            #expect(!paid.isEmpty && info.numOfLeaves == paid.count)
            let owed = Dictionary(uniqueKeysWithValues: try paid.map { (try $0.string("miner"), UInt64(try $0.int("paid_rao"))) })
            #expect(info.totalRao == owed.values.reduce(0, +))
            #expect(owed[evolver.publicKey.ss58Address] != nil)
            let sortedHotkeys = owed.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }

            for (hotkey, amount) in owed {
                for path in [PoolPaths.claimProof(epoch, hotkey), PoolPaths.claimProof(hotkey),
                             "/claims/epoch/\(epoch)/claim/\(hotkey)", "/claims/epoch/claim/\(hotkey)"] {
                    let r = try await c.call(.get, path)
                    #expect(r.status == .ok, "\(path): \(r.text)")
                    let proof = try r.decode(ClaimProof.self)
                    #expect(proof.epoch == epoch && proof.hotkey == hotkey && proof.amountRao == amount && proof.root == info.root)
                    #expect(proof.index == sortedHotkeys.firstIndex(of: hotkey) && proof.proofCount == proof.proof.count)
                    let expectedRecipient = hotkey == evolver.publicKey.ss58Address ? coldkey : hotkey
                    #expect(proof.recipientColdkey == expectedRecipient)
                    // Independent verification: SCALE leaf, BLAKE2b-256, sorted-pair fold.
                    #expect(try ReferenceClaimVerifier.verify(proof), "\(path)")
                }
            }
            // Tampered amounts do not verify.
            var forged = try await c.call(.get, PoolPaths.claimProof(epoch, evolver.publicKey.ss58Address)).decode(ClaimProof.self)
            forged.amountRao += 1
            #expect(try !ReferenceClaimVerifier.verify(forged))

            // No leaf: 404. Unknown epoch: 404. Malformed epoch or hotkey: 422.
            let stranger = SR25519Keypair.generate().publicKey.ss58Address
            let none = try await c.call(.get, PoolPaths.claimProof(epoch, stranger))
            #expect(none.status == .notFound && none.error?.code == "claim_not_found")
            #expect(try await c.call(.get, "/claims/epoch/claim/\(stranger)").status == .notFound)
            #expect(try await c.call(.get, PoolPaths.claimEpoch(epoch + 50)).error?.code == "epoch_not_found")
            #expect(try await c.call(.get, PoolPaths.claimProof(epoch + 50, stranger)).status == .notFound)
            #expect(try await c.call(.get, "/claims/epoch/abc").error?.code == "invalid_epoch")
            #expect(try await c.call(.get, "/claims/epoch/-1/proof/\(stranger)").error?.code == "invalid_epoch")
            #expect(try await c.call(.get, "/claims/epoch/\(epoch)/proof/nope").error?.code == "invalid_hotkey")

            // A later epoch's leaves carry cumulative amounts; a mapping set after publication
            // does not change the published epoch.
            let later = SR25519Keypair.generate().publicKey.ss58Address
            let judge = evolver.publicKey.ss58Address
            #expect(try await c.call(.put, PoolPaths.recipientColdkey, raw: #"{"recipient_coldkey": "\#(later)"}"#,
                                     headers: Self.recipientHeaders(evolver, signing: later)).status == .ok)
            try await h.db.execute(
                """
                INSERT INTO epochs (epoch, budget_rao, fee_rao, paid_rao, carried_rao, unallocated_rao, computed_at)
                VALUES (?, 0, 0, 7, 0, 0, ?)
                """, [.int(epoch + 1), .double(h.clock.now)])
            try await h.db.execute(
                "INSERT INTO payouts (epoch, miner, allocation_rao, paid_rao, carried_rao) VALUES (?, ?, 7, 7, 0)",
                [.int(epoch + 1), .text(judge)])
            #expect(try await h.store.publishClaimEpochs(now: h.clock.now) == [epoch + 1])
            let oldProof = try await c.call(.get, PoolPaths.claimProof(epoch, judge)).decode(ClaimProof.self)
            #expect(oldProof.recipientColdkey == coldkey)
            let newProof = try await c.call(.get, PoolPaths.claimProof(judge)).decode(ClaimProof.self)
            #expect(newProof.epoch == epoch + 1 && newProof.amountRao == (owed[judge] ?? 0) + 7 && newProof.recipientColdkey == later)
            #expect(try ReferenceClaimVerifier.verify(newProof))
            for other in owed.keys where other != judge {
                let unchanged = try await c.call(.get, PoolPaths.claimProof(epoch + 1, other)).decode(ClaimProof.self)
                #expect(unchanged.amountRao == owed[other] && unchanged.recipientColdkey == other)
                #expect(try ReferenceClaimVerifier.verify(unchanged))
            }
            let newInfo = try await c.call(.get, PoolPaths.claimEpoch(epoch + 1)).decode(ClaimEpochInfo.self)
            #expect(newInfo.epochPaidRao == 7 && newInfo.totalRao == info.totalRao + 7)

            // The audit agrees with what was published, until a payout is altered.
            #expect(try await h.store.auditClaimEpochs().map(\.ok) == [true, true])
            try await h.db.execute("UPDATE payouts SET paid_rao = paid_rao + 1 WHERE epoch = ? AND miner = ?", [.int(epoch), .text(judge)])
            let audits = try await h.store.auditClaimEpochs()
            #expect(audits.map(\.ok) == [false, false])
            #expect(audits.first?.problems.contains { $0.contains("root mismatch") } == true)
            #expect(try await h.store.auditClaimEpochs(epoch: epoch + 9).isEmpty)
        }
    }
}

extension PoolCompatTests {
    /// `evalnet pool claims verify` runs `auditPoolClaims` on a database URL: published epochs
    /// check out, an altered payout is reported, an unpublished epoch yields nothing.
    @Test(arguments: TestDatabases.available)
    func claimsVerifyRecomputesRootsFromADatabaseURL(_ backend: Backend) async throws {
        let url = try await TestDatabases.freshURL(backend)
        let db = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
        let store = PoolStore(db: db, rules: PoolRules(), algorithms: AlgorithmCatalog())
        do {
            try await store.prepare(now: 0)
            let miners = (0..<5).map { _ in SR25519Keypair.generate().publicKey.ss58Address }
            for epoch in Int64(1)...2 {
                try await db.execute(
                    """
                    INSERT INTO epochs (epoch, budget_rao, fee_rao, paid_rao, carried_rao, unallocated_rao, computed_at)
                    VALUES (?, 0, 0, 0, 0, 0, 0)
                    """, [.int(epoch)])
                for (i, m) in miners.enumerated() where (i + Int(epoch)) % 2 == 0 || i == 4 {
                    try await db.execute(
                        "INSERT INTO payouts (epoch, miner, allocation_rao, paid_rao, carried_rao) VALUES (?, ?, 1, ?, 0)",
                        [.int(epoch), .text(m), .int(Int64(100 * (i + 1)))])
                }
            }
            #expect(try await store.publishClaimEpochs(now: 1) == [1, 2])
            #expect(try await store.publishClaimEpochs(now: 2) == [], "each epoch is published once")
        } catch {
            await db.shutdown()
            throw error
        }
        await db.shutdown()

        let good = try await auditPoolClaims(database: url, epoch: nil, logger: TestDatabases.logger)
        #expect(good.map(\.epoch) == [1, 2] && good.allSatisfy(\.ok), "\(good)")
        #expect(good.map(\.recomputedLeaves) == [3, 5])
        #expect(try await auditPoolClaims(database: url, epoch: 7, logger: TestDatabases.logger).isEmpty)

        let tamper = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
        try await tamper.execute("UPDATE payouts SET paid_rao = paid_rao + 1 WHERE epoch = 2")
        await tamper.shutdown()
        let bad = try await auditPoolClaims(database: url, epoch: 2, logger: TestDatabases.logger)
        #expect(bad.count == 1 && !bad[0].ok && bad[0].problems.contains { $0.contains("root mismatch") })
        #expect(try await auditPoolClaims(database: url, epoch: 1, logger: TestDatabases.logger).allSatisfy(\.ok))
    }
}

/// A claim verifier that shares no code with the pool: SS58 → account id, the SCALE leaf,
/// a BLAKE2b-256 written from RFC 7693, and the sorted-pair fold.
enum ReferenceClaimVerifier {
    static func verify(_ p: ClaimProof) throws -> Bool {
        let account = try SS58.decode(p.recipientColdkey).publicKey
        var leafBytes: [UInt8] = []
        for i in 0..<8 { leafBytes.append(UInt8(truncatingIfNeeded: UInt64(p.epoch) >> (8 * UInt64(i)))) }
        for i in 0..<4 { leafBytes.append(UInt8(truncatingIfNeeded: UInt32(p.index) >> (8 * UInt32(i)))) }
        leafBytes += account
        for i in 0..<8 { leafBytes.append(UInt8(truncatingIfNeeded: p.amountRao >> (8 * UInt64(i)))) }
        var node = Blake2b256.hash(leafBytes)
        for sibling in p.proof {
            guard let s = unhex(sibling) else { return false }
            node = node.lexicographicallyPrecedes(s) ? Blake2b256.hash(node + s) : Blake2b256.hash(s + node)
        }
        return node == unhex(p.root)
    }

    static func unhex(_ text: String) -> [UInt8]? {
        let digits = Array(text.hasPrefix("0x") ? text.dropFirst(2) : Substring(text))
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < digits.count {
            guard let b = UInt8(String(digits[i...i + 1]), radix: 16) else { return nil }
            out.append(b)
            i += 2
        }
        return out
    }
}

/// BLAKE2b with a 32-byte digest and no key (RFC 7693).
enum Blake2b256 {
    static let iv: [UInt64] = [
        0x6a09_e667_f3bc_c908, 0xbb67_ae85_84ca_a73b, 0x3c6e_f372_fe94_f82b, 0xa54f_f53a_5f1d_36f1,
        0x510e_527f_ade6_82d1, 0x9b05_688c_2b3e_6c1f, 0x1f83_d9ab_fb41_bd6b, 0x5be0_cd19_137e_2179,
    ]
    static let sigma: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ]

    static func rotr(_ x: UInt64, _ n: UInt64) -> UInt64 { (x >> n) | (x << (64 - n)) }

    static func hash(_ input: [UInt8]) -> [UInt8] {
        var h = iv
        h[0] ^= 0x0101_0000 ^ 32
        var counter: UInt64 = 0
        func compress(_ block: ArraySlice<UInt8>, last: Bool) {
            var m = [UInt64](repeating: 0, count: 16)
            for (k, byte) in block.enumerated() { m[k / 8] |= UInt64(byte) << (8 * UInt64(k % 8)) }
            var v = h + iv
            v[12] ^= counter
            if last { v[14] = ~v[14] }
            func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt64, _ y: UInt64) {
                v[a] = v[a] &+ v[b] &+ x
                v[d] = rotr(v[d] ^ v[a], 32)
                v[c] = v[c] &+ v[d]
                v[b] = rotr(v[b] ^ v[c], 24)
                v[a] = v[a] &+ v[b] &+ y
                v[d] = rotr(v[d] ^ v[a], 16)
                v[c] = v[c] &+ v[d]
                v[b] = rotr(v[b] ^ v[c], 63)
            }
            for round in 0..<12 {
                let s = sigma[round % 10]
                g(0, 4, 8, 12, m[s[0]], m[s[1]])
                g(1, 5, 9, 13, m[s[2]], m[s[3]])
                g(2, 6, 10, 14, m[s[4]], m[s[5]])
                g(3, 7, 11, 15, m[s[6]], m[s[7]])
                g(0, 5, 10, 15, m[s[8]], m[s[9]])
                g(1, 6, 11, 12, m[s[10]], m[s[11]])
                g(2, 7, 8, 13, m[s[12]], m[s[13]])
                g(3, 4, 9, 14, m[s[14]], m[s[15]])
            }
            for i in 0..<8 { h[i] ^= v[i] ^ v[i + 8] }
        }
        var offset = 0
        while input.count - offset > 128 {
            counter += 128
            compress(input[offset..<(offset + 128)], last: false)
            offset += 128
        }
        counter += UInt64(input.count - offset)
        compress(input[offset...] + [UInt8](repeating: 0, count: 128 - (input.count - offset)), last: true)
        var out: [UInt8] = []
        for i in 0..<4 { for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: h[i] >> (8 * UInt64(b)))) } }
        return out
    }
}

@Suite struct ReferenceBlake2bTests {
    @Test func knownAnswers() {
        #expect(ReferenceClaimVerifier.unhex("0x0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8") == Blake2b256.hash([]))
        #expect(ReferenceClaimVerifier.unhex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
            == Blake2b256.hash(Array("abc".utf8)))
        // Multi-block input agrees with libsodium (via PoolCore).
        let long = (0..<300).map { UInt8($0 & 0xFF) }
        #expect(Blake2b256.hash(long) == ClaimMerkle.blake2b256(long))
    }
}
