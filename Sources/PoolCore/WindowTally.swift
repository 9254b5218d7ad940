/// The additive state behind one miner's points in one window. Every field of `MinerPoints`
/// is a function of these counters (`points(hotkey:rules:)`), so a store can keep them up to
/// date by adding the deltas of each consensus event (`WindowTally`) instead of recomputing
/// the window, and `WindowPoints.compute` folds the same deltas over a whole window.
public struct MinerCounters: Sendable, Codable, Equatable {
    public var agreements: Int
    public var disagreements: Int
    /// Evolutions in the window that reached consensus with a finite score.
    public var evolutionsConsidered: Int
    /// Evolutions in the window that repeated a DSL hash within the repetition scope.
    public var repeatedEvolutions: Int
    /// Σ improvement, summed in algorithm-id order (floating-point addition is not
    /// associative, so the order is part of the definition).
    public var totalImprovement: Double

    public init(agreements: Int = 0, disagreements: Int = 0, evolutionsConsidered: Int = 0,
                repeatedEvolutions: Int = 0, totalImprovement: Double = 0) {
        self.agreements = agreements
        self.disagreements = disagreements
        self.evolutionsConsidered = evolutionsConsidered
        self.repeatedEvolutions = repeatedEvolutions
        self.totalImprovement = totalImprovement
    }

    public static let zero = MinerCounters()

    /// Adds the integer counters of `delta`; improvements are added one at a time, in order,
    /// with `addImprovement`.
    public mutating func addCounts(_ delta: MinerCounters) {
        agreements += delta.agreements
        disagreements += delta.disagreements
        evolutionsConsidered += delta.evolutionsConsidered
        repeatedEvolutions += delta.repeatedEvolutions
    }

    /// Adds one evolution's improvement (`WindowTally.improvement`); 0 leaves the sum unchanged.
    public mutating func addImprovement(_ gain: Double) {
        if gain.isFinite && gain > 0 { totalImprovement += gain }
    }

    /// The miner's points (pool-api.md §5.7 v1): the one definition of the derived values.
    public func points(hotkey: String, rules: PoolRules) -> MinerPoints {
        let agree = agreements, disagree = disagreements
        let evaluationsConsidered = agree + disagree
        let evaluatorPoints = Double(agree - disagree) * rules.evaluatorWeight
        let evolverPoints = totalImprovement * rules.evolverWeight - Double(repeatedEvolutions) * rules.repetitionPenalty
        let inConsensus = evaluationsConsidered == 0 || (agree >= disagree && agree > 0)
        let eligible = inConsensus && evaluationsConsidered + evolutionsConsidered >= rules.minRewardActivity
        let sum = evaluatorPoints + evolverPoints
        let total = sum.isFinite ? max(0, sum) : 0
        return MinerPoints(
            hotkey: hotkey, evaluatorPoints: evaluatorPoints, evolverPoints: evolverPoints,
            agreements: agree, disagreements: disagree,
            evaluationsConsidered: evaluationsConsidered, evolutionsConsidered: evolutionsConsidered,
            repeatedEvolutions: repeatedEvolutions, totalImprovement: totalImprovement,
            inConsensus: inConsensus, rewardEligible: eligible,
            total: total, reward: eligible ? total : 0)
    }
}

/// The counter deltas of the consensus events that change a window's points. Shared by
/// `WindowPoints.compute` (all events of a window at once) and a store that applies each
/// event as it happens.
public enum WindowTally {
    /// An evaluation judged against a candidate's consensus (when the candidate reaches
    /// consensus, or later against its fixed score): the evaluator's delta.
    public static func judgement(agreed: Bool) -> MinerCounters {
        agreed ? MinerCounters(agreements: 1) : MinerCounters(disagreements: 1)
    }

    /// An evolution reaching consensus: its author's counted evolutions (the improvement
    /// is added separately, in id order, with `improvement(of:mode:)`).
    public static func evolution(_ evolution: EvolutionRecord) -> MinerCounters {
        guard let score = evolution.consensusScore, score.isFinite else { return .zero }
        return MinerCounters(evolutionsConsidered: 1)
    }

    /// What an evolution adds to its author's total improvement: max(0, score − baseline)
    /// when the score is finite, else 0.
    public static func improvement(of evolution: EvolutionRecord, mode: PoolRules.BaselineMode) -> Double {
        guard let score = evolution.consensusScore, score.isFinite else { return 0 }
        let gain = score - WindowPoints.baseline(for: evolution, mode: mode)
        return gain.isFinite && gain > 0 ? gain : 0
    }

    /// Repeated evolutions per author: `ordered` (the window's evolutions in algorithm-id
    /// order, as (author, DSL hash)) checked one by one against `history` and the ones
    /// before them. Only evolutions with the same hash influence each other, so a store
    /// may evaluate this per hash.
    public static func repeats(_ ordered: [(author: String, dslHash: String)], history: RepetitionHistory,
                               scope: PoolRules.RepetitionScope) -> [String: Int] {
        var seen = history
        var out: [String: Int] = [:]
        for e in ordered {
            if seen.isRepeat(e.dslHash, author: e.author, scope: scope) { out[e.author, default: 0] += 1 }
            seen.record(e.dslHash, author: e.author)
        }
        return out
    }

    /// The change of `repeats` between two states of one hash's evolutions (e.g. before and
    /// after some of them reach consensus in the window): per author, after − before, zero
    /// entries omitted.
    public static func repetitionDelta(
        before: (ordered: [(author: String, dslHash: String)], history: RepetitionHistory),
        after: (ordered: [(author: String, dslHash: String)], history: RepetitionHistory),
        scope: PoolRules.RepetitionScope
    ) -> [String: Int] {
        let old = repeats(before.ordered, history: before.history, scope: scope)
        let new = repeats(after.ordered, history: after.history, scope: scope)
        var out: [String: Int] = [:]
        for author in Set(old.keys).union(new.keys) {
            let d = (new[author] ?? 0) - (old[author] ?? 0)
            if d != 0 { out[author] = d }
        }
        return out
    }
}
