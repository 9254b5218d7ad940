import AlgorithmDSL
import Testing

@testable import MinerEngine

@Suite struct SearchSpeedupTests {
    static let lms = """
    # setup
    s2 = 0.05
    # predict
    s0 = dot(v1, v0)
    # learn
    s3 = s1 - s0
    s3 = s3 * s2
    v2 = s3 * v0
    v1 = v1 + v2
    """
    /// The same learner written differently: the error as −(ŷ − y) and the step scaled in
    /// another order. Different programs, the same function.
    static let lmsRewritten = """
    # setup
    s2 = 0.05
    # predict
    s0 = dot(v0, v1)
    # learn
    s3 = s0 - s1
    s3 = s2 * s3
    v2 = s3 * v0
    v1 = v1 - v2
    """

    @Test func equivalentProgramsHaveOneFingerprintAndFECScoresEqualFullEvaluation() throws {
        let evaluator = try Evaluator(taskType: "scalar_linear")
        let a = try DSLParser.parse(Self.lms, strict: true)
        let b = try DSLParser.parse(Self.lmsRewritten, strict: true)
        #expect(normalize(a, profile: evaluator.profile) != normalize(b, profile: evaluator.profile))
        let fa = try #require(evaluator.fingerprint(program: a))
        #expect(evaluator.fingerprint(program: b) == fa)

        // An evolver with FEC scores `a`, then gets `b` from the cache: the same score a full
        // evaluation of `b` gives.
        var evolver = try Evolver(taskType: "scalar_linear", evaluator: evaluator, seed: 3, populationSize: 2,
                                  tournamentSize: 1, seedDSLs: [Self.lms, Self.lmsRewritten],
                                  options: SearchOptions(functionalCache: true, hurdles: false))
        #expect(evolver.functionalCacheHits == 1)
        let scores = evolver.population.map(\.score)
        #expect(scores.count == 2 && scores[0] == scores[1])
        #expect(scores[0] == evaluator.score(program: b))
        #expect(scores[0] == evaluator.score(program: a))
        _ = evolver.run(generations: 30)
        // Every score in the population is what a full evaluation says.
        for c in evolver.population where !c.stoppedEarly {
            #expect(c.score == evaluator.score(program: c.program))
        }
    }

    @Test func differentLearnersHaveDifferentFingerprints() throws {
        let evaluator = try Evaluator(taskType: "scalar_linear")
        let fast = try DSLParser.parse(Self.lms, strict: true)
        let slow = try DSLParser.parse(Self.lms.replacingOccurrences(of: "0.05", with: "0.02"), strict: true)
        #expect(evaluator.fingerprint(program: fast) != evaluator.fingerprint(program: slow))
    }

    @Test func hurdleStopsOnlyBelowItAndOtherwiseGivesTheFullScore() throws {
        let evaluator = try Evaluator(taskType: "scalar_linear")
        let program = try DSLParser.parse(Self.lms, strict: true)
        let full = evaluator.evaluate(program: program)
        let early = full.taskScores.prefix(2).reduce(0, +) / 2
        let passed = evaluator.evaluate(program: program, hurdle: Hurdle(score: early - 0.01, afterTasks: 2))
        #expect(!passed.stoppedEarly && passed.result == full)
        let stopped = evaluator.evaluate(program: program, hurdle: Hurdle(score: early + 0.01, afterTasks: 2))
        #expect(stopped.stoppedEarly && stopped.result.taskScores.count == 2 && stopped.result.score == early)
    }

    @Test func searchWithFECAndHurdlesReportsOnlyFullyScoredBests() throws {
        let evaluator = try Evaluator(taskType: "scalar_linear", config: SuiteConfig(taskCount: 6, nSamples: 80))
        var evolver = try Evolver(taskType: "scalar_linear", evaluator: evaluator, seed: 9, populationSize: 16,
                                  tournamentSize: 4, seedDSLs: seedAlgorithms(taskType: "scalar_linear"), options: .fast)
        let result = evolver.run(generations: 200)
        #expect(result.totalGenerations == 200)
        #expect(result.bestScore == evaluator.score(dsl: result.bestDSL))
        #expect(result.evaluations + result.functionalCacheHits <= 200 + 16)
        for c in evolver.topCandidates(limit: 8) where !c.stoppedEarly {
            #expect(c.score == evaluator.score(program: c.program))
        }
    }

    @Test func disjointSuitesShareNoTaskAndExplicitIDsMatchSampledOnes() throws {
        let publicConfig = SuiteConfig()
        let family = try TaskRegistry.family(for: "scalar_linear")
        let heldOut = try SuiteConfig.disjoint(taskType: "scalar_linear", seed: 99, count: 16, excluding: [publicConfig])
        let unseen = try SuiteConfig.disjoint(taskType: "scalar_linear", seed: 100, count: 32, excluding: [publicConfig, heldOut])
        let p = Set(publicConfig.resolvedTaskIDs(poolSize: family.taskPoolSize))
        let h = Set(heldOut.resolvedTaskIDs(poolSize: family.taskPoolSize))
        let u = Set(unseen.resolvedTaskIDs(poolSize: family.taskPoolSize))
        #expect(p.count == 8 && h.count == 16 && u.count == 32)
        #expect(p.isDisjoint(with: h) && p.isDisjoint(with: u) && h.isDisjoint(with: u))
        // Explicit ids equal to the sampled ones build the same suite, so the same scores.
        var explicit = publicConfig
        explicit.taskIDs = publicConfig.resolvedTaskIDs(poolSize: family.taskPoolSize)
        let a = try Evaluator(taskType: "scalar_linear", config: publicConfig)
        let b = try Evaluator(taskType: "scalar_linear", config: explicit)
        #expect(a.score(dsl: Self.lms) == b.score(dsl: Self.lms))
        // The search suite starts with the public tasks.
        let search = try Selection.searchSuite(public: publicConfig, taskType: "scalar_linear", extraTasks: 8, seed: 5)
        #expect(search.taskIDs.map { Array($0.prefix(8)) } == explicit.taskIDs)
        #expect(search.taskCount == 16)
    }

    @Test func selectionPicksByPublicAndSelectionScores() throws {
        let publicSuite = try Evaluator(taskType: "scalar_linear")
        let selection = try Evaluator(
            taskType: "scalar_linear",
            config: try SuiteConfig.disjoint(taskType: "scalar_linear", seed: 7, count: 16, excluding: [SuiteConfig()]))
        let weak = Self.lms.replacingOccurrences(of: "0.05", with: "0.001")
        let pick = try #require(Selection.pick([weak, Self.lms, "not a program"], publicSuite: publicSuite,
                                               selectionSuite: selection))
        #expect(pick.dsl == Self.lms)
        #expect(pick.publicScore == publicSuite.score(dsl: Self.lms))
        #expect(pick.selectionScore == selection.score(dsl: Self.lms))
    }
}
