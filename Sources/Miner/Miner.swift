/// # Miner
///
/// Owns the miner side of pool mining: `PoolClient` (signed HTTP calls with the shared
/// `PoolAPI` wire types) and `MinerLoop`, which registers a hotkey, then repeats
/// lease → evaluate (MinerEngine's deterministic suite) → evolve (regularized evolution
/// seeded from the lease) → submit, with backoff on network errors, a progress line,
/// and a clean stop that submits the lease in hand.
import AlgorithmDSL
import Foundation
import MinerEngine
import PoolAPI
import Synchronization

/// Set from a signal handler; the loop stops after the lease in hand.
public final class StopSignal: Sendable {
    private let state = Mutex(0)
    public init() {}
    /// Returns how many times a stop was requested so far (including this one).
    @discardableResult public func request() -> Int { state.withLock { $0 += 1; return $0 } }
    public var isRequested: Bool { state.withLock { $0 > 0 } }
}

/// Settings of `MinerLoop`: task type, lease sizes, workers, evolution budget, suite and when to stop.
public struct MinerOptions: Sendable {
    public var taskType = "scalar_linear"
    public var evalBatchSize = 8
    public var seedBatchSize = 4
    public var gossipLimit = 5
    public var workers = 1
    /// Generations of evolution per lease (the reference client runs up to 160).
    public var generations = 160
    /// Seconds kept free before `timeout_at` for the submit itself.
    public var submitBufferSeconds = 15.0
    public var suite = SuiteConfig()
    /// Stop after this many submitted leases (nil: run until stopped).
    public var maxLeases: Int?
    /// Stop after this many seconds (nil: run until stopped).
    public var durationSeconds: Double?
    public var randomSeed: UInt64 = UInt64.random(in: 1...UInt64.max)
    /// Functional-equivalence cache and hurdles in the search (`SearchOptions.fast`).
    public var search = SearchOptions.fast
    /// Tasks beyond the public suite that evolution scores programs on (0: the public suite alone).
    public var searchExtraTasks = 8
    public var searchSeed = 7771
    /// Tasks of the selection suite the best programs are re-scored on before one is submitted
    /// (0: submit the search's best as is).
    public var selectionTasks = 16
    public var selectionSeed = 424_242
    /// When set, the search's counters are added to it after each lease (benchmarks).
    public var counters: SearchCounters?

    public init() {}
}

/// Running totals of a miner's search, shared with whoever watches it.
public final class SearchCounters: Sendable {
    public struct Totals: Sendable, Equatable {
        /// Children produced by evolution (candidates considered).
        public var generations = 0
        /// Programs run through the engine (cache and FEC hits excluded; hurdle stops included).
        public var evaluations = 0
        public var functionalCacheHits = 0
        public var hurdleStops = 0
        /// Lease candidates evaluated in full on the public suite.
        public var leaseEvaluations = 0
    }

    private let state = Mutex(Totals())
    public init() {}
    public var totals: Totals { state.withLock { $0 } }
    func add(_ t: Totals) {
        state.withLock {
            $0.generations += t.generations
            $0.evaluations += t.evaluations
            $0.functionalCacheHits += t.functionalCacheHits
            $0.hurdleStops += t.hurdleStops
            $0.leaseEvaluations += t.leaseEvaluations
        }
    }
}

/// What `MinerLoop.run` did: leases submitted, evaluations, evolutions, best score, reputation.
public struct MinerSummary: Sendable, Equatable {
    public var leasesCompleted = 0
    public var evaluations = 0
    public var evolutionsSubmitted = 0
    public var bestScore = -Double.infinity
    public var reputation = 0.0
    public var reputationHistory: [Double] = []
    /// This miner's own candidates waiting for evaluators, as of the last lease.
    public var candidatesWaiting: Int64 = 0
}

/// The evaluators of one public suite: the suite itself (lease evaluations, exact), the search
/// suite (public + extra tasks) and the selection suite (tasks neither of them has).
public struct MinerSuites: Sendable {
    public let publicSuite: Evaluator
    public let search: Evaluator
    public let selection: Evaluator?

