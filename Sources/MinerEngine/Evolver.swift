/// Regularized evolution (Real et al., AutoML-Zero): a FIFO population; each generation a
/// tournament of `tournamentSize` random members picks the best as parent, its mutation joins the
/// population and the oldest member is removed. Deterministic for a given seed, evaluator and
/// seed programs.
import AlgorithmDSL

/// A scored program.
public struct Candidate: Sendable, Hashable {
    public let program: Program
    /// Canonical DSL text of `program`.
    public let dsl: String
    public let score: Double
    /// Generation that produced it (0 for seeds and the initial population).
    public let generation: Int
    /// Mean of its first `SearchOptions.hurdleTasks` task scores (what the hurdle compares);
    /// −∞ when unknown.
    public var earlyMean: Double = -.infinity
    /// True when the hurdle stopped its evaluation (`score` is then `earlyMean`).
    public var stoppedEarly = false
}

/// Speed-ups of the search (AutoML-Zero §4): both off by default, so a plain `Evolver` scores
/// every program in full.
public struct SearchOptions: Sendable, Hashable {
    /// Functional-equivalence caching: a program whose fingerprint (`Evaluator.fingerprint`) was
    /// seen before gets that program's score without being evaluated.
    public var functionalCache: Bool
    /// Early-stopping hurdle: after `hurdleTasks` tasks, a child whose mean is below the median
    /// of the population's means over the same tasks is not evaluated further.
    public var hurdles: Bool
    public var hurdleTasks: Int

    public init(functionalCache: Bool = false, hurdles: Bool = false, hurdleTasks: Int = 2) {
        self.functionalCache = functionalCache
        self.hurdles = hurdles
        self.hurdleTasks = hurdleTasks
    }

    public static let plain = SearchOptions()
    public static let fast = SearchOptions(functionalCache: true, hurdles: true)
}

/// Outcome of `Evolver.run`.
public struct EvolutionResult: Sendable, Hashable {
    public let bestDSL: String
    public let bestScore: Double
    /// Generations run by this call.
    public let generations: Int
    /// Generations run since the evolver was created.
    public let totalGenerations: Int
    /// Distinct programs scored since the evolver was created (cache hits excluded).
    public let evaluations: Int
    /// Children whose score came from the functional-equivalence cache.
    public var functionalCacheHits = 0
    /// Evaluations stopped at the hurdle.
    public var hurdleStops = 0
}

/// Regularized evolution of one task type's programs, scored by `evaluator`.
public struct Evolver: Sendable {
    public let taskType: String
    public let evaluator: Evaluator
    public let populationSize: Int
    public let tournamentSize: Int
    public let mutator: Mutator
    public let options: SearchOptions

    /// Current population, oldest first.
    public private(set) var population: [Candidate] = []
    /// Best candidate seen (earliest wins ties).
    public private(set) var best: Candidate
    public private(set) var generations = 0
    public private(set) var evaluations = 0
    /// Seed DSL texts that could not be parsed or normalised to a program with a predict phase.
    public private(set) var rejectedSeeds = 0
    public private(set) var functionalCacheHits = 0
    public private(set) var hurdleStops = 0

    private var rng: DeterministicRNG
    private var cache: [Program: Candidate] = [:]
    private var functionalCache: [[UInt64]: Candidate] = [:]
    private var archive: [Candidate] = []
    private static let cacheLimit = 8192
    private static let archiveLimit = 32

    /// - Parameters:
    ///   - seedDSLs: starting programs (normalised to the task's profile; unusable ones are counted
    ///     in `rejectedSeeds`). With none usable, the population starts from random programs.
    ///   - populationSize: clamped to 2...1000; `tournamentSize` to 1...populationSize.
    public init(taskType: String, evaluator: Evaluator, seed: UInt64, populationSize: Int = 32,
                tournamentSize: Int = 8, seedDSLs: [String] = [], options: SearchOptions = .plain) throws(EngineError) {
        guard taskType == evaluator.taskType else {
            throw EngineError.invalidConfig("evolver task_type '\(taskType)' does not match evaluator '\(evaluator.taskType)'")
        }
        self.taskType = taskType
        self.evaluator = evaluator
        self.populationSize = min(max(populationSize, 2), 1000)
        self.tournamentSize = min(max(tournamentSize, 1), self.populationSize)
        mutator = Mutator(profile: evaluator.profile)
        self.options = options
        rng = DeterministicRNG(seed: seed)

        var seeds: [Program] = []
        var rejected = 0
        for text in seedDSLs {
            guard let parsed = try? DSLParser.parse(text, strict: true) else {
                rejected += 1
                continue
            }
            let program = normalize(parsed, profile: evaluator.profile)
            if program.predict.isEmpty {
                rejected += 1
                continue
            }
            if !seeds.contains(program) { seeds.append(program) }
        }
        rejectedSeeds = rejected

        let placeholder = Program(meta: evaluator.profile.meta)
        best = Candidate(program: placeholder, dsl: placeholder.render(), score: -.infinity, generation: 0)

        var initial: [Candidate] = []
        for program in seeds { initial.append(scored(program, generation: 0)) }
        // Best seeds first when there are more than fit (stable: earlier seeds win ties).
        let ranked = initial.enumerated().sorted {
            $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset
        }.map(\.element)
        population = Array(ranked.prefix(self.populationSize))
        let parents = population
        while population.count < self.populationSize {
            let program: Program
            if parents.isEmpty {
                program = mutator.randomProgram(rng: &rng)
            } else {
                program = mutator.mutate(parents[rng.nextInt(below: parents.count)].program, rng: &rng)
            }
            population.append(scored(program, generation: 0))
        }
        for candidate in population { consider(candidate) }
    }

