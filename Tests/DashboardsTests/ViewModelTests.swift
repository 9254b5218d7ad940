import Foundation
import Testing

@testable import Dashboards

@Suite("Dashboard view models")
struct ViewModelTests {
    typealias R = PoolDashboardInput.ResultPoint

    @Test func sotaHasOnePointPerWindowFromTheFirstResultAndCarriesForward() {
        let results = [R(taskType: "t", window: 12, score: 0.4), R(taskType: "t", window: 12, score: 0.6),
                       R(taskType: "t", window: 15, score: 0.7), R(taskType: "other", window: 11, score: 9)]
        let points = PoolDashboardView.sotaPerWindow(results, task: "t", first: 10, last: 18)
        #expect(points.map(\.x) == Array(12...18))
        #expect(points.map(\.y) == [0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7])
        // A result before the first window shown gives the starting value: every window has a point.
        let carried = PoolDashboardView.sotaPerWindow(results, task: "t", first: 13, last: 16)
        #expect(carried.map(\.x) == [13, 14, 15, 16])
        #expect(carried.map(\.y) == [0.6, 0.6, 0.7, 0.7])
        #expect(PoolDashboardView.sotaPerWindow(results, task: "none", first: 0, last: 5).isEmpty)
        #expect(PoolDashboardView.sotaPerWindow(results, task: "t", first: 5, last: 4).isEmpty)
    }

    static func poolInput() -> PoolDashboardInput {
        var input = PoolDashboardInput()
        input.generatedAt = "2026-11-30T20:00:00Z"
        input.windowNumber = 20
        input.timeRemainingS = 3723
        input.minersTotal = 12
        input.minersActiveWindow = 7
        input.leasesActive = 3
        input.leasesIssued15m = 41
        input.leasesCompleted15m = 38
        input.zeroEvalRatio = 0.125
        input.leasesOverdue = 2
        input.candidatesWaiting = 17
        input.candidatesWithConsensus = 230
        input.candidatesNoConsensus = 4
        input.resultsCompleted = 5
        input.resultsVerified = 1
        input.taskTypes = ["scalar_linear", "cifar10_binary"]
        input.sota = ["scalar_linear": 0.8125]
        input.firstWindow = 11
        input.results = [R(taskType: "scalar_linear", window: 14, score: 0.5), R(taskType: "scalar_linear", window: 18, score: 0.8125)]
        input.consensus = [.init(taskType: "scalar_linear", window: 14, best: 0.5, mean: 0.3, count: 4),
                           .init(taskType: "scalar_linear", window: 16, best: 0.45, mean: 0.2, count: 2),
                           .init(taskType: "scalar_linear", window: 3, best: 0.9, mean: 0.9, count: 1)]
        input.leaders = [.init(rank: 1, hotkey: "<img src=x onerror=alert(1)>", reputation: 12.5, windowReputation: 1.25,
                               evaluations: 40, evolutions: 3, lastSeenAt: "2026-11-30T19:59:00Z")]
        input.leaderboardTotal = 12
        input.alertsOverall = "warn"
        input.alerts = [.init(code: "overdue_leases", severity: "warn", message: "2 leases are past timeout_at"),
                        .init(code: "x", severity: "<b>", message: "<script>alert(2)</script>")]
        return input
    }

