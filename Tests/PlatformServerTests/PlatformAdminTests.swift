import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import Store
import TestSupport
import Testing

@Suite struct PlatformBasicsTests {
    @Test(arguments: TestDatabases.available)
    func healthDocsMetricsAndUnknownRoutes(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        try await h.run { c in
            let health = try await c.call(.get, PlatformPaths.health)
            #expect(health.status == .ok)
            let body = try health.decode(PlatformHealth.self)
            #expect(body.status == "healthy" && body.database == backend.rawValue)
            let spec = try await c.call(.get, "/openapi.json")
            #expect(spec.status == .ok && spec.text.contains("/jobs/{id}/claim") && spec.text.contains("/challenges/{id}/orm/query"))
            #expect(try await c.call(.get, "/docs").text.contains("<html"))
            let missing = try await c.call(.get, "/nope")
            #expect(missing.status == .notFound && missing.error?.code == "not_found")
            let metrics = try await c.call(.get, "/metrics")
            #expect(metrics.status == .ok)
        }
    }

    @Test(arguments: TestDatabases.available)
    func validatorRoutesRequireARegisteredSigningValidator(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        let stranger = SR25519Keypair.generate()
        try await h.run { c in
            let ok = try await c.call(.get, PlatformPaths.activeChallenges, as: .validator(v))
            #expect(ok.status == .ok, "\(ok.text)")

            let anonymous = try await c.call(.get, PlatformPaths.activeChallenges)
            #expect(anonymous.status == .unauthorized && anonymous.error?.code == PlatformErrorCode.missingValidatorHotkey)

            // Only the hint header, no signature.
            let unsigned = try await c.call(.get, PlatformPaths.activeChallenges,
                                            headers: [.init(PlatformHeaders.validatorHotkey)!: v.publicKey.ss58Address])
            #expect(unsigned.status == .unauthorized && unsigned.error?.code == "auth_missing_header")

            // Signed by someone else but claiming to be v.
            var forged = PlatformClient.headers(.validator(stranger))
            forged[.init(PlatformHeaders.validatorHotkey)!] = v.publicKey.ss58Address
            let mismatch = try await c.call(.get, PlatformPaths.activeChallenges, headers: forged)
            #expect(mismatch.status == .unauthorized && mismatch.error?.code == PlatformErrorCode.hotkeyMismatch)
            // v's own key named by a spelling other than its address (the two-byte prefix form, or
            // the address with a space inside) is not v's address either.
            for alias in [try SS58.twoByteSpelling(publicKey: v.publicKey.bytes), String(v.publicKey.ss58Address.dropLast()) + " "] {
                var aliased = PlatformClient.headers(.validator(v))
                aliased[.init(PlatformHeaders.validatorHotkey)!] = alias
                let refused = try await c.call(.get, PlatformPaths.activeChallenges, headers: aliased)
                #expect(refused.status == .unauthorized && refused.error?.code == PlatformErrorCode.hotkeyMismatch, "\(alias)")
            }

            // A signature that does not verify.
            var bad = PlatformClient.headers(.validator(v))
            bad[.init("X-Signature")!] = SignedRequest.headers(for: stranger).first { $0.name == "X-Signature" }!.value
            let badSig = try await c.call(.get, PlatformPaths.activeChallenges, headers: bad)
            #expect(badSig.status == .unauthorized && badSig.error?.code == "auth_bad_signature")

            // Correctly signed but not registered.
            let unregistered = try await c.call(.get, PlatformPaths.pendingJobs, as: .validator(stranger))
            #expect(unregistered.status == .forbidden && unregistered.error?.code == PlatformErrorCode.notRegistered)

            // The socket path without an upgrade explains itself after the same checks.
            let noUpgrade = try await c.call(.get, PlatformPaths.validatorSocket(v.publicKey.ss58Address), as: .validator(v))
            #expect(noUpgrade.status == .badRequest && noUpgrade.error?.code == PlatformErrorCode.upgradeRequired)
            let wrongPath = try await c.call(.get, PlatformPaths.validatorSocket(stranger.publicKey.ss58Address), as: .validator(v))
            #expect(wrongPath.status == .unauthorized && wrongPath.error?.code == PlatformErrorCode.hotkeyMismatch)
        }
    }

    @Test(arguments: TestDatabases.available)
    func adminRoutesRequireTheBearerToken(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        try await h.run { c in
            let none = try await c.call(.get, PlatformPaths.adminChallenges)
            #expect(none.status == .unauthorized && none.error?.code == PlatformErrorCode.adminTokenMissing)
            let wrong = try await c.call(.get, PlatformPaths.adminChallenges, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized && wrong.error?.code == PlatformErrorCode.adminTokenInvalid)
            let basic = try await c.call(.get, PlatformPaths.adminChallenges, headers: [.authorization: "Basic abc"])
            #expect(basic.status == .unauthorized)
            #expect(try await c.call(.get, PlatformPaths.adminChallenges, as: .admin).status == .ok)
        }
        let disabled = try await PlatformHarness.make(backend) { $0.adminToken = nil }
        try await disabled.run { c in
            let r = try await c.call(.get, PlatformPaths.adminChallenges, as: .admin)
            #expect(r.status == .forbidden && r.error?.code == PlatformErrorCode.adminDisabled)
        }
    }
}

