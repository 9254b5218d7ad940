import Foundation

/// What the pool's page shows, as plain values gathered by the pool (`PoolServer/PoolDashboard.swift`).
public struct PoolDashboardInput: Sendable {
    public struct Leader: Sendable {
        public var rank: Int
        public var hotkey: String
        public var reputation: Double
        public var windowReputation: Double
        public var evaluations: Int64
        public var evolutions: Int64
        public var lastSeenAt: String
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

    public struct Alert: Sendable {
        public var code: String
        public var severity: String
        public var message: String
        public init(code: String, severity: String, message: String) {
            self.code = code
            self.severity = severity
            self.message = message
        }
    }

    /// A result as the SOTA history reads it: its task, the window it was created in, its score.
    public struct ResultPoint: Sendable {
        public var taskType: String
        public var window: Int64
        public var score: Double
        public init(taskType: String, window: Int64, score: Double) {
            self.taskType = taskType
            self.window = window
            self.score = score
        }
    }

    /// The consensus scores reached in one window for one task.
    public struct WindowConsensus: Sendable {
        public var taskType: String
        public var window: Int64
        public var best: Double
        public var mean: Double
        public var count: Int64
        public init(taskType: String, window: Int64, best: Double, mean: Double, count: Int64) {
            self.taskType = taskType
            self.window = window
            self.best = best
            self.mean = mean
            self.count = count
        }
    }

    public var generatedAt = ""
    public var windowNumber: Int64 = 0
    public var timeRemainingS: Int64 = 0
    public var windowSeconds: Int64 = 0
    public var minersTotal: Int64 = 0
    public var minersActiveWindow: Int64 = 0
    public var leasesActive: Int64 = 0
    public var leasesIssued15m: Int64 = 0
    public var leasesCompleted15m: Int64 = 0
    public var zeroEvalRatio = 0.0
    public var leasesOverdue: Int64 = 0
    public var candidatesWaiting: Int64 = 0
    public var candidatesWithConsensus: Int64 = 0
    public var candidatesNoConsensus: Int64 = 0
    public var resultsCompleted: Int64 = 0
    public var resultsVerified: Int64 = 0
    /// The current SOTA per task (the `sota` table, as `/monitor/summary` reports it).
    public var sota: [String: Double] = [:]
    /// Every task type the pool serves (a task without a SOTA is shown too).
    public var taskTypes: [String] = []
    /// The first window the charts show (the last `historyWindows` windows up to the current one).
    public var firstWindow: Int64 = 0
    /// Every result (each one replaced the SOTA of its task when it was created).
    public var results: [ResultPoint] = []
    public var consensus: [WindowConsensus] = []
    public var leaders: [Leader] = []
    public var leaderboardTotal: Int64 = 0
    public var alertsOverall = "ok"
    public var alerts: [Alert] = []

    public init() {}
}

/// The pool page's view model: every number formatted once, every chart drawn.
public struct PoolDashboardView: Sendable {
    public struct Tile: Sendable {
        public var key: String
        public var label: String
        public var value: String
        public var note: String
        public var level: String
    }

    public struct TaskView: Sendable {
        public var name: String
        public var sota: String
        public var sotaChart: String
        public var consensusChart: String
        public var consensusLegend: String
    }

    public struct LeaderView: Sendable {
        public var rank: Int
        public var hotkey: String
        public var short: String
        public var reputation: String
        public var windowReputation: String
        public var evaluations: Int64
        public var evolutions: Int64
        public var lastSeen: String
    }

    public struct AlertView: Sendable {
        public var code: String
        public var severity: String
        public var message: String
    }

    public var generatedAt: String
    public var window: Int64
    public var timeLeft: String
    public var overall: String
    public var pipeline: [Tile]
    public var candidates: [Tile]
    public var tasks: [TaskView]
    public var leaders: [LeaderView]
    public var hasLeaders: Bool
    public var leadersShown: Int
    public var leaderboardTotal: Int64
    public var alerts: [AlertView]
    public var hasAlerts: Bool

    /// The SOTA of `task` at the end of each window from `first` to `last`: one point per window
    /// from the first window with a result on (a window without a new result keeps the SOTA
    /// before it). Results before `first` give the value the chart starts with.
    public static func sotaPerWindow(_ results: [PoolDashboardInput.ResultPoint], task: String, first: Int64, last: Int64)
        -> [ChartPoint]
    {
        let mine = results.filter { $0.taskType == task && $0.score.isFinite }
        guard last >= first else { return [] }
        var best: Double?
        for r in mine where r.window < first { best = max(best ?? r.score, r.score) }
        var byWindow: [Int64: Double] = [:]
        for r in mine where r.window >= first && r.window <= last { byWindow[r.window] = max(byWindow[r.window] ?? r.score, r.score) }
        var points: [ChartPoint] = []
        points.reserveCapacity(Int(last - first + 1))
        for w in first...last {
            if let v = byWindow[w] { best = max(best ?? v, v) }
            if let best { points.append(ChartPoint(x: w, y: best)) }
        }
        return points
    }

