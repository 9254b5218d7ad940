import AlgorithmDSL
import Testing

@testable import MinerEngine

@Suite struct EvolverTests {
    /// A least-mean-squares learner whose learning rate is 100× too small: structurally right,
    /// scoring barely above the zero predictor.
    static let weakLearner = """
    # setup
    s2 = 0.0005
    # predict
    s0 = dot(v1, v0)
    # learn
    s3 = s1 - s0
    s3 = s3 * s2
    v2 = s3 * v0
    v1 = v1 + v2
    """

    @Test func evolutionImprovesATrivialSeed() throws {
        let evaluator = try Evaluator(taskType: "scalar_linear")
        let start = evaluator.score(dsl: Self.weakLearner)
        var evolver = try Evolver(taskType: "scalar_linear", evaluator: evaluator, seed: 1,
                                  seedDSLs: [Self.weakLearner])
        let result = evolver.run(generations: 300)
        #expect(result.generations == 300)
        #expect(result.bestScore > start + 0.2)
        // The reported best is what the evaluator says about its DSL.
        #expect(evaluator.score(dsl: result.bestDSL) == result.bestScore)
        #expect(ComplianceProfile.for(taskType: "scalar_linear").accepts(try DSLParser.parse(result.bestDSL)))
    }

    @Test func evolutionIsDeterministicForASeed() throws {
        let evaluator = try Evaluator(taskType: "cifar10_binary", config: SuiteConfig(taskCount: 4, nSamples: 100))
        func run(_ seed: UInt64) throws -> (EvolutionResult, [String]) {
            var e = try Evolver(taskType: "cifar10_binary", evaluator: evaluator, seed: seed, populationSize: 8,
                                tournamentSize: 3, seedDSLs: seedAlgorithms(taskType: "cifar10_binary"))
            let r = e.run(generations: 40)
            return (r, e.population.map(\.dsl))
        }
        let (a, popA) = try run(11)
        let (b, popB) = try run(11)
        let (_, popC) = try run(12)
        #expect(a == b)
        #expect(popA == popB)
        #expect(popA != popC)
    }

    @Test func populationMechanics() throws {
        let evaluator = try Evaluator(taskType: "scalar_linear", config: SuiteConfig(taskCount: 3, nSamples: 40))
        var e = try Evolver(taskType: "scalar_linear", evaluator: evaluator, seed: 5, populationSize: 6,
                            tournamentSize: 2, seedDSLs: seedAlgorithms(taskType: "scalar_linear") + ["garbage ->"])
        #expect(e.rejectedSeeds == 1)
        #expect(e.population.count == 6)
        let initialBest = e.best.score
        let second = e.population[1]
        let child = e.step()
        #expect(e.population.count == 6)
        #expect(e.population.last == child)
        #expect(child.generation == 1)
        #expect(e.population[0] == second)  // the oldest member aged out
        _ = e.run(generations: 20)
        #expect(e.generations == 21)
        #expect(e.best.score >= initialBest)
        let top = e.topCandidates(limit: 5)
        #expect(top.count == 5)
        #expect(Set(top.map(\.dsl)).count == 5)
        #expect(zip(top, top.dropFirst()).allSatisfy { $0.score >= $1.score })
        #expect(top.first?.score == e.best.score)
        // A deadline already past runs nothing.
        let none = e.run(generations: 10, deadline: ContinuousClock.now)
        #expect(none.generations == 0)
    }

    @Test func bootstrapsFromNothingAndChecksTaskType() throws {
        let evaluator = try Evaluator(taskType: "cifar10_binary", config: SuiteConfig(taskCount: 2, nSamples: 40))
        var e = try Evolver(taskType: "cifar10_binary", evaluator: evaluator, seed: 2, populationSize: 8)
        #expect(e.population.count == 8)
        #expect(e.population.allSatisfy { !$0.program.predict.isEmpty })
        _ = e.run(generations: 5)
        #expect(throws: EngineError.self) {
            try Evolver(taskType: "scalar_linear", evaluator: evaluator, seed: 1)
        }
    }

    @Test func mutationsStayCompliantAndChangeThePrograms() throws {
        for taskType in ["scalar_linear", "cifar10_binary"] {
            let profile = ComplianceProfile.for(taskType: taskType)
            let mutator = Mutator(profile: profile)
            var rng = DeterministicRNG(seed: 77)
            var program = try DSLParser.parse(seedAlgorithms(taskType: taskType)[0])
            var changed = 0
            for _ in 0..<500 {
                let child = mutator.mutate(program, rng: &rng)
                try child.validate()
                #expect(profile.accepts(child))
                #expect(!child.predict.isEmpty)
                if child != program { changed += 1 }
                program = child
            }
            #expect(changed == 500)
            for kind in Mutator.Kind.allCases {
                let seedProgram = try DSLParser.parse(seedAlgorithms(taskType: taskType)[0])
                let out = mutator.apply(kind, to: seedProgram, rng: &rng)
                #expect(out != nil)
            }
            let random = mutator.randomProgram(rng: &rng)
            #expect(profile.accepts(random))
            #expect(!random.predict.isEmpty)
        }
    }
}
