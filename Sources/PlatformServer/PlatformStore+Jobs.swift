import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
import PlatformCore
import ServiceKit
import Store

/// A `jobs` row.
struct JobRow: Sendable {
    var id: String
    var challengeId: String
    var submissionId: String
    var minerHotkey: String
    var status: JobStatus
    var validatorHotkey: String?
    var retryCount: Int
    var maxRetries: Int
    var claimTimeoutS: Int
    var claimedAt: Double?
    var startedAt: Double?
    var leaseExpiresAt: Double?
    var finishedAt: Double?
    var score: Double?
    var executionTimeMs: Int64?
    var error: String?
    var failureReason: String?
    var resultFingerprint: String?
    var createdAt: Double

    init(_ r: SQLRow) throws {
        id = try r.string("id")
        challengeId = try r.string("challenge_id")
        submissionId = try r.string("submission_id")
        minerHotkey = try r.string("miner_hotkey")
        let s = try r.string("status")
        guard let st = JobStatus(rawValue: s) else { throw StoreError.backend("unknown job status \(s)") }
        status = st
        validatorHotkey = try r.optionalString("validator_hotkey")
        retryCount = Int(try r.int("retry_count"))
        maxRetries = Int(try r.int("max_retries"))
        claimTimeoutS = Int(try r.int("claim_timeout_s"))
        claimedAt = try r.optionalDouble("claimed_at")
        startedAt = try r.optionalDouble("started_at")
        leaseExpiresAt = try r.optionalDouble("lease_expires_at")
        finishedAt = try r.optionalDouble("finished_at")
        score = try r.optionalDouble("score")
        executionTimeMs = try r.optionalInt("execution_time_ms")
        error = try r.optionalString("error")
        failureReason = try r.optionalString("failure_reason")
        resultFingerprint = try r.optionalString("result_fingerprint")
        createdAt = try r.double("created_at")
    }

    var state: JobState {
        JobState(status: status, claimer: validatorHotkey, retryCount: retryCount, maxRetries: maxRetries,
                 leaseExpiresAt: leaseExpiresAt, failureReason: failureReason)
    }

    func view(payload: SubmissionPayload?) -> JobView {
        JobView(id: id, challengeId: challengeId, submissionId: submissionId, minerHotkey: minerHotkey,
                status: status.rawValue, validatorHotkey: validatorHotkey, retryCount: retryCount, maxRetries: maxRetries,
                createdAt: PlatformTime.string(createdAt), claimedAt: claimedAt.map(PlatformTime.string),
                startedAt: startedAt.map(PlatformTime.string), claimExpiresAt: leaseExpiresAt.map(PlatformTime.string),
                finishedAt: finishedAt.map(PlatformTime.string), score: score, executionTimeMs: executionTimeMs,
                error: error, payload: payload)
    }
}

/// What the claim-expiry sweep did.
public struct ExpiryReport: Sendable, Equatable {
    /// Jobs returned to pending (their old claimers were told `job_cancelled`).
    public var requeued: [String]
    /// Jobs failed because they ran out of retries.
    public var failed: [String]
}

/// A result after validation and normalisation (pure work, before the transaction).
struct NormalizedResult: Sendable {
    var score: Double?
    var metrics: String?
    var logs: String?
    var logsTruncated: Bool
    var executionTimeMs: Int64?
    var error: String?
    var fingerprint: String
}

extension PlatformStore {
    static func jobNotFound(_ id: String) -> APIError {
        APIError.notFound(PlatformErrorCode.jobNotFound, "Job \(id.prefix(64)) does not exist")
    }

    func job(_ ex: any SQLExecutor, id: String, lock: Bool = false) async throws -> JobRow {
        guard let row = try await ex.queryOne("SELECT * FROM jobs WHERE id = ?\(lock ? ex.forUpdate : "")",
          [.text(id)]) else {
            throw Self.jobNotFound(id)
        }
        return try JobRow(row)
    }

    static func payload(kind: String, text: String) -> SubmissionPayload {
        if kind == "artifact", let a = try? JSONDecoder().decode(ArtifactReference.self, from: Data(text.utf8)) {
            return SubmissionPayload(artifact: a)
        }
        return SubmissionPayload(code: text)
    }

    // MARK: Submissions