    public init(_ input: PoolDashboardInput) {
        generatedAt = input.generatedAt
        window = input.windowNumber
        timeLeft = DashboardFormat.duration(input.timeRemainingS)
        overall = input.alertsOverall
        pipeline = [
            Tile(key: "miners_active", label: "Miners active this window", value: "\(input.minersActiveWindow)",
                 note: "of \(input.minersTotal) registered", level: ""),
            Tile(key: "leases_active", label: "Leases active", value: "\(input.leasesActive)", note: "", level: ""),
            Tile(key: "issued_15m", label: "Leases issued (15 min)", value: "\(input.leasesIssued15m)", note: "", level: ""),
            Tile(key: "completed_15m", label: "Leases completed (15 min)", value: "\(input.leasesCompleted15m)", note: "", level: ""),
            Tile(key: "zero_eval_ratio", label: "Zero-evaluation ratio", value: DashboardFormat.percent(input.zeroEvalRatio),
                 note: "of completed leases", level: input.leasesCompleted15m >= 5 && input.zeroEvalRatio > 0.5 ? "warn" : ""),
            Tile(key: "overdue", label: "Overdue leases", value: "\(input.leasesOverdue)", note: "past timeout_at",
                 level: input.leasesOverdue > 0 ? "warn" : ""),
        ]
        candidates = [
            Tile(key: "in_evaluation", label: "Candidates waiting", value: "\(input.candidatesWaiting)", note: "in evaluation",
                 level: input.candidatesWaiting == 0 ? "warn" : ""),
            Tile(key: "with_consensus", label: "With consensus", value: "\(input.candidatesWithConsensus)", note: "", level: ""),
            Tile(key: "no_consensus", label: "Retired without consensus", value: "\(input.candidatesNoConsensus)", note: "", level: ""),
            Tile(key: "results_completed", label: "Results completed", value: "\(input.resultsCompleted)", note: "awaiting verification",
                 level: ""),
            Tile(key: "results_verified", label: "Results verified", value: "\(input.resultsVerified)", note: "", level: ""),
        ]
        let first = min(input.firstWindow, input.windowNumber), last = input.windowNumber
        let tasks = input.taskTypes.isEmpty ? input.sota.keys.sorted() : input.taskTypes
        var consensusByTask: [String: [PoolDashboardInput.WindowConsensus]] = [:]
        for c in input.consensus where c.window >= first && c.window <= last { consensusByTask[c.taskType, default: []].append(c) }
        self.tasks = tasks.map { task in
            let sotaChart = SVGLineChart(
                id: "sota-\(task)", title: "SOTA of \(task) per window",
                series: [ChartSeries(id: "sota-\(task)", label: "SOTA",
                                     points: Self.sotaPerWindow(input.results, task: task, first: first, last: last))],
                step: true)
            let rows = (consensusByTask[task] ?? []).sorted { $0.window < $1.window }
            let consensusChart = SVGLineChart(
                id: "consensus-\(task)", title: "Consensus scores of \(task) per window",
                series: [
                    ChartSeries(id: "consensus-best-\(task)", label: "best consensus score",
                                points: rows.map { ChartPoint(x: $0.window, y: $0.best) }),
                    ChartSeries(id: "consensus-mean-\(task)", label: "mean consensus score",
                                points: rows.map { ChartPoint(x: $0.window, y: $0.mean) }),
                ])
            return TaskView(name: task, sota: DashboardFormat.score(input.sota[task]), sotaChart: sotaChart.svg(),
                            consensusChart: consensusChart.svg(), consensusLegend: consensusChart.legendHTML())
        }
        leaders = input.leaders.map {
            LeaderView(rank: $0.rank, hotkey: $0.hotkey, short: DashboardFormat.shortKey($0.hotkey),
                       reputation: DashboardFormat.score($0.reputation), windowReputation: DashboardFormat.score($0.windowReputation),
                       evaluations: $0.evaluations, evolutions: $0.evolutions, lastSeen: $0.lastSeenAt)
        }
        hasLeaders = !leaders.isEmpty
        leadersShown = leaders.count
        leaderboardTotal = input.leaderboardTotal
        alerts = input.alerts.map {
            AlertView(code: $0.code, severity: ["ok", "warn", "crit"].contains($0.severity) ? $0.severity : "warn", message: $0.message)
        }
        hasAlerts = !alerts.isEmpty
    }

    /// The fragment inside `<main id="dash">` (what the page's script re-fetches).
    public func renderFragment() throws -> String { try DashboardTemplates.render(self, "pool") }

    /// The whole page.
    public func renderPage(refreshSeconds: Int = 5) throws -> String {
        try DashboardPage(title: "evalnet pool", service: "pool", refreshSeconds: refreshSeconds).render(fragment: renderFragment())
    }
}
