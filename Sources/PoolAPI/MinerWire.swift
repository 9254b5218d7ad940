// Miner and pool status bodies: health, registration, stats, leaderboard, pending work.
import Foundation

/// The body of `GET /health` (and `GET /status`): the current window number, its seconds left and length.
public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    public var windowNumber: Int64
    public var currentBlock: Int64
    public var timeRemainingS: Int64
    public var windowSeconds: Int64
    /// Evaluators (other than the author) a candidate needs to reach consensus.
    public var consensusThreshold: Int?
    /// Miners that must be mining for any candidate to reach consensus (threshold + 1: an
    /// author never evaluates its own candidate).
    public var minersNeededForConsensus: Int?

    enum CodingKeys: String, CodingKey {
        case status
        case windowNumber = "window_number"
        case currentBlock = "current_block"
        case timeRemainingS = "time_remaining_s"
        case windowSeconds = "window_seconds"
        case consensusThreshold = "consensus_threshold"
        case minersNeededForConsensus = "miners_needed_for_consensus"
    }

    public init(status: String, windowNumber: Int64, currentBlock: Int64, timeRemainingS: Int64, windowSeconds: Int64,
                consensusThreshold: Int? = nil) {
        self.consensusThreshold = consensusThreshold
        self.minersNeededForConsensus = consensusThreshold.map { $0 + 1 }
        self.status = status
        self.windowNumber = windowNumber
        self.currentBlock = currentBlock
        self.timeRemainingS = timeRemainingS
        self.windowSeconds = windowSeconds
    }
}

/// The body of `POST /api/v1/miners/register`: the miner's reputation, registration and last-seen times.
public struct MinerInfo: Codable, Sendable, Equatable {
    public var hotkey: String
    public var reputation: Double
    public var windowReputation: Double
    public var registeredAt: String
    public var lastSeenAt: String

    enum CodingKeys: String, CodingKey {
        case hotkey, reputation
        case windowReputation = "window_reputation"
        case registeredAt = "registered_at"
        case lastSeenAt = "last_seen_at"
    }

    public init(hotkey: String, reputation: Double, windowReputation: Double, registeredAt: String, lastSeenAt: String) {
        self.hotkey = hotkey
        self.reputation = reputation
        self.windowReputation = windowReputation
        self.registeredAt = registeredAt
        self.lastSeenAt = lastSeenAt
    }
}

/// The pool-wide part of `StatsResponse`: miner counts, candidates in evaluation, SOTA per task type.
public struct PoolSummary: Codable, Sendable, Equatable {
    public var minersTotal: Int64
    public var minersActiveWindow: Int64
    public var candidatesInEvaluation: Int64
    public var sotaByTask: [String: Double]

    enum CodingKeys: String, CodingKey {
        case minersTotal = "miners_total"
        case minersActiveWindow = "miners_active_window"
        case candidatesInEvaluation = "candidates_in_evaluation"
        case sotaByTask = "sota_by_task"
    }

    public init(minersTotal: Int64, minersActiveWindow: Int64, candidatesInEvaluation: Int64, sotaByTask: [String: Double]) {
        self.minersTotal = minersTotal
        self.minersActiveWindow = minersActiveWindow
        self.candidatesInEvaluation = candidatesInEvaluation
        self.sotaByTask = sotaByTask
    }
}

/// The body of `GET /api/v1/miners/stats`: the caller's reputation, work counts, payouts and
/// active assignment, plus the pool summary.
public struct StatsResponse: Codable, Sendable, Equatable {
    public var hotkey: String
    public var reputation: Double
    public var windowReputation: Double
    public var windowNumber: Int64
    public var evaluationsSubmitted: Int64
    public var evaluationsInConsensus: Int64
    public var evaluationsOutOfConsensus: Int64
    public var evolutionsSubmitted: Int64
    public var evolutionsAccepted: Int64
    public var pendingRao: Int64
    public var paidRao: Int64
    public var activeAssignment: String?
    public var pool: PoolSummary
    /// The caller's own evolutions still waiting for evaluators (other miners).
    public var ownCandidatesWaiting: Int64?
    /// Evaluators a candidate needs for consensus.
    public var consensusThreshold: Int?

