import TestSupport
import Testing
@testable import PoolCore

private func votes(_ pairs: [(String, Double?)]) -> [Vote] {
    pairs.map { Vote(evaluator: $0.0, score: $0.1) }
}

@Suite struct ConsensusExampleTests {
    @Test func legacyExampleExcludesOutlier() throws {
        let outcome = Consensus.evaluate(
            votes([("a", 0.90), ("b", 0.91), ("c", 0.92), ("d", 0.50)]), threshold: 3, toleranceRatio: 0.10)
        #expect(outcome.reached)
        let score = try #require(outcome.score)
        #expect(abs(score - 0.91) < 1e-12)
        #expect(outcome.agreeing == ["a", "b", "c"])
        #expect(outcome.disagreeing == ["d"])
        #expect(outcome.clusterSize == 3)
    }

    @Test func belowThresholdNobodyAgreesOrDisagrees() {
        let outcome = Consensus.evaluate(votes([("a", 0.9), ("b", 0.91), ("c", 0.2)]),
                                         threshold: 3, toleranceRatio: 0.10)
        #expect(!outcome.reached)
        #expect(outcome.score == nil)
        #expect(outcome.agreeing.isEmpty && outcome.disagreeing.isEmpty)
        #expect(outcome.clusterSize == 2)
        #expect(outcome.evaluators == ["a", "b", "c"])
    }

    @Test func invalidVotesDisagreeWhenConsensusIsReached() {
        let outcome = Consensus.evaluate(
            votes([("a", 0.5), ("b", 0.5), ("c", 0.5), ("d", nil), ("e", .nan), ("f", -.infinity)]),
            threshold: 3, toleranceRatio: 0.10)
        #expect(outcome.score == 0.5)
        #expect(outcome.disagreeing == ["d", "e", "f"])
        #expect(outcome.validVotes == 3)
    }

    @Test func onlyInvalidVotesNeverReachConsensus() {
        let outcome = Consensus.evaluate(
            votes([("a", .nan), ("b", .infinity), ("c", nil)]), threshold: 1, toleranceRatio: 0.10)
        #expect(!outcome.reached)
        #expect(outcome.clusterSize == 0)
    }

    @Test func latestVotePerEvaluatorWins() {
        // "a" first votes far away, then re-votes inside the cluster.
        let outcome = Consensus.evaluate(
            votes([("a", 0.1), ("b", 0.8), ("c", 0.8), ("a", 0.8)]), threshold: 3, toleranceRatio: 0.10)
        #expect(outcome.reached)
        #expect(outcome.agreeing == ["a", "b", "c"])
        // Reversed: "a" ends up far away → only 2 agree → no consensus.
        let reversed = Consensus.evaluate(
            votes([("a", 0.8), ("b", 0.8), ("c", 0.8), ("a", 0.1)]), threshold: 3, toleranceRatio: 0.10)
        #expect(!reversed.reached)
    }

    @Test func tieBreaksBySpreadThenLowestAnchor() {
        // Two clusters of 2: spread 0.02 vs 0 → the tight one wins.
        let tight = Consensus.evaluate(votes([("a", 0.50), ("b", 0.52), ("c", 0.80), ("d", 0.80)]),
                                       threshold: 2, toleranceRatio: 0.05)
        #expect(tight.score == 0.80)
        #expect(tight.agreeing == ["c", "d"])
        // Equal size and spread → lowest anchor wins.
        let low = Consensus.evaluate(votes([("a", 0.80), ("b", 0.80), ("c", 0.50), ("d", 0.50)]),
                                     threshold: 2, toleranceRatio: 0.05)
        #expect(low.score == 0.50)
        #expect(low.agreeing == ["c", "d"])
    }

