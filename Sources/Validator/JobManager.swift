import Foundation
import Hotkeys
import Logging
import PlatformAPI
import ServiceKit
import ServiceLifecycle

/// Runs the validator's job loop (seed names: claim_job, has_capacity, check_challenge_updates;
/// the seed's fetch_pending_jobs listing is replaced by claims of the oldest pending job of each
/// challenge): keeps challenge checkouts in step with the platform, claims pending jobs while
/// it has capacity (job slots, per-challenge slots and the quota manager),
/// runs each on the executor, and reports every outcome — a failure or a rejected submission
/// is posted with `error` set, never dropped. `job_cancelled` cancels the running job, which
/// frees its resources (the platform already knows, so nothing is posted). `shutdown()`
/// stops claiming, cancels every running job (the executor kills its process group or
/// removes its VM) and posts each as failed with `error` before returning.
public actor JobManager {
    let client: PlatformClient
    let challenges: ChallengeManager
    let quota: CVMQuotaManager
    let executor: any Executor
    let config: ValidatorConfig
    let logger: Logger
    private var running: [String: (challenge: String, task: Task<Void, Never>)] = [:]
    private var knownChallenges: Set<String> = []
    /// Whether the active challenges were read at least once.
    private var synced = false
    private var stats = JobManagerStats()
    /// Jobs the platform cancelled (`job_cancelled`): their cancelled outcome is not posted.
    private var cancelledByPlatform: Set<String> = []
    private var shuttingDown = false

    /// The `error` posted for a job cancelled because the validator is stopping.
    public static let shutdownError = "cancelled: the validator is shutting down (SIGINT/SIGTERM)"

    /// Counts of the jobs this manager claimed or lost to another validator, and how they ended (`statistics`).
    public struct JobManagerStats: Sendable, Equatable {
        public var claimed = 0
        public var completed = 0
        public var failed = 0
        public var cancelled = 0
        public var lostClaims = 0
        /// Jobs cancelled by `shutdown()` (and posted as failed).
        public var cancelledAtShutdown = 0
    }

    public init(client: PlatformClient, challenges: ChallengeManager, quota: CVMQuotaManager, executor: any Executor,
                config: ValidatorConfig, logger: Logger) {
        self.client = client
        self.challenges = challenges
        self.quota = quota
        self.executor = executor
        self.config = config
        self.logger = logger
    }

    public var statistics: JobManagerStats { stats }
    public var runningJobs: [String] { Array(running.keys) }

    /// Syncs checkouts and quota reservations with `GET /challenges/active`.
    public func checkChallengeUpdates() async throws {
        let active = try await client.getChallenges()
        let specs = active.map {
            ChallengeSpec(id: $0.id, name: $0.name, githubRepo: $0.githubRepo, githubCommit: $0.githubCommit,
                          composeHash: $0.composeHash, emissionShare: $0.emissionShare, mechanismId: $0.mechanismId)
        }
        let failures = await challenges.sync(active: specs)
        for (id, why) in failures.sorted(by: { $0.key < $1.key }) {
            logger.error("challenge not provisioned", metadata: ["challenge": "\(id)", "error": "\(why)"])
        }
        await quota.setActiveChallenges(Dictionary(uniqueKeysWithValues: specs.map { ($0.id, $0.emissionShare) }))
        knownChallenges = Set(specs.map(\.id))
        synced = true
    }

    /// Whether a job of this challenge could start now.
    public func hasCapacity(challengeId: String) async -> Bool {
        guard running.count < config.maxConcurrentJobs else { return false }
        guard running.values.filter({ $0.challenge == challengeId }).count < config.perChallengeConcurrency else {
            return false
        }
        // The seed's ChallengeManager.get_challenge_status: only a ready (or updating, still
        // serving the old checkout) challenge takes jobs.
        guard let status = await challenges.getChallengeStatus(id: challengeId),
              status.state == .ready || status.state == .updating,
              let challenge = await challenges.challenge(id: challengeId)
        else { return false }
        return await quota.checkCapacity(challenge.declaration.resources, for: challengeId)
    }

    /// One polling pass: claims what capacity allows, round-robin over the active challenges —
    /// each round takes, for every challenge with capacity, the oldest pending job of it the
    /// platform gives this validator (`POST /jobs/claim?challenge_id=`) — until `claimBatch`
    /// are claimed or no challenge has a job left. No listing is read, and validators polling
    /// together never lose claims to each other. The first pass syncs the challenges first.
    public func pollOnce() async {
        guard !shuttingDown else { return }
        if !synced {
            do { try await checkChallengeUpdates() } catch {
                logger.warning("challenge sync failed", metadata: ["error": "\(error)"])
                return
            }
        }
        var open = knownChallenges.sorted()
        var claimedNow = 0
        while claimedNow < config.claimBatch, !open.isEmpty, !shuttingDown {
            var again: [String] = []
            for id in open where claimedNow < config.claimBatch && !shuttingDown {
                guard await hasCapacity(challengeId: id) else { continue }
                if await claimJob(ofChallenge: id) {
                    claimedNow += 1
                    again.append(id)
                }
            }
            open = again
        }
    }

    /// Reserves resources for a job of the challenge, claims the oldest pending job of it the
    /// platform gives this validator and starts it. False when none was left, the claim was
    /// lost or refused, or there was no environment or quota for it.
    @discardableResult
    public func claimJob(ofChallenge challengeId: String) async -> Bool {
        guard !shuttingDown else { return false }
        let lease: ChallengeLease
        do { lease = try await challenges.acquire(id: challengeId) } catch {
            logger.warning("challenge not ready", metadata: ["challenge": "\(challengeId)", "error": "\(error)"])
            return false
        }
        let allocation: QuotaAllocation
        do { allocation = try await quota.allocate(lease.challenge.declaration.resources, for: challengeId) } catch {
            await challenges.release(lease)
            return false
        }
        var claimed: ClaimResponse?
        do { claimed = try await client.claimNextJob(challengeId: challengeId) } catch {
            if case PlatformClientError.conflict = error { stats.lostClaims += 1 } else {
                logger.warning("claim failed", metadata: ["challenge": "\(challengeId)", "error": "\(error)"])
            }
        }
        // Nothing claimed, or a claim of ours had lapsed and the job came back to us (the run
        // already under way reports it): the reservation goes back.
        guard let claim = claimed, running[claim.id] == nil else {
            await quota.release(allocation)
            await challenges.release(lease)
            return claimed != nil
        }
        stats.claimed += 1
        logger.info("claimed job", metadata: ["job": "\(claim.id)", "challenge": "\(claim.challengeId)"])
        let task = Task { [client, executor, config, logger] in
            let outcome: JobOutcome
            if let code = claim.payload.code {
                try? await client.startJob(claim.id)
                outcome = await executor.execute(
                    job: EvaluationJob(jobId: claim.id, challengeId: claim.challengeId, submissionId: claim.submissionId,
                                       minerHotkey: claim.minerHotkey, submission: Submission(text: code),
                                       resources: lease.challenge.declaration.resources,
                                       timeoutSeconds: config.jobTimeoutSeconds),
                    challenge: lease.challenge)
            } else {
                outcome = JobOutcome(status: .failed, error: "artifact submissions are not supported by this validator")
            }
            // Reported from a task of its own: a job cancelled at shutdown runs this in a
            // cancelled task, where the HTTP client would refuse to send the report.
            await Task { await self.finish(jobId: claim.id, outcome: outcome, allocation: allocation, lease: lease) }.value
            _ = logger
        }
        running[claim.id] = (claim.challengeId, task)
        // Shutdown began while the claim was in flight: the job is ours, so cancel and report it.
        if shuttingDown { task.cancel() }
        return true
    }

    /// Frees the job's resources and reports its outcome. The job stays in `running` until its
    /// report is done, so `shutdown()` (which waits for every job in `running`) never returns
    /// while a report of a job that ended a moment before is still in flight.
    private func finish(jobId: String, outcome: JobOutcome, allocation: QuotaAllocation, lease: ChallengeLease) async {
        defer { running[jobId] = nil }
        await quota.release(allocation)
        await challenges.release(lease)
        let platformCancelled = cancelledByPlatform.remove(jobId) != nil
        var outcome = outcome
        if outcome.status == .cancelled {
            if platformCancelled {
                stats.cancelled += 1
                logger.info("job cancelled", metadata: ["job": "\(jobId)"])
                return
            }
            // Cancelled here (shutdown), not by the platform: it still counts the job as ours.
            stats.cancelledAtShutdown += 1
            outcome.error = Self.shutdownError
        }
        let result = Self.results(of: outcome)
        var delay = 0.5
        let attempts = shuttingDown ? 2 : 6
        for attempt in 1...attempts {
            do {
                try await client.submitResults(jobId, result)
                if result.error == nil { stats.completed += 1 } else { stats.failed += 1 }
                logger.info("job reported", metadata: [
                    "job": "\(jobId)", "score": "\(result.score.map { String($0) } ?? "-")",
                    "error": "\(result.error ?? "-")",
                ])
                return
            } catch PlatformClientError.unavailable(let why) where attempt < attempts {
                logger.warning("cannot report job yet", metadata: ["job": "\(jobId)", "error": "\(why)"])
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 10)
            } catch {
                logger.error("job result refused", metadata: ["job": "\(jobId)", "error": "\(error)"])
                return
            }
        }
    }

    /// The results body for an outcome. Completed with a finite score → `score`, no
    /// `error`. Rejected (the evaluator refused the submission) → its score (0 unless the
    /// evaluator gave one) **and** `error` saying why. Anything else (crash, timeout, VM
    /// failure, cancelled at shutdown) → no score, `error` set.
    static func results(of outcome: JobOutcome) -> JobResultRequest {
        let metrics = (try? JSONDecoder().decode(
            [String: JSONValue].self, from: JSONEncoder().encode(outcome.metrics))) ?? [:]
        let logs = Array(outcome.logs.suffix(200))
        switch outcome.status {
        case .completed:
            if let score = outcome.score, score.isFinite {
                return JobResultRequest(score: max(0, score), metrics: metrics, logs: logs,
                                        executionTimeMs: outcome.executionTimeMs, error: nil)
            }
            return JobResultRequest(score: nil, metrics: metrics, logs: logs, executionTimeMs: outcome.executionTimeMs,
                                    error: outcome.error ?? "the evaluator reported no finite score")
        case .rejected:
            let score = outcome.score.flatMap { $0.isFinite ? max(0, $0) : nil } ?? 0
            let why = outcome.error ?? outcome.exitStatus ?? "no reason given"
            return JobResultRequest(score: score, metrics: metrics, logs: logs, executionTimeMs: outcome.executionTimeMs,
                                    error: why.hasPrefix("submission rejected") ? why : "submission rejected: \(why)")
        case .failed, .timeout, .cancelled:
            let why = outcome.error ?? outcome.exitStatus ?? outcome.status.rawValue
            return JobResultRequest(score: nil, metrics: metrics, logs: logs, executionTimeMs: outcome.executionTimeMs,
                                    error: why)
        }
    }

    /// Reacts to a pushed event.
    public func handle(_ message: PlatformServerMessage) async {
        switch message {
        case let .newJob(m):
            // A job of a challenge this validator has not read yet (created since the last
            // sync): read the active challenges first, so this pass can claim it.
            if !knownChallenges.contains(m.challengeId) {
                do { try await checkChallengeUpdates() } catch {
                    logger.warning("challenge sync failed", metadata: ["error": "\(error)"])
                }
            }
            await pollOnce()
        case .challengeUpdated:
            do { try await checkChallengeUpdates() } catch {
                logger.warning("challenge sync failed", metadata: ["error": "\(error)"])
            }
        case let .jobCancelled(m):
            if let entry = running[m.jobId] {
                logger.info("cancelling job", metadata: ["job": "\(m.jobId)", "reason": "\(m.reason ?? "-")"])
                cancelledByPlatform.insert(m.jobId)
                entry.task.cancel()
            }
        default:
            break
        }
    }

    /// Waits for running jobs to end on their own (tests).
    public func drain() async {
        while let (_, entry) = running.first {
            await entry.task.value
        }
    }

    /// Stops the validator's work: claims nothing more, cancels every running job (the
    /// executor kills its process group or stops and removes its VM) and returns once each
    /// has been posted as failed with `error` = `shutdownError` (a job that finished anyway
    /// is posted with its real outcome).
    public func shutdown() async {
        shuttingDown = true
        if !running.isEmpty {
            logger.info("shutting down: cancelling running jobs", metadata: ["jobs": "\(running.keys.sorted())"])
        }
        for entry in running.values { entry.task.cancel() }
        while let (_, entry) = running.first {
            entry.task.cancel()
            await entry.task.value
        }
    }
}