    /// `POST /challenges/{id}/submissions`: the submission and its N jobs (N =
    /// validators_per_submission), with a `new_job` event per job, in one transaction.
    public func submit(challengeId: String, miner: String, payload: SubmissionPayload, now: Double) async throws
        -> SubmissionView
    {
        let kind: String
        let stored: String
        let digest: String
        let size: Int
        switch (payload.code, payload.artifact) {
        case let (code?, nil):
            guard !code.isEmpty else { throw APIError.badRequest(PlatformErrorCode.invalidField, "code: must not be empty") }
            size = code.utf8.count
            guard size <= limits.maxSubmissionBytes else {
                throw APIError(.contentTooLarge, PlatformErrorCode.payloadTooLarge,
                               "code is \(size) bytes; the limit is \(limits.maxSubmissionBytes)")
            }
            kind = "code"
            stored = code
            digest = sha256Hex(Array(code.utf8))
        case let (nil, artifact?):
            guard artifact.url.utf8.count <= 2048, let url = URL(string: artifact.url),
                let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", url.host?.isEmpty == false
            else { throw APIError.badRequest(PlatformErrorCode.invalidField, "artifact.url: an http(s) URL of at most 2048 characters") }
            let sha = artifact.sha256.lowercased()
            guard sha.utf8.count == 64, sha.unicodeScalars.allSatisfy({ "0123456789abcdef".unicodeScalars.contains($0) }) else {
                throw APIError.badRequest(PlatformErrorCode.invalidField, "artifact.sha256: 64 hexadecimal characters")
            }
            kind = "artifact"
            stored = try Self.encodeJSON(ArtifactReference(url: artifact.url, sha256: sha))
            digest = sha
            size = stored.utf8.count
        default:
            throw APIError.badRequest(PlatformErrorCode.invalidField, "give exactly one of 'code' or 'artifact'")
        }
        let submissionId = Self.newId()
        let view = try await db.transaction { tx in
            let c = try await challenge(tx, id: challengeId)
            guard c.isActive else {
                throw APIError.conflict(PlatformErrorCode.challengeInactive, "Challenge \(c.name) is not active")
            }
            // Count and insert under one lock per (challenge, miner), so parallel submissions
            // cannot all pass the count before any of them inserts.
            try await tx.lock(key: "open-submissions:\(c.id):\(miner)")
            let open = try await tx.fetchOne(
                """
                SELECT COUNT(*) AS n FROM submissions
                WHERE challenge_id = \(c.id) AND miner_hotkey = \(miner) AND status IN ('pending', 'evaluating')
                """)?.int("n") ?? 0
            if open >= limits.maxOpenSubmissionsPerMiner {
                throw APIError(.tooManyRequests, PlatformErrorCode.tooManyOpenSubmissions,
                               "You have \(open) submissions still being evaluated in this challenge; the limit is \(limits.maxOpenSubmissionsPerMiner)",
                               retryAfterSeconds: 60)
            }
            try await tx.fetch(
                """
                INSERT INTO submissions (id, challenge_id, miner_hotkey, payload_kind, payload, payload_sha256, payload_bytes,
                  status, jobs_total, created_at, updated_at)
                VALUES (\(submissionId), \(c.id), \(miner), \(kind), \(stored), \(digest), \(size), 'pending',
                  \(c.validatorsPerSubmission), \(now), \(now))
                """)
            var drafts: [EventDraft] = []
            for slot in 0..<c.validatorsPerSubmission {
                let jobId = Self.newId()
                try await tx.fetch(
                    """
                    INSERT INTO jobs (id, challenge_id, submission_id, miner_hotkey, slot, status, max_retries,
                      claim_timeout_s, created_at, updated_at)
                    VALUES (\(jobId), \(c.id), \(submissionId), \(miner), \(slot), 'pending', \(c.maxRetries),
                      \(c.claimTimeoutS), \(now + Double(slot) * 1e-6), \(now))
                    """)
                drafts.append(.newJob(jobId: jobId, challengeId: c.id))
            }
            try await emit(tx, drafts, now: now)
            let snap = try await refreshSubmission(tx, id: submissionId, now: now)
            return (try await submissionView(tx, id: submissionId), snap)
        }
        signal.poke()
        await challengeData.publish([view.1])
        return view.0
    }

