import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import Store
import TestSupport
import Testing

@Suite struct PlatformSubmissionTests {
    @Test(arguments: TestDatabases.available)
    func minersSubmitCodeOrArtifacts(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) {
            $0.limits.maxSubmissionBytes = 1000
            $0.limits.maxOpenSubmissionsPerMiner = 3
        }
        let miner = SR25519Keypair.generate()
        try await h.run { c in
            let ch = try await c.createChallenge(PlatformClient.challengeRequest(validators: 2))
            let s = try await c.submit(miner, ch.id, code: "def solve(): return 42")
            #expect(s.status == "pending" && s.jobsTotal == 2 && s.jobs.count == 2 && s.minerHotkey == miner.publicKey.ss58Address)
            #expect(s.payloadKind == "code" && s.payloadSha256.count == 64 && s.score == nil)
            #expect(try await c.call(.get, PlatformPaths.submission(s.id)).decode(SubmissionView.self) == s)
            #expect(try await c.call(.get, PlatformPaths.submission("missing")).status == .notFound)

            let artifact = SubmissionPayload(artifact: ArtifactReference(url: "https://example.org/a.tar.gz", sha256: String(repeating: "ab", count: 32)))
            let a = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner), json: artifact)
            #expect(a.status == .created)
            #expect(try a.decode(SubmissionView.self).payloadSha256 == String(repeating: "ab", count: 32))

            let unsigned = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .anonymous, json: SubmissionPayload(code: "x"))
            #expect(unsigned.status == .unauthorized)
            let both = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner),
                                        json: SubmissionPayload(code: "x", artifact: artifact.artifact))
            #expect(both.status == .badRequest)
            #expect(try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner), raw: "{}").status == .badRequest)
            let badSha = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner),
                                          json: SubmissionPayload(artifact: ArtifactReference(url: "https://e.org/x", sha256: "zz")))
            #expect(badSha.status == .badRequest && badSha.error?.detail.contains("sha256") == true)
            let tooBig = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner),
                                          json: SubmissionPayload(code: String(repeating: "x", count: 1001)))
            #expect(tooBig.status == .contentTooLarge && tooBig.error?.code == PlatformErrorCode.payloadTooLarge)
            let hugeBody = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner),
                                            json: SubmissionPayload(code: String(repeating: "y", count: 200_000)))
            #expect(hugeBody.status == .contentTooLarge)
            #expect(try await c.call(.post, PlatformPaths.submissions("missing"), as: .miner(miner),
                                     json: SubmissionPayload(code: "x")).status == .notFound)

            // Open-submission limit (3): two are open, a third is allowed, the fourth is refused.
            _ = try await c.submit(miner, ch.id)
            let limited = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner), json: SubmissionPayload(code: "x"))
            #expect(limited.status == .tooManyRequests && limited.error?.code == PlatformErrorCode.tooManyOpenSubmissions)

            // Inactive challenge.
            _ = try await c.call(.post, PlatformPaths.adminDeactivate(ch.id), as: .admin)
            let inactive = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(SR25519Keypair.generate()),
                                            json: SubmissionPayload(code: "x"))
            #expect(inactive.status == .conflict && inactive.error?.code == PlatformErrorCode.challengeInactive)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM submissions", [])?.int("n") == 3)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM jobs", [])?.int("n") == 6)
        }
    }
}

