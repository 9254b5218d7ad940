import Foundation

// MARK: - Emission shares

/// A challenge as the emission-share rule sees it.
public struct ChallengeShare: Sendable, Equatable {
    public var id: String
    public var mechanismId: Int
    public var emissionShare: Double
    public var active: Bool

    public init(id: String, mechanismId: Int, emissionShare: Double, active: Bool) {
        self.id = id
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.active = active
    }
}

/// Why `EmissionShares` refused a challenge: share out of range, bad mechanism id, or an active total over 1.
public enum EmissionShareError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidShare(Double)
    case invalidMechanism(Int)
    case exceeded(mechanismId: Int, total: Double)

    public var description: String {
        switch self {
        case let .invalidShare(s): return "emission_share must be a finite number in 0...1, got \(s)"
        case let .invalidMechanism(m): return "mechanism_id must be in 0...255, got \(m)"
        case let .exceeded(m, total):
            return "emission shares of the active challenges in mechanism \(m) would sum to "
                + "\(EmissionShares.format(total)), more than 1"
        }
    }
}

/// The rule: within one mechanism, the emission shares of ACTIVE challenges sum to at most
/// 1 (with a tolerance of 1e-9 for decimal inputs such as 0.1 + 0.2 + 0.7). Inactive
/// challenges keep their share but do not count.
public enum EmissionShares {
    public static let tolerance = 1e-9

    public static func validate(share: Double) throws(EmissionShareError) {
        guard share.isFinite, share >= 0, share <= 1 else { throw .invalidShare(share) }
    }

    public static func validate(mechanismId: Int) throws(EmissionShareError) {
        guard (0...255).contains(mechanismId) else { throw .invalidMechanism(mechanismId) }
    }

    /// Sum of the active shares of `mechanismId`, added in id order (deterministic).
    public static func activeTotal(_ challenges: [ChallengeShare], mechanismId: Int) -> Double {
        challenges.filter { $0.active && $0.mechanismId == mechanismId }
            .sorted { $0.id < $1.id }
            .reduce(0) { $0 + $1.emissionShare }
    }

    /// Checks the state after `proposed` replaces the challenge with the same id in
    /// `existing` (or is added). Only the proposed challenge's mechanism can newly break the rule.
    public static func check(_ proposed: ChallengeShare, replacing existing: [ChallengeShare]) throws(EmissionShareError) {
        try validate(share: proposed.emissionShare)
        try validate(mechanismId: proposed.mechanismId)
        guard proposed.active else { return }
        let after = existing.filter { $0.id != proposed.id } + [proposed]
        let total = activeTotal(after, mechanismId: proposed.mechanismId)
        if total > 1 + tolerance { throw .exceeded(mechanismId: proposed.mechanismId, total: total) }
    }

    static func format(_ v: Double) -> String {
        String(format: "%.6g", v)
    }
}

// MARK: - Submission aggregation

/// How a submission is doing, derived from its jobs.
public enum SubmissionStatus: String, Sendable, CaseIterable, Codable {
    /// No job has been claimed yet.
    case pending
    /// Some job is claimed, running or finished, but not all are finished.
    case evaluating
    /// Every job finished and at least one completed with a score.
    case completed
    /// Every job finished and none completed.
    case failed
}

/// One job of a submission as the aggregation sees it: its status and score.
public struct JobOutcome: Sendable, Equatable {
    public var status: JobStatus
    public var score: Double?

    public init(status: JobStatus, score: Double?) {
        self.status = status
        self.score = score
    }
}

/// A submission's status, score and job counts, from `ScoreAggregation.aggregate`.
public struct SubmissionAggregate: Sendable, Equatable {
    public var status: SubmissionStatus
    /// Median of the completed jobs' scores; nil until one completes.
    public var score: Double?
    public var total: Int
    public var completed: Int
    /// Failed or cancelled jobs.
    public var failed: Int
}

/// The aggregation rule: a submission's score is the **median** of the scores of its
/// completed jobs (the mean of the two middle values for an even count), so one outlying
/// validator cannot move it far once three or more validators evaluate a submission. Failed
/// and cancelled jobs carry no score. The status is `completed` only when every job is
/// finished; the score is shown as soon as one job completed and may still change until then.
public enum ScoreAggregation {
    public static func median(_ values: [Double]) -> Double? {
        let v = values.filter(\.isFinite).sorted()
        guard !v.isEmpty else { return nil }
        let mid = v.count / 2
        if v.count % 2 == 1 { return v[mid] }
        return v[mid - 1] / 2 + v[mid] / 2
    }

    public static func aggregate(_ jobs: [JobOutcome]) -> SubmissionAggregate {
        let scores = jobs.filter { $0.status == .completed }.compactMap(\.score).filter(\.isFinite)
        let completed = jobs.filter { $0.status == .completed }.count
        let failed = jobs.filter { $0.status == .failed || $0.status == .cancelled }.count
        let status: SubmissionStatus
        if jobs.isEmpty {
            status = .pending
        } else if jobs.allSatisfy(\.status.isTerminal) {
            status = completed > 0 ? .completed : .failed
        } else if jobs.allSatisfy({ $0.status == .pending }) {
            status = .pending
        } else {
            status = .evaluating
        }
        return SubmissionAggregate(status: status, score: median(scores), total: jobs.count, completed: completed,
                                   failed: failed)
    }
}