    public init(taskType: String, publicConfig: SuiteConfig, options: MinerOptions) throws(EngineError) {
        publicSuite = try Evaluator(taskType: taskType, config: publicConfig)
        let searchConfig = try Selection.searchSuite(public: publicConfig, taskType: taskType,
                                                     extraTasks: options.searchExtraTasks, seed: options.searchSeed)
        if searchConfig == publicConfig {
            search = publicSuite
        } else {
            search = try Evaluator(taskType: taskType, config: searchConfig)
        }
        if options.selectionTasks > 0 {
            var config = try SuiteConfig.disjoint(
                taskType: taskType, seed: options.selectionSeed, count: options.selectionTasks,
                samples: publicConfig.nSamples, inputDim: publicConfig.inputDim, excluding: [publicConfig, searchConfig])
            config.cifarDirectory = publicConfig.cifarDirectory
            selection = try Evaluator(taskType: taskType, config: config)
        } else {
            selection = nil
        }
    }
}

/// The mining loop: register, then lease → evaluate → evolve → submit until stopped.
public struct MinerLoop: Sendable {
    let client: PoolClient
    let options: MinerOptions
    let output: @Sendable (String) -> Void

    public init(client: PoolClient, options: MinerOptions, output: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.options = options
        self.output = output
    }

    /// Retries `body` on transient failures with capped exponential backoff and jitter.
    func retrying<T: Sendable>(_ what: String, stop: StopSignal, until deadline: Date? = nil,
                               _ body: () async throws -> T) async throws -> T {
        var delay = 0.5
        while true {
            do { return try await body() } catch let PoolClientError.transient(why) {
                if stop.isRequested && deadline == nil { throw PoolClientError.transient(why) }
                if let deadline, Date().addingTimeInterval(delay) > deadline { throw PoolClientError.transient(why) }
                output("\(what): \(why); retrying in \(String(format: "%.1f", delay)) s")
                try await Task.sleep(for: .milliseconds(Int(delay * 1000 * Double.random(in: 0.8...1.2))))
                delay = min(delay * 2, 30)
            }
        }
    }

    public func run(stop: StopSignal) async throws -> MinerSummary {
        let started = Date()
        let initial = try MinerSuites(taskType: options.taskType, publicConfig: options.suite, options: options)
        var suites = [options.suite: initial]
        let info = try await retrying("register", stop: stop) { try await client.register() }
        output("registered \(info.hotkey) (reputation \(format(info.reputation))); data: \(suites[options.suite]?.publicSuite.dataSource.description ?? "-"); jobs: \(max(1, options.workers))")
        var lastWaitingNote = Date.distantPast
        var summary = MinerSummary()
        var leaseNumber = 0
        while !stop.isRequested {
            if let max = options.maxLeases, summary.leasesCompleted >= max { break }
            if let d = options.durationSeconds, Date().timeIntervalSince(started) >= d { break }
            let lease: LeaseResponse
            do {
                lease = try await retrying("lease", stop: stop) {
                    try await client.lease(LeaseRequest(
                        taskType: options.taskType, evalBatchSize: options.evalBatchSize,
                        seedBatchSize: options.seedBatchSize, gossipLimit: options.gossipLimit))
                }
            } catch PoolClientError.notFound {
                try await Task.sleep(for: .seconds(2))
                continue
            } catch let PoolClientError.rejected(_, code, detail, retryAfter) where code == PoolErrorCode.activeTask {
                // A lease left over from an earlier run of this hotkey: give it back.
                output("\(detail); abandoning it")
                try? await client.abandonActive()
                try await Task.sleep(for: .seconds(Double(retryAfter ?? 1) / 5))
                continue
            } catch let PoolClientError.rejected(_, code, _, retryAfter) where code == PoolErrorCode.windowExhausted {
                let wait = min(Double(retryAfter ?? 20), 60)
                output("window quota used; waiting \(Int(wait)) s")
                try await Task.sleep(for: .seconds(wait))
                continue
            }
            leaseNumber += 1
            // Under suite rotation the lease names the window's suite; every evaluator of the
            // window uses it, so consensus holds within the window.
            let config = Self.suiteConfig(for: lease.evalSuite, base: options.suite)
            if suites[config] == nil {
                if suites.count > 4 { suites = suites.filter { $0.key == options.suite } }
                suites[config] = try MinerSuites(taskType: options.taskType, publicConfig: config, options: options)
            }
            guard let current = suites[config] else { continue }
            let submission = await work(on: lease, suites: current, stop: stop, summary: &summary)
            let deadline = WireTime.parse(lease.timeoutAt).map { Date(timeIntervalSince1970: $0) }
            do {
                let result = try await retrying("submit", stop: stop, until: deadline ?? Date().addingTimeInterval(30)) {
                    try await client.submit(leaseId: lease.leaseId, submission)
                }
                summary.leasesCompleted += 1
                summary.evaluations += result.evaluationsAccepted + result.evaluationsInvalid
                summary.evolutionsSubmitted += result.evolutionsAccepted.count
                for r in result.evolutionsRejected { output("evolution \(r.index) refused (\(r.code)): \(r.detail)") }
            } catch let error as PoolClientError {
                output("lease \(lease.leaseId.prefix(8)) not submitted: \(error)")
                continue
            }
            if let stats = try? await client.stats() {
                summary.reputation = stats.reputation
                summary.reputationHistory.append(stats.reputation)
                summary.candidatesWaiting = stats.ownCandidatesWaiting ?? 0
                if let note = Self.waitingNote(stats), Date().timeIntervalSince(lastWaitingNote) >= 60 {
                    output(note)
                    lastWaitingNote = Date()
                }
            }
            output(String(
                format: "lease %d %@ | window %lld | evaluated %d | evolved %d | best %@ | reputation %@ | own candidates waiting %lld",
                leaseNumber, String(lease.leaseId.prefix(8)), lease.windowNumber, submission.evaluations.count,
                submission.evolutions.count, format(summary.bestScore), format(summary.reputation), summary.candidatesWaiting))
        }
        if stop.isRequested { output("stopped after submitting the lease in hand") }
        return summary
    }

