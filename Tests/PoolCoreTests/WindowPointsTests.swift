import TestSupport
import Testing
@testable import PoolCore

private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }

@Suite struct WindowPointsTests {
    let verdicts = [
        CandidateVerdict(candidateId: 1, agreeing: ["a", "b", "c"], disagreeing: ["d"]),
        CandidateVerdict(candidateId: 2, agreeing: ["a", "b", "d"], disagreeing: ["c"]),
        CandidateVerdict(candidateId: 3, agreeing: [], disagreeing: []),  // no consensus
    ]

    @Test func evaluatorPointsAreAgreementsMinusDisagreements() throws {
        var rules = PoolRules()
        rules.evaluatorWeight = 2
        let result = WindowPoints.compute(verdicts: verdicts, evolutions: [], rules: rules)
        let a = try #require(result.miners["a"])
        #expect(a.agreements == 2 && a.disagreements == 0)
        #expect(a.evaluatorPoints == 4)
        #expect(a.evaluationsConsidered == 2)
        #expect(a.inConsensus && a.rewardEligible)
        #expect(a.total == 4 && a.reward == 4)
        let c = try #require(result.miners["c"])
        #expect(c.evaluatorPoints == 0)
        #expect(c.inConsensus)  // 1 agreement ≥ 1 disagreement
        #expect(result.reputation == ["a": 4, "b": 4])
    }

    @Test func mostlyDisagreeingMinerIsOutOfConsensusAndUnpaid() throws {
        let v = [
            CandidateVerdict(candidateId: 1, agreeing: ["a", "b", "c"], disagreeing: ["x"]),
            CandidateVerdict(candidateId: 2, agreeing: ["a", "b", "c"], disagreeing: ["x"]),
        ]
        let evo = EvolutionRecord(algorithmId: 10, author: "x", consensusScore: 0.9, dslHash: "h")
        let result = WindowPoints.compute(verdicts: v, evolutions: [evo], rules: PoolRules())
        let x = try #require(result.miners["x"])
        #expect(x.evaluatorPoints == -2)
        #expect(close(x.evolverPoints, 9))  // genealogy, no parent → baseline 0
        #expect(close(x.total, 7))
        #expect(!x.inConsensus)
        #expect(!x.rewardEligible)
        #expect(x.reward == 0)
        #expect(result.reputation["x"] == nil)
    }

    @Test func verdictWithOnlyDisagreementsIsNotInConsensus() throws {
        let v = [CandidateVerdict(candidateId: 1, agreeing: ["a", "b", "c"], disagreeing: ["z"])]
        let z = try #require(WindowPoints.compute(verdicts: v, evolutions: [], rules: PoolRules()).miners["z"])
        #expect(!z.inConsensus)  // agreements == 0
        #expect(z.total == 0)   // clamped from -1
    }

    @Test func noDoubleRewardForRepeatedOutcomes() {
        let once = WindowPoints.compute(verdicts: verdicts, evolutions: [], rules: PoolRules())
        let twice = WindowPoints.compute(verdicts: verdicts + verdicts, evolutions: [], rules: PoolRules())
        #expect(once == twice)
        // An evaluator listed twice in one verdict still counts once.
        let dup = [CandidateVerdict(candidateId: 1, agreeing: ["a", "a", "b", "c"], disagreeing: [])]
        #expect(WindowPoints.compute(verdicts: dup, evolutions: [], rules: PoolRules()).miners["a"]?.agreements == 1)
        // The same evolution submitted twice is one evolution.
        let evo = EvolutionRecord(algorithmId: 5, author: "a", consensusScore: 0.5, dslHash: "h")
        let one = WindowPoints.compute(verdicts: [], evolutions: [evo], rules: PoolRules())
        let two = WindowPoints.compute(verdicts: [], evolutions: [evo, evo], rules: PoolRules())
        #expect(one == two)
        #expect(two.miners["a"]?.evolutionsConsidered == 1)
    }

    @Test func laterVerdictForSameCandidateReplacesEarlier() {
        let early = CandidateVerdict(candidateId: 1, agreeing: ["a", "b", "c"], disagreeing: ["d"])
        let late = CandidateVerdict(candidateId: 1, agreeing: ["a", "b", "c", "d"], disagreeing: [])
        let result = WindowPoints.compute(verdicts: [early, late], evolutions: [], rules: PoolRules())
        #expect(result.miners["d"]?.agreements == 1)
        #expect(result.miners["d"]?.disagreements == 0)
    }

