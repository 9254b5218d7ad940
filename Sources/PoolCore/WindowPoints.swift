/// The consensus verdict for one candidate in a window: who agreed and who disagreed.
/// Build it from a `ConsensusOutcome` with `init(candidateId:outcome:)`.
public struct CandidateVerdict: Sendable, Codable, Equatable {
    public var candidateId: Int
    public var agreeing: [String]
    public var disagreeing: [String]

    public init(candidateId: Int, agreeing: [String], disagreeing: [String]) {
        self.candidateId = candidateId
        self.agreeing = agreeing
        self.disagreeing = disagreeing
    }

    /// A candidate without consensus yields an empty verdict (nobody agrees or disagrees).
    public init(candidateId: Int, outcome: ConsensusOutcome) {
        self.init(candidateId: candidateId,
                  agreeing: outcome.reached ? outcome.agreeing : [],
                  disagreeing: outcome.reached ? outcome.disagreeing : [])
    }
}

/// One evolution proposed in the window, with the scores needed to value it.
public struct EvolutionRecord: Sendable, Codable, Equatable {
    public var algorithmId: Int
    public var author: String
    /// Consensus score if the evolution reached consensus; nil otherwise.
    public var consensusScore: Double?
    /// Consensus scores of the parents that have one (unscored parents are omitted).
    public var parentScores: [Double]
    /// The task's SOTA consensus score before the window, if any.
    public var sotaBefore: Double?
    /// Best consensus score in the author's lease population (evaluated + seed algorithms).
    public var localPopulationBest: Double?
    public var dslHash: String

    public init(algorithmId: Int, author: String, consensusScore: Double?, parentScores: [Double] = [],
                sotaBefore: Double? = nil, localPopulationBest: Double? = nil, dslHash: String) {
        self.algorithmId = algorithmId
        self.author = author
        self.consensusScore = consensusScore
        self.parentScores = parentScores
        self.sotaBefore = sotaBefore
        self.localPopulationBest = localPopulationBest
        self.dslHash = dslHash
    }
}

/// DSL hashes seen before this window: hash → authors that submitted it. Seeds can be
/// recorded under a sentinel author such as `""` so that copying a seed counts as a global
/// repetition.
public struct RepetitionHistory: Sendable, Codable, Equatable {
    public var authorsByHash: [String: Set<String>]

    public init(authorsByHash: [String: Set<String>] = [:]) {
        self.authorsByHash = authorsByHash
    }

    public static let empty = RepetitionHistory()

    mutating func record(_ hash: String, author: String) {
        authorsByHash[hash, default: []].insert(author)
    }

    func isRepeat(_ hash: String, author: String, scope: PoolRules.RepetitionScope) -> Bool {
        guard let authors = authorsByHash[hash] else { return false }
        let byMiner = authors.contains(author)
        let byOthers = authors.contains { $0 != author }
        switch scope {
        case .miner: return byMiner
        case .global: return byOthers
        case .both: return byMiner || byOthers
        }
    }
}

/// A miner's points for one window (pool-api.md §5.7 v1).
public struct MinerPoints: Sendable, Codable, Equatable {
    public var hotkey: String
    /// (agreements − disagreements) × evaluatorWeight; may be negative.
    public var evaluatorPoints: Double
    /// Σ improvement × evolverWeight − repetitionPenalty × repeatedEvolutions; may be negative.
    public var evolverPoints: Double
    public var agreements: Int
    public var disagreements: Int
    /// agreements + disagreements (evaluations on candidates that reached consensus).
    public var evaluationsConsidered: Int
    /// The miner's evolutions in the window that reached consensus.
    public var evolutionsConsidered: Int
    /// The miner's evolutions in the window that repeated a DSL hash within the scope.
    public var repeatedEvolutions: Int
    /// Σ max(0, consensus score − baseline) before weighting.
    public var totalImprovement: Double
    /// agreements ≥ disagreements with at least one agreement, or no considered evaluations.
    public var inConsensus: Bool
    /// inConsensus and evaluationsConsidered + evolutionsConsidered ≥ minRewardActivity.
    public var rewardEligible: Bool
    /// max(0, evaluatorPoints + evolverPoints).
    public var total: Double
    /// What feeds reputation/payouts: `total` when reward-eligible, else 0.
    public var reward: Double