    /// The public suite of a lease: the window's rotated suite when the lease names one, else `base`.
    public static func suiteConfig(for suite: EvalSuite?, base: SuiteConfig) -> SuiteConfig {
        guard let suite else { return base }
        var config = base
        config.seed = suite.seed
        config.taskCount = suite.taskCount
        config.nSamples = suite.samples
        config.taskIDs = nil
        return config
    }

    /// A line for a miner whose candidates wait for evaluators, saying why when the pool has too
    /// few miners for consensus; nil when none of its candidates waits.
    public static func waitingNote(_ stats: StatsResponse) -> String? {
        guard let waiting = stats.ownCandidatesWaiting, waiting > 0 else { return nil }
        guard let k = stats.consensusThreshold else { return "\(waiting) of your candidates are waiting for evaluators" }
        let others = max(0, stats.pool.minersActiveWindow - 1)
        if others < Int64(k) {
            return "\(waiting) of your candidates are waiting for evaluators: consensus needs \(k) miners other than you "
                + "(the pool has \(others) other active this window; a miner never evaluates its own candidates)"
        }
        return "\(waiting) of your candidates are waiting for evaluators (consensus needs \(k) of the \(others) other miners)"
    }

    /// Evaluates the lease's algorithms and evolves from the best of them, within the lease's time.
    func work(on lease: LeaseResponse, suites: MinerSuites, stop: StopSignal, summary: inout MinerSummary) async
        -> LeaseSubmission
    {
        let evaluator = suites.publicSuite
        let timeout = WireTime.parse(lease.timeoutAt) ?? (Date().timeIntervalSince1970 + 60)
        let deadline = timeout - options.submitBufferSeconds
        let workers = max(1, options.workers)
        // Evaluate in `workers` parallel slices, exactly on the public suite.
        let records = lease.evaluateAlgorithms
        let scores: [(Int64, Double)] = await withTaskGroup(of: [(Int64, Double)].self) { group in
            for w in 0..<workers {
                group.addTask {
                    var out: [(Int64, Double)] = []
                    for (i, r) in records.enumerated() where i % workers == w {
                        if Date().timeIntervalSince1970 >= deadline { break }
                        out.append((r.id, evaluator.score(dsl: r.algorithmDsl)))
                    }
                    return out
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        let evaluations = scores.sorted { $0.0 < $1.0 }.map { EvaluationEntry(algorithmId: $0.0, score: $0.1) }
        var iterations = evaluations.count
        if let counters = options.counters {
            var t = SearchCounters.Totals()
            t.leaseEvaluations = evaluations.count
            counters.add(t)
        }

        var evolutions: [EvolutionEntry] = []
        if lease.evolveBudget > 0 && !stop.isRequested {
            let byId = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
            let ranked = scores.filter { $0.1.isFinite }.sorted { $0.1 > $1.1 }.compactMap { byId[$0.0] }
            let parents = Array((ranked.prefix(4) + lease.seedAlgorithms).prefix(8))
            let seedDSLs = parents.map(\.algorithmDsl)
            let generations = options.generations
            let base = options.randomSeed &+ UInt64(bitPattern: Int64(lease.leaseId.hashValue))
            let search = suites.search
            let searchOptions = options.search
            struct Outcome: Sendable {
                var top: [String]
                var score: Double
                var generations: Int
                var result: EvolutionResult
            }
            // One evolver (one interpreter at a time) per job.
            let results: [Outcome] = await withTaskGroup(of: Outcome?.self) { group in
                for w in 0..<workers {
                    group.addTask {
                        guard var evolver = try? Evolver(
                            taskType: search.taskType, evaluator: search, seed: base &+ UInt64(w), seedDSLs: seedDSLs,
                            options: searchOptions)
                        else { return nil }
                        var last = evolver.run(generations: 0)
                        var done = 0
                        while done < generations && Date().timeIntervalSince1970 < deadline && !stop.isRequested {
                            let chunk = min(10, generations - done)
                            last = evolver.run(generations: chunk)
                            done += chunk
                        }
                        let top = [last.bestDSL] + evolver.topCandidates(limit: 4).map(\.dsl)
                        return Outcome(top: top, score: last.bestScore, generations: done, result: last)
                    }
                }
                return await group.reduce(into: []) { acc, r in if let r { acc.append(r) } }
            }
            iterations += results.reduce(0) { $0 + $1.generations }
            if let counters = options.counters {
                var t = SearchCounters.Totals()
                for r in results {
                    t.generations += r.result.totalGenerations
                    t.evaluations += r.result.evaluations
                    t.functionalCacheHits += r.result.functionalCacheHits
                    t.hurdleStops += r.result.hurdleStops
                }
                counters.add(t)
            }
            // Before submitting, the best programs are checked on the selection tasks; the one
            // that holds up best (mean of public and selection score) is submitted.
            let pool = results.sorted { $0.score > $1.score }.flatMap(\.top)
            var chosen: (dsl: String, score: Double)?
            if let selection = suites.selection {
                if let pick = Selection.pick(pool, publicSuite: evaluator, selectionSuite: selection) {
                    chosen = (pick.dsl, pick.publicScore)
                }
            } else if let best = results.max(by: { $0.score < $1.score }), let dsl = best.top.first {
                chosen = (dsl, evaluator.score(dsl: dsl))
            }
            if let chosen, chosen.score.isFinite {
                summary.bestScore = max(summary.bestScore, chosen.score)
                evolutions.append(EvolutionEntry(parentAlgorithmIds: parents.map(\.id), algorithmDsl: chosen.dsl))
            }
        }
        for s in scores where s.1.isFinite { summary.bestScore = max(summary.bestScore, s.1) }
        let gossipIds = scores.filter { $0.1.isFinite }.sorted { $0.1 > $1.1 }.prefix(2).map(\.0)
        return LeaseSubmission(
            evaluations: evaluations, evolutions: evolutions,
            gossip: gossipIds.isEmpty ? nil : GossipPacket(taskType: lease.taskType, algorithmIds: gossipIds),
            iterations: iterations)
    }
}

func format(_ x: Double) -> String { x.isFinite ? String(format: "%.4f", x) : "-" }
