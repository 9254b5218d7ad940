/// # PlatformCore
///
/// Owns the Platform's domain rules as pure values (no I/O): the evaluation-job state
/// machine (`JobState`, pending → claimed → running → completed | failed, cancelled, with
/// claim expiry and retries), the emission-share rule per mechanism (`EmissionShares`),
/// how a submission's jobs aggregate into its status and score (`ScoreAggregation`), the
/// per-challenge leaderboard and per-mechanism weights (`Leaderboard`, `WeightRule`), and the
/// lexical guard of the read-only query endpoint (`QueryGuard`). `PlatformServer` applies
/// these rules inside its transactions.
import Foundation

/// Status of one evaluation job.
public enum JobStatus: String, Sendable, CaseIterable, Codable {
    case pending
    case claimed
    case running
    case completed
    case failed
    case cancelled

    /// No further transition is possible.
    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
    /// A validator holds the job (its claim may expire).
    public var isInFlight: Bool { self == .claimed || self == .running }
}

/// The state of one job that the transition rules need.
public struct JobState: Sendable, Equatable {
    public var status: JobStatus
    /// The validator holding (or that finished) the job; nil while pending.
    public var claimer: String?
    /// How many times an expired claim has returned the job to pending.
    public var retryCount: Int
    /// A job returns to pending at most `maxRetries` times; the next expiry fails it.
    public var maxRetries: Int
    public var leaseExpiresAt: Double?
    public var failureReason: String?

    public init(status: JobStatus = .pending, claimer: String? = nil, retryCount: Int = 0, maxRetries: Int,
                leaseExpiresAt: Double? = nil, failureReason: String? = nil) {
        self.status = status
        self.claimer = claimer
        self.retryCount = retryCount
        self.maxRetries = maxRetries
        self.leaseExpiresAt = leaseExpiresAt
        self.failureReason = failureReason
    }

    /// The claim number a claim made now would be (1 for the first).
    public var attempt: Int { retryCount + 1 }
}

/// Something that happens to a job.
public enum JobEvent: Sendable, Equatable {
    /// A validator claims the job; the claim lasts `leaseSeconds`.
    case claim(validator: String, now: Double, leaseSeconds: Double)
    /// The claimer reports it started executing (claimed → running; repeating it is a no-op).
    case start(validator: String)
    /// The claimer posts a successful result.
    case complete(validator: String)
    /// The claimer posts a result with an error.
    case fail(validator: String, reason: String)
    /// The sweeper finds the claim past its lease.
    case expire(now: Double)
    /// An admin cancels the job.
    case cancel(reason: String)
}

/// Why a transition is refused. The server maps these to HTTP statuses.
public enum JobTransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Only a pending job can be claimed (409).
    case notPending(JobStatus)
    /// Another validator holds (or finished) the job (403).
    case notClaimer(claimer: String?)
    /// The job is not claimed or running, so it cannot start or take results (409).
    case notInFlight(JobStatus)
    /// The claim has not expired yet.
    case leaseNotExpired(expiresAt: Double)
    /// A finished job cannot be cancelled (409).
    case alreadyFinished(JobStatus)

    public var description: String {
        switch self {
        case let .notPending(s): return "job is \(s.rawValue), not pending"
        case let .notClaimer(c): return "job is held by another validator (\(c ?? "none"))"
        case let .notInFlight(s): return "job is \(s.rawValue), not claimed or running"
        case let .leaseNotExpired(t): return "claim is valid until \(t)"
        case let .alreadyFinished(s): return "job already finished (\(s.rawValue))"
        }
    }
}

extension JobState {
    /// The state after `event`, or why the event is not allowed now.
    ///
    /// - claim: pending → claimed (sets claimer and lease).
    /// - start: claimed → running by the claimer; running → running is a no-op.
    /// - complete / fail: claimed | running → completed / failed, by the claimer only.
    /// - expire: claimed | running past the lease → pending (retry_count + 1) while
    ///   `retryCount < maxRetries`, else failed with reason "timeout".
    /// - cancel: pending | claimed | running → cancelled.
    public func applying(_ event: JobEvent) throws(JobTransitionError) -> JobState {
        var next = self
        switch event {
        case let .claim(validator, now, lease):
            guard status == .pending else { throw .notPending(status) }
            next.status = .claimed
            next.claimer = validator
            next.leaseExpiresAt = now + lease
        case let .start(validator):
            try requireClaimer(validator)
            next.status = .running
        case let .complete(validator):
            try requireClaimer(validator)
            next.status = .completed
            next.leaseExpiresAt = nil
        case let .fail(validator, reason):
            try requireClaimer(validator)
            next.status = .failed
            next.failureReason = reason
            next.leaseExpiresAt = nil
        case let .expire(now):
            guard status.isInFlight else { throw .notInFlight(status) }
            if let lease = leaseExpiresAt, lease > now { throw .leaseNotExpired(expiresAt: lease) }
            if retryCount < maxRetries {
                next.status = .pending
                next.retryCount += 1
                next.claimer = nil
                next.leaseExpiresAt = nil
            } else {
                next.status = .failed
                next.failureReason = "timeout"
                next.leaseExpiresAt = nil
            }
        case let .cancel(reason):
            guard !status.isTerminal else { throw .alreadyFinished(status) }
            next.status = .cancelled
            next.failureReason = reason
            next.leaseExpiresAt = nil
        }
        return next
    }

    private func requireClaimer(_ validator: String) throws(JobTransitionError) {
        if status.isInFlight {
            guard claimer == validator else { throw .notClaimer(claimer: claimer) }
            return
        }
        if let claimer, claimer != validator { throw .notClaimer(claimer: claimer) }
        throw .notInFlight(status)
    }
}
