import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import Store
import TestSupport
import Testing

/// `POST /jobs/claim`: the oldest pending job the caller may take, never one another claimer holds.
@Suite struct PlatformClaimNextTests {
    func claimNext(_ c: PlatformClient, _ v: SR25519Keypair, challenge: String? = nil, raw query: String? = nil) async throws -> Reply {
        var path = PlatformPaths.claimNext
        if let challenge { path += "?\(PlatformQueryNames.challengeId)=\(challenge)" }
        if let query { path += "?\(query)" }
        return try await c.call(.post, path, as: .validator(v))
    }

    @Test(arguments: TestDatabases.available)
    func givesTheOldestJobTheCallerMayTakeThenNoContent(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let (a, b) = (h.validators[0], h.validators[1])
        let miner = SR25519Keypair.generate()
        try await h.run { c in
            let two = try await c.createChallenge(PlatformClient.challengeRequest(validators: 2))
            let one = try await c.createChallenge(PlatformClient.challengeRequest(validators: 1))
            let first = try await c.submit(miner, two.id, code: "first")
            h.clock.advance(1)
            let other = try await c.submit(miner, one.id, code: "other")
            h.clock.advance(1)
            let third = try await c.submit(miner, two.id, code: "third")

            // A takes the oldest job of the two-validator challenge, then — holding a job of the
            // first submission — the third submission's, then has nothing left there.
            let r1 = try await claimNext(c, a, challenge: two.id)
            #expect(r1.status == .ok, "\(r1.text)")
            let j1 = try r1.decode(ClaimResponse.self)
            #expect(j1.submissionId == first.id && j1.payload.code == "first" && j1.status == "claimed" && j1.challengeId == two.id)
            let j2 = try await claimNext(c, a, challenge: two.id).decode(ClaimResponse.self)
            #expect(j2.submissionId == third.id)
            let none = try await claimNext(c, a, challenge: two.id)
            #expect(none.status == .noContent && none.body.isEmpty)

            // B without a challenge: the oldest pending job of any active challenge.
            let j3 = try await claimNext(c, b).decode(ClaimResponse.self)
            #expect(j3.submissionId == first.id && j3.id != j1.id)
            let j4 = try await claimNext(c, b, challenge: one.id).decode(ClaimResponse.self)
            #expect(j4.submissionId == other.id && j4.payload.code == "other")
            // The claims are the jobs' real claims: the claimer posts results, a claim by id conflicts.
            #expect(try await c.claim(a, j3.id).status == .conflict)
            #expect(try await c.results(b, j3.id, JobResultRequest(score: 0.5)).status == .noContent)

            // Clear errors: an unknown challenge, an inactive one, a bad query, no signature.
            let unknown = try await claimNext(c, a, challenge: "no-such-challenge")
            #expect(unknown.status == .notFound && unknown.error?.code == PlatformErrorCode.challengeNotFound)
            _ = try await c.call(.post, PlatformPaths.adminDeactivate(one.id), as: .admin)
            let inactive = try await claimNext(c, a, challenge: one.id)
            #expect(inactive.status == .conflict && inactive.error?.code == PlatformErrorCode.challengeInactive)
            for bad in ["challenge_id=", "challenge_id=" + String(repeating: "x", count: 129), "challenge_id=%00", "challenge_id=a%0Ab"] {
                let refused = try await claimNext(c, a, raw: bad)
                #expect(refused.status == .unprocessableContent && refused.error?.code == "invalid_query", "\(bad): \(refused.text)")
            }
            #expect(try await c.call(.post, PlatformPaths.claimNext).status == .unauthorized)
            let jobs = try await h.db.fetch("SELECT status, validator_hotkey FROM jobs ORDER BY created_at, slot")
            #expect(jobs.filter { (try? $0.string("status")) == "pending" }.count == 1)
        }
    }

    /// Eight validators claim at once until nothing is left: every job is claimed exactly once,
    /// and no claim fails (on PostgreSQL the pick passes over rows another claim holds).
    @Test(arguments: TestDatabases.available)
    func concurrentClaimersShareTheJobsWithoutLosingAClaim(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend, validators: 8) { $0.limits.maxOpenSubmissionsPerMiner = 100 }
        let challenge = try await h.store.createChallenge(
            PlatformClient.challengeRequest(validators: 1), now: h.clock.now)
        let total = 48
        for i in 0..<total {
            _ = try await h.store.submit(challengeId: challenge.id, miner: SR25519Keypair.generate().publicKey.ss58Address,
                                         payload: SubmissionPayload(code: "job \(i)"), now: h.clock.now + Double(i))
        }
        let store = h.store, now = h.clock.now + 100
        let outcome: Result<[String], any Error>
        do { outcome = .success(try await withThrowingTaskGroup(of: [String].self) { group in
            for v in h.validators {
                group.addTask {
                    var mine: [String] = []
                    while let job = try await store.claimNext(validator: v.publicKey.ss58Address, challengeId: nil, now: now) {
                        mine.append(job.id)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }) } catch { outcome = .failure(error) }
        let claimed = try await h.db.queryOne("SELECT COUNT(*) AS n FROM jobs WHERE status = 'claimed'", [])?.int("n")
        await h.close()
        let claims = try outcome.get()
        #expect(claims.count == total && Set(claims).count == total)
        #expect(claimed == Int64(total))
    }
}