    public var activity: Int { evaluationsConsidered + evolutionsConsidered }
}

/// All miners' points for one window.
public struct WindowPointsResult: Sendable, Codable, Equatable {
    public var miners: [String: MinerPoints]

    /// Reward-eligible miners with a positive reward: the reputation input to
    /// `PayoutCalculator.computeEpoch`.
    public var reputation: [String: Double] {
        miners.reduce(into: [:]) { acc, entry in
            if entry.value.reward > 0 { acc[entry.key] = entry.value.reward }
        }
    }
}

/// Window points as a pure function of the window's verdicts and evolutions.
///
/// Idempotence ("no double reward"): verdicts are keyed by candidate id (a later verdict for
/// the same candidate replaces an earlier one) and each (candidate, evaluator) pair counts at
/// most once; evolutions are keyed by algorithm id (last wins). Feeding the same outcome or
/// evolution twice therefore never changes the result.
public enum WindowPoints {
    public static func compute(verdicts: [CandidateVerdict], evolutions: [EvolutionRecord],
                               rules: PoolRules, history: RepetitionHistory = .empty) -> WindowPointsResult {
        // (candidate, evaluator) → agreed?  An evaluator listed on both sides counts as a
        // disagreement (conservative; cannot happen for outcomes built by `Consensus`).
        var latestVerdict: [Int: CandidateVerdict] = [:]
        for verdict in verdicts { latestVerdict[verdict.candidateId] = verdict }
        var counters: [String: MinerCounters] = [:]
        for verdict in latestVerdict.values {
            let against = Set(verdict.disagreeing)
            for evaluator in Set(verdict.agreeing) where !against.contains(evaluator) {
                counters[evaluator, default: .zero].addCounts(WindowTally.judgement(agreed: true))
            }
            for evaluator in against { counters[evaluator, default: .zero].addCounts(WindowTally.judgement(agreed: false)) }
        }

        // Evolutions in id order (ids are monotonically increasing, so this is submission order).
        var byId: [Int: EvolutionRecord] = [:]
        for evolution in evolutions { byId[evolution.algorithmId] = evolution }
        let ordered = byId.values.sorted { $0.algorithmId < $1.algorithmId }
        for evolution in ordered {
            counters[evolution.author, default: .zero].addCounts(WindowTally.evolution(evolution))
            counters[evolution.author, default: .zero].addImprovement(
                WindowTally.improvement(of: evolution, mode: rules.baselineMode))
        }
        let repeats = WindowTally.repeats(
            ordered.map { (author: $0.author, dslHash: $0.dslHash) }, history: history, scope: rules.repetitionScope)
        for (author, n) in repeats { counters[author, default: .zero].repeatedEvolutions += n }

        return WindowPointsResult(miners: counters.reduce(into: [:]) { acc, entry in
            acc[entry.key] = entry.value.points(hotkey: entry.key, rules: rules)
        })
    }

    /// The score an evolution must beat, by baseline mode. Missing scores count as 0.
    public static func baseline(for evolution: EvolutionRecord, mode: PoolRules.BaselineMode) -> Double {
        let parentBest = evolution.parentScores.filter(\.isFinite).max()
        switch mode {
        case .sota:
            return finiteOrNil(evolution.sotaBefore) ?? 0
        case .genealogy:
            return parentBest ?? 0
        case .localEvolver:
            let candidates = [finiteOrNil(evolution.localPopulationBest), parentBest].compactMap { $0 }
            return candidates.max() ?? 0
        }
    }

    private static func finiteOrNil(_ value: Double?) -> Double? {
        guard let value, value.isFinite else { return nil }
        return value
    }
}