@Suite struct PlatformChallengeAdminTests {
    @Test(arguments: TestDatabases.available)
    func createListUpdateActivate(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        try await h.run { c in
            var req = PlatformClient.challengeRequest("alpha", mechanism: 1, share: 0.6)
            req.validatorsPerSubmission = nil
            req.maxRetries = nil
            req.claimTimeoutS = nil
            let created = try await c.createChallenge(req)
            #expect(created.status == "active" && created.validatorsPerSubmission == 1 && created.maxRetries == 3
                && created.claimTimeoutS == 1800 && created.dataNamespace.hasPrefix("ch_"))
            let dup = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin, json: req)
            #expect(dup.status == .conflict && dup.error?.code == PlatformErrorCode.challengeNameTaken)

            let active = try await c.call(.get, PlatformPaths.activeChallenges, as: .validator(v)).decode(ActiveChallengesResponse.self)
            #expect(active.challenges == [ActiveChallenge(
                id: created.id, name: "alpha", status: "active", githubRepo: req.githubRepo, githubCommit: req.githubCommit,
                composeHash: req.composeHash, mechanismId: 1, emissionShare: 0.6)])

            // Emission share rule: 0.6 + 0.5 > 1 in mechanism 1 (400), fine in mechanism 2 or inactive.
            let over = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin,
                                        json: PlatformClient.challengeRequest("beta", mechanism: 1, share: 0.5))
            #expect(over.status == .badRequest && over.error?.code == PlatformErrorCode.emissionShareExceeded)
            #expect(over.error?.detail.contains("mechanism 1") == true)
            var inactive = PlatformClient.challengeRequest("beta", mechanism: 1, share: 0.5)
            inactive.status = "inactive"
            let beta = try await c.createChallenge(inactive)
            #expect(beta.status == "inactive")
            let activate = try await c.call(.post, PlatformPaths.adminActivate(beta.id), as: .admin)
            #expect(activate.status == .badRequest && activate.error?.code == PlatformErrorCode.emissionShareExceeded)
            let lower = try await c.call(.patch, PlatformPaths.adminChallenge(beta.id), as: .admin,
                                         json: UpdateChallengeRequest(emissionShare: 0.4))
            #expect(lower.status == .ok)
            let activated = try await c.call(.post, PlatformPaths.adminActivate(beta.id), as: .admin)
            #expect(try activated.decode(ChallengeDetail.self).status == "active")
            // Raising a share of an active challenge past the rule is refused and changes nothing.
            let raise = try await c.call(.patch, PlatformPaths.adminChallenge(created.id), as: .admin,
                                         json: UpdateChallengeRequest(emissionShare: 0.7))
            #expect(raise.status == .badRequest && raise.error?.code == PlatformErrorCode.emissionShareExceeded)
            #expect(try await c.call(.get, PlatformPaths.adminChallenge(created.id), as: .admin)
                .decode(ChallengeDetail.self).emissionShare == 0.6)
            // Moving it to another mechanism is fine.
            let moved = try await c.call(.patch, PlatformPaths.adminChallenge(created.id), as: .admin,
                                         json: UpdateChallengeRequest(githubCommit: "fedcba9876543210", mechanismId: 2, emissionShare: 0.7))
            let movedBody = try moved.decode(ChallengeDetail.self)
            #expect(movedBody.mechanismId == 2 && movedBody.githubCommit == "fedcba9876543210")

            let deactivated = try await c.call(.post, PlatformPaths.adminDeactivate(beta.id), as: .admin)
            #expect(try deactivated.decode(ChallengeDetail.self).status == "inactive")
            let listed = try await c.call(.get, PlatformPaths.activeChallenges, as: .validator(v)).decode(ActiveChallengesResponse.self)
            #expect(listed.challenges.map(\.id) == [created.id])
            let all = try await c.call(.get, PlatformPaths.adminChallenges, as: .admin).decode(ChallengeListResponse.self)
            #expect(Set(all.challenges.map(\.id)) == [created.id, beta.id])

            #expect(try await c.call(.get, PlatformPaths.adminChallenge("missing"), as: .admin).status == .notFound)
            #expect(try await c.call(.patch, PlatformPaths.adminChallenge("missing"), as: .admin,
                                     json: UpdateChallengeRequest(emissionShare: 0.1)).status == .notFound)
            #expect(try await c.call(.post, PlatformPaths.adminActivate("missing"), as: .admin).status == .notFound)
        }
    }

    @Test(arguments: TestDatabases.available)
    func createValidatesEveryField(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        try await h.run { c in
            func expect400(_ mutate: (inout CreateChallengeRequest) -> Void, _ field: String) async throws {
                var req = PlatformClient.challengeRequest()
                mutate(&req)
                let r = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin, json: req)
                #expect(r.status == .badRequest && r.error?.detail.contains(field) == true, "\(field): \(r.text)")
            }
            try await expect400({ $0.name = "" }, "name")
            try await expect400({ $0.name = "has space" }, "name")
            try await expect400({ $0.githubRepo = "ftp://x" }, "github_repo")
            try await expect400({ $0.githubCommit = "xyz" }, "github_commit")
            try await expect400({ $0.composeHash = "bad hash!" }, "compose_hash")
            try await expect400({ $0.emissionShare = 1.5 }, "emission_share")
            try await expect400({ $0.emissionShare = -0.1 }, "emission_share")
            try await expect400({ $0.mechanismId = 300 }, "mechanism_id")
            try await expect400({ $0.validatorsPerSubmission = 0 }, "validators_per_submission")
            try await expect400({ $0.maxRetries = -1 }, "max_retries")
            try await expect400({ $0.claimTimeoutS = 0 }, "claim_timeout_s")
            try await expect400({ $0.status = "paused" }, "status")
            let malformed = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin, raw: "{\"name\": 3}")
            #expect(malformed.status == .unprocessableContent && malformed.error?.code == "invalid_body")
            let missing = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin, raw: "{}")
            #expect(missing.status == .unprocessableContent)
            #expect(try await c.call(.get, PlatformPaths.adminChallenges, as: .admin)
                .decode(ChallengeListResponse.self).challenges.isEmpty)
        }
    }

    @Test(arguments: TestDatabases.available)
    func validatorRegistry(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend, validators: 1)
        let newcomer = SR25519Keypair.generate()
        try await h.run { c in
            #expect(try await c.call(.get, PlatformPaths.pendingJobs, as: .validator(newcomer)).status == .forbidden)
            let added = try await c.call(.put, PlatformPaths.adminValidator(newcomer.publicKey.ss58Address), as: .admin)
            #expect(added.status == .created)
            let entry = try added.decode(ValidatorEntry.self)
            #expect(entry.source == "admin" && entry.hotkey == newcomer.publicKey.ss58Address)
            #expect(try await c.call(.put, PlatformPaths.adminValidator(newcomer.publicKey.ss58Address), as: .admin).status == .ok)
            #expect(try await c.call(.get, PlatformPaths.pendingJobs, as: .validator(newcomer)).status == .ok)
            let list = try await c.call(.get, PlatformPaths.adminValidators, as: .admin).decode(ValidatorListResponse.self)
            #expect(Set(list.validators.map(\.hotkey)) == [h.validators[0].publicKey.ss58Address, newcomer.publicKey.ss58Address])
            #expect(list.validators.first { $0.hotkey == h.validators[0].publicKey.ss58Address }?.source == "config")

            let bad = try await c.call(.put, PlatformPaths.adminValidator("not-a-key"), as: .admin)
            #expect(bad.status == .badRequest && bad.error?.code == PlatformErrorCode.invalidField)
            #expect(try await c.call(.delete, PlatformPaths.adminValidator(newcomer.publicKey.ss58Address), as: .admin).status == .noContent)
            let gone = try await c.call(.delete, PlatformPaths.adminValidator(newcomer.publicKey.ss58Address), as: .admin)
            #expect(gone.status == .notFound && gone.error?.code == PlatformErrorCode.validatorNotFound)
            #expect(try await c.call(.get, PlatformPaths.pendingJobs, as: .validator(newcomer)).status == .forbidden)
        }
    }
}

