import PlatformCore
import TestSupport
import Testing

@Suite struct EmissionShareTests {
    func share(_ id: String, _ m: Int, _ s: Double, _ active: Bool = true) -> ChallengeShare {
        ChallengeShare(id: id, mechanismId: m, emissionShare: s, active: active)
    }

    @Test func activeSharesPerMechanismSumToAtMostOne() throws {
        let existing = [share("a", 1, 0.5), share("b", 1, 0.3), share("c", 2, 0.9), share("d", 1, 0.9, false)]
        try EmissionShares.check(share("e", 1, 0.2), replacing: existing)
        #expect(throws: EmissionShareError.self) { try EmissionShares.check(share("e", 1, 0.21), replacing: existing) }
        // Another mechanism is independent; inactive challenges do not count.
        try EmissionShares.check(share("e", 3, 1.0), replacing: existing)
        try EmissionShares.check(share("e", 1, 0.9, false), replacing: existing)
        // Replacing a challenge's own share is not double-counted.
        try EmissionShares.check(share("a", 1, 0.7), replacing: existing)
        // Activating the inactive 0.9 in mechanism 1 breaks the rule.
        do {
            try EmissionShares.check(share("d", 1, 0.9), replacing: existing)
            Issue.record("activation accepted")
        } catch {
            guard case let .exceeded(m, total) = error else { Issue.record("wrong error \(error)"); return }
            #expect(m == 1 && abs(total - 1.7) < 1e-9)
        }
        // Decimal sums that are 1 within rounding pass.
        try EmissionShares.check(share("z", 5, 0.7), replacing: [share("x", 5, 0.1), share("y", 5, 0.2)])
    }

    @Test func sharesAndMechanismsAreRangeChecked() {
        for bad in [-0.1, 1.01, .nan, .infinity] {
            do {
                try EmissionShares.check(share("a", 1, bad), replacing: [])
                Issue.record("share \(bad) accepted")
            } catch {
                guard case .invalidShare = error else { Issue.record("wrong error \(error)"); continue }
            }
        }
        #expect(throws: EmissionShareError.invalidMechanism(256)) { try EmissionShares.check(share("a", 256, 0.1), replacing: []) }
    }

    @Test(arguments: propertySeeds)
    func acceptedChangesNeverBreakTheRule(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var state: [ChallengeShare] = []
        for step in 0..<60 {
            let id = state.isEmpty || g.chance(0.4) ? "c\(step)" : state[g.below(state.count)].id
            let proposed = share(id, g.below(3), Double(g.below(11)) / 10, g.chance(0.7))
            if (try? EmissionShares.check(proposed, replacing: state)) != nil {
                state = state.filter { $0.id != id } + [proposed]
            }
            for m in 0..<3 { #expect(EmissionShares.activeTotal(state, mechanismId: m) <= 1 + EmissionShares.tolerance) }
        }
    }
}

@Suite struct AggregationTests {
    @Test func medianRule() {
        #expect(ScoreAggregation.median([]) == nil)
        #expect(ScoreAggregation.median([0.4]) == 0.4)
        #expect(ScoreAggregation.median([0.9, 0.1, 0.5]) == 0.5)
        #expect(ScoreAggregation.median([0.2, 0.8]) == 0.5)
        #expect(ScoreAggregation.median([1, 0.1, 0.2, 0.3]) == 0.25)
    }

    @Test func statusFollowsTheJobs() {
        func agg(_ j: [(JobStatus, Double?)]) -> SubmissionAggregate {
            ScoreAggregation.aggregate(j.map { JobOutcome(status: $0.0, score: $0.1) })
        }
        #expect(agg([(.pending, nil), (.pending, nil)]).status == .pending)
        #expect(agg([(.claimed, nil), (.pending, nil)]).status == .evaluating)
        let partial = agg([(.completed, 0.8), (.running, nil)])
        #expect(partial.status == .evaluating && partial.score == 0.8 && partial.completed == 1)
        let done = agg([(.completed, 0.8), (.failed, nil), (.completed, 0.6)])
        #expect(done.status == .completed && done.score == 0.7 && done.failed == 1 && done.total == 3)
        let failed = agg([(.failed, nil), (.cancelled, nil)])
        #expect(failed.status == .failed && failed.score == nil && failed.failed == 2)
        // A failed job's score never counts.
        #expect(agg([(.completed, 0.2), (.failed, 0.99)]).score == 0.2)
    }