@Suite struct PlatformJobLifecycleTests {
    @Test(arguments: TestDatabases.available)
    func claimStartResultsAndAggregation(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let (a, b, outsider) = (h.validators[0], h.validators[1], h.validators[2])
        let miner = SR25519Keypair.generate()
        try await h.run { c in
            let ch = try await c.createChallenge(PlatformClient.challengeRequest(validators: 2))
            let first = try await c.submit(miner, ch.id, code: "first")
            h.clock.advance(1)
            let second = try await c.submit(miner, ch.id, code: "second")
            let pending = try await c.pending(a)
            #expect(pending.count == 4)
            #expect(pending.prefix(2).allSatisfy { $0.submissionId == first.id }, "oldest first")
            #expect(pending.allSatisfy { $0.status == "pending" && $0.challengeId == ch.id && $0.minerHotkey == miner.publicKey.ss58Address })

            // A claims a job of the first submission and gets the payload.
            let job = pending[0]
            let claim = try await c.claim(a, job.id)
            #expect(claim.status == .ok, "\(claim.text)")
            let claimed = try claim.decode(ClaimResponse.self)
            #expect(claimed.status == "claimed" && claimed.payload.code == "first" && claimed.attempt == 1
                && claimed.submissionId == first.id)
            // Claiming again (anyone) is a conflict; so is a second slot of the same submission for A.
            #expect(try await c.claim(a, job.id).status == .conflict)
            #expect(try await c.claim(b, job.id).error?.code == PlatformErrorCode.jobAlreadyClaimed)
            let otherSlot = pending[1]
            let twice = try await c.claim(a, otherSlot.id)
            #expect(twice.status == .conflict && twice.error?.code == PlatformErrorCode.alreadyEvaluatingSubmission)
            // A no longer sees the first submission's other job; B does.
            #expect(try await c.pending(a).map(\.submissionId) == [second.id, second.id])
            #expect(try await c.pending(b).contains { $0.id == otherSlot.id })
            #expect(try await c.call(.get, PlatformPaths.submission(first.id)).decode(SubmissionView.self).status == "evaluating")

            // Job detail: the payload only for the claimer.
            let mine = try await c.call(.get, PlatformPaths.job(job.id), as: .validator(a)).decode(JobView.self)
            #expect(mine.payload?.code == "first" && mine.validatorHotkey == a.publicKey.ss58Address)
            #expect(try await c.call(.get, PlatformPaths.job(job.id), as: .validator(b)).decode(JobView.self).payload == nil)
            #expect(try await c.call(.get, PlatformPaths.job("missing"), as: .validator(b)).status == .notFound)

            // Start: claimer only.
            #expect(try await c.call(.post, PlatformPaths.start(job.id), as: .validator(b)).status == .forbidden)
            let started = try await c.call(.post, PlatformPaths.start(job.id), as: .validator(a)).decode(JobView.self)
            #expect(started.status == "running")
            #expect(try await c.call(.post, PlatformPaths.start(job.id), as: .validator(a)).status == .ok)
            #expect(try await c.call(.post, PlatformPaths.start(otherSlot.id), as: .validator(a)).status == .conflict)

            // Results: validation, claimer only, 409 when not claimed.
            let good = JobResultRequest(score: 0.9, metrics: ["accuracy": .number(0.9), "latency_ms": .number(150)],
                                        logs: ["Evaluation started", "Completed successfully"], executionTimeMs: 5000)
            #expect(try await c.results(b, job.id, good).status == .forbidden)
            #expect(try await c.results(a, otherSlot.id, good).status == .conflict)
            #expect(try await c.results(a, "missing", good).status == .notFound)
            for bad in [JobResultRequest(score: nil), JobResultRequest(score: -1), JobResultRequest(score: .infinity),
                        JobResultRequest(score: 0.5, executionTimeMs: -5)] {
                let r = try await c.results(a, job.id, bad)
                #expect(r.status == .badRequest, "\(bad) → \(r.text)")
            }
            let garbage = try await c.call(.post, PlatformPaths.results(job.id), as: .validator(a), raw: "{\"score\": \"high\"}")
            #expect(garbage.status == .unprocessableContent)
            let posted = try await c.results(a, job.id, good)
            #expect(posted.status == .noContent, "\(posted.text)")
            #expect(posted.body.isEmpty)
            // Identical repeat: accepted, nothing changes. Different body: conflict.
            #expect(try await c.results(a, job.id, good).status == .noContent)
            let changed = try await c.results(a, job.id, JobResultRequest(score: 0.1))
            #expect(changed.status == .conflict && changed.error?.code == PlatformErrorCode.jobFinished)

            var sub = try await c.call(.get, PlatformPaths.submission(first.id)).decode(SubmissionView.self)
            #expect(sub.status == "evaluating" && sub.score == 0.9 && sub.jobsCompleted == 1)

            // B evaluates the other slot and reports 0.5: median of {0.9, 0.5} = 0.7, completed.
            #expect(try await c.claim(b, otherSlot.id).status == .ok)
            #expect(try await c.results(b, otherSlot.id, JobResultRequest(score: 0.5, executionTimeMs: 10)).status == .noContent)
            sub = try await c.call(.get, PlatformPaths.submission(first.id)).decode(SubmissionView.self)
            #expect(sub.status == "completed" && abs((sub.score ?? 0) - 0.7) < 1e-12 && sub.jobsCompleted == 2)
            #expect(Set(sub.jobs.compactMap(\.validatorHotkey)) == [a.publicKey.ss58Address, b.publicKey.ss58Address])

            // An error result fails the job; both failing fails the submission.
            let secondJobs = try await c.pending(outsider).filter { $0.submissionId == second.id }
            #expect(secondJobs.count == 2)
            #expect(try await c.claim(outsider, secondJobs[0].id).status == .ok)
            #expect(try await c.results(outsider, secondJobs[0].id, JobResultRequest(score: nil, error: "container crashed")).status == .noContent)
            #expect(try await c.claim(a, secondJobs[1].id).status == .ok)
            #expect(try await c.results(a, secondJobs[1].id, JobResultRequest(score: 0.3, error: "timeout in task 3")).status == .noContent)
            let failed = try await c.call(.get, PlatformPaths.submission(second.id)).decode(SubmissionView.self)
            #expect(failed.status == "failed" && failed.score == nil && failed.jobsFailed == 2)
            #expect(failed.jobs.contains { $0.error == "container crashed" && $0.status == "failed" })

            // Stored result details.
            let row = try #require(try await h.db.queryOne("SELECT * FROM jobs WHERE id = ?", [.text(job.id)]))
            #expect(try row.string("status") == "completed")
            #expect(try row.int("execution_time_ms") == 5000)
            #expect(try row.string("logs") == "[\"Evaluation started\",\"Completed successfully\"]")
            #expect(try row.string("metrics").contains("\"latency_ms\":150"))
        }
    }

    @Test(arguments: TestDatabases.available)
    func logsAndMetricsAreCapped(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) {
            $0.limits.maxLogLines = 3
            $0.limits.maxLogLineBytes = 5
            $0.limits.maxMetricsBytes = 100
        }
        let v = h.validators[0]
        try await h.run { c in
            let ch = try await c.createChallenge()
            _ = try await c.submit(SR25519Keypair.generate(), ch.id)
            let job = try #require(try await c.pending(v).first)
            #expect(try await c.claim(v, job.id).status == .ok)
            let bigMetrics = try await c.results(v, job.id, JobResultRequest(
                score: 1, metrics: ["blob": .string(String(repeating: "m", count: 200))]))
            #expect(bigMetrics.status == .contentTooLarge)
            let r = try await c.results(v, job.id, JobResultRequest(score: 1, logs: ["a", "b", "c", "dddddddddd", "e"]))
            #expect(r.status == .noContent)
            let row = try #require(try await h.db.queryOne("SELECT logs, logs_truncated FROM jobs WHERE id = ?", [.text(job.id)]))
            #expect(try row.string("logs") == "[\"c\",\"ddddd\",\"e\"]")
            #expect(try row.bool("logs_truncated"))
        }
    }

    /// Twenty validators race for one job: exactly one claim succeeds.
    @Test(arguments: TestDatabases.available)
    func concurrentClaimsHaveExactlyOneWinner(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend, validators: 20)
        try await h.run { c in
            let ch = try await c.createChallenge()
            _ = try await c.submit(SR25519Keypair.generate(), ch.id)
            let job = try #require(try await c.pending(h.validators[0]).first)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for v in h.validators { group.addTask { try await c.claim(v, job.id).status } }
                var out: [HTTPResponse.Status] = []
                for try await s in group { out.append(s) }
                return out
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 19)
            let row = try #require(try await h.db.queryOne("SELECT status, validator_hotkey FROM jobs WHERE id = ?", [.text(job.id)]))
            #expect(try row.string("status") == "claimed")
            #expect(h.validators.map(\.publicKey.ss58Address).contains(try row.string("validator_hotkey")))
        }
    }

    @Test(arguments: TestDatabases.available)
    func expiredClaimsReturnToPendingThenFail(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let (a, b, d) = (h.validators[0], h.validators[1], h.validators[2])
        try await h.run { c in
            let ch = try await c.createChallenge(PlatformClient.challengeRequest(retries: 1, timeout: 60))
            let s = try await c.submit(SR25519Keypair.generate(), ch.id)
            let job = try #require(s.jobs.first).id
            #expect(try await c.claim(a, job).status == .ok)
            // Not yet expired: nothing happens.
            h.clock.advance(59)
            #expect(try await h.store.expireClaims(now: h.clock.now) == ExpiryReport(requeued: [], failed: []))
            h.clock.advance(2)
            #expect(try await h.store.expireClaims(now: h.clock.now) == ExpiryReport(requeued: [job], failed: []))
            let view = try await c.call(.get, PlatformPaths.job(job), as: .validator(b)).decode(JobView.self)
            #expect(view.status == "pending" && view.retryCount == 1 && view.validatorHotkey == nil)
            // The old claimer's late results are refused; the job is claimable again (attempt 2).
            #expect(try await c.results(a, job, JobResultRequest(score: 1)).status == .conflict)
            let again = try await c.claim(b, job)
            #expect(try again.decode(ClaimResponse.self).attempt == 2)
            #expect(try await c.results(a, job, JobResultRequest(score: 1)).status == .forbidden)
            // Second expiry: out of retries → failed, and so is the one-job submission.
            h.clock.advance(61)
            #expect(try await h.store.expireClaims(now: h.clock.now) == ExpiryReport(requeued: [], failed: [job]))
            let failed = try await c.call(.get, PlatformPaths.submission(s.id)).decode(SubmissionView.self)
            #expect(failed.status == "failed" && failed.jobs[0].status == "failed")
            #expect(try await c.claim(d, job).status == .conflict)
            #expect(try await c.results(b, job, JobResultRequest(score: 1)).status == .conflict)
            // Events: job_cancelled to A then B, a new_job when the job was requeued.
            let kinds = try await h.db.query("SELECT kind, target_hotkey FROM platform_events ORDER BY seq", [])
                .map { "\(try $0.string("kind")):\(try $0.optionalString("target_hotkey") ?? "*")" }
            #expect(kinds == ["new_job:*", "job_cancelled:\(a.publicKey.ss58Address)", "new_job:*",
                              "job_cancelled:\(b.publicKey.ss58Address)"])
        }
    }

    @Test(arguments: TestDatabases.available)
    func adminCancelAndInactiveChallenges(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        try await h.run { c in
            let ch = try await c.createChallenge(PlatformClient.challengeRequest(validators: 2))
            let s = try await c.submit(SR25519Keypair.generate(), ch.id)
            let (j1, j2) = (s.jobs[0].id, s.jobs[1].id)
            #expect(try await c.claim(v, j1).status == .ok)
            let cancelled = try await c.call(.post, PlatformPaths.adminCancelJob(j1), as: .admin)
            #expect(try cancelled.decode(JobView.self).status == "cancelled")
            #expect(try await c.call(.post, PlatformPaths.adminCancelJob(j1), as: .admin).status == .conflict)
            #expect(try await c.call(.post, PlatformPaths.adminCancelJob("missing"), as: .admin).status == .notFound)
            #expect(try await c.call(.post, PlatformPaths.adminCancelJob(j2), as: .validator(v)).status == .unauthorized)
            #expect(try await c.results(v, j1, JobResultRequest(score: 1)).status == .conflict)

            // Inactive challenge: its jobs are hidden and not claimable until reactivated.
            _ = try await c.call(.post, PlatformPaths.adminDeactivate(ch.id), as: .admin)
            #expect(try await c.pending(h.validators[1]).isEmpty)
            let refused = try await c.claim(h.validators[1], j2)
            #expect(refused.status == .conflict && refused.error?.code == PlatformErrorCode.challengeInactive)
            _ = try await c.call(.post, PlatformPaths.adminActivate(ch.id), as: .admin)
            #expect(try await c.pending(h.validators[1]).map(\.id) == [j2])
            #expect(try await c.claim(h.validators[1], j2).status == .ok)
            let kinds = try await h.db.query("SELECT kind FROM platform_events ORDER BY seq", []).map { try $0.string("kind") }
            #expect(kinds == ["new_job", "new_job", "job_cancelled", "challenge_updated", "challenge_updated"])
        }
    }
}

