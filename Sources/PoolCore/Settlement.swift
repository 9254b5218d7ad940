/// What happens to a candidate when evaluations arrive: the rules the pool's submit path
/// applies, stated once here and written by the store.
public enum Settlement {
    /// The fate of a candidate still in evaluation, given every vote it has and how many
    /// evaluations it has had (its slot count).
    public enum Decision: Sendable, Equatable {
        /// k-of-n consensus reached: the consensus score and who agreed with it.
        case scored(score: Double, agreeing: Set<String>)
        /// No consensus and no slot left: it will never be scored (`no_consensus`).
        case retired
        /// No consensus yet; more evaluations may bring one.
        case waiting
    }

    public static func decide(votes: [Vote], evaluationCount: Int, rules: PoolRules) -> Decision {
        let outcome = Consensus.evaluate(votes, rules: rules)
        if let score = outcome.score { return .scored(score: score, agreeing: Set(outcome.agreeing)) }
        return evaluationCount >= rules.candidateSlotCap ? .retired : .waiting
    }

    /// A late evaluation of a candidate already scored agrees when it is finite and within
    /// the tolerance of the fixed consensus score.
    public static func lateVoteAgrees(_ score: Double?, consensusScore: Double, rules: PoolRules) -> Bool {
        guard let score, score.isFinite else { return false }
        return Consensus.isWithinTolerance(score, anchor: consensusScore, ratio: rules.toleranceRatio,
                                           epsilon: rules.toleranceEpsilon)
    }

    /// A consensus score becomes the task's SOTA when there is none yet or it is strictly
    /// higher than the current one.
    public static func replacesSOTA(_ score: Double, current: Double?) -> Bool {
        current.map { score > $0 } ?? true
    }
}