@Suite struct PlatformWireTests {
    @Test func timesAreRFC3339UTC() {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        var t = -86_400.0 * 365 * 3
        while t < 86_400 * 365 * 200 {
            #expect(PlatformTime.string(t) == f.string(from: Date(timeIntervalSince1970: t.rounded(.down))), "\(t)")
            t += 86_400 * 17.3 + 3_607.9
        }
        #expect(PlatformTime.string(1_735_689_599.9) == "2024-12-31T23:59:59Z")
        #expect(PlatformTime.string(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(PlatformTime.parse("2025-01-01T00:00:00Z") == 1_735_689_600)
    }

    @Test func serverMessagesDecodeByType() throws {
        let m = try PlatformServerMessage.decode("{\"type\":\"new_job\",\"job_id\":\"j\",\"challenge_id\":\"c\",\"seq\":4}")
        #expect(m == .newJob(NewJobMessage(jobId: "j", challengeId: "c", seq: 4)) && m.seq == 4)
        #expect(try PlatformServerMessage.decode("{\"type\":\"job_cancelled\",\"job_id\":\"j\"}") == .jobCancelled(JobCancelledMessage(jobId: "j")))
        #expect(try PlatformServerMessage.decode("{\"type\":\"something\"}") == .other(type: "something"))
        let encoded = String(decoding: try JSONEncoder().encode(ChallengeUpdatedMessage(challengeId: "c", githubCommit: "abc")), as: UTF8.self)
        #expect(encoded.contains("\"type\":\"challenge_updated\"") && encoded.contains("\"github_commit\":\"abc\""))
    }
}
