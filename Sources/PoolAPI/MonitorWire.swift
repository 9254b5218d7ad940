// The operators' monitor summary.
import Foundation

/// The body of `GET /api/v1/monitor/summary`: window, miner, lease, candidate and result counts,
/// SOTA per task type, and alerts.
public struct MonitorSummary: Codable, Sendable, Equatable {
    /// The current window and its seconds left.
    public struct Window: Codable, Sendable, Equatable {
        public init(number: Int64, timeRemainingS: Int64) {
            self.number = number
            self.timeRemainingS = timeRemainingS
        }
        public var number: Int64
        public var timeRemainingS: Int64
        enum CodingKeys: String, CodingKey {
            case number
            case timeRemainingS = "time_remaining_s"
        }
    }
    /// Active and overdue leases; leases issued and completed in the last 15 minutes, and the share
    /// of those completed without evaluations.
    public struct Leases: Codable, Sendable, Equatable {
        public init(active: Int64, issued15m: Int64, completed15m: Int64, zeroEvalRatio: Double, overdue: Int64) {
            self.active = active
            self.issued15m = issued15m
            self.completed15m = completed15m
            self.zeroEvalRatio = zeroEvalRatio
            self.overdue = overdue
        }
        public var active: Int64
        public var issued15m: Int64
        public var completed15m: Int64
        public var zeroEvalRatio: Double
        public var overdue: Int64
        enum CodingKeys: String, CodingKey {
            case active, overdue
            case issued15m = "issued_15m"
            case completed15m = "completed_15m"
            case zeroEvalRatio = "zero_eval_ratio"
        }
    }
    /// Candidate algorithms in evaluation, scored by consensus, and without consensus.
    public struct Candidates: Codable, Sendable, Equatable {
        public init(inEvaluation: Int64, withConsensus: Int64, noConsensus: Int64) {
            self.inEvaluation = inEvaluation
            self.withConsensus = withConsensus
            self.noConsensus = noConsensus
        }
        public var inEvaluation: Int64
        public var withConsensus: Int64
        public var noConsensus: Int64
        enum CodingKeys: String, CodingKey {
            case inEvaluation = "in_evaluation"
            case withConsensus = "with_consensus"
            case noConsensus = "no_consensus"
        }
    }
    /// Results by status: completed and verified.
    public struct Results: Codable, Sendable, Equatable {
        public init(completed: Int64, verified: Int64) {
            self.completed = completed
            self.verified = verified
        }
        public var completed: Int64
        public var verified: Int64
    }
    /// One alert: its code, severity (`warn` or `crit`) and message.
    public struct Alert: Codable, Sendable, Equatable {
        public init(code: String, severity: String, message: String) {
            self.code = code
            self.severity = severity
            self.message = message
        }
        public var code: String
        public var severity: String
        public var message: String
    }
    /// The alerts, their count per severity, and `overall` (`ok`, `warn` or `crit`).
    public struct Alerts: Codable, Sendable, Equatable {
        public init(overall: String, counts: [String: Int], items: [Alert]) {
            self.overall = overall
            self.counts = counts
            self.items = items
        }
        public var overall: String
        public var counts: [String: Int]
        public var items: [Alert]
    }

    public var generatedAt: String
    public var window: Window
    public var miners: [String: Int64]
    public var leases: Leases
    public var candidates: Candidates
    public var results: Results
    public var sota: [String: Double]
    public var alerts: Alerts

    enum CodingKeys: String, CodingKey {
        case window, miners, leases, candidates, results, sota, alerts
        case generatedAt = "generated_at"
    }

    public init(generatedAt: String, window: Window, miners: [String: Int64], leases: Leases, candidates: Candidates,
                results: Results, sota: [String: Double], alerts: Alerts) {
        self.generatedAt = generatedAt
        self.window = window
        self.miners = miners
        self.leases = leases
        self.candidates = candidates
        self.results = results
        self.sota = sota
        self.alerts = alerts
    }
}
