/// # PlatformServer
///
/// Owns the Platform API service: the HTTP routes (validator, miner, admin and public
/// reads, Hummingbird) with their auth, `PlatformStore` (SQL persistence of challenges,
/// validators, submissions, jobs and the event outbox, one transaction per write), each
/// challenge's own tables and the read-only query sandbox over them (`ChallengeDataManager`),
/// the validators' WebSocket hub (`EventHub`, `EventPump`: events pushed across replicas by
/// PostgreSQL LISTEN/NOTIFY), the claim-expiry sweeper (once per period across replicas),
/// health checks for load balancers and the drain on SIGTERM.
/// Domain rules come from `PlatformCore`; wire types from `PlatformAPI`.
import Foundation
import Hotkeys
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
import Logging
import PlatformAPI
import PlatformCore
import ServiceKit
import ServiceLifecycle
import Store
import Synchronization

/// Settings of the platform service (`evalnet platform serve`, `runPlatform`): listen address,
/// database, admin token, validators, limits and timings.
public struct PlatformConfig: Sendable {
    public var host = PlatformDefaults.host
    /// The validator's default `platform_api_url` points here (`PlatformDefaults`).
    public var port = PlatformDefaults.port
    public var database = "sqlite:data/platform.db"
    /// Bearer token of the admin routes; without one the admin API answers 403.
    public var adminToken: String?
    /// Validators (SS58) registered at startup, in addition to those added through the admin API.
    public var validators: [String] = []
    public var limits = PlatformLimits()
    public var authWindowSeconds: Int64 = 300
    /// Seconds between sweeps (claim expiry, event pruning); nil disables the sweeper.
    public var sweepIntervalSeconds: Double? = 5
    /// Every this many sweeps, SQLite challenge files are compared with the main database.
    public var repairEverySweeps = 60
    /// WebSocket protocol ping period; a peer that misses a pong is disconnected.
    public var pingIntervalSeconds = 20.0
    /// How often the event pump also polls the outbox: a safety net. Events committed by
    /// this process wake the pump at once; on PostgreSQL those of other replicas arrive by
    /// LISTEN/NOTIFY (`PlatformStore.eventChannel`).
    public var eventPollSeconds = 5.0
    /// On SIGTERM, seconds `/health/ready` answers 503 before validators are told to
    /// reconnect and the server stops accepting (see docs/deploy.md).
    public var drainSeconds = 0.0
    /// This process's name among replicas (`periodic_runs.holder`, the LISTEN connection's
    /// application_name, logs).
    public var replicaId = ReplicaIdentity.current

    public init() {}
}

/// The Platform API's documented routes, for `/openapi.json` and `/docs`.
public enum PlatformCatalogue {
    static func ex(_ pairs: [String: JSONValue]) -> JSONValue { .object(pairs) }

    /// The routes as documented for the default limits.
    public static var routes: [RouteDoc] { routes(limits: PlatformLimits()) }

