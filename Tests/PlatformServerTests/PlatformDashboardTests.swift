import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PlatformAPI
@testable import PlatformServer
import ServiceKit
import Store
import TestSupport
import Testing

/// `GET /dashboard` of the platform: behind the admin token, the numbers of the admin and
/// weights endpoints, the validator connected over WebSocket, escaped validator-sent text; and
/// the same in headless Chromium.
@Suite("Platform dashboard")
struct PlatformDashboardTests {
    static let hostileError = "</td><script>alert('job')</script>"
    static let repoSecret = "hunter2-repo-password"

    struct State {
        var socket: SocketProbe
        var alpha: ChallengeDetail
        var beta: ChallengeDetail
    }

    /// Two challenges in two mechanisms, three submissions: one job completed by validator 0
    /// (connected over WebSocket), one failed by validator 1 with hostile error text, one pending.
    static func populate(_ h: PlatformHarness, _ c: PlatformClient, port: Int) async throws -> State {
        let alpha = try await c.createChallenge(PlatformClient.challengeRequest("alpha", mechanism: 1, share: 0.6))
        var betaRequest = PlatformClient.challengeRequest("beta", mechanism: 2, share: 0.3)
        betaRequest.githubRepo = "https://operator:\(repoSecret)@example.com/beta.git"
        let beta = try await c.createChallenge(betaRequest)
        let (v0, v1) = (h.validators[0], h.validators[1])
        var headers = HTTPFields()
        for (n, value) in SignedRequest.headers(for: v0) { headers[.init(n)!] = value }
        headers[.init(PlatformHeaders.validatorHotkey)!] = v0.publicKey.ss58Address
        let socket = SocketProbe(port: port, hotkey: v0.publicKey.ss58Address, headers: headers)
        try await socket.waitFor("welcome") { $0.isWelcome }

        let s1 = try await c.submit(SR25519Keypair.generate(), alpha.id)
        let s2 = try await c.submit(SR25519Keypair.generate(), alpha.id)
        _ = try await c.submit(SR25519Keypair.generate(), beta.id)
        #expect(try await c.claim(v0, s1.jobs[0].id).status == .ok)
        #expect(try await c.results(v0, s1.jobs[0].id, JobResultRequest(score: 0.8, executionTimeMs: 1234)).status == .noContent)
        #expect(try await c.claim(v1, s2.jobs[0].id).status == .ok)
        #expect(try await c.results(v1, s2.jobs[0].id, JobResultRequest(score: nil, error: hostileError)).status == .noContent)
        return State(socket: socket, alpha: alpha, beta: beta)
    }