/// The validator daemon as a service: WebSocket push plus periodic polling and challenge
/// sync, until graceful shutdown; running jobs are cancelled and reported on the way out.
public struct ValidatorService: Service {
    let manager: JobManager
    let client: PlatformClient
    let config: ValidatorConfig
    let logger: Logger

    public init(manager: JobManager, client: PlatformClient, config: ValidatorConfig, logger: Logger) {
        self.manager = manager
        self.client = client
        self.config = config
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await client.runWebSocket(onConnect: { await manager.pollOnce() },
                                              onMessage: { await manager.handle($0) })
                }
                group.addTask {
                    var lastSync = Date.distantPast
                    while !Task.isCancelled {
                        if Date().timeIntervalSince(lastSync) >= config.challengeSyncIntervalSeconds {
                            do { try await manager.checkChallengeUpdates() } catch {
                                logger.warning("challenge sync failed", metadata: ["error": "\(error)"])
                            }
                            lastSync = Date()
                        }
                        await manager.pollOnce()
                        try? await Task.sleep(for: .milliseconds(Int(config.pollIntervalSeconds * 1000)))
                    }
                }
                await group.waitForAll()
            }
        }
        // Graceful shutdown (SIGINT/SIGTERM or ServiceStopper.stop): nothing is polled any
        // more; cancel the running jobs and post each as failed before the process exits.
        await manager.shutdown()
    }
}

