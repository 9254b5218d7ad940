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

    public init() {}
}

/// What `MinerLoop.run` did: leases submitted, evaluations, evolutions, best score, reputation.
public struct MinerSummary: Sendable, Equatable {
    public var leasesCompleted = 0
    public var evaluations = 0
    public var evolutionsSubmitted = 0
    public var bestScore = -Double.infinity
    public var reputation = 0.0
    public var reputationHistory: [Double] = []
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
        let evaluator = try Evaluator(taskType: options.taskType, config: options.suite)
        let info = try await retrying("register", stop: stop) { try await client.register() }
        output("registered \(info.hotkey) (reputation \(format(info.reputation))); data: \(evaluator.dataSource)")
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
            let submission = await work(on: lease, evaluator: evaluator, stop: stop, summary: &summary)
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
            }
            output(String(
                format: "lease %d %@ | window %lld | evaluated %d | evolved %d | best %@ | reputation %@",
                leaseNumber, String(lease.leaseId.prefix(8)), lease.windowNumber, submission.evaluations.count,
                submission.evolutions.count, format(summary.bestScore), format(summary.reputation)))
        }
        if stop.isRequested { output("stopped after submitting the lease in hand") }
        return summary
    }

    /// Evaluates the lease's algorithms and evolves from the best of them, within the lease's time.
    func work(on lease: LeaseResponse, evaluator: Evaluator, stop: StopSignal, summary: inout MinerSummary) async
        -> LeaseSubmission
    {
        let timeout = WireTime.parse(lease.timeoutAt) ?? (Date().timeIntervalSince1970 + 60)
        let deadline = timeout - options.submitBufferSeconds
        let workers = max(1, options.workers)
        // Evaluate in `workers` parallel slices.
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

        var evolutions: [EvolutionEntry] = []
        if lease.evolveBudget > 0 && !stop.isRequested {
            let byId = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
            let ranked = scores.filter { $0.1.isFinite }.sorted { $0.1 > $1.1 }.compactMap { byId[$0.0] }
            let parents = Array((ranked.prefix(4) + lease.seedAlgorithms).prefix(8))
            let seedDSLs = parents.map(\.algorithmDsl)
            let generations = options.generations
            let base = options.randomSeed &+ UInt64(bitPattern: Int64(lease.leaseId.hashValue))
            struct Outcome: Sendable {
                var dsl: String
                var score: Double
                var generations: Int
            }
            let results: [Outcome] = await withTaskGroup(of: Outcome?.self) { group in
                for w in 0..<workers {
                    group.addTask {
                        guard var evolver = try? Evolver(
                            taskType: evaluator.taskType, evaluator: evaluator, seed: base &+ UInt64(w), seedDSLs: seedDSLs)
                        else { return nil }
                        var last = evolver.run(generations: 0)
                        var done = 0
                        while done < generations && Date().timeIntervalSince1970 < deadline && !stop.isRequested {
                            let chunk = min(10, generations - done)
                            last = evolver.run(generations: chunk)
                            done += chunk
                        }
                        return Outcome(dsl: last.bestDSL, score: last.bestScore, generations: done)
                    }
                }
                return await group.reduce(into: []) { acc, r in if let r { acc.append(r) } }
            }
            iterations += results.reduce(0) { $0 + $1.generations }
            if let best = results.max(by: { $0.score < $1.score }), best.score.isFinite {
                summary.bestScore = max(summary.bestScore, best.score)
                evolutions.append(EvolutionEntry(parentAlgorithmIds: parents.map(\.id), algorithmDsl: best.dsl))
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
