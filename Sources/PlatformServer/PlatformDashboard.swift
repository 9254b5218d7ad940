import Dashboards
import Foundation
import Hummingbird
import PlatformAPI
import ServiceKit
import Store

/// `GET /dashboard`: the platform operator's live page, behind the admin token like the admin
/// API. Challenges, validators and weights come from the store methods behind
/// `GET /admin/challenges`, `GET /admin/validators` and `GET /mechanisms/{id}/weights`; job
/// counts, the per-minute timeline, recent finished jobs and validators' last activity are read
/// here from the jobs table.
public enum PlatformDashboard {
    public static let path = "/dashboard"
    /// Viewers within this time of a gathering share it (the page itself refreshes every 5 s).
    public static let snapshotMaxAge = Duration.seconds(2)
    public static let recentRows = 20
    public static let timelineMinutes: Int64 = 60

    /// Gathers what the page shows; `connected` = the validators with a WebSocket open now.
    public static func gather(store: PlatformStore, connected: Set<String>, now: Double) async throws -> PlatformDashboardInput {
        var input = PlatformDashboardInput()
        input.generatedAt = PlatformTime.string(now)
        input.database = store.db.dialect.rawValue
        let challenges = try await store.listChallenges().challenges
        input.challenges = challenges.map {
            .init(id: $0.id, name: $0.name, status: $0.status, mechanismId: $0.mechanismId, emissionShare: $0.emissionShare,
                  commit: $0.githubCommit)
        }
        input.jobsByState = try await store.jobCountsByState()
        input.timeline = try await store.jobTimeline(now: now, minutes: timelineMinutes)
        let activity = try await store.validatorActivity()
        input.validators = try await store.listValidators(connected: connected).validators.map { v in
            let a = activity[v.hotkey]
            return .init(hotkey: v.hotkey, source: v.source, connected: v.connected, lastActivity: a.map { PlatformTime.string($0.last) },
                         jobsFinished: a?.finished ?? 0)
        }
        input.recent = try await store.recentFinishedJobs(limit: recentRows)
        for mechanism in Set(challenges.map(\.mechanismId)).sorted() {
            let w = try await store.weights(mechanismId: mechanism)
            input.mechanisms.append(.init(id: mechanism, total: w.total, emissionShareSum: w.challenges.reduce(0) { $0 + $1.emissionShare },
                                          weights: w.weights.map { .init(hotkey: $0.hotkey, weight: $0.weight) }))
        }
        return input
    }

    static var route: RouteDoc {
        RouteDoc("GET", path, .admin, "Operator dashboard (live HTML page; `fragment=1` answers the part the page re-fetches)",
                 produces: "text/html",
                 params: [.query("token", .string, "The admin token, for browsers (same as Authorization: Bearer)"),
                          .query("fragment", .string, "1: only the live part of the page")])
    }

    static func addRoutes(to router: Router<BasicRequestContext>, store: PlatformStore, hub: EventHub, auth: PlatformAuth,
                          now: @escaping @Sendable () -> Double) {
        let snapshots = DashboardSnapshots<PlatformDashboardInput>(maxAge: snapshotMaxAge)
        router.get(RouterPath(path)) { request, _ in
            try auth.adminPage(request)
            let input = try await snapshots.value { try await gather(store: store, connected: await hub.connectedHotkeys(), now: now()) }
            let view = PlatformDashboardView(input)
            let html = request.uri.queryParameters["fragment"] == "1" ? try view.renderFragment() : try view.renderPage()
            var headers: HTTPFields = [:]
            for (name, value) in DashboardPage.headers {
                if let field = HTTPFields.Element.Name(name) { headers[field] = value }
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
        }
    }
}

extension PlatformAuth {
    /// The admin rule (`admin(_:)`), with the token also accepted as the `token` query parameter
    /// (a browser cannot set a header on navigation). Without a configured token: 403, as the admin API.
    func adminPage(_ request: Request) throws {
        guard let token = adminToken, request.header("Authorization") == nil,
              let given = request.uri.queryParameters["token"].map(String.init)
        else { return try admin(request) }
        guard Self.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else {
            throw APIError.unauthorized(PlatformErrorCode.adminTokenInvalid, "Admin token is not valid")
        }
    }
}

extension PlatformStore {
    /// How many jobs are in each state.
    public func jobCountsByState() async throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for r in try await db.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", []) {
            out[try r.string("status")] = try r.int("n")
        }
        return out
    }

    /// Jobs created, completed and failed in each of the last `minutes` minutes (0 = the current one).
    public func jobTimeline(now: Double, minutes: Int64) async throws -> [PlatformDashboardInput.JobMinute] {
        let since = now - Double(minutes) * 60
        var buckets = (0..<minutes).map { PlatformDashboardInput.JobMinute(minute: $0, created: 0, completed: 0, failed: 0) }
        func bucket(_ t: Double) -> Int? {
            let m = Int(((now - t) / 60).rounded(.down))
            return m >= 0 && m < buckets.count ? m : nil
        }
        let rows = try await db.query(
            "SELECT status, created_at, finished_at FROM jobs WHERE created_at >= ? OR finished_at >= ?",
            [.double(since), .double(since)])
        for r in rows {
            if let b = bucket(try r.double("created_at")) { buckets[b].created += 1 }
            guard let finished = try r.optionalDouble("finished_at"), let b = bucket(finished) else { continue }
            switch try r.string("status") {
            case "completed": buckets[b].completed += 1
            case "failed": buckets[b].failed += 1
            default: break
            }
        }
        return buckets
    }

    /// Per validator: the last time one of its jobs changed and how many it finished.
    public func validatorActivity() async throws -> [String: (last: Double, finished: Int64)] {
        var out: [String: (last: Double, finished: Int64)] = [:]
        for r in try await db.query(
            """
            SELECT validator_hotkey AS v, MAX(updated_at) AS last,
                   SUM(CASE WHEN status IN ('completed', 'failed') THEN 1 ELSE 0 END) AS finished
            FROM jobs WHERE validator_hotkey IS NOT NULL GROUP BY validator_hotkey
            """, []) {
            out[try r.string("v")] = (try r.double("last"), try r.int("finished"))
        }
        return out
    }

    /// The latest completed and failed jobs, newest first.
    public func recentFinishedJobs(limit: Int) async throws -> [PlatformDashboardInput.FinishedJob] {
        try await db.query(
            """
            SELECT j.id, j.miner_hotkey, j.validator_hotkey, j.status, j.score, j.error, j.failure_reason, j.execution_time_ms,
                   j.finished_at, c.name
            FROM jobs j JOIN challenges c ON c.id = j.challenge_id
            WHERE j.status IN ('completed', 'failed') AND j.finished_at IS NOT NULL
            ORDER BY j.finished_at DESC, j.id LIMIT ?
            """, [.int(Int64(limit))]).map { r in
            PlatformDashboardInput.FinishedJob(
                id: try r.string("id"), challenge: try r.string("name"), miner: try r.string("miner_hotkey"),
                validator: try r.optionalString("validator_hotkey"), status: try r.string("status"), score: try r.optionalDouble("score"),
                error: try r.optionalString("error") ?? r.optionalString("failure_reason"),
                executionTimeMs: try r.optionalInt("execution_time_ms"), finishedAt: PlatformTime.string(try r.double("finished_at")))
        }
    }
}