// MARK: - Leaderboard and weights

/// A completed submission with its aggregate score.
public struct ScoredSubmission: Sendable, Equatable {
    public var submissionId: String
    public var minerHotkey: String
    public var score: Double
    public var completedAt: Double

    public init(submissionId: String, minerHotkey: String, score: Double, completedAt: Double) {
        self.submissionId = submissionId
        self.minerHotkey = minerHotkey
        self.score = score
        self.completedAt = completedAt
    }
}

/// Ranking rule of a challenge: each miner is represented by its best completed submission
/// (highest score; on equal scores the one completed first, then the smaller id). Miners are
/// ordered by score descending, then by completion time (earlier first), then hotkey, so
/// equal scores get distinct, reproducible ranks. Non-finite scores are ignored.
public enum Leaderboard {
    static func better(_ a: ScoredSubmission, _ b: ScoredSubmission) -> Bool {
        if a.score != b.score { return a.score > b.score }
        if a.completedAt != b.completedAt { return a.completedAt < b.completedAt }
        if a.minerHotkey != b.minerHotkey { return a.minerHotkey < b.minerHotkey }
        return a.submissionId < b.submissionId
    }

    public static func rank(_ submissions: [ScoredSubmission]) -> [ScoredSubmission] {
        var best: [String: ScoredSubmission] = [:]
        for s in submissions where s.score.isFinite {
            if let current = best[s.minerHotkey], !better(s, current) { continue }
            best[s.minerHotkey] = s
        }
        return best.values.sorted(by: better)
    }
}

/// One challenge's input to the weights of its mechanism.
public struct ChallengeScores: Sendable, Equatable {
    public var challengeId: String
    public var emissionShare: Double
    /// Each miner's best score in this challenge.
    public var minerScores: [String: Double]

    public init(challengeId: String, emissionShare: Double, minerScores: [String: Double]) {
        self.challengeId = challengeId
        self.emissionShare = emissionShare
        self.minerScores = minerScores
    }
}

/// The result of `WeightRule.mechanismWeights`: miner weights, their total, the allocated challenges.
public struct MechanismWeights: Sendable, Equatable {
    /// (hotkey, weight) sorted by hotkey; zero weights omitted.
    public var weights: [(hotkey: String, weight: Double)]
    public var total: Double
    /// Challenge ids whose share was allocated (they had a positive score).
    public var allocated: Set<String>

    public static func == (a: MechanismWeights, b: MechanismWeights) -> Bool {
        a.total == b.total && a.allocated == b.allocated && a.weights.map(\.hotkey) == b.weights.map(\.hotkey)
            && a.weights.map(\.weight) == b.weights.map(\.weight)
    }
}

/// The weight rule of one mechanism:
///
/// 1. Per challenge, a miner's weight is proportional to its best score:
///    `w_c[m] = s_m / Σ s` over miners with a finite score > 0 (zero, negative and
///    non-finite scores get nothing). If no miner has a positive score, the challenge
///    allocates nothing and its emission share stays unallocated.
/// 2. Across the mechanism's active challenges: `W[m] = Σ_c share_c · w_c[m]`, so the total
///    is Σ(allocated shares) ≤ 1; the remainder is for the validator to burn (UID 0).
/// 3. Deterministic: challenges are summed in id order and miners in hotkey order; the
///    result is sorted by hotkey and, should rounding push the total over 1, rescaled to 1.
public enum WeightRule {
    public static func challengeWeights(_ scores: [String: Double]) -> [String: Double] {
        let positive = scores.filter { $0.value.isFinite && $0.value > 0 }
        let keys = positive.keys.sorted()
        let sum = keys.reduce(0.0) { $0 + (positive[$1] ?? 0) }
        guard sum > 0, sum.isFinite else { return [:] }
        var out: [String: Double] = [:]
        for k in keys { out[k] = (positive[k] ?? 0) / sum }
        return out
    }

    public static func mechanismWeights(_ challenges: [ChallengeScores]) -> MechanismWeights {
        var combined: [String: Double] = [:]
        var allocated: Set<String> = []
        for c in challenges.sorted(by: { $0.challengeId < $1.challengeId }) {
            guard c.emissionShare.isFinite, c.emissionShare > 0 else { continue }
            let w = challengeWeights(c.minerScores)
            guard !w.isEmpty else { continue }
            allocated.insert(c.challengeId)
            for k in w.keys.sorted() { combined[k, default: 0] += c.emissionShare * (w[k] ?? 0) }
        }
        let keys = combined.keys.sorted()
        var total = keys.reduce(0.0) { $0 + (combined[$1] ?? 0) }
        if total > 1 {
            for k in keys { combined[k] = (combined[k] ?? 0) / total }
            total = keys.reduce(0.0) { $0 + (combined[$1] ?? 0) }
        }
        let weights = keys.compactMap { k -> (hotkey: String, weight: Double)? in
            guard let w = combined[k], w > 0 else { return nil }
            return (k, w)
        }
        return MechanismWeights(weights: weights, total: total, allocated: allocated)
    }
}
