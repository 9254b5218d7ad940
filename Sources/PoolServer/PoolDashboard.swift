import Dashboards
import Foundation
import Hummingbird
import PoolAPI
import ServiceKit
import Store

/// `GET /dashboard`: the operator's live page. Every number comes from the store method behind
/// the corresponding JSON endpoint (`monitorSummary` for `/api/v1/monitor/summary`,
/// `leaderboard` for `/api/v1/miners/leaderboard`); only the two histories below are read here,
/// for the charts.
public enum PoolDashboard {
    /// Windows of history in the charts (the current one included).
    public static let historyWindows: Int64 = 100
    /// Leaderboard rows on the page.
    public static let leaderboardRows = 25
    public static let path = "/dashboard"
    /// Viewers within this time of a gathering share it (the page itself refreshes every 5 s).
    public static let snapshotMaxAge = Duration.seconds(2)

    /// Gathers what the page shows at `now`.
    public static func gather(store: PoolStore, now: Double) async throws -> PoolDashboardInput {
        let summary = try await store.monitorSummary(now: now)
        let board = try await store.leaderboard(limit: leaderboardRows, now: now)
        let current = summary.window.number
        let first = current - historyWindows + 1
        var input = PoolDashboardInput()
        input.generatedAt = summary.generatedAt
        input.windowNumber = current
        input.timeRemainingS = summary.window.timeRemainingS
        input.windowSeconds = Int64(store.rules.windowSeconds)
        input.minersTotal = summary.miners["total"] ?? 0
        input.minersActiveWindow = summary.miners["active_window"] ?? 0
        input.leasesActive = summary.leases.active
        input.leasesIssued15m = summary.leases.issued15m
        input.leasesCompleted15m = summary.leases.completed15m
        input.zeroEvalRatio = summary.leases.zeroEvalRatio
        input.leasesOverdue = summary.leases.overdue
        input.candidatesWaiting = summary.candidates.inEvaluation
        input.candidatesWithConsensus = summary.candidates.withConsensus
        input.candidatesNoConsensus = summary.candidates.noConsensus
        input.resultsCompleted = summary.results.completed
        input.resultsVerified = summary.results.verified
        input.sota = summary.sota
        input.taskTypes = store.algorithms.taskTypes
        input.firstWindow = first
        input.results = try await store.resultHistory()
        input.consensus = try await store.consensusPerWindow(from: first)
        input.leaders = board.miners.map {
            .init(rank: $0.rank, hotkey: $0.hotkey, reputation: $0.reputation, windowReputation: $0.windowReputation,
                  evaluations: $0.evaluations, evolutions: $0.evolutions, lastSeenAt: $0.lastSeenAt)
        }
        input.leaderboardTotal = board.total
        input.alertsOverall = summary.alerts.overall
        input.alerts = summary.alerts.items.map { .init(code: $0.code, severity: $0.severity, message: $0.message) }
        return input
    }

    /// The monitor token rule of `/api/v1/monitor/summary`: when a token is configured the request
    /// must carry it in `X-Monitor-Token`; the page also takes it as the `token` query parameter
    /// (a browser cannot set a header on navigation). The token is never written into the page.
    static func authorize(_ request: Request, token: String?, allowQuery: Bool) throws {
        guard let token else { return }
        let given = request.header("X-Monitor-Token")
            ?? (allowQuery ? request.uri.queryParameters["token"].map(String.init) : nil)
        guard let given else {
            throw APIError.unauthorized(PoolErrorCode.monitorTokenMissing, "Missing header X-Monitor-Token")
        }
        guard constantTimeEqual(Array(given.utf8), Array(token.utf8)) else {
            throw APIError.unauthorized(PoolErrorCode.monitorTokenInvalid, "X-Monitor-Token is not valid")
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }

    /// The route's catalogue entry (`/openapi.json`, `/docs`).
    static var route: RouteDoc {
        RouteDoc("GET", path, .monitor, "Operator dashboard (live HTML page; `fragment=1` answers the part the page re-fetches)",
                 produces: "text/html",
                 params: [.query("token", .string, "The monitor token, for browsers (same as X-Monitor-Token)"),
                          .query("fragment", .string, "1: only the live part of the page")])
    }

    static func addRoutes(to router: Router<BasicRequestContext>, store: PoolStore, config: PoolConfig,
                          now: @escaping @Sendable () -> Double) {
        let snapshots = DashboardSnapshots<PoolDashboardInput>(maxAge: snapshotMaxAge)
        router.get(RouterPath(path)) { request, _ in
            try authorize(request, token: config.monitorToken, allowQuery: true)
            let view = PoolDashboardView(try await snapshots.value { try await gather(store: store, now: now()) })
            let fragmentOnly = request.uri.queryParameters["fragment"] == "1"
            return DashboardHTTP.response(fragmentOnly ? try view.renderFragment() : try view.renderPage())
        }
    }
}

/// A dashboard answer: HTML with `DashboardPage.headers` (never cached, nothing external).
enum DashboardHTTP {
    static func response(_ html: String) -> Response {
        var headers: HTTPFields = [:]
        for (name, value) in DashboardPage.headers {
            if let field = HTTPFields.Element.Name(name) { headers[field] = value }
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

extension PoolStore {
    /// Every result as (task, window it was created in, score). Each result replaced its task's
    /// SOTA when it was created, so the SOTA at the end of a window is the best result up to it.
    public func resultHistory() async throws -> [PoolDashboardInput.ResultPoint] {
        try await db.query("SELECT task_type, score, created_at FROM results", []).map { r in
            PoolDashboardInput.ResultPoint(taskType: try r.string("task_type"),
                                           window: Int64(clock.number(at: try r.double("created_at"))),
                                           score: try r.double("score"))
        }
    }

    /// Per task and window from `from` on: the best and mean consensus score reached and how many.
    public func consensusPerWindow(from: Int64) async throws -> [PoolDashboardInput.WindowConsensus] {
        try await db.query(
            """
            SELECT task_type, consensus_window AS w, MAX(consensus_score) AS best, AVG(consensus_score) AS mean, COUNT(*) AS n
            FROM algorithms WHERE consensus_window >= ? AND consensus_score IS NOT NULL
            GROUP BY task_type, consensus_window
            """, [.int(from)]).map { r in
            PoolDashboardInput.WindowConsensus(taskType: try r.string("task_type"), window: try r.int("w"),
                                               best: try r.double("best"), mean: try r.double("mean"), count: try r.int("n"))
        }
    }
}