    /// One consistent view: both reads in one transaction (SQLite serialises it), jobs read
    /// before the submission row, so a job seen finished always comes with its aggregate
    /// (both are written in one transaction; on PostgreSQL each statement sees all commits
    /// made before it started).
    public func submissionView(id: String) async throws -> SubmissionView {
        try await db.transaction { tx in try await self.submissionView(tx, id: id) }
    }

    func submissionView(_ ex: any SQLExecutor, id: String) async throws -> SubmissionView {
        let jobs = try await ex.fetch("SELECT * FROM jobs WHERE submission_id = \(id) ORDER BY slot").map(JobRow.init)
        guard let s = try await ex.fetchOne("SELECT * FROM submissions WHERE id = \(id)") else {
            throw APIError.notFound(PlatformErrorCode.submissionNotFound, "Submission \(id.prefix(64)) does not exist")
        }
        return SubmissionView(
            id: id, challengeId: try s.string("challenge_id"), minerHotkey: try s.string("miner_hotkey"),
            status: try s.string("status"), score: try s.optionalDouble("score"), payloadKind: try s.string("payload_kind"),
            payloadSha256: try s.string("payload_sha256"), jobsTotal: Int(try s.int("jobs_total")),
            jobsCompleted: Int(try s.int("jobs_completed")), jobsFailed: Int(try s.int("jobs_failed")),
            jobs: jobs.map { SubmissionJob(id: $0.id, status: $0.status.rawValue, validatorHotkey: $0.validatorHotkey,
                                           score: $0.score, error: $0.error) },
            createdAt: PlatformTime.string(try s.double("created_at")),
            updatedAt: PlatformTime.string(try s.double("updated_at")))
    }

    /// Recomputes a submission's status and score from its jobs (ScoreAggregation), bumps its
    /// data version and, on PostgreSQL, mirrors it into the challenge's tables — all in `tx`.
    @discardableResult
    func refreshSubmission(_ tx: any SQLExecutor, id: String, now: Double, after writes: [SQLQuery] = []) async throws
        -> ChallengeDataManager.Snapshot
    {
        // The submission is read (on PostgreSQL locked) before its jobs, so concurrent results
        // for two of its jobs aggregate one after the other (PostgreSQL, READ COMMITTED), and
        // its new row is computed here from the row as locked. The caller's `writes` (its job's
        // new state) run in the same round trip, before the jobs are read.
        guard let current = try await tx.fetch(
            after: writes,
            """
            SELECT id, challenge_id, miner_hotkey, status, score, jobs_total, jobs_completed, jobs_failed, payload_kind,
              payload_sha256, created_at, updated_at, finished_at, data_version
            FROM submissions WHERE id = \(id)\(sql: tx.forUpdate)
            """).first
        else {
            throw APIError.notFound(PlatformErrorCode.submissionNotFound, "Submission \(id) vanished")
        }
        let jobs = try await tx.fetch("SELECT * FROM jobs WHERE submission_id = \(id) ORDER BY slot")
        let outcomes = try jobs.map { r in
            JobOutcome(status: JobStatus(rawValue: try r.string("status")) ?? .pending, score: try r.optionalDouble("score"))
        }
        let agg = ScoreAggregation.aggregate(outcomes)
        let finished = agg.status == .completed || agg.status == .failed
        let finishedAt = finished ? (try current.optionalDouble("finished_at") ?? now) : nil
        let version = try current.int("data_version") + 1
        let row = current.replacing([
            "status": .text(agg.status.rawValue), "score": .from(agg.score), "jobs_completed": .int(Int64(agg.completed)),
            "jobs_failed": .int(Int64(agg.failed)), "data_version": .int(version), "updated_at": .double(now),
            "finished_at": .from(finishedAt)])
        let snap = ChallengeDataManager.Snapshot(
            dataName: ChallengeDataManager.dataName(challengeId: try current.string("challenge_id")), submission: row, jobs: jobs)
        try await challengeData.record(tx, snap, update: """
            UPDATE submissions SET status = \(agg.status.rawValue), score = \(agg.score),
              jobs_completed = \(agg.completed), jobs_failed = \(agg.failed), data_version = \(version),
              updated_at = \(now), finished_at = \(finishedAt)
            WHERE id = \(id)
            """)
        return snap
    }