    @Test func evaluatorOnBothSidesCountsAsDisagreement() {
        let v = [CandidateVerdict(candidateId: 1, agreeing: ["a", "b"], disagreeing: ["b"])]
        let b = WindowPoints.compute(verdicts: v, evolutions: [], rules: PoolRules()).miners["b"]
        #expect(b?.agreements == 0 && b?.disagreements == 1)
    }

    @Test(arguments: [
        (PoolRules.BaselineMode.genealogy, 0.05),
        (.sota, 0.02),
        (.localEvolver, 0.01),
    ])
    func baselineModes(mode: PoolRules.BaselineMode, expectedImprovement: Double) throws {
        var rules = PoolRules()
        rules.baselineMode = mode
        let evo = EvolutionRecord(algorithmId: 1, author: "m", consensusScore: 0.80, parentScores: [0.70, 0.75],
                                  sotaBefore: 0.78, localPopulationBest: 0.79, dslHash: "h")
        let m = try #require(WindowPoints.compute(verdicts: [], evolutions: [evo], rules: rules).miners["m"])
        #expect(close(m.totalImprovement, expectedImprovement))
        #expect(close(m.evolverPoints, expectedImprovement * 10))
        #expect(m.evolutionsConsidered == 1)
        #expect(m.rewardEligible)  // no evaluations, activity 1
    }

    @Test func baselineFallbacks() {
        let bare = EvolutionRecord(algorithmId: 1, author: "m", consensusScore: 0.5, dslHash: "h")
        #expect(WindowPoints.baseline(for: bare, mode: .genealogy) == 0)
        #expect(WindowPoints.baseline(for: bare, mode: .sota) == 0)
        #expect(WindowPoints.baseline(for: bare, mode: .localEvolver) == 0)
        let parentOnly = EvolutionRecord(algorithmId: 1, author: "m", consensusScore: 0.5,
                                         parentScores: [0.6, .nan], dslHash: "h")
        #expect(WindowPoints.baseline(for: parentOnly, mode: .localEvolver) == 0.6)
        #expect(WindowPoints.baseline(for: parentOnly, mode: .genealogy) == 0.6)
    }