    @Test func toleranceIsRelativeToTheAnchor() {
        // Anchor 1.0 with 10 % takes [0.9, 1.1]; anchor 0.9 takes only [0.81, 0.99].
        let outcome = Consensus.evaluate(votes([("a", 0.9), ("b", 1.0), ("c", 1.1)]),
                                         threshold: 3, toleranceRatio: 0.10)
        #expect(outcome.anchor == 1.0)
        #expect(outcome.score == 1.0)
        let none = Consensus.evaluate(votes([("a", 0.85), ("b", 1.0), ("c", 1.16)]),
                                      threshold: 3, toleranceRatio: 0.10)
        #expect(!none.reached)
        // Asymmetry: 1.0 is within 10 % of anchor 1.1, but 1.1 is not within 10 % of anchor 0.95.
        #expect(Consensus.isWithinTolerance(1.0, anchor: 1.1, ratio: 0.1))
        #expect(!Consensus.isWithinTolerance(1.1, anchor: 0.95, ratio: 0.1))
        #expect(!Consensus.isWithinTolerance(1.1000001, anchor: 1.0, ratio: 0.1))
    }

    @Test func evenClusterUsesMeanOfMiddlePair() {
        let outcome = Consensus.evaluate(votes([("a", 0.60), ("b", 0.62), ("c", 0.64), ("d", 0.66)]),
                                         threshold: 4, toleranceRatio: 0.10)
        #expect(outcome.score.map { abs($0 - 0.63) < 1e-12 } == true)
    }

    @Test func scoresAtZeroUseEpsilonFloor() {
        let exact = Consensus.evaluate(votes([("a", 0), ("b", 0), ("c", 0)]), threshold: 3, toleranceRatio: 0.1)
        #expect(exact.score == 0)
        let apart = Consensus.evaluate(votes([("a", 0), ("b", 0), ("c", 1e-6)]),
                                       threshold: 3, toleranceRatio: 0.1, epsilon: 1e-9)
        #expect(!apart.reached)
    }

    @Test func hugeScoresDoNotOverflowTheMedian() {
        let big = Double.greatestFiniteMagnitude
        let outcome = Consensus.evaluate(votes([("a", big), ("b", big * 0.99), ("c", big), ("d", big * 0.99)]),
                                         threshold: 4, toleranceRatio: 0.10)
        let score = outcome.score ?? .nan
        #expect(score.isFinite)
        #expect(score >= big * 0.99 && score <= big)
    }

    @Test func rulesOverloadUsesThresholdAndTolerance() {
        var rules = PoolRules()
        rules.consensusThreshold = 1
        let single = Consensus.evaluate(votes([("solo", 0.7)]), rules: rules)
        #expect(single.score == 0.7)
        #expect(!Consensus.evaluate(votes([("solo", 0.7)]), rules: PoolRules()).reached)
    }
}

// MARK: - Property tests

private struct Case {
    var votes: [Vote]
    var threshold: Int
    var ratio: Double
}

private func randomCase(_ rng: inout SeededGenerator) -> Case {
    let n = rng.below(10)
    let center = (rng.unit() * 2 - 0.5) * (rng.chance(0.2) ? 100 : 1)
    var result: [Vote] = []
    for i in 0..<n {
        let score: Double?
        switch rng.below(10) {
        case 0: score = nil
        case 1: score = [Double.nan, .infinity, -.infinity][rng.below(3)]
        case 2, 3: score = (rng.unit() * 4 - 2) * (rng.chance(0.5) ? 1 : 50)  // anywhere
        case 4: score = center  // exact duplicates exercise ties
        default: score = center * (1 + (rng.unit() - 0.5) * 0.2)  // near the center
        }
        result.append(Vote(evaluator: "e\(i)", score: score))
    }
    return Case(votes: result, threshold: 1 + rng.below(4), ratio: 0.02 + rng.unit() * 0.18)
}

private func within(_ s: Double, anchor: Double, ratio: Double) -> Bool {
    // Independent restatement of the rule (with the documented 1e-12 slack).
    abs(s - anchor) <= (ratio + 1e-12) * max(abs(anchor), 1e-9)
}

