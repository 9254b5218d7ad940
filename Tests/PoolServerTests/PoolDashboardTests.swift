import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PoolAPI
import PoolCore
@testable import PoolServer
import ServiceKit
import Store
import TestSupport
import Testing

/// `GET /dashboard`: the page shows what the JSON endpoints say, behind the monitor token, with
/// hostile text escaped; and in a real browser (headless Chromium) the rendered DOM agrees.
@Suite("Pool dashboard")
struct PoolDashboardTests {
    static let token = "monitor-secret-7d1f"
    static let hostile = "<img src=x onerror=alert(1)>"

    /// A pool with history: three honest evaluators and a liar reach consensus in the current
    /// window (a real result and SOTA), and earlier windows get weaker results and consensus
    /// scores written the way settlement writes them. Returns the windows that had a result.
    static func populate(_ h: PoolHarness, _ c: PoolClientForTests) async throws -> (current: Int64, resultWindows: [Int64: Double]) {
        let current = Int64(h.store.clock.number(at: h.clock.now))
        var history: [Int64: Double] = [:]
        for (back, score) in [(6, 0.2), (4, 0.3), (2, 0.35)] {
            let w = current - Int64(back)
            let at = h.store.clock.start(of: Int(w)) + 60
            let id = try #require(try await h.db.queryOne(
                """
                INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, origin, window_created, status, eval_count,
                                        consensus_score, consensus_window, created_at)
                VALUES ('scalar_linear', 16, ?, ?, 'evolution', ?, 'scored', 3, ?, ?, ?) RETURNING id
                """, [.text("# history \(w)"), .text("history-\(w)"), .int(w), .double(score), .int(w), .double(at)])?.int("id"))
            _ = try await h.db.execute(
                "INSERT INTO results (algorithm_id, task_type, score, miner, status, created_at) VALUES (?, 'scalar_linear', ?, NULL, 'completed', ?)",
                [.int(id), .double(score), .double(at)])
            history[w] = score
        }
        // A miner whose hotkey is hostile text (written straight to the table: the API would refuse it).
        _ = try await h.db.execute("INSERT INTO miners (hotkey, registered_at, last_seen_at) VALUES (?, ?, ?)",
                                   [.text(hostile), .double(h.clock.now), .double(h.clock.now)])

        let honest = Keys.make(3)
        let liar = SR25519Keypair.generate()
        let everyone = honest + [liar]
        var leases: [LeaseResponse] = []
        for k in everyone { leases.append(try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))) }
        for (i, k) in everyone.enumerated() {
            let entries = leases[i].evaluateAlgorithms.map { a in
                EvaluationEntry(algorithmId: a.id, score: k.seed == liar.seed ? 0.05 : 0.5 + Double(a.id % 7) / 100 + Double(i) * 0.001)
            }
            let r = try await c.submit(k, leases[i].leaseId, LeaseSubmission(evaluations: entries, evolutions: [], iterations: entries.count))
            #expect(r.status == .ok, "\(r.text)")
        }
        // One more lease left open, so the pipeline shows an active lease.
        _ = try await c.lease(Keys.make(1)[0])
        return (current, history)
    }

    @Test(arguments: TestDatabases.available)
    func pageShowsTheJSONEndpointsNumbersBehindTheMonitorToken(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend) { $0.monitorToken = Self.token }
        try await h.run { c in
            let (current, history) = try await Self.populate(h, c)
            // The token rule of /monitor/summary, plus ?token= for browsers; the token is never in the page.
            #expect(try await c.call(.get, PoolDashboard.path).status == .unauthorized)
            #expect(try await c.call(.get, PoolDashboard.path + "?token=wrong").status == .unauthorized)
            #expect(try await c.call(.get, PoolDashboard.path + "?token=wrong").error?.code == "monitor_token_invalid")
            let page = try await c.call(.get, PoolDashboard.path + "?token=\(Self.token)")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.init("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            let viaHeader = try await c.call(.get, PoolDashboard.path, headers: [.init("X-Monitor-Token")!: Self.token])
            #expect(viaHeader.status == .ok)
            #expect(!page.text.contains(Self.token))
            // The JSON endpoint keeps its header-only rule.
            #expect(try await c.call(.get, PoolPaths.monitorSummary + "?token=\(Self.token)").status == .unauthorized)

            let summary = try await c.call(.get, PoolPaths.monitorSummary, headers: [.init("X-Monitor-Token")!: Self.token])
                .decode(MonitorSummary.self)
            let board = try await c.call(.get, PoolPaths.leaderboard + "?limit=\(PoolDashboard.leaderboardRows)")
                .decode(LeaderboardResponse.self)
            try Self.checkAgainstJSON(page.text, summary: summary, board: board, current: current, history: history)
            #expect(!page.text.contains(Self.hostile))
            #expect(page.text.contains("&lt;img src=x onerror=alert(1)&gt;"))

            let fragment = try await c.call(.get, PoolDashboard.path + "?fragment=1&token=\(Self.token)")
            #expect(fragment.status == .ok && !fragment.text.contains("<html") && fragment.text.contains("data-k=\"window\""))
        }
    }

    /// The DOM numbers equal the JSON endpoints' and the SOTA chart has one point per window.
    static func checkAgainstJSON(_ html: String, summary: MonitorSummary, board: LeaderboardResponse, current: Int64,
                                 history: [Int64: Double]) throws {
        let v = { (k: String) in DashboardDOM.value(html, k) }
        #expect(v("window") == String(summary.window.number))
        #expect(v("miners_active") == String(summary.miners["active_window"] ?? -1))
        #expect(v("leases_active") == String(summary.leases.active))
        #expect(v("issued_15m") == String(summary.leases.issued15m))
        #expect(v("completed_15m") == String(summary.leases.completed15m))
        #expect(v("zero_eval_ratio") == String(format: "%.1f%%", summary.leases.zeroEvalRatio * 100))
        #expect(v("overdue") == String(summary.leases.overdue))
        #expect(v("in_evaluation") == String(summary.candidates.inEvaluation))
        #expect(v("with_consensus") == String(summary.candidates.withConsensus))
        #expect(v("no_consensus") == String(summary.candidates.noConsensus))
        #expect(v("results_completed") == String(summary.results.completed))
        #expect(v("results_verified") == String(summary.results.verified))
        #expect(v("alerts_overall") == summary.alerts.overall)
        #expect(summary.leases.issued15m >= 5 && summary.candidates.withConsensus > 0)
        let sota = try #require(summary.sota["scalar_linear"])
        #expect(v("sota-scalar_linear") == String(format: "%.4f", sota))
        #expect(v("leaderboard_total") == String(board.total))
        #expect(DashboardDOM.values(html, "reputation") == board.miners.map { String(format: "%.4f", $0.reputation) })
        #expect(DashboardDOM.values(html, "evaluations") == board.miners.map { String($0.evaluations) })
        for alert in summary.alerts.items { #expect(html.contains("data-alert=\"\(alert.code)\" data-severity=\"\(alert.severity)\"")) }

        // SOTA chart: one point per window from the first result's window to the current one,
        // each the best result so far, ending at the SOTA the JSON reports.
        let first = try #require(history.keys.min())
        #expect(DashboardDOM.pointXs(html, series: "sota-scalar_linear") == Array(first...current))
        let ys = DashboardDOM.pointYs(html, series: "sota-scalar_linear")
        var best = 0.0
        let expected = (first...current).map { w -> Double in
            best = max(best, history[w] ?? 0)
            return w == current ? sota : best
        }
        #expect(ys == expected)
        // Consensus chart: the windows that had consensus (the history's and the current one).
        #expect(DashboardDOM.pointXs(html, series: "consensus-best-scalar_linear") == history.keys.sorted() + [current])
    }

    @Test(.enabled(if: Chromium.enabled, Comment(rawValue: Chromium.skipNote)))
    func headlessChromiumRendersThePageAndItsLiveRefresh() async throws {
        guard Chromium.binary != nil else { throw Chromium.Missing() }
        let h = try await PoolHarness.make(.sqlite) { $0.monitorToken = Self.token }
        let clock = h.clock
        let app = Application(router: makePoolRouter(store: h.store, config: h.config, now: { clock.now }))
        do {
            try await app.test(.live) { client in
                let c = PoolClientForTests(client: client)
                let port = try #require(client.port)
                let (current, history) = try await Self.populate(h, c)
                let url = "http://127.0.0.1:\(port)\(PoolDashboard.path)?token=\(Self.token)"
                // Enough virtual time for the script's first refresh (every 5 s).
                let dom = try await Chromium.dumpDOM(url, budgetMs: 6500)
                let summary = try await c.call(.get, PoolPaths.monitorSummary, headers: [.init("X-Monitor-Token")!: Self.token])
                    .decode(MonitorSummary.self)
                let board = try await c.call(.get, PoolPaths.leaderboard + "?limit=\(PoolDashboard.leaderboardRows)")
                    .decode(LeaderboardResponse.self)
                try Self.checkAgainstJSON(dom, summary: summary, board: board, current: current, history: history)
                #expect(dom.contains("<title>evalnet pool</title>"))
                #expect(!dom.contains(Self.hostile) && !dom.contains(Self.token))
                // The polling script replaced the fragment at least once.
                #expect(Int(dom.components(separatedBy: "data-refreshes=\"").dropFirst().first?.prefix { $0 != "\"" } ?? "") ?? 0 >= 1)
                try await Chromium.screenshot(url, to: ".build/dashboard-pool.png", width: 1280, height: 1600)
                try await Chromium.screenshot(url, to: ".build/dashboard-pool-phone.png", width: 390, height: 1400)
            }
        } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }
}