    // MARK: Validator job flow

    /// `GET /jobs/pending`: pending jobs of active challenges that `validator` may claim
    /// (not a second job of a submission it already evaluates), oldest first. The pending-job
    /// queue index read in order, as by `claimNext`'s pick: one plan serves whatever the values.
    public func pendingJobs(validator: String, limit: Int) async throws -> PendingJobsResponse {
        let rows = try await db.fetch(
            """
            \(sql: StatementHint.planOnce) SELECT j.id, j.challenge_id, j.submission_id, j.miner_hotkey, j.created_at FROM jobs j
            WHERE \(Self.claimable(by: validator))
            ORDER BY j.created_at, j.id LIMIT \(limit)
            """)
        return PendingJobsResponse(jobs: try rows.map { r in
            PendingJob(id: try r.string("id"), challengeId: try r.string("challenge_id"),
                       submissionId: try r.string("submission_id"), minerHotkey: try r.string("miner_hotkey"),
                       status: "pending", createdAt: PlatformTime.string(try r.double("created_at")))
        })
    }

    /// The jobs `j` that `validator` may claim: pending, of an active challenge, of a
    /// submission it holds no job of. Written on `jobs` alone, so the queue index
    /// (`jobs_queue`, `jobs_challenge_queue`) is read in claim order and the read stops at the
    /// first jobs that qualify. The check for a job of the same submission is one probe of
    /// `jobs_one_slot_per_validator` (submission, validator) per job read
    /// (`StatementHint.perRowProbe`: as an anti-join, a plan kept from a small table read every
    /// job the validator ever took on each claim — 200 rows after 1,600 jobs per validator).
    static func claimable(by validator: String) -> SQLQuery {
        """
        j.status = 'pending' AND EXISTS (SELECT 1 FROM challenges c WHERE c.id = j.challenge_id AND c.status = 'active')
          AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.submission_id = j.submission_id AND o.validator_hotkey = \(validator)\(sql: StatementHint.perRowProbe))
        """
    }

    /// What a claim reads of a job: the job, its challenge's status and its submission's payload.
    static let claimColumns = "j.*, c.status AS challenge_status, s.payload_kind AS payload_kind, s.payload AS payload"
    static let claimJoins = "jobs j JOIN challenges c ON c.id = j.challenge_id JOIN submissions s ON s.id = j.submission_id"

    /// `POST /jobs/{id}/claim`: exactly one concurrent claimer wins — the job is read under its
    /// lock (PostgreSQL; SQLite's writer takes one claim at a time), so a second claimer reads
    /// it claimed and gets 409.
    public func claim(jobId: String, validator: String, now: Double) async throws -> ClaimResponse {
        let response = try await db.transaction { tx in
            guard let row = try await tx.fetchOne(
                "SELECT \(sql: Self.claimColumns) FROM \(sql: Self.claimJoins) WHERE j.id = \(jobId)\(sql: tx.forUpdate(of: "j"))")
            else { throw Self.jobNotFound(jobId) }
            return try await claim(tx, row, validator: validator, now: now)
        }
        await challengeData.publish([response.1])
        return response.0
    }

    /// `POST /jobs/claim`: claims the oldest pending job the caller may take (of `challengeId`
    /// when given), or answers nil when there is none. Concurrent callers never pick the same
    /// job (PostgreSQL skips rows another claim holds; SQLite's writer takes one claim at a
    /// time), so no claim is lost to another validator. An unknown challenge is 404 and an
    /// inactive one 409, as for a claim by id. The pick reads the pending-job queue index in
    /// order whatever its values — a set bounded by the backlog, not by history — so its plan
    /// is kept (`StatementHint.planOnce`; planned on every claim it was 0.46 ms of PostgreSQL's
    /// time per claim).
    public func claimNext(validator: String, challengeId: String?, now: Double) async throws -> ClaimResponse? {
        let response = try await db.transaction { tx -> (ClaimResponse, ChallengeDataManager.Snapshot)? in
            let ofChallenge: SQLQuery = challengeId.map { "j.challenge_id = \($0) AND" } ?? ""
            // The pick is a subquery of its own (`j` inside it is the picked job), so the join
            // reads one job by id whatever the statistics, in the same round trip.
            if let row = try await tx.fetchOne(
                """
                \(sql: StatementHint.planOnce) SELECT \(sql: Self.claimColumns) FROM \(sql: Self.claimJoins) WHERE j.id = (
                  SELECT j.id FROM jobs j WHERE \(ofChallenge) \(Self.claimable(by: validator))
                  ORDER BY j.created_at, j.id LIMIT 1\(sql: tx.skipLocked))
                """)
            {
                return try await claim(tx, row, validator: validator, now: now)
            }
            if let challengeId {
                let c = try await challenge(tx, id: challengeId)
                guard c.isActive else {
                    throw APIError.conflict(PlatformErrorCode.challengeInactive, "Challenge \(c.name) is not active")
                }
            }
            return nil
        }
        guard let response else { return nil }
        await challengeData.publish([response.1])
        return response.0
    }