@Suite struct PlatformScoreTests {
    @Test(arguments: TestDatabases.available)
    func leaderboardAndMechanismWeights(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        let miners = (0..<3).map { _ in SR25519Keypair.generate() }
        try await h.run { c in
            let c1 = try await c.createChallenge(PlatformClient.challengeRequest("one", mechanism: 4, share: 0.6))
            let c2 = try await c.createChallenge(PlatformClient.challengeRequest("two", mechanism: 4, share: 0.3))
            let other = try await c.createChallenge(PlatformClient.challengeRequest("other", mechanism: 5, share: 1))
            func evaluate(_ miner: SR25519Keypair, _ challenge: String, _ score: Double) async throws {
                let s = try await c.submit(miner, challenge)
                #expect(try await c.claim(v, s.jobs[0].id).status == .ok)
                #expect(try await c.results(v, s.jobs[0].id, JobResultRequest(score: score)).status == .noContent)
                h.clock.advance(1)
            }
            try await evaluate(miners[0], c1.id, 0.2)
            try await evaluate(miners[0], c1.id, 0.6)  // best of miner 0
            try await evaluate(miners[1], c1.id, 0.2)
            try await evaluate(miners[2], c2.id, 0.5)
            try await evaluate(miners[1], other.id, 0.9)

            let board = try await c.call(.get, PlatformPaths.leaderboard(c1.id)).decode(LeaderboardResponse.self)
            #expect(board.entries.map(\.minerHotkey) == [miners[0].publicKey.ss58Address, miners[1].publicKey.ss58Address])
            #expect(board.entries.map(\.rank) == [1, 2] && board.entries[0].score == 0.6)
            #expect(abs(board.entries[0].weight - 0.75) < 1e-12 && abs(board.entries[1].weight - 0.25) < 1e-12)
            #expect(try await c.call(.get, PlatformPaths.leaderboard(c1.id) + "?limit=1").decode(LeaderboardResponse.self).entries.count == 1)
            #expect(try await c.call(.get, PlatformPaths.leaderboard(c1.id) + "?limit=0").status == .unprocessableContent)
            #expect(try await c.call(.get, PlatformPaths.leaderboard("missing")).status == .notFound)

            let w = try await c.call(.get, PlatformPaths.weights(4)).decode(MechanismWeightsResponse.self)
            let byKey = Dictionary(uniqueKeysWithValues: w.weights.map { ($0.hotkey, $0.weight) })
            #expect(abs((byKey[miners[0].publicKey.ss58Address] ?? 0) - 0.45) < 1e-12)
            #expect(abs((byKey[miners[1].publicKey.ss58Address] ?? 0) - 0.15) < 1e-12)
            #expect(abs((byKey[miners[2].publicKey.ss58Address] ?? 0) - 0.3) < 1e-12)
            #expect(abs(w.total - 0.9) < 1e-12 && w.challenges.count == 2 && w.challenges.allSatisfy(\.allocated))
            #expect(w.weights.map(\.hotkey) == w.weights.map(\.hotkey).sorted())
            // Deactivating a challenge removes it from its mechanism's weights.
            _ = try await c.call(.post, PlatformPaths.adminDeactivate(c2.id), as: .admin)
            let after = try await c.call(.get, PlatformPaths.weights(4)).decode(MechanismWeightsResponse.self)
            #expect(abs(after.total - 0.6) < 1e-12 && after.weights.count == 2)
            #expect(try await c.call(.get, PlatformPaths.weights(9)).decode(MechanismWeightsResponse.self).weights.isEmpty)
            #expect(try await c.call(.get, "/mechanisms/300/weights").status == .unprocessableContent)
            #expect(try await c.call(.get, "/mechanisms/x/weights").status == .unprocessableContent)
        }
    }
}
