import Foundation

/// What the platform's page shows, as plain values gathered by the platform
/// (`PlatformServer/PlatformDashboard.swift`).
public struct PlatformDashboardInput: Sendable {
    public struct Challenge: Sendable {
        public var id: String
        public var name: String
        public var status: String
        public var mechanismId: Int
        public var emissionShare: Double
        public var commit: String
        public init(id: String, name: String, status: String, mechanismId: Int, emissionShare: Double, commit: String) {
            self.id = id
            self.name = name
            self.status = status
            self.mechanismId = mechanismId
            self.emissionShare = emissionShare
            self.commit = commit
        }
    }

    public struct Validator: Sendable {
        public var hotkey: String
        public var source: String
        public var connected: Bool
        /// Last time one of its jobs changed (claim, start, result), or nil.
        public var lastActivity: String?
        public var jobsFinished: Int64
        public init(hotkey: String, source: String, connected: Bool, lastActivity: String?, jobsFinished: Int64) {
            self.hotkey = hotkey
            self.source = source
            self.connected = connected
            self.lastActivity = lastActivity
            self.jobsFinished = jobsFinished
        }
    }

    public struct FinishedJob: Sendable {
        public var id: String
        public var challenge: String
        public var miner: String
        public var validator: String?
        public var status: String
        public var score: Double?
        public var error: String?
        public var executionTimeMs: Int64?
        public var finishedAt: String
        public init(id: String, challenge: String, miner: String, validator: String?, status: String, score: Double?,
                    error: String?, executionTimeMs: Int64?, finishedAt: String) {
            self.id = id
            self.challenge = challenge
            self.miner = miner
            self.validator = validator
            self.status = status
            self.score = score
            self.error = error
            self.executionTimeMs = executionTimeMs
            self.finishedAt = finishedAt
        }
    }

    /// Jobs created / completed / failed in one minute (`minute` counts back from now: 0 = this minute).
    public struct JobMinute: Sendable {
        public var minute: Int64
        public var created: Int64
        public var completed: Int64
        public var failed: Int64
        public init(minute: Int64, created: Int64, completed: Int64, failed: Int64) {
            self.minute = minute
            self.created = created
            self.completed = completed
            self.failed = failed
        }
    }

    public struct Mechanism: Sendable {
        public struct Weight: Sendable {
            public var hotkey: String
            public var weight: Double
            public init(hotkey: String, weight: Double) {
                self.hotkey = hotkey
                self.weight = weight
            }
        }
        public var id: Int
        public var total: Double
        public var emissionShareSum: Double
        public var weights: [Weight]
        public init(id: Int, total: Double, emissionShareSum: Double, weights: [Weight]) {
            self.id = id
            self.total = total
            self.emissionShareSum = emissionShareSum
            self.weights = weights
        }
    }

    public var generatedAt = ""
    public var database = ""
    public var challenges: [Challenge] = []
    /// Jobs per state (every state is listed, with 0 when none).
    public var jobsByState: [String: Int64] = [:]
    public var timeline: [JobMinute] = []
    public var validators: [Validator] = []
    public var recent: [FinishedJob] = []
    public var mechanisms: [Mechanism] = []

    public init() {}
}

public struct PlatformDashboardView: Sendable {
    public static let jobStates = ["pending", "claimed", "running", "completed", "failed", "cancelled"]

    public struct ChallengeView: Sendable {
        public var id: String
        public var name: String
        public var status: String
        public var active: Bool
        public var mechanism: Int
        public var share: String
        public var commit: String
    }

    public struct StateView: Sendable {
        public var state: String
        public var count: Int64
    }

    public struct ValidatorView: Sendable {
        public var hotkey: String
        public var short: String
        public var source: String
        public var connected: Bool
        public var lastActivity: String
        public var jobsFinished: Int64
    }

    public struct JobView: Sendable {
        public var id: String
        public var short: String
        public var challenge: String
        public var miner: String
        public var minerShort: String
        public var validator: String
        public var status: String
        public var failed: Bool
        public var score: String
        public var error: String
        public var time: String
        public var finishedAt: String
    }

    public struct WeightView: Sendable {
        public var hotkey: String
        public var short: String
        public var weight: String
        public var percent: String
    }

    public struct MechanismView: Sendable {
        public var id: Int
        public var total: String
        public var emissionPercent: String
        public var weights: [WeightView]
        public var hasWeights: Bool
    }