    /// Claims the job read in `row` (`claimColumns`) for `validator` inside `tx`.
    private func claim(_ tx: any SQLExecutor, _ row: SQLRow, validator: String, now: Double) async throws
        -> (ClaimResponse, ChallengeDataManager.Snapshot)
    {
        let job = try JobRow(row)
        let jobId = job.id
        guard try row.string("challenge_status") == "active" else {
            throw APIError.conflict(PlatformErrorCode.challengeInactive, "The job's challenge is not active")
        }
        let next: JobState
        do throws(JobTransitionError) {
            next = try job.state.applying(.claim(validator: validator, now: now, leaseSeconds: Double(job.claimTimeoutS)))
        } catch {
            let code = job.status.isInFlight ? PlatformErrorCode.jobAlreadyClaimed : PlatformErrorCode.jobNotPending
            throw APIError.conflict(code, "Job cannot be claimed: \(error.description)")
        }
        let alreadyHolds = APIError.conflict(
            PlatformErrorCode.alreadyEvaluatingSubmission,
            "You already hold a job of submission \(job.submissionId); each validator evaluates a submission once")
        // The row is held (read under its lock, or picked with one) and its transition was
        // checked above, so the write names only its key. A second job of a submission the
        // caller holds breaks the unique index `jobs_one_slot_per_validator`.
        let write: SQLQuery = """
            UPDATE jobs SET status = \(next.status.rawValue), validator_hotkey = \(validator),
              claimed_at = \(now), started_at = NULL,
              lease_expires_at = \(next.leaseExpiresAt), updated_at = \(now)
            WHERE id = \(jobId)
            """
        let snap: ChallengeDataManager.Snapshot
        do {
            snap = try await refreshSubmission(tx, id: job.submissionId, now: now, after: [write])
        } catch where Self.isUniqueViolation(error) {
            throw alreadyHolds
        }
        let payload = Self.payload(kind: try row.string("payload_kind"), text: try row.string("payload"))
        return (ClaimResponse(
            id: jobId, challengeId: job.challengeId, submissionId: job.submissionId, status: "claimed",
            minerHotkey: job.minerHotkey, claimExpiresAt: PlatformTime.string(next.leaseExpiresAt ?? now),
            attempt: next.attempt, payload: payload), snap)
    }

    /// `POST /jobs/{id}/start`: claimed → running (claimer only; repeating is a no-op).
    public func start(jobId: String, validator: String, now: Double) async throws -> JobView {
        let (view, snap) = try await db.transaction { tx in
            let job = try await job(tx, id: jobId, lock: true)
            let next: JobState
            do throws(JobTransitionError) { next = try job.state.applying(.start(validator: validator)) } catch {
                throw Self.mapResultError(error)
            }
            var snap: ChallengeDataManager.Snapshot?
            if next.status != job.status {
                try await tx.fetch(
                    "UPDATE jobs SET status = \(next.status.rawValue), started_at = \(now), updated_at = \(now) WHERE id = \(jobId) AND status = \(job.status.rawValue)")
                snap = try await refreshSubmission(tx, id: job.submissionId, now: now)
            }
            return (try await self.job(tx, id: jobId).view(payload: nil), snap)
        }
        if let snap { await challengeData.publish([snap]) }
        return view
    }