/// Why `runValidator` did not start.
public enum ValidatorStartError: Error, CustomStringConvertible, Sendable {
    case isolationUnavailable(String)

    public var description: String {
        switch self {
        case let .isolationUnavailable(why): return "the validator will not evaluate jobs: \(why)"
        }
    }
}

/// Builds the validator from its configuration (executor, checkouts, quota, job manager) and
/// runs it until SIGINT/SIGTERM or `stopper.stop()`. Throws `ValidatorStartError` instead of
/// starting when the local executor's sandbox is required but does not work on this host.
public func runValidator(config: ValidatorConfig, keypair: SR25519Keypair, logger: Logger,
                         stopper: ServiceStopper = ServiceStopper(),
                         onStart: (@Sendable (JobManager) async -> Void)? = nil) async throws {
    try FileManager.default.createDirectory(at: config.challengeCacheDirectory, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: config.jobsDirectory, withIntermediateDirectories: true)
    let client = PlatformClient(baseURL: config.platformAPIURL, keypair: keypair, logger: logger)
    let quota = CVMQuotaManager(capacity: config.resourceLimits, parameters: config.quota)
    let challenges = ChallengeManager(cacheDirectory: config.challengeCacheDirectory, logger: logger)
    let executor = config.makeExecutor(logger: logger)
    if let local = executor as? LocalExecutor {
        let isolation = local.isolation
        if let refusal = isolation.refusal {
            logger.error("local executor refuses evaluations", metadata: ["reason": "\(refusal)"])
            // A required sandbox (or network isolation) that this host cannot give: claim
            // nothing rather than fail every job.
            if config.sandboxMode == .required { throw ValidatorStartError.isolationUnavailable(refusal) }
        } else if isolation.sandboxed {
            logger.info("evaluator isolation", metadata: ["isolation": "\(isolation.summary)"])
        } else {
            logger.warning("evaluator isolation", metadata: ["isolation": "\(isolation.summary)"])
        }
    }
    let manager = JobManager(client: client, challenges: challenges, quota: quota, executor: executor, config: config,
                             logger: logger)
    logger.info("validator starting", metadata: [
        "hotkey": "\(keypair.publicKey.ss58Address)", "platform": "\(config.platformAPIURL)",
        "executor": "\(executor.name)",
    ])
    await onStart?(manager)
    try await stopper.run(
        [ValidatorService(manager: manager, client: client, config: config, logger: logger),
         quota.periodicTask(interval: config.quotaRecomputeIntervalSeconds, logger: logger)],
        logger: logger)
}