    @Test func regressionEarnsNothingAndUnscoredEvolutionIsNotConsidered() throws {
        let worse = EvolutionRecord(algorithmId: 1, author: "m", consensusScore: 0.6, parentScores: [0.7], dslHash: "a")
        let unscored = EvolutionRecord(algorithmId: 2, author: "m", consensusScore: nil, parentScores: [0.1], dslHash: "b")
        let nonFinite = EvolutionRecord(algorithmId: 3, author: "m", consensusScore: .infinity, dslHash: "c")
        let m = try #require(WindowPoints.compute(verdicts: [], evolutions: [worse, unscored, nonFinite],
                                                  rules: PoolRules()).miners["m"])
        #expect(m.evolverPoints == 0)
        #expect(m.evolutionsConsidered == 1)
    }

    @Test(arguments: [
        (PoolRules.RepetitionScope.miner, 1, 1),
        (.global, 0, 2),
        (.both, 1, 2),
    ])
    func repetitionScopes(scope: PoolRules.RepetitionScope, repeatsA: Int, repeatsB: Int) {
        var rules = PoolRules()
        rules.repetitionPenalty = 1.5
        rules.repetitionScope = scope
        // Given out of order on purpose: repetition is decided in algorithm-id order.
        let evolutions = [
            EvolutionRecord(algorithmId: 4, author: "B", consensusScore: nil, dslHash: "h"),
            EvolutionRecord(algorithmId: 1, author: "A", consensusScore: nil, dslHash: "h"),
            EvolutionRecord(algorithmId: 3, author: "B", consensusScore: nil, dslHash: "h"),
            EvolutionRecord(algorithmId: 2, author: "A", consensusScore: nil, dslHash: "h"),
            EvolutionRecord(algorithmId: 5, author: "A", consensusScore: nil, dslHash: "unique"),
        ]
        let result = WindowPoints.compute(verdicts: [], evolutions: evolutions, rules: rules)
        #expect(result.miners["A"]?.repeatedEvolutions == repeatsA)
        #expect(result.miners["B"]?.repeatedEvolutions == repeatsB)
        #expect(result.miners["A"]?.evolverPoints == -1.5 * Double(repeatsA))
        #expect(result.miners["A"]?.total == 0)
    }

    @Test func historyMakesCopiesOfSeedsGlobalRepeats() {
        var rules = PoolRules()
        rules.repetitionPenalty = 1
        rules.repetitionScope = .global
        let history = RepetitionHistory(authorsByHash: ["seed-hash": [""], "mine": ["A"]])
        let evolutions = [
            EvolutionRecord(algorithmId: 1, author: "A", consensusScore: nil, dslHash: "seed-hash"),
            EvolutionRecord(algorithmId: 2, author: "A", consensusScore: nil, dslHash: "mine"),
        ]
        let global = WindowPoints.compute(verdicts: [], evolutions: evolutions, rules: rules, history: history)
        #expect(global.miners["A"]?.repeatedEvolutions == 1)
        rules.repetitionScope = .miner
        let miner = WindowPoints.compute(verdicts: [], evolutions: evolutions, rules: rules, history: history)
        #expect(miner.miners["A"]?.repeatedEvolutions == 1)
        rules.repetitionScope = .both
        let both = WindowPoints.compute(verdicts: [], evolutions: evolutions, rules: rules, history: history)
        #expect(both.miners["A"]?.repeatedEvolutions == 2)
    }

    @Test func minimumActivityGatesRewards() throws {
        var rules = PoolRules()
        rules.minRewardActivity = 2
        let v = [CandidateVerdict(candidateId: 1, agreeing: ["a", "b", "c"], disagreeing: [])]
        let a = try #require(WindowPoints.compute(verdicts: v, evolutions: [], rules: rules).miners["a"])
        #expect(a.total == 1)
        #expect(a.inConsensus && !a.rewardEligible)
        #expect(a.reward == 0)
        rules.minRewardActivity = 0
        #expect(WindowPoints.compute(verdicts: v, evolutions: [], rules: rules).miners["a"]?.reward == 1)
    }

    @Test func verdictFromOutcome() {
        let reached = Consensus.evaluate([Vote(evaluator: "a", score: 1), Vote(evaluator: "b", score: 1),
                                          Vote(evaluator: "c", score: 1), Vote(evaluator: "d", score: 3)],
                                         threshold: 3, toleranceRatio: 0.1)
        let verdict = CandidateVerdict(candidateId: 9, outcome: reached)
        #expect(verdict.agreeing == ["a", "b", "c"] && verdict.disagreeing == ["d"])
        let pending = Consensus.evaluate([Vote(evaluator: "a", score: 1)], threshold: 3, toleranceRatio: 0.1)
        let empty = CandidateVerdict(candidateId: 9, outcome: pending)
        #expect(empty.agreeing.isEmpty && empty.disagreeing.isEmpty)
    }

    // Property: points depend only on the set of (candidate, verdict) and (algorithm, evolution)
    // records — duplicating and reordering the inputs changes nothing.
    @Test(arguments: propertySeeds)
    func pointsArePureFunctionOfRecordSets(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let miners = (0..<6).map { "m\($0)" }
        var rules = PoolRules()
        rules.repetitionPenalty = Double(rng.below(3))
        rules.repetitionScope = PoolRules.RepetitionScope.allCases[rng.below(3)]
        rules.baselineMode = PoolRules.BaselineMode.allCases[rng.below(3)]
        var verdicts: [CandidateVerdict] = []
        for id in 0..<rng.below(12) {
            var agree: [String] = [], disagree: [String] = []
            for m in miners where rng.chance(0.6) {
                if rng.chance(0.7) { agree.append(m) } else { disagree.append(m) }
            }
            verdicts.append(CandidateVerdict(candidateId: id, agreeing: agree, disagreeing: disagree))
        }
        var evolutions: [EvolutionRecord] = []
        for id in 100..<(100 + rng.below(10)) {
            evolutions.append(EvolutionRecord(
                algorithmId: id, author: miners[rng.below(miners.count)],
                consensusScore: rng.chance(0.7) ? rng.unit() : nil,
                parentScores: rng.chance(0.5) ? [rng.unit()] : [],
                sotaBefore: rng.unit(), localPopulationBest: rng.unit(),
                dslHash: "h\(rng.below(4))"))
        }
        let base = WindowPoints.compute(verdicts: verdicts, evolutions: evolutions, rules: rules)
        let extraVerdicts = verdicts.filter { _ in rng.chance(0.5) }
        let noisyVerdicts = rng.shuffled(verdicts + extraVerdicts)
        let extraEvolutions = evolutions.filter { _ in rng.chance(0.5) }
        let noisyEvolutions = rng.shuffled(evolutions + extraEvolutions)
        let noisy = WindowPoints.compute(verdicts: noisyVerdicts, evolutions: noisyEvolutions, rules: rules)
        #expect(noisy == base)
        for points in base.miners.values {
            #expect(points.total >= 0)
            #expect(points.reward == (points.rewardEligible ? points.total : 0))
            #expect(points.agreements + points.disagreements == points.evaluationsConsidered)
            #expect(points.agreements <= verdicts.count)
        }
    }
}