    /// The routes with the body limits of `limits`.
    public static func routes(limits: PlatformLimits) -> [RouteDoc] {
        let id = ParamDoc.path("id", JSONSchema.string.with(.length(1...128), .description("Id (longer than 128 bytes: 404)")))
        let hotkey = ParamDoc.path("hotkey", JSONSchema.string.with(
            .pattern("^[1-9A-HJ-NP-Za-km-z]{47,49}$"), .description("SS58 hotkey (a bad checksum is 400)")),
            example: .string("5Fpfx4iDtrrY99VGkQnLXASytC2y9Z3o8KUyTtD4w7o5SZcA"))
        let jobLinks = { (pointer: String) -> [LinkDoc] in
            [LinkDoc("start", to: "POST", "/jobs/{id}/start", ["id": pointer]),
             LinkDoc("results", to: "POST", "/jobs/{id}/results", ["id": pointer]),
             LinkDoc("job", to: "GET", "/jobs/{id}", ["id": pointer]),
             LinkDoc("cancel", to: "POST", "/admin/jobs/{id}/cancel", ["id": pointer])]
        }
        let challengeLinks = ["submit": ("POST", "/challenges/{id}/submissions"), "query": ("POST", "/challenges/{id}/orm/query"),
                              "leaderboard": ("GET", "/challenges/{id}/leaderboard"), "detail": ("GET", "/admin/challenges/{id}"),
                              "update": ("PATCH", "/admin/challenges/{id}"), "activate": ("POST", "/admin/challenges/{id}/activate")]
            .map { LinkDoc($0.key, to: $0.value.0, $0.value.1, ["id": "$response.body#/id"]) }
        let challengeFields: KeyValuePairs<String, [SchemaRule]> = [
            "name": [.pattern("^[A-Za-z0-9._-]{1,64}$"), .description("Unique; 1-64 of A-Z a-z 0-9 - _ .")],
            "github_repo": [.maxLength(512),
                            .pattern(#"^((https?|ssh|git)://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?|file:///\S*|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^:\s]+)$"#),
                            .description("A git URL: http(s)://, ssh://, git:// with a host, file:// with a path, or user@host:path")],
            "github_commit": [.pattern("^[0-9a-fA-F]{7,64}$")],
            "compose_hash": [.pattern("^[A-Za-z0-9:_-]{1,128}$")],
            "mechanism_id": [.range(0...255)],
            "emission_share": [.minimum(0), .maximum(1),
                               .description("Active challenges of one mechanism may share at most 1 in total (else 400)")],
            "validators_per_submission": [.range(1...64)],
            "max_retries": [.range(0...20)],
            "claim_timeout_s": [.range(1...604_800)],
        ]
        func challengeSchema<T: Decodable>(_ type: T.Type, status: Bool) -> JSONSchema {
            var s = JSONSchema.of(type)
            for (path, rules) in challengeFields { s = s.refined(path, rules) }
            if status { s = s.refined("status", .values(["active", "inactive"]), .description("Default active")) }
            return s
        }
        let listed: [RouteDoc] = [
            RouteDoc("GET", "/health", .none, "Liveness, database backend, connected validators",
                     returns: .of(PlatformHealth.self),
                     response: ex(["status": .string("healthy"), "database": .string("sqlite"),
                                   "validators_connected": .number(2), "last_event_seq": .number(17)])),
            RouteDoc("GET", "/challenges/active", .validator, "Active challenges with repository, commit and emission share",
                     returns: .of(ActiveChallengesResponse.self),
                     response: ex(["challenges": .array([ex([
                         "id": .string("uuid"), "name": .string("challenge-name"), "status": .string("active"),
                         "github_repo": .string("https://github.com/org/repo"), "github_commit": .string("abc123"),
                         "compose_hash": .string("sha256:…"), "mechanism_id": .number(1), "emission_share": .number(0.5)])])])),
            RouteDoc("GET", "/jobs/pending", .validator, "Pending jobs the caller may claim, oldest first",
                     returns: .of(PendingJobsResponse.self),
                     response: ex(["jobs": .array([ex([
                         "id": .string("uuid"), "challenge_id": .string("uuid"), "submission_id": .string("uuid"),
                         "miner_hotkey": .string("5DD…"), "status": .string("pending"),
                         "created_at": .string("2025-01-01T00:00:00Z")])])]),
                     params: [.query("limit", JSONSchema.integer.with(.range(1...500), .keyword("default", .number(100))))],
                     errors: [422],
                     links: [LinkDoc("claim", to: "POST", "/jobs/{id}/claim", ["id": "$response.body#/jobs/0/id"])]),
            RouteDoc("GET", "/jobs/{id}", .validator, "One job (the payload only for its current claimer)",
                     returns: .of(JobView.self), params: [id], errors: [404]),
            RouteDoc("POST", "/jobs/{id}/claim", .validator, "Claim a pending job; exactly one concurrent claimer wins (reads no body)",
                     returns: .of(ClaimResponse.self),
                     response: ex(["id": .string("uuid"), "challenge_id": .string("uuid"), "submission_id": .string("uuid"),
                                   "status": .string("claimed"), "miner_hotkey": .string("5DD…"),
                                   "claim_expires_at": .string("2025-01-01T00:30:00Z"), "attempt": .number(1),
                                   "payload": ex(["code": .string("def solve(): …")])]),
                     params: [id], errors: [404, 409], links: jobLinks("$response.body#/id")),
            RouteDoc("POST", PlatformPaths.claimNext, .validator,
                     "Claim the oldest pending job the caller may take (of one challenge with challenge_id); 204 when there is none. Concurrent callers never get the same job, so no claim is lost (reads no body)",
                     alsoSucceeds: [204], returns: .of(ClaimResponse.self),
                     params: [.query(PlatformQueryNames.challengeId, JSONSchema.string.with(.length(1...128)),
                                     "Only jobs of this challenge")],
                     errors: [404, 409, 422], links: jobLinks("$response.body#/id")),
            RouteDoc("POST", "/jobs/{id}/start", .validator, "Mark a claimed job running (claimer only; reads no body)",
                     returns: .of(JobView.self), params: [id], errors: [404, 409]),
            RouteDoc("POST", "/jobs/{id}/results", .validator,
                     "Submit results (claimer only; error set → failed). An identical repeat is accepted again.",
                     status: 204,
                     body: .of(JobResultRequest.self, [
                         "score": [.minimum(0), .description("Finite, ≥ 0; required unless error is set")],
                         "metrics": [.description("Any JSON object of at most \(limits.maxMetricsBytes) bytes encoded (else 413)")],
                         "logs": [.description("The last \(limits.maxLogLines) lines are kept, each cut to \(limits.maxLogLineBytes) bytes")],
                         "execution_time_ms": [.minimum(0)],
                         "error": [.description("Non-empty marks the job failed (cut to 4096 characters)")],
                         "": [.keyword("anyOf", .array([
                             JSONSchema.object(["score": .number], required: ["score"]).json,
                             JSONSchema.object(["error": JSONSchema.string.with(.keyword("minLength", .number(1)))], required: ["error"]).json,
                         ]))],
                     ]),
                     request: ex(["score": .number(0.95), "metrics": ex(["accuracy": .number(0.95), "latency_ms": .number(150)]),
                                  "logs": .array([.string("Evaluation started"), .string("Completed successfully")]),
                                  "execution_time_ms": .number(5000), "error": .null]),
                     params: [id], errors: [400, 404, 409, 413, 422]),
            RouteDoc("POST", "/challenges/{id}/orm/query", .validator,
                     "Read-only SQL over the challenge's own tables (agents, evaluations); ? placeholders",
                     body: .of(OrmQueryRequest.self, [
                         "query": [.maxLength(limits.queryMaxLength), .pattern(#"\S"#),
                                   .description("One read-only SELECT statement (not blank)")],
                         "params": [.maxItems(limits.queryMaxParams), .description("One per ? placeholder")],
                         "params[]": [.schema(JSONSchema(["type": .array([.string("string"), .string("number"),
                                                                           .string("boolean"), .string("null")])]))],
                     ]),
                     request: ex(["query": .string("SELECT * FROM agents WHERE status = ?"), "params": .array([.string("completed")])]),
                     returns: .of(OrmQueryResponse.self),
                     response: ex(["rows": .array([ex(["submission_id": .string("uuid"), "miner_hotkey": .string("5DD…")])]),
                                   "row_count": .number(1), "truncated": .bool(false)]),
                     params: [id], errors: [400, 404, 413, 422]),
            RouteDoc("GET", "/validators/{hotkey}/ws", .validatorSocket,
                     "WebSocket: welcome, catch-up, then new_job / challenge_updated / job_cancelled. A request that is not an upgrade gets 400.",
                     status: 101,
                     params: [
                         .path("hotkey", JSONSchema.string.with(.length(1...128), .description("The validator's SS58 hotkey (must equal X-Key)"))),
                         .query("since", JSONSchema.integer.with(.minimum(0), .description("Resume after this event seq (or header X-Last-Event-Seq)"))),
                         .query("key", .string, "Instead of X-Key"),
                         .query("timestamp", .string, "Instead of X-Timestamp"),
                         .query("signature", .string, "Instead of X-Signature"),
                     ],
                     errors: [404, 503]),
            RouteDoc("POST", "/challenges/{id}/submissions", .miner, "Submit inline code or an artifact reference",
                     status: 201,
                     body: .of(SubmissionRequest.self, [
                         "code": [.length(1...limits.maxSubmissionBytes),
                                  .description("Inline code, 1...\(limits.maxSubmissionBytes) UTF-8 bytes (larger: 413)")],
                         "artifact.url": [.maxLength(2048), .pattern("^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+"), .format("uri")],
                         "artifact.sha256": [.pattern("^[0-9a-fA-F]{64}$")],
                         "": [.description("Exactly one of code or artifact"),
                              .keyword("oneOf", .array([
                                  JSONSchema.object(["code": .string], required: ["code"]).json,
                                  JSONSchema.object(["artifact": JSONSchema(["type": .string("object")])], required: ["artifact"]).json,
                              ]))],
                     ]),
                     request: ex(["code": .string("def solve(): …")]),
                     returns: .of(SubmissionView.self),
                     params: [id], errors: [400, 404, 409, 413, 422, 429],
                     links: [LinkDoc("claim", to: "POST", "/jobs/{id}/claim", ["id": "$response.body#/jobs/0/id"]),
                             LinkDoc("submission", to: "GET", "/submissions/{id}", ["id": "$response.body#/id"])]),
            RouteDoc("GET", "/submissions/{id}", .none, "A submission's status, score and jobs",
                     returns: .of(SubmissionView.self), params: [id], errors: [404]),
            RouteDoc("GET", "/challenges/{id}/leaderboard", .none, "Each miner's best completed submission",
                     returns: .of(LeaderboardResponse.self),
                     params: [id, .query("limit", JSONSchema.integer.with(.range(1...1000), .keyword("default", .number(100))))],
                     errors: [404, 422]),
            RouteDoc("GET", "/mechanisms/{id}/weights", .none, "Normalized miner weights of a mechanism (sum ≤ 1)",
                     returns: .of(MechanismWeightsResponse.self),
                     params: [.path("id", JSONSchema.integer.with(.range(0...255), .description("Mechanism id (else 422)")))],
                     errors: [404, 422]),
            RouteDoc("GET", "/admin/challenges", .admin, "All challenges with configuration",
                     returns: .of(ChallengeListResponse.self)),
            RouteDoc("POST", "/admin/challenges", .admin, "Create a challenge", status: 201,
                     body: challengeSchema(CreateChallengeRequest.self, status: true),
                     request: ex(["name": .string("my-challenge"), "github_repo": .string("https://github.com/org/repo"),
                                  "github_commit": .string("0123abc"), "compose_hash": .string("sha256:0123"),
                                  "mechanism_id": .number(1), "emission_share": .number(0.5),
                                  "validators_per_submission": .number(1), "max_retries": .number(3),
                                  "claim_timeout_s": .number(1800)]),
                     returns: .of(ChallengeDetail.self),
                     errors: [400, 409, 413, 422], links: challengeLinks),
            RouteDoc("GET", "/admin/challenges/{id}", .admin, "One challenge",
                     returns: .of(ChallengeDetail.self), params: [id], errors: [404]),
            RouteDoc("PATCH", "/admin/challenges/{id}", .admin,
                     "Update any subset of the fields; a new github_commit/compose_hash pushes challenge_updated",
                     body: challengeSchema(UpdateChallengeRequest.self, status: false),
                     request: ex(["github_commit": .string("4567def")]),
                     returns: .of(ChallengeDetail.self),
                     params: [id], errors: [400, 404, 409, 413, 422]),
            RouteDoc("POST", "/admin/challenges/{id}/activate", .admin, "Activate (emission-share rule applies; reads no body)",
                     returns: .of(ChallengeDetail.self), params: [id], errors: [400, 404]),
            RouteDoc("POST", "/admin/challenges/{id}/deactivate", .admin, "Deactivate (reads no body)",
                     returns: .of(ChallengeDetail.self), params: [id], errors: [404]),
            RouteDoc("GET", "/admin/validators", .admin, "Registered validators", returns: .of(ValidatorListResponse.self)),
            RouteDoc("PUT", "/admin/validators/{hotkey}", .admin, "Register a validator (201 new, 200 already registered)",
                     status: 201, alsoSucceeds: [200], returns: .of(ValidatorEntry.self),
                     params: [hotkey], errors: [400, 404]),
            RouteDoc("DELETE", "/admin/validators/{hotkey}", .admin, "Unregister a validator (its sockets close)",
                     status: 204, params: [hotkey], errors: [400, 404]),
            RouteDoc("POST", "/admin/jobs/{id}/cancel", .admin, "Cancel a job (job_cancelled to its claimer; reads no body)",
                     returns: .of(JobView.self), params: [id], errors: [404, 409]),
            PlatformDashboard.route,
            RouteDoc("GET", "/openapi.json", .none, "This API as OpenAPI 3.1", returns: JSONSchema(["type": .string("object")])),
            RouteDoc("GET", "/docs", .none, "Human-readable API documentation", produces: "text/html"),
            RouteDoc("GET", "/metrics", .none, "Prometheus metrics", produces: "text/plain"),
        ]
        return listed + HealthChecks.routes
    }
}

/// Who is calling: validator (registered, signed), miner (signed) or admin (bearer token).
/// One authenticator (and so one replay ledger, in the database) serves HTTP headers, the
/// WebSocket upgrade and its query-parameter credentials: a signature is used once anywhere.
struct PlatformAuth: Sendable {
    let store: PlatformStore
    let signed: RequestAuthenticator
    let adminToken: String?

    init(store: PlatformStore, config: PlatformConfig) {
        self.store = store
        signed = RequestAuthenticator(windowSeconds: config.authWindowSeconds, ledger: SQLReplayLedger(db: store.db))
        adminToken = config.adminToken.flatMap { $0.isEmpty ? nil : $0 }
    }

    func miner(_ request: Request) async throws -> String { try await signed.authenticate(request).ss58Address }

    /// 401 for a missing/invalid signature or a hotkey mismatch, 403 for unregistered validators.
    func validator(_ request: Request) async throws -> String {
        guard let claimed = request.header(PlatformHeaders.validatorHotkey).map(RequestAuthenticator.trimmedWhitespace),
            !claimed.isEmpty
        else {
            throw APIError.unauthorized(PlatformErrorCode.missingValidatorHotkey, "Missing header \(PlatformHeaders.validatorHotkey)")
        }
        let key = try await signed.authenticate(request)
        return try await registered(key, claimed: claimed, what: PlatformHeaders.validatorHotkey)
    }

    func registered(_ key: SR25519PublicKey, claimed: String, what: String) async throws -> String {
        // A key has one accepted address (`SS58.decode` takes only the canonical spelling under
        // prefix 42), so the claim matches exactly when it is that address, which the key parsed
        // from X-Key already knows: no second decode.
        let hotkey = key.ss58Address
        guard claimed == hotkey else {
            throw APIError.unauthorized(PlatformErrorCode.hotkeyMismatch, "\(what) does not match the signing key X-Key")
        }
        guard try await store.isValidator(hotkey) else {
            throw APIError.forbidden(PlatformErrorCode.notRegistered, "Hotkey \(hotkey) is not a registered validator")
        }
        return hotkey
    }

    /// The signed credentials of a socket request: headers, or `key`/`timestamp`/`signature`
    /// query parameters.
    private func socketCredentials(_ request: Request) -> (String) -> String? {
        let query = request.uri.queryParameters
        let names = [SignedRequest.keyHeader: PlatformSocketQuery.key, SignedRequest.timestampHeader: PlatformSocketQuery.timestamp,
                     SignedRequest.signatureHeader: PlatformSocketQuery.signature]
        return { name in request.header(name) ?? names[name].flatMap { query[Substring($0)].map(String.init) } }
    }

    /// Checks who opens the socket at `pathHotkey` without using the signature up.
    func verifySocket(_ request: Request, pathHotkey: String) async throws -> VerifiedSignature {
        let verified = try signed.verify(header: socketCredentials(request))
        if let claimed = request.header(PlatformHeaders.validatorHotkey) {
            _ = try await registered(verified.publicKey, claimed: claimed, what: PlatformHeaders.validatorHotkey)
        }
        _ = try await registered(verified.publicKey, claimed: pathHotkey, what: "The hotkey in the path")
        return verified
    }

    /// The socket path served over plain HTTP: the same checks, and the signature used up.
    func socketValidator(_ request: Request, pathHotkey: String) async throws {
        try await signed.use(try await verifySocket(request, pathHotkey: pathHotkey))
    }

    static func since(_ request: Request) throws -> Int64? {
        let text = request.header(PlatformHeaders.lastEventSeq)
            ?? request.uri.queryParameters[Substring(PlatformSocketQuery.since)].map(String.init)
        guard let text else { return nil }
        guard let v = Int64(text), v >= 0 else {
            throw APIError.badRequest(PlatformErrorCode.invalidField, "since must be a non-negative integer")
        }
        return v
    }

    func admin(_ request: Request) throws {
        guard let token = adminToken else {
            throw APIError.forbidden(PlatformErrorCode.adminDisabled, "The admin API is disabled (no admin token configured)")
        }
        guard let header = request.header("Authorization") else {
            throw APIError.unauthorized(PlatformErrorCode.adminTokenMissing, "Missing Authorization: Bearer <admin token>")
        }
        let given = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
        guard Self.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else {
            throw APIError.unauthorized(PlatformErrorCode.adminTokenInvalid, "Admin token is not valid")
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// The HTTP routes over a prepared store. `now` is the domain clock (auth uses real time).
public func makePlatformRouter(store: PlatformStore, hub: EventHub, config: PlatformConfig, drain: DrainState = DrainState(),
                               now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 })
    -> Router<BasicRequestContext>
{
    let router = Router(context: BasicRequestContext.self)
    router.addServiceBasics(catalogue: APICatalogue(title: "evalnet Platform API", version: "1.0",
                                                    routes: PlatformCatalogue.routes(limits: config.limits)))
    let auth = PlatformAuth(store: store, config: config)
    let limits = config.limits
    let maxBody = limits.maxBodyBytes

    @Sendable func id(_ context: BasicRequestContext, _ name: String = "id") throws -> String {
        let v = try context.parameters.require(name)
        guard !v.isEmpty, v.utf8.count <= 128 else { throw APIError.notFound(ErrorCode.notFound, "No such \(name)") }
        return v
    }

    router.get("/health") { _, _ in
        JSONResponse(PlatformHealth(status: "healthy", database: store.db.dialect.rawValue,
                                    validatorsConnected: await hub.connectedHotkeys().count,
                                    lastEventSeq: try await store.lastEventSeq()))
    }
    router.addHealthChecks(db: store.db, drain: drain)

    // Validator API.
    router.get("/challenges/active") { request, _ in
        _ = try await auth.validator(request)
        return JSONResponse(try await store.activeChallenges())
    }
    router.get("/jobs/pending") { request, _ in
        let hotkey = try await auth.validator(request)
        let limit = try request.intQuery("limit", default: 100, range: 1...500)
        return JSONResponse(try await store.pendingJobs(validator: hotkey, limit: limit))
    }
    router.get("/jobs/:id") { request, context in
        let hotkey = try await auth.validator(request)
        return JSONResponse(try await store.jobView(id: try id(context), viewer: hotkey))
    }
    router.post(RouterPath(PlatformPaths.claimNext)) { request, context -> Response in
        let hotkey = try await auth.validator(request)
        let challenge = try request.textQuery(PlatformQueryNames.challengeId, maxBytes: 128)
        guard let claim = try await store.claimNext(validator: hotkey, challengeId: challenge, now: now()) else {
            return Response(status: .noContent)
        }
        return try JSONResponse(claim).response(from: request, context: context)
    }
    router.post("/jobs/:id/claim") { request, context in
        let hotkey = try await auth.validator(request)
        return JSONResponse(try await store.claim(jobId: try id(context), validator: hotkey, now: now()))
    }
    router.post("/jobs/:id/start") { request, context in
        let hotkey = try await auth.validator(request)
        return JSONResponse(try await store.start(jobId: try id(context), validator: hotkey, now: now()))
    }
    router.post("/jobs/:id/results") { request, context in
        let hotkey = try await auth.validator(request)
        let body = try await request.decodeJSON(JobResultRequest.self, maxBytes: maxBody)
        try await store.postResult(jobId: try id(context), validator: hotkey, result: body, now: now())
        return Response(status: .noContent)
    }
    router.post("/challenges/:id/orm/query") { request, context in
        _ = try await auth.validator(request)
        let body = try await request.decodeJSON(OrmQueryRequest.self, maxBytes: limits.queryMaxLength * 2 + 65_536)
        let c = try await store.challenge(store.db, id: try id(context))
        return JSONResponse(try await store.challengeData.runQuery(challenge: c, request: body, limits: limits))
    }
    // Reached when a request to the socket path was not upgraded: answers why.
    router.get("/validators/:hotkey/ws") { request, context -> Response in
        let hotkey = try id(context, "hotkey")
        try await auth.socketValidator(request, pathHotkey: hotkey)
        _ = try PlatformAuth.since(request)
        throw APIError(.badRequest, PlatformErrorCode.upgradeRequired,
                       "This path is a WebSocket endpoint: send an HTTP/1.1 upgrade request (Connection: Upgrade, Upgrade: websocket)")
    }

    // Miners and public reads.
    router.post("/challenges/:id/submissions") { request, context in
        let miner = try await auth.miner(request)
        let body = try await request.decodeJSON(SubmissionRequest.self, maxBytes: limits.maxSubmissionBytes * 6 + 65_536)
        let view = try await store.submit(challengeId: try id(context), miner: miner, payload: body, now: now())
        return JSONResponse(view, status: .created)
    }
    router.get("/submissions/:id") { _, context in
        JSONResponse(try await store.submissionView(id: try id(context)))
    }
    router.get("/challenges/:id/leaderboard") { request, context in
        let limit = try request.intQuery("limit", default: 100, range: 1...1000)
        return JSONResponse(try await store.leaderboard(challengeId: try id(context), limit: limit))
    }
    router.get("/mechanisms/:id/weights") { _, context in
        guard let m = Int(try id(context)), (0...255).contains(m) else {
            throw APIError.unprocessable(PlatformErrorCode.invalidMechanism, "mechanism id must be an integer in 0...255")
        }
        return JSONResponse(try await store.weights(mechanismId: m))
    }

    // Admin.
    let admin = router.group("admin")
    admin.get("challenges") { request, _ in
        try auth.admin(request)
        return JSONResponse(try await store.listChallenges())
    }
    admin.post("challenges") { request, _ in
        try auth.admin(request)
        let body = try await request.decodeJSON(CreateChallengeRequest.self, maxBytes: maxBody)
        return JSONResponse(try await store.createChallenge(body, now: now()), status: .created)
    }
    admin.get("challenges/:id") { request, context in
        try auth.admin(request)
        return JSONResponse(try await store.challengeDetail(id: try id(context)))
    }
    admin.patch("challenges/:id") { request, context in
        try auth.admin(request)
        let body = try await request.decodeJSON(UpdateChallengeRequest.self, maxBytes: maxBody)
        return JSONResponse(try await store.updateChallenge(id: try id(context), body, now: now()))
    }
    admin.post("challenges/:id/activate") { request, context in
        try auth.admin(request)
        return JSONResponse(try await store.setChallengeStatus(id: try id(context), active: true, now: now()))
    }
    admin.post("challenges/:id/deactivate") { request, context in
        try auth.admin(request)
        return JSONResponse(try await store.setChallengeStatus(id: try id(context), active: false, now: now()))
    }
    admin.get("validators") { request, _ in
        try auth.admin(request)
        return JSONResponse(try await store.listValidators(connected: await hub.connectedHotkeys()))
    }
    admin.put("validators/:hotkey") { request, context in
        try auth.admin(request)
        let (entry, created) = try await store.addValidator(try id(context, "hotkey"), now: now())
        var shown = entry
        shown.connected = await hub.connectedHotkeys().contains(entry.hotkey)
        return JSONResponse(shown, status: created ? .created : .ok)
    }
    admin.delete("validators/:hotkey") { request, context in
        try auth.admin(request)
        let hotkey = try await store.removeValidator(try id(context, "hotkey"))
        await hub.disconnect(hotkey: hotkey)
        return Response(status: .noContent)
    }
    admin.post("jobs/:id/cancel") { request, context in
        try auth.admin(request)
        return JSONResponse(try await store.cancelJob(id: try id(context), now: now()))
    }
    PlatformDashboard.addRoutes(to: router, store: store, hub: hub, auth: auth, now: now)
    return router
}

/// The request context of WebSocket upgrades: Hummingbird's, plus the connection, so a
/// refused upgrade can be answered with its JSON reason (`Channel.refuse`).
public struct PlatformSocketContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}

/// The WebSocket upgrade router: only `/validators/{hotkey}/ws`, after the same checks as
/// HTTP. A refused upgrade is answered 401/403 with `{detail, code}` like any HTTP refusal;
/// the signature is used up only once the upgrade is certain.
public func makePlatformSocketRouter(store: PlatformStore, hub: EventHub, config: PlatformConfig, logger: Logger,
                                     drain: DrainState = DrainState())
    -> Router<PlatformSocketContext>
{
    let router = Router(context: PlatformSocketContext.self)
    let auth = PlatformAuth(store: store, config: config)
    router.ws("/validators/:hotkey/ws", shouldUpgrade: { request, context in
        do {
            if drain.isDraining {
                throw APIError(.serviceUnavailable, ErrorCode.draining, "This replica is shutting down; reconnect (to another)",
                               retryAfterSeconds: 1)
            }
            let hotkey = try context.parameters.require("hotkey")
            let verified = try await auth.verifySocket(request, pathHotkey: hotkey)
            _ = try PlatformAuth.since(request)
            try await auth.signed.use(verified)
            return .upgrade([:])
        } catch {
            await context.channel.refuse(APIError.from(error))
            return .dontUpgrade
        }
    }, onUpgrade: { inbound, outbound, context in
        let path = try context.requestContext.parameters.require("hotkey")
        let hotkey = (try? SR25519PublicKey(ss58: path).ss58Address) ?? path
        let since = try? PlatformAuth.since(context.request)
        try await serveValidatorSocket(inbound: inbound, outbound: outbound, hotkey: hotkey, since: since ?? nil,
                                       store: store, hub: hub, logger: logger)
    })
    return router
}

/// The background work: claim expiry, event pruning and (SQLite) challenge-data repair.
public func platformSweep(store: PlatformStore, now: Double, repair: Bool, logger: Logger) async throws {
    let report = try await store.expireClaims(now: now)
    if !report.requeued.isEmpty || !report.failed.isEmpty {
        logger.info("expired claims", metadata: ["requeued": "\(report.requeued.count)", "failed": "\(report.failed.count)"])
    }
    _ = try await store.pruneEvents(now: now)
    if repair {
        let fixed = try await store.challengeData.repair(store: store)
        if fixed > 0 { logger.info("repaired challenge data", metadata: ["submissions": "\(fixed)"]) }
    }
}

/// The application: HTTP + WebSocket server, event pump and (if configured) the sweeper.
/// Run it in a service group with `platformDrainService` listed after it, so SIGTERM drains
/// first (`runPlatform` does).
public func makePlatformApplication(store: PlatformStore, hub: EventHub, config: PlatformConfig, logger: Logger,
                                    drain: DrainState = DrainState(),
                                    now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                                    onReady: (@Sendable (Int) async -> Void)? = nil) async throws
    -> some ApplicationProtocol
{
    let startAfter = try await store.lastEventSeq()
    var services: [any Service] = [EventPump(store: store, hub: hub, startAfter: startAfter,
                                             pollInterval: .milliseconds(Int(config.eventPollSeconds * 1000)), logger: logger,
                                             listenerName: "evalnet-events:\(config.replicaId)")]
    if let interval = config.sweepIntervalSeconds {
        let counter = SweepCounter()
        services.append(PeriodicTask(name: "platform-sweeper", interval: interval, logger: logger,
                                     exclusive: PeriodicRuns(db: store.db, holder: config.replicaId)) {
            let repair = counter.next() % max(1, config.repairEverySweeps) == 0
            try await platformSweep(store: store, now: now(), repair: repair, logger: logger)
        })
    }
    let wsResponder = makePlatformSocketRouter(store: store, hub: hub, config: config, logger: logger, drain: drain)
        .buildResponder()
    return Application(
        router: makePlatformRouter(store: store, hub: hub, config: config, drain: drain, now: now),
        server: HTTPServerBuilder { responder in
            RefusingChildChannel(HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: wsResponder,
                configuration: .init(http1: .init(additionalChannelHandlers: refusalRewriters()), ws: .init(maxFrameSize: 1 << 16,
                                               autoPing: .enabled(timePeriod: .milliseconds(Int(config.pingIntervalSeconds * 1000)))))))
        },
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "evalnet-platform"),
        services: services,
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            logger.info("platform listening", metadata: ["url": "http://\(config.host):\(port)", "database": "\(config.database)",
                                                         "replica": "\(config.replicaId)"])
            await onReady?(port)
        },
        logger: logger)
}