    static func mapResultError(_ error: JobTransitionError) -> APIError {
        switch error {
        case .notClaimer:
            return APIError.forbidden(PlatformErrorCode.notClaimer,
                                      "Only the validator holding the claim may do this (your claim may have expired)")
        case let .notInFlight(s) where s.isTerminal:
            return APIError.conflict(PlatformErrorCode.jobFinished, "Job already finished (\(s.rawValue))")
        default:
            return APIError.conflict(PlatformErrorCode.jobNotClaimed, "Job is not claimed or running: \(error.description)")
        }
    }

    func normalize(_ r: JobResultRequest) throws -> NormalizedResult {
        let error = r.error.map { String($0.prefix(4096)) }.flatMap { $0.isEmpty ? nil : $0 }
        if let s = r.score {
            guard s.isFinite, s >= 0 else {
                throw APIError.badRequest(PlatformErrorCode.invalidField, "score: must be a finite number ≥ 0")
            }
        } else if error == nil {
            throw APIError.badRequest(PlatformErrorCode.invalidField, "score: required unless error is set")
        }
        if let t = r.executionTimeMs, t < 0 {
            throw APIError.badRequest(PlatformErrorCode.invalidField, "execution_time_ms: must be ≥ 0")
        }
        var metrics: String?
        if let m = r.metrics {
            let text = try Self.encodeJSON(m)
            guard text.utf8.count <= limits.maxMetricsBytes else {
                throw APIError(.contentTooLarge, PlatformErrorCode.payloadTooLarge,
                               "metrics is \(text.utf8.count) bytes encoded; the limit is \(limits.maxMetricsBytes)")
            }
            metrics = text
        }
        var logsText: String?
        var truncated = false
        if let lines = r.logs {
            var kept = Array(lines.suffix(limits.maxLogLines))
            truncated = kept.count < lines.count
            for i in kept.indices where kept[i].utf8.count > limits.maxLogLineBytes {
                kept[i] = String(decoding: Array(kept[i].utf8.prefix(limits.maxLogLineBytes)), as: UTF8.self)
                truncated = true
            }
            logsText = try Self.encodeJSON(kept)
        }
        let canonical = try Self.encodeJSON(JobResultRequest(
            score: r.score, metrics: r.metrics, logs: r.logs, executionTimeMs: r.executionTimeMs, error: error))
        return NormalizedResult(score: r.score, metrics: metrics, logs: logsText, logsTruncated: truncated,
                                executionTimeMs: r.executionTimeMs, error: error,
                                fingerprint: sha256Hex(Array(canonical.utf8)))
    }

    /// `POST /jobs/{id}/results` (claimer only, from claimed/running). An identical repeat of
    /// the claimer's accepted result is accepted again and changes nothing.
    public func postResult(jobId: String, validator: String, result: JobResultRequest, now: Double) async throws {
        let r = try normalize(result)
        let snap: ChallengeDataManager.Snapshot? = try await db.transaction { tx in
            let job = try await job(tx, id: jobId, lock: true)
            let event: JobEvent = r.error.map { .fail(validator: validator, reason: $0) } ?? .complete(validator: validator)
            let next: JobState
            do throws(JobTransitionError) { next = try job.state.applying(event) } catch {
                if case .notInFlight = error, job.status.isTerminal, job.validatorHotkey == validator,
                    job.resultFingerprint == r.fingerprint
                {
                    return nil
                }
                throw Self.mapResultError(error)
            }
            // The row was read under its lock above and the transition checked on it, so the
            // write names only its key: a repeated guard on status and claimer let a plan made
            // on a small table (and kept) reach the row through the claimer's every job.
            let write: SQLQuery = """
                UPDATE jobs SET status = \(next.status.rawValue), score = \(r.score), metrics = \(r.metrics),
                  logs = \(r.logs), logs_truncated = \(r.logsTruncated),
                  execution_time_ms = \(r.executionTimeMs),
                  error = \(r.error), failure_reason = \(next.failureReason),
                    result_fingerprint = \(r.fingerprint), finished_at = \(now), lease_expires_at = NULL,
                  started_at = COALESCE(started_at, claimed_at), updated_at = \(now)
                WHERE id = \(jobId)
                """
            return try await refreshSubmission(tx, id: job.submissionId, now: now, after: [write])
        }
        if let snap { await challengeData.publish([snap]) }
    }