    func value(_ html: String, _ key: String) -> String? {
        guard let r = html.range(of: "data-k=\"\(key)\">") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "<" })
    }

    @Test func poolPageShowsTheNumbersItWasGiven() throws {
        let html = try PoolDashboardView(Self.poolInput()).renderPage()
        #expect(value(html, "window") == "20")
        #expect(value(html, "time_left") == "1h 02m 03s")
        #expect(value(html, "miners_active") == "7")
        #expect(value(html, "issued_15m") == "41")
        #expect(value(html, "completed_15m") == "38")
        #expect(value(html, "zero_eval_ratio") == "12.5%")
        #expect(value(html, "overdue") == "2")
        #expect(value(html, "in_evaluation") == "17")
        #expect(value(html, "with_consensus") == "230")
        #expect(value(html, "sota-scalar_linear") == "0.8125")
        #expect(value(html, "sota-cifar10_binary") == "-")
        #expect(value(html, "reputation") == "12.5000")
        #expect(value(html, "leaderboard_total") == "12")
        #expect(value(html, "alerts_overall") == "warn")
        // One SOTA point per window from the first result (14) to the current window (20).
        #expect(pointXs(html, series: "sota-scalar_linear") == Array(14...20))
        #expect(pointYs(html, series: "sota-scalar_linear").last == 0.8125)
        // Consensus points only for windows with consensus, inside the charted windows.
        #expect(pointXs(html, series: "consensus-best-scalar_linear") == [14, 16])
        #expect(pointYs(html, series: "consensus-mean-scalar_linear") == [0.3, 0.2])
        #expect(html.contains("class=\"sev-warn\" data-alert=\"overdue_leases\""))
        // An unknown severity never becomes a class name of its own.
        #expect(html.contains("class=\"sev-warn\" data-alert=\"x\""))
    }

    @Test func hostileTextIsEscapedEverywhere() throws {
        let html = try PoolDashboardView(Self.poolInput()).renderPage()
        #expect(!html.contains("<img src=x"))
        #expect(!html.contains("<script>alert"))
        #expect(!html.contains("sev-<b>") && !html.contains("data-severity=\"<b>\""))
        #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
        #expect(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"))

        var p = PlatformDashboardInput()
        p.challenges = [.init(id: "c1", name: "\"><script>alert(3)</script>", status: "active", mechanismId: 1, emissionShare: 0.5,
                              commit: "<i>commit</i>")]
        p.recent = [.init(id: "j1", challenge: "<u>ch</u>", miner: "<img src=y>", validator: nil, status: "failed", score: nil,
                          error: "</td><script>alert(4)</script>", executionTimeMs: nil, finishedAt: "t")]
        p.validators = [.init(hotkey: "<svg onload=alert(5)>", source: "admin", connected: true, lastActivity: nil, jobsFinished: 0)]
        p.mechanisms = [.init(id: 1, total: 1, emissionShareSum: 0.5, weights: [.init(hotkey: "<a href=x>", weight: 1)])]
        let page = try PlatformDashboardView(p).renderPage()
        for bad in ["<script>alert", "<img src=y", "<u>", "<i>commit", "<svg onload", "<a href=x"] {
            #expect(!page.contains(bad), "\(bad)")
        }
        #expect(page.contains("&quot;&gt;&lt;script&gt;alert(3)"))
        // Only the page's own script.
        #expect(occurrences(of: "<script", in: page) == 1)
    }

    @Test func pagesAreSelfContainedAndReadableOnAPhone() throws {
        for html in [try PoolDashboardView(Self.poolInput()).renderPage(), try PlatformDashboardView(PlatformDashboardInput()).renderPage()] {
            #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
            #expect(html.contains("@media (max-width:600px)"))
            for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url("] {
                #expect(!html.contains(external), "\(external)")
            }
            #expect(html.contains("setInterval(tick, 5000)"))
            #expect(html.contains("<main id=\"dash\">"))
        }
    }

    @Test func fragmentIsThePartOfThePageThatRefreshes() throws {
        let view = PoolDashboardView(Self.poolInput())
        let fragment = try view.renderFragment()
        let page = try view.renderPage()
        #expect(page.contains("<main id=\"dash\">" + fragment + "</main>"))
        #expect(!fragment.contains("<html") && !fragment.contains("<script"))
    }

    @Test func platformViewListsEveryJobStateAndOnePointPerMinute() throws {
        var p = PlatformDashboardInput()
        p.jobsByState = ["completed": 4, "pending": 2, "weird": 1]
        p.timeline = (0..<60).map { .init(minute: $0, created: $0 == 0 ? 3 : 0, completed: $0 == 1 ? 2 : 0, failed: 0) }
        p.challenges = [.init(id: "a", name: "alpha", status: "active", mechanismId: 2, emissionShare: 0.7, commit: "0123456789abcdef0123")]
        p.mechanisms = [.init(id: 2, total: 0.7, emissionShareSum: 1.4, weights: [.init(hotkey: "k", weight: 0.7)])]
        let view = PlatformDashboardView(p)
        #expect(view.states.map(\.state) == PlatformDashboardView.jobStates + ["weird"])
        #expect(view.states.map(\.count) == [2, 0, 0, 4, 0, 0, 1])
        #expect(view.mechanisms.first?.emissionPercent == "100.0%")
        #expect(PlatformDashboardView.emissionPercent(0.25) == 25)
        let html = try view.renderPage()
        #expect(pointXs(html, series: "jobs-created") == Array((-59)...0))
        #expect(pointYs(html, series: "jobs-created").last == 3)
        #expect(pointYs(html, series: "jobs-completed")[58] == 2)
        #expect(value(html, "jobs-pending") == "2")
        #expect(value(html, "jobs-completed") == "4")
        #expect(value(html, "share") == "0.7000")
        #expect(html.contains("<code>0123456789ab</code>"))
    }

    @Test func formats() {
        #expect(DashboardFormat.duration(0) == "0s")
        #expect(DashboardFormat.duration(59) == "59s")
        #expect(DashboardFormat.duration(61) == "1m 01s")
        #expect(DashboardFormat.duration(-5) == "0s")
        #expect(DashboardFormat.score(nil) == "-")
        #expect(DashboardFormat.score(.nan) == "-")
        #expect(DashboardFormat.percent(0.5) == "50.0%")
        #expect(DashboardFormat.shortKey("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY") == "5GrwvaEF…GKutQY")
    }
}