    public var generatedAt: String
    public var database: String
    public var challenges: [ChallengeView]
    public var hasChallenges: Bool
    public var challengeCount: Int
    public var states: [StateView]
    public var jobsChart: String
    public var jobsLegend: String
    public var validators: [ValidatorView]
    public var hasValidators: Bool
    public var connectedCount: Int
    public var anyConnected: Bool
    public var validatorCount: Int
    public var recent: [JobView]
    public var hasRecent: Bool
    public var mechanisms: [MechanismView]
    public var hasMechanisms: Bool

    /// `min(100, 100·Σ emission_share)` of a mechanism, as the reference's `/mechanisms` reports it.
    public static func emissionPercent(_ shareSum: Double) -> Double { min(100, 100 * shareSum) }

    public init(_ input: PlatformDashboardInput) {
        generatedAt = input.generatedAt
        database = input.database
        challenges = input.challenges.map {
            ChallengeView(id: $0.id, name: $0.name, status: $0.status, active: $0.status == "active", mechanism: $0.mechanismId,
                          share: String(format: "%.4f", $0.emissionShare), commit: String($0.commit.prefix(12)))
        }
        hasChallenges = !challenges.isEmpty
        challengeCount = challenges.count
        let extra = input.jobsByState.keys.filter { !Self.jobStates.contains($0) }.sorted()
        states = (Self.jobStates + extra).map { StateView(state: $0, count: input.jobsByState[$0] ?? 0) }
        let minutes = input.timeline.sorted { $0.minute > $1.minute }
        let chart = SVGLineChart(
            id: "jobs-timeline", title: "Jobs per minute",
            series: [
                ChartSeries(id: "jobs-created", label: "created", points: minutes.map { ChartPoint(x: -$0.minute, y: Double($0.created)) }),
                ChartSeries(id: "jobs-completed", label: "completed",
                            points: minutes.map { ChartPoint(x: -$0.minute, y: Double($0.completed)) }),
                ChartSeries(id: "jobs-failed", label: "failed", points: minutes.map { ChartPoint(x: -$0.minute, y: Double($0.failed)) }),
            ],
            xName: "minutes ago", xLabel: { $0 == 0 ? "now" : "\(-$0)" })
        var counts = chart
        counts.counts = true
        counts.height = 200
        jobsChart = counts.svg()
        jobsLegend = chart.legendHTML()
        validators = input.validators.map {
            ValidatorView(hotkey: $0.hotkey, short: DashboardFormat.shortKey($0.hotkey), source: $0.source, connected: $0.connected,
                          lastActivity: $0.lastActivity ?? "-", jobsFinished: $0.jobsFinished)
        }
        hasValidators = !validators.isEmpty
        connectedCount = input.validators.filter(\.connected).count
        anyConnected = connectedCount > 0
        validatorCount = validators.count
        recent = input.recent.map {
            let error = $0.error.map { $0.count > 200 ? String($0.prefix(200)) + "…" : $0 } ?? ""
            return JobView(id: $0.id, short: String($0.id.prefix(8)), challenge: $0.challenge, miner: $0.miner,
                           minerShort: DashboardFormat.shortKey($0.miner), validator: $0.validator.map(DashboardFormat.shortKey) ?? "-",
                           status: $0.status, failed: $0.status == "failed", score: DashboardFormat.score($0.score), error: error,
                           time: $0.executionTimeMs.map { "\($0) ms" } ?? "-", finishedAt: $0.finishedAt)
        }
        hasRecent = !recent.isEmpty
        mechanisms = input.mechanisms.map { m in
            let weights = m.weights.map {
                WeightView(hotkey: $0.hotkey, short: DashboardFormat.shortKey($0.hotkey), weight: String(format: "%.6f", $0.weight),
                           percent: String(format: "%.1f", min(100, max(0, $0.weight * 100))))
            }
            return MechanismView(id: m.id, total: String(format: "%.6f", m.total),
                                 emissionPercent: String(format: "%.1f%%", Self.emissionPercent(m.emissionShareSum)),
                                 weights: weights, hasWeights: !weights.isEmpty)
        }
        hasMechanisms = !mechanisms.isEmpty
    }

    public func renderFragment() throws -> String { try DashboardTemplates.render(self, "platform") }

    public func renderPage(refreshSeconds: Int = 5) throws -> String {
        try DashboardPage(title: "evalnet platform", service: "platform", refreshSeconds: refreshSeconds)
            .render(fragment: renderFragment())
    }
}