    @Test(arguments: propertySeeds)
    func medianIsBoundedAndOrderIndependent(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let jobs = (0..<(1 + g.below(7))).map { _ in
            JobOutcome(status: [.completed, .completed, .failed, .running, .pending][g.below(5)], score: g.unit())
        }
        let a = ScoreAggregation.aggregate(jobs)
        let b = ScoreAggregation.aggregate(g.shuffled(jobs))
        #expect(a == b)
        let scores = jobs.filter { $0.status == .completed }.compactMap(\.score)
        if let s = a.score {
            let lo = try #require(scores.min()), hi = try #require(scores.max())
            #expect(s >= lo && s <= hi)
        } else {
            #expect(scores.isEmpty)
        }
        #expect(a.completed + a.failed <= a.total)
    }
}

@Suite struct WeightTests {
    @Test func leaderboardKeepsEachMinersBestAndBreaksTiesByTime() {
        let subs = [
            ScoredSubmission(submissionId: "s1", minerHotkey: "alice", score: 0.5, completedAt: 10),
            ScoredSubmission(submissionId: "s2", minerHotkey: "alice", score: 0.9, completedAt: 20),
            ScoredSubmission(submissionId: "s3", minerHotkey: "bob", score: 0.9, completedAt: 15),
            ScoredSubmission(submissionId: "s4", minerHotkey: "carol", score: 0.9, completedAt: 15),
            ScoredSubmission(submissionId: "s5", minerHotkey: "dave", score: .nan, completedAt: 1),
        ]
        let ranked = Leaderboard.rank(subs)
        #expect(ranked.map(\.submissionId) == ["s3", "s4", "s2"])
    }

    @Test func proportionalWeightsScaledByShare() {
        let w = WeightRule.mechanismWeights([
            ChallengeScores(challengeId: "c1", emissionShare: 0.6, minerScores: ["a": 3, "b": 1]),
            ChallengeScores(challengeId: "c2", emissionShare: 0.4, minerScores: ["b": 1, "c": 0, "d": -1]),
            ChallengeScores(challengeId: "c3", emissionShare: 0.0, minerScores: ["e": 1]),
        ])
        #expect(w.weights.map(\.hotkey) == ["a", "b"])
        #expect(abs(w.weights[0].weight - 0.45) < 1e-12 && abs(w.weights[1].weight - 0.55) < 1e-12)
        #expect(abs(w.total - 1) < 1e-12 && w.allocated == ["c1", "c2"])
    }

    @Test func challengesWithoutPositiveScoresLeaveTheirShareUnallocated() {
        let w = WeightRule.mechanismWeights([
            ChallengeScores(challengeId: "c1", emissionShare: 0.5, minerScores: ["a": 2]),
            ChallengeScores(challengeId: "c2", emissionShare: 0.5, minerScores: ["b": 0]),
        ])
        #expect(w.weights.count == 1 && w.weights[0].weight == 0.5 && w.total == 0.5 && w.allocated == ["c1"])
        #expect(WeightRule.mechanismWeights([]).weights.isEmpty)
        #expect(WeightRule.challengeWeights(["a": 0, "b": .infinity]).isEmpty)
    }

    @Test(arguments: propertySeeds)
    func weightsAreNormalizedDeterministicAndNonNegative(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var remaining = 1.0
        var challenges: [ChallengeScores] = []
        for c in 0..<(1 + g.below(4)) {
            let share = g.chance(0.2) ? 0 : remaining * g.unit()
            remaining -= share
            var scores: [String: Double] = [:]
            for _ in 0..<g.below(6) { scores["m\(g.below(8))"] = g.chance(0.2) ? 0 : g.unit() * 10 }
            challenges.append(ChallengeScores(challengeId: "c\(c)", emissionShare: share, minerScores: scores))
        }
        let a = WeightRule.mechanismWeights(challenges)
        let b = WeightRule.mechanismWeights(g.shuffled(challenges))
        #expect(a == b)
        let shares = challenges.reduce(0) { $0 + $1.emissionShare }
        #expect(a.total <= shares + 1e-9 && a.total <= 1 + 1e-12)
        #expect(a.weights.allSatisfy { $0.weight > 0 })
        #expect(a.weights.map(\.hotkey) == a.weights.map(\.hotkey).sorted())
        let sum = a.weights.reduce(0) { $0 + $1.weight }
        #expect(abs(sum - a.total) < 1e-9)
    }
}