    /// `GET /jobs/{id}`; the payload only for the current claimer.
    public func jobView(id: String, viewer: String) async throws -> JobView {
        let job = try await job(db, id: id)
        var payload: SubmissionPayload?
        if job.status.isInFlight, job.validatorHotkey == viewer,
            let s = try await db.fetchOne("SELECT payload_kind, payload FROM submissions WHERE id = \(job.submissionId)")
        {
            payload = Self.payload(kind: try s.string("payload_kind"), text: try s.string("payload"))
        }
        return job.view(payload: payload)
    }

    // MARK: Cancellation and expiry

    /// `POST /admin/jobs/{id}/cancel`: tells the claimer (or, if unclaimed, every validator).
    public func cancelJob(id: String, now: Double) async throws -> JobView {
        let (view, submission) = try await db.transaction { tx in
            let job = try await job(tx, id: id, lock: true)
            let next: JobState
            do throws(JobTransitionError) { next = try job.state.applying(.cancel(reason: "cancelled by admin")) } catch {
                throw APIError.conflict(PlatformErrorCode.jobFinished, "Job cannot be cancelled: \(error.description)")
            }
            try await tx.fetch(
                """
                UPDATE jobs SET status = \(next.status.rawValue), failure_reason = \(next.failureReason),
                  finished_at = \(now), lease_expires_at = NULL, updated_at = \(now)
                WHERE id = \(id)
                """)
            try await emit(tx, [.jobCancelled(jobId: id, challengeId: job.challengeId,
                                              target: job.status.isInFlight ? job.validatorHotkey : nil,
                                              reason: "cancelled")], now: now)
            let snap = try await refreshSubmission(tx, id: job.submissionId, now: now)
            return (try await self.job(tx, id: id).view(payload: nil), snap)
        }
        signal.poke()
        await challengeData.publish([submission])
        return view
    }

    /// The claim-expiry sweep: every claimed or running job whose lease ended returns to
    /// pending (retry_count + 1, `job_cancelled` to the old claimer, `new_job` to everyone)
    /// or, out of retries, fails with reason "timeout". One transaction per batch.
    public func expireClaims(now: Double, batch: Int = 500) async throws -> ExpiryReport {
        let (report, touched) = try await db.transaction { tx in
            var report = ExpiryReport(requeued: [], failed: [])
            let rows = try await tx.fetch(
                """
                SELECT * FROM jobs WHERE status IN ('claimed', 'running') AND lease_expires_at <= \(now)
                ORDER BY lease_expires_at, id LIMIT \(batch)\(sql: tx.skipLocked)
                """)
            var drafts: [EventDraft] = []
            var submissions: [String] = []
            for r in rows {
                let job = try JobRow(r)
                guard let next = try? job.state.applying(.expire(now: now)) else { continue }
                if next.status == .pending {
                    try await tx.fetch(
                        """
                        UPDATE jobs SET status = \(next.status.rawValue), retry_count = \(next.retryCount),
                          validator_hotkey = NULL, claimed_at = NULL,
                          started_at = NULL, lease_expires_at = NULL, updated_at = \(now)
                        WHERE id = \(job.id)
                        """)
                    report.requeued.append(job.id)
                    drafts.append(.jobCancelled(jobId: job.id, challengeId: job.challengeId, target: job.validatorHotkey,
                                                reason: "claim_expired"))
                    drafts.append(.newJob(jobId: job.id, challengeId: job.challengeId))
                } else {
                    try await tx.fetch(
                        """
                        UPDATE jobs SET status = \(next.status.rawValue),
                          failure_reason = \(next.failureReason),
                          error = \("claim expired \(job.retryCount + 1) times"), finished_at = \(now),
                          lease_expires_at = NULL, updated_at = \(now)
                        WHERE id = \(job.id)
                        """)
                    report.failed.append(job.id)
                    drafts.append(.jobCancelled(jobId: job.id, challengeId: job.challengeId, target: job.validatorHotkey,
                                                reason: "claim_expired"))
                }
                if !submissions.contains(job.submissionId) { submissions.append(job.submissionId) }
            }
            try await emit(tx, drafts, now: now)
            var snaps: [ChallengeDataManager.Snapshot] = []
            for s in submissions { snaps.append(try await refreshSubmission(tx, id: s, now: now)) }
            return (report, snaps)
        }
        if !touched.isEmpty {
            signal.poke()
            await challengeData.publish(touched)
        }
        return report
    }
}
