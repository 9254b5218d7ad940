import PoolCore
import Testing

@Suite struct SettlementTests {
    static var rules: PoolRules {
        var r = PoolRules()
        r.consensusThreshold = 3
        r.evalSlotMargin = 1
        r.toleranceRatio = 0.1
        return r
    }

    @Test func threeAgreeingVotesScoreTheCandidate() {
        let votes = [Vote(evaluator: "a", score: 0.5), Vote(evaluator: "b", score: 0.51), Vote(evaluator: "c", score: 0.49),
                     Vote(evaluator: "d", score: 0.9)]
        guard case let .scored(score, agreeing) = Settlement.decide(votes: votes, evaluationCount: 4, rules: Self.rules) else {
            Issue.record("expected consensus")
            return
        }
        #expect(agreeing == ["a", "b", "c"])
        #expect(abs(score - 0.5) < 0.011)
    }

    @Test func withoutConsensusACandidateWaitsUntilItsSlotsRunOut() {
        let split = [Vote(evaluator: "a", score: 0.1), Vote(evaluator: "b", score: 0.5), Vote(evaluator: "c", score: .nan)]
        #expect(Settlement.decide(votes: split, evaluationCount: 3, rules: Self.rules) == .waiting)
        // Slot cap = threshold + margin = 4.
        #expect(Settlement.decide(votes: split, evaluationCount: 4, rules: Self.rules) == .retired)
        #expect(Settlement.decide(votes: [], evaluationCount: 0, rules: Self.rules) == .waiting)
    }

    @Test func lateVotesAgreeOnlyWhenFiniteAndWithinTolerance() {
        #expect(Settlement.lateVoteAgrees(0.52, consensusScore: 0.5, rules: Self.rules))
        #expect(!Settlement.lateVoteAgrees(0.6, consensusScore: 0.5, rules: Self.rules))
        #expect(!Settlement.lateVoteAgrees(nil, consensusScore: 0.5, rules: Self.rules))
        #expect(!Settlement.lateVoteAgrees(.nan, consensusScore: 0.5, rules: Self.rules))
        #expect(!Settlement.lateVoteAgrees(.infinity, consensusScore: 0.5, rules: Self.rules))
    }

    @Test func onlyAStrictlyHigherScoreReplacesTheSOTA() {
        #expect(Settlement.replacesSOTA(0.1, current: nil))
        #expect(Settlement.replacesSOTA(0.6, current: 0.5))
        #expect(!Settlement.replacesSOTA(0.5, current: 0.5))
        #expect(!Settlement.replacesSOTA(0.4, current: 0.5))
    }
}