    /// One generation; returns the new child.
    @discardableResult
    public mutating func step() -> Candidate {
        var parentIndex = rng.nextInt(below: population.count)
        for _ in 1..<tournamentSize {
            let other = rng.nextInt(below: population.count)
            if population[other].score > population[parentIndex].score { parentIndex = other }
        }
        let childProgram = mutator.mutate(population[parentIndex].program, rng: &rng)
        generations += 1
        let child = scored(childProgram, generation: generations)
        population.append(child)
        if population.count > populationSize { population.removeFirst() }
        consider(child)
        return child
    }

    /// Runs up to `generations` generations, stopping early at `deadline`.
    public mutating func run(generations count: Int, deadline: ContinuousClock.Instant? = nil) -> EvolutionResult {
        var ran = 0
        let clock = ContinuousClock()
        while ran < count {
            if let deadline, clock.now >= deadline { break }
            step()
            ran += 1
        }
        return EvolutionResult(bestDSL: best.dsl, bestScore: best.score, generations: ran,
                               totalGenerations: generations, evaluations: evaluations,
                               functionalCacheHits: functionalCacheHits, hurdleStops: hurdleStops)
    }

    /// Up to `limit` best distinct programs seen so far, best first.
    public func topCandidates(limit: Int) -> [Candidate] {
        Array(archive.prefix(max(0, limit)))
    }

    // MARK: - Internals

    private mutating func scored(_ program: Program, generation: Int) -> Candidate {
        if let cached = cache[program] { return relabel(cached, program: program, generation: generation) }
        var key: [UInt64]?
        if options.functionalCache {
            key = evaluator.fingerprint(program: program)
            if let key, let twin = functionalCache[key] {
                functionalCacheHits += 1
                let candidate = relabel(twin, program: program, generation: generation)
                remember(program, candidate, key: nil)
                return candidate
            }
        }
        // Seeds and the initial population are scored in full (they set the hurdle).
        let hurdle = options.hurdles && generation > 0 ? currentHurdle() : nil
        let (result, stopped) = evaluator.evaluate(program: program, hurdle: hurdle)
        evaluations += 1
        if stopped { hurdleStops += 1 }
        let k = max(1, options.hurdleTasks)
        let early = result.taskScores.count >= k ? result.taskScores.prefix(k).reduce(0, +) / Double(k) : -.infinity
        var candidate = Candidate(program: program, dsl: program.render(), score: result.score, generation: generation)
        candidate.earlyMean = early
        candidate.stoppedEarly = stopped
        remember(program, candidate, key: key)
        return candidate
    }

    private func relabel(_ c: Candidate, program: Program, generation: Int) -> Candidate {
        var out = Candidate(program: program, dsl: program.render(), score: c.score, generation: generation)
        out.earlyMean = c.earlyMean
        out.stoppedEarly = c.stoppedEarly
        return out
    }

    private mutating func remember(_ program: Program, _ candidate: Candidate, key: [UInt64]?) {
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[program] = candidate
        if let key {
            if functionalCache.count >= Self.cacheLimit { functionalCache.removeAll(keepingCapacity: true) }
            functionalCache[key] = candidate
        }
    }

    /// The median of the population's early means (nil while fewer than half are known).
    private func currentHurdle() -> Hurdle? {
        let means = population.map(\.earlyMean).filter(\.isFinite).sorted()
        guard means.count * 2 >= population.count, !means.isEmpty else { return nil }
        return Hurdle(score: means[means.count / 2], afterTasks: max(1, options.hurdleTasks))
    }

    private mutating func consider(_ candidate: Candidate) {
        if candidate.stoppedEarly { return }
        if candidate.score > best.score { best = candidate }
        if archive.contains(where: { $0.dsl == candidate.dsl }) { return }
        if archive.count >= Self.archiveLimit, let last = archive.last, candidate.score <= last.score { return }
        let position = archive.firstIndex { candidate.score > $0.score } ?? archive.count
        archive.insert(candidate, at: position)
        if archive.count > Self.archiveLimit { archive.removeLast() }
    }
}