    static func check(_ html: String, _ c: PlatformClient, _ h: PlatformHarness, _ state: State) async throws {
        let v = { (k: String) in DashboardDOM.value(html, k) }
        let challenges = try await c.call(.get, PlatformPaths.adminChallenges, as: .admin).decode(ChallengeListResponse.self).challenges
        #expect(v("challenges") == String(challenges.count))
        #expect(DashboardDOM.values(html, "share") == challenges.map { String(format: "%.4f", $0.emissionShare) })
        for ch in challenges { #expect(html.contains("data-challenge=\"\(ch.id)\"")) }
        #expect(v("jobs-pending") == "1" && v("jobs-completed") == "1" && v("jobs-failed") == "1" && v("jobs-claimed") == "0")

        let validators = try await c.call(.get, PlatformPaths.adminValidators, as: .admin).decode(ValidatorListResponse.self).validators
        #expect(v("validators_connected") == String(validators.filter(\.connected).count))
        #expect(validators.filter(\.connected).map(\.hotkey) == [h.validators[0].publicKey.ss58Address])
        for entry in validators {
            let row = try #require(html.components(separatedBy: "data-validator=\"\(entry.hotkey)\"").dropFirst().first)
            #expect(DashboardDOM.value(row, "connected") == (entry.connected ? "connected" : "offline"))
        }

        for mechanism in [1, 2] {
            let w = try await c.call(.get, PlatformPaths.weights(mechanism)).decode(MechanismWeightsResponse.self)
            let card = try #require(html.components(separatedBy: "data-mechanism=\"\(mechanism)\"").dropFirst().first)
            #expect(DashboardDOM.value(card, "weights_total") == String(format: "%.6f", w.total))
            let shown = DashboardDOM.values(card.components(separatedBy: "data-mechanism=").first ?? card, "weight")
            #expect(shown == w.weights.map { String(format: "%.6f", $0.weight) })
        }
        #expect(html.contains("data-status=\"completed\"") && html.contains("data-status=\"failed\""))
        #expect(DashboardDOM.values(html, "score") == ["-", "0.8000"] || DashboardDOM.values(html, "score") == ["0.8000", "-"])
        // One point per minute of the last hour; the three jobs were created this minute.
        #expect(DashboardDOM.pointXs(html, series: "jobs-created") == Array((-59)...0))
        #expect(DashboardDOM.pointYs(html, series: "jobs-created").reduce(0, +) == 3)
        #expect(DashboardDOM.pointYs(html, series: "jobs-completed").reduce(0, +) == 1)
        #expect(DashboardDOM.pointYs(html, series: "jobs-failed").reduce(0, +) == 1)
        // Validator-sent text is escaped; no secret is rendered.
        #expect(!html.contains("<script>alert('job')"))
        #expect(html.contains("&lt;/td&gt;&lt;script&gt;alert("))
        #expect(!html.contains(PlatformHarness.adminToken) && !html.contains(repoSecret))
    }

    @Test(arguments: TestDatabases.available)
    func pageShowsTheAdminAndWeightsNumbersBehindTheAdminToken(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        try await h.runLive { c, port in
            let state = try await Self.populate(h, c, port: port)
            #expect(try await c.call(.get, PlatformDashboard.path).status == .unauthorized)
            #expect(try await c.call(.get, PlatformDashboard.path + "?token=nope").status == .unauthorized)
            let page = try await c.call(.get, PlatformDashboard.path, as: .admin)
            #expect(page.status == .ok)
            let viaQuery = try await c.call(.get, PlatformDashboard.path + "?token=\(PlatformHarness.adminToken)")
            #expect(viaQuery.status == .ok)
            try await Self.check(page.text, c, h, state)
            let fragment = try await c.call(.get, PlatformDashboard.path + "?fragment=1", as: .admin)
            #expect(fragment.status == .ok && !fragment.text.contains("<html") && fragment.text.contains("data-k=\"jobs-pending\""))
            await state.socket.close()
        }
    }

    @Test func withoutAnAdminTokenThePageIsRefusedLikeTheAdminAPI() async throws {
        let h = try await PlatformHarness.make(.sqlite) { $0.adminToken = nil }
        try await h.run { c in
            let r = try await c.call(.get, PlatformDashboard.path + "?token=anything")
            #expect(r.status == .forbidden && r.error?.code == PlatformErrorCode.adminDisabled)
        }
    }

    @Test(.enabled(if: Chromium.enabled, Comment(rawValue: Chromium.skipNote)))
    func headlessChromiumRendersThePage() async throws {
        guard Chromium.binary != nil else { throw Chromium.Missing() }
        let h = try await PlatformHarness.make(.sqlite)
        try await h.runLive { c, port in
            let state = try await Self.populate(h, c, port: port)
            let url = "http://127.0.0.1:\(port)\(PlatformDashboard.path)?token=\(PlatformHarness.adminToken)"
            let dom = try await Chromium.dumpDOM(url, budgetMs: 6500)
            try await Self.check(dom, c, h, state)
            #expect(dom.contains("<title>evalnet platform</title>"))
            #expect(Int(dom.components(separatedBy: "data-refreshes=\"").dropFirst().first?.prefix { $0 != "\"" } ?? "") ?? 0 >= 1)
            try await Chromium.screenshot(url, to: ".build/dashboard-platform.png", width: 1280, height: 1500)
            try await Chromium.screenshot(url, to: ".build/dashboard-platform-phone.png", width: 390, height: 1400)
            await state.socket.close()
        }
    }
}