    enum CodingKeys: String, CodingKey {
        case hotkey, reputation, pool
        case ownCandidatesWaiting = "own_candidates_waiting"
        case consensusThreshold = "consensus_threshold"
        case windowReputation = "window_reputation"
        case windowNumber = "window_number"
        case evaluationsSubmitted = "evaluations_submitted"
        case evaluationsInConsensus = "evaluations_in_consensus"
        case evaluationsOutOfConsensus = "evaluations_out_of_consensus"
        case evolutionsSubmitted = "evolutions_submitted"
        case evolutionsAccepted = "evolutions_accepted"
        case pendingRao = "pending_rao"
        case paidRao = "paid_rao"
        case activeAssignment = "active_assignment"
    }

    public init(hotkey: String, reputation: Double, windowReputation: Double, windowNumber: Int64,
                evaluationsSubmitted: Int64, evaluationsInConsensus: Int64, evaluationsOutOfConsensus: Int64,
                evolutionsSubmitted: Int64, evolutionsAccepted: Int64, pendingRao: Int64, paidRao: Int64,
                activeAssignment: String?, pool: PoolSummary) {
        self.hotkey = hotkey
        self.reputation = reputation
        self.windowReputation = windowReputation
        self.windowNumber = windowNumber
        self.evaluationsSubmitted = evaluationsSubmitted
        self.evaluationsInConsensus = evaluationsInConsensus
        self.evaluationsOutOfConsensus = evaluationsOutOfConsensus
        self.evolutionsSubmitted = evolutionsSubmitted
        self.evolutionsAccepted = evolutionsAccepted
        self.pendingRao = pendingRao
        self.paidRao = paidRao
        self.activeAssignment = activeAssignment
        self.pool = pool
    }
}

/// One miner of `GET /api/v1/miners/leaderboard`, ranked by total reputation.
public struct LeaderboardEntry: Codable, Sendable, Equatable {
    public var rank: Int
    public var hotkey: String
    public var reputation: Double
    public var windowReputation: Double
    public var evaluations: Int64
    public var evolutions: Int64
    public var lastSeenAt: String

    enum CodingKeys: String, CodingKey {
        case rank, hotkey, reputation, evaluations, evolutions
        case windowReputation = "window_reputation"
        case lastSeenAt = "last_seen_at"
    }

    public init(rank: Int, hotkey: String, reputation: Double, windowReputation: Double, evaluations: Int64,
                evolutions: Int64, lastSeenAt: String) {
        self.rank = rank
        self.hotkey = hotkey
        self.reputation = reputation
        self.windowReputation = windowReputation
        self.evaluations = evaluations
        self.evolutions = evolutions
        self.lastSeenAt = lastSeenAt
    }
}

/// The body of `GET /api/v1/miners/leaderboard`: the top miners and the number of miners in all.
public struct LeaderboardResponse: Codable, Sendable, Equatable {
    public var miners: [LeaderboardEntry]
    public var total: Int64
    public init(miners: [LeaderboardEntry], total: Int64) {
        self.miners = miners
        self.total = total
    }
}

/// The body of `GET /api/v1/tasks/pending_evaluations`: how many candidates the caller may still evaluate.
public struct PendingEvaluationsResponse: Codable, Sendable, Equatable {
    public var hasPendingEvaluations: Bool
    public var count: Int64
    enum CodingKeys: String, CodingKey {
        case hasPendingEvaluations = "has_pending_evaluations"
        case count
    }
    public init(hasPendingEvaluations: Bool, count: Int64) {
        self.hasPendingEvaluations = hasPendingEvaluations
        self.count = count
    }
}
