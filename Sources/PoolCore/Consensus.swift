/// One evaluator's score for one candidate. `score == nil` (or a non-finite value) marks an
/// invalid evaluation: it can never be part of a consensus and counts as a disagreement
/// when consensus is reached.
public struct Vote: Sendable, Codable, Equatable, Hashable {
    public var evaluator: String
    public var score: Double?

    public init(evaluator: String, score: Double?) {
        self.evaluator = evaluator
        self.score = score
    }

    /// The score if it is usable for consensus (finite), else nil.
    public var finiteScore: Double? {
        guard let score, score.isFinite else { return nil }
        return score
    }
}

/// Result of the k-of-n cluster consensus for one candidate.
public struct ConsensusOutcome: Sendable, Codable, Equatable {
    /// Median of the winning cluster; nil when no cluster reached the threshold.
    public var score: Double?
    /// Anchor score of the best cluster (present whenever there was at least one finite vote).
    public var anchor: Double?
    /// Members of the best cluster (0 when there were no finite votes).
    public var clusterSize: Int
    /// max − min of the best cluster.
    public var spread: Double?
    /// Evaluators inside the winning cluster, sorted. Empty when not reached.
    public var agreeing: [String]
    /// Every other evaluator (including invalid votes), sorted. Empty when not reached.
    public var disagreeing: [String]
    /// Distinct evaluators considered, sorted.
    public var evaluators: [String]
    /// Distinct evaluators whose vote was finite.
    public var validVotes: Int

    public var reached: Bool { score != nil }

    public init(score: Double?, anchor: Double?, clusterSize: Int, spread: Double?,
                agreeing: [String], disagreeing: [String], evaluators: [String], validVotes: Int) {
        self.score = score
        self.anchor = anchor
        self.clusterSize = clusterSize
        self.spread = spread
        self.agreeing = agreeing
        self.disagreeing = disagreeing
        self.evaluators = evaluators
        self.validVotes = validVotes
    }
}

/// Strict k-of-n cluster consensus (pool-api.md §5.5 v1, "proposed deterministic algorithm").
///
/// For every finite score as anchor `a`, the cluster is every finite score `s` with
/// `|s − a| ≤ toleranceRatio × max(|a|, epsilon)` (plus a 1e-12 relative slack against
/// binary rounding; see `isWithinTolerance`). The best cluster has the most members,
/// ties broken by smallest spread (max − min) and then by lowest anchor. If it has at least
/// `threshold` members, the consensus score is its median; evaluators in it agree and all
/// others (including invalid votes) disagree. Otherwise there is no consensus yet and nobody
/// agrees or disagrees.
///
/// The result depends only on the multiset of (evaluator, score) pairs, not on their order,
/// except that an evaluator appearing several times is represented by its last vote.
public enum Consensus {
    public static func evaluate(_ votes: [Vote], rules: PoolRules) -> ConsensusOutcome {
        evaluate(votes, threshold: rules.consensusThreshold,
                 toleranceRatio: rules.toleranceRatio, epsilon: rules.toleranceEpsilon)
    }

    public static func evaluate(_ votes: [Vote], threshold: Int, toleranceRatio: Double,
                                epsilon: Double = 1e-9) -> ConsensusOutcome {
        // Latest vote per evaluator wins.
        var latest: [String: Double?] = [:]
        for vote in votes { latest[vote.evaluator] = .some(vote.finiteScore) }
        let evaluators = latest.keys.sorted()

        // Finite scores sorted ascending (ties by evaluator) make the scan order canonical.
        let finite: [(evaluator: String, score: Double)] = evaluators
            .compactMap { name in latest[name].flatMap { $0 }.map { (name, $0) } }
            .sorted { $0.score != $1.score ? $0.score < $1.score : $0.evaluator < $1.evaluator }

        let ratio = toleranceRatio.isFinite ? max(0, toleranceRatio) : 0
        let eps = epsilon.isFinite && epsilon > 0 ? epsilon : 1e-9

        var best: (anchor: Double, members: [Int], spread: Double)?
        for candidate in finite {
            let anchor = candidate.score
            var members: [Int] = []
            for (index, entry) in finite.enumerated()
            where isWithinTolerance(entry.score, anchor: anchor, ratio: ratio, epsilon: eps) {
                members.append(index)
            }
            // `finite` is sorted, so the first and last members are the min and max.
            guard let lo = members.first, let hi = members.last else { continue }
            let spread = finite[hi].score - finite[lo].score
            if let current = best {
                let better = members.count > current.members.count
                    || (members.count == current.members.count
                        && (spread < current.spread || (spread == current.spread && anchor < current.anchor)))
                if !better { continue }
            }
            best = (anchor, members, spread)
        }

        guard let best else {
            return ConsensusOutcome(score: nil, anchor: nil, clusterSize: 0, spread: nil,
                                    agreeing: [], disagreeing: [], evaluators: evaluators,
                                    validVotes: 0)
        }
        guard best.members.count >= max(1, threshold) else {
            return ConsensusOutcome(score: nil, anchor: best.anchor, clusterSize: best.members.count,
                                    spread: best.spread, agreeing: [], disagreeing: [],
                                    evaluators: evaluators, validVotes: finite.count)
        }
        let clusterScores = best.members.map { finite[$0].score }  // already ascending
        let agreeing = Set(best.members.map { finite[$0].evaluator })
        return ConsensusOutcome(
            score: median(ofSorted: clusterScores),
            anchor: best.anchor,
            clusterSize: best.members.count,
            spread: best.spread,
            agreeing: agreeing.sorted(),
            disagreeing: evaluators.filter { !agreeing.contains($0) },
            evaluators: evaluators,
            validVotes: finite.count)
    }

    /// Relative slack added to the tolerance so that decimal boundary cases agree with
    /// intuition despite binary rounding (e.g. 1.1 vs anchor 1.0 at 10 % is within).
    public static let toleranceSlack = 1e-12

    /// The cluster membership test: |score − anchor| ≤ (ratio + slack) × max(|anchor|, epsilon).
    /// Note it is relative to the *anchor*, so it is not symmetric.
    public static func isWithinTolerance(_ score: Double, anchor: Double, ratio: Double,
                                         epsilon: Double = 1e-9) -> Bool {
        abs(score - anchor) <= (ratio + toleranceSlack) * max(abs(anchor), epsilon)
    }

    /// Median of a non-empty ascending array; the mean of the two middle values for an even
    /// count, computed so it cannot overflow and always lies between them.
    static func median(ofSorted values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let mid = values.count / 2
        if values.count % 2 == 1 { return values[mid] }
        let a = values[mid - 1], b = values[mid]
        return min(max(a / 2 + b / 2, a), b)
    }
}