/// Drains the platform on graceful shutdown (list it after the application in the service
/// group): readiness 503 for `config.drainSeconds`, then every validator socket is sent
/// `reconnect` and closed with 1012, and new socket upgrades are refused with 503.
public func platformDrainService(hub: EventHub, drain: DrainState, config: PlatformConfig, logger: Logger) -> DrainService {
    DrainService(drain: drain, delaySeconds: config.drainSeconds, logger: logger) {
        let closed = await hub.drainAll()
        logger.info("validator sockets told to reconnect", metadata: ["connections": "\(closed)"])
        // Let the sessions send their 1012 close frames before the server's own shutdown
        // closes what is left (with 1000).
        let deadline = ContinuousClock.now + .seconds(2)
        while await hub.connectionCount() > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

final class SweepCounter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { v in v += 1; return v } }
}

/// Runs the platform until cancelled: opens the store, migrates, registers the configured
/// validators, repairs challenge data and serves.
/// Serves the platform until SIGINT/SIGTERM or `stopper.stop()`, then drains and shuts down
/// gracefully.
public func runPlatform(config: PlatformConfig, logger: Logger, stopper: ServiceStopper = ServiceStopper(),
                        onReady: (@Sendable (Int) async -> Void)? = nil) async throws {
    let db = try await openDatabase(try DatabaseLocation.parse(config.database), logger: logger)
    let store = PlatformStore(db: db, limits: config.limits, logger: logger)
    do {
        try await store.prepare(validators: config.validators, now: Date().timeIntervalSince1970)
        let hub = EventHub()
        let drain = DrainState()
        let app = try await makePlatformApplication(store: store, hub: hub, config: config, logger: logger, drain: drain,
                                                    onReady: onReady)
        // Shut down in reverse order: drain first (readiness 503, sockets told to reconnect), then HTTP.
        try await stopper.run([app, platformDrainService(hub: hub, drain: drain, config: config, logger: logger)],
                              logger: logger)
    } catch {
        await store.shutdown()
        await db.shutdown()
        throw error
    }
    await store.shutdown()
    await db.shutdown()
}