@Suite struct ConsensusPropertyTests {
    @Test(arguments: propertySeeds)
    func invariantUnderPermutation(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let c = randomCase(&rng)
        let base = Consensus.evaluate(c.votes, threshold: c.threshold, toleranceRatio: c.ratio)
        for _ in 0..<5 {
            let shuffled = Consensus.evaluate(rng.shuffled(c.votes), threshold: c.threshold, toleranceRatio: c.ratio)
            #expect(shuffled == base)
        }
    }

    @Test(arguments: propertySeeds)
    func reachedOutcomeIsWellFormed(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let c = randomCase(&rng)
        let outcome = Consensus.evaluate(c.votes, threshold: c.threshold, toleranceRatio: c.ratio)
        let all = Set(c.votes.map(\.evaluator))
        #expect(Set(outcome.evaluators) == all)
        let scoreOf = Dictionary(c.votes.map { ($0.evaluator, $0.score) }, uniquingKeysWith: { $1 })
        let finite = c.votes.compactMap(\.finiteScore)

        // The chosen cluster is maximal: no anchor has a larger cluster.
        let largest = finite.map { a in finite.filter { within($0, anchor: a, ratio: c.ratio) }.count }.max() ?? 0
        #expect(outcome.clusterSize == largest)

        guard let score = outcome.score else {
            #expect(outcome.agreeing.isEmpty && outcome.disagreeing.isEmpty)
            #expect(largest < c.threshold)
            return
        }
        #expect(score.isFinite)
        #expect(outcome.agreeing.count >= c.threshold)
        #expect(outcome.agreeing.count == outcome.clusterSize)
        let agree = Set(outcome.agreeing), disagree = Set(outcome.disagreeing)
        #expect(agree.isDisjoint(with: disagree))
        #expect(agree.union(disagree) == all)
        let anchor = try #require(outcome.anchor)
        let clusterScores = try outcome.agreeing.map { try #require(scoreOf[$0] ?? nil) }
        for s in clusterScores { #expect(within(s, anchor: anchor, ratio: c.ratio)) }
        let lo = try #require(clusterScores.min()), hi = try #require(clusterScores.max())
        #expect(lo <= score && score <= hi)
        // Every disagreeing vote is invalid or outside the anchor's tolerance.
        for name in outcome.disagreeing {
            if let s = scoreOf[name] ?? nil, s.isFinite {
                #expect(!within(s, anchor: anchor, ratio: c.ratio))
            }
        }
    }

    @Test(arguments: propertySeeds)
    func farOutlierNeverChangesTheScore(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var c = randomCase(&rng)
        c.threshold = max(2, c.threshold)  // with k = 1 a lone outlier can itself be a "cluster"
        let before = Consensus.evaluate(c.votes, threshold: c.threshold, toleranceRatio: c.ratio)
        let biggest = c.votes.compactMap(\.finiteScore).map(abs).max() ?? 1
        let outlier = (biggest + 1) * 1_000 * (rng.chance(0.5) ? 1 : -1)
        let after = Consensus.evaluate(c.votes + [Vote(evaluator: "zz-outlier", score: outlier)],
                                       threshold: c.threshold, toleranceRatio: c.ratio)
        #expect(after.score == before.score)
        #expect(after.agreeing == before.agreeing)
        if before.reached {
            #expect(after.disagreeing == before.disagreeing + ["zz-outlier"])
        }
    }

    @Test(arguments: propertySeeds)
    func nonFiniteNeverBecomesConsensus(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let n = 1 + rng.below(8)
        let junk = (0..<n).map { i in
            Vote(evaluator: "e\(i)", score: [nil, Double.nan, .infinity, -.infinity][rng.below(4)])
        }
        let outcome = Consensus.evaluate(junk, threshold: 1, toleranceRatio: 0.1)
        #expect(!outcome.reached)
        // Mixed with real votes, the score is always a finite submitted value's neighbourhood.
        let mixed = junk + [Vote(evaluator: "x", score: 0.4), Vote(evaluator: "y", score: 0.4)]
        let m = Consensus.evaluate(mixed, threshold: 2, toleranceRatio: 0.1)
        #expect(m.score == 0.4)
        #expect(m.disagreeing.count == n)
    }
}
