/// # PoolServer
///
/// Owns the Pool service: the HTTP routes of the Pool API (Hummingbird), their auth
/// classes, and `PoolStore`, the SQL persistence of miners, algorithms, leases,
/// evaluations, consensus, reputation, results/SOTA and epoch payouts. Domain rules come
/// from `PoolCore`; algorithm validation from the injected `AlgorithmPolicy`.
import Foundation
import Hotkeys
import Hummingbird
import Logging
import PoolAPI
import PoolCore
import ServiceKit
import Store

/// Settings of the pool service (`evalnet pool serve`, `runPool`): listen address, database, rules,
/// monitor token, operators and timings.
public struct PoolConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8434
    public var database = "sqlite:data/pool.db"
    public var rules = PoolRules()
    /// When set, `/api/v1/monitor/summary` requires `X-Monitor-Token` to equal it.
    public var monitorToken: String?
    /// Hotkeys (SS58) allowed to call `POST /results/verify/{id}`.
    public var operatorHotkeys: Set<String> = []
    public var maxBodyBytes = 1 << 20
    public var authWindowSeconds: Int64 = 300
    /// Seconds between sweeps (expire overdue leases, close finished epochs). Replicas on one
    /// PostgreSQL database sweep once per interval between them (`PeriodicRuns`).
    public var sweepIntervalSeconds = 5.0
    /// On SIGTERM, seconds `/health/ready` answers 503 before the server stops accepting
    /// (let the load balancer's health checks notice; see docs/deploy.md).
    public var drainSeconds = 0.0
    /// This process's name among replicas (in `periodic_runs.holder` and the logs).
    public var replicaId = ReplicaIdentity.current
    /// Secret seed of the held-out tasks (`--held-out-seed`, `EVALNET_POOL_HELD_OUT_SEED`); nil =
    /// generated on first start and kept in the database (`pool_secrets`). Never served.
    public var heldOutSeed: Int?

    public init() {
        // One active lease at a time already bounds each miner; a per-window quota would
        // idle fast miners for the rest of the window (see README).
        rules.leasesPerWindow = nil
    }
}

/// The Pool API's documented routes, for `/openapi.json` and `/docs`.
public enum PoolCatalogue {
    static let miner = AuthClass.miner

    /// The routes as documented for the default rules and task types.
    public static var routes: [RouteDoc] { routes(rules: PoolConfig().rules, taskTypes: AlgorithmCatalog().taskTypes) }

    /// The routes with the limits of `rules` and the task types this pool serves.
    public static func routes(rules: PoolRules, taskTypes: [String]) -> [RouteDoc] {
        let taskType = SchemaRule.values(taskTypes)
        let dsl: [SchemaRule] = [.length(1...65_536), .description("Algorithm DSL, 1...65536 UTF-8 bytes")]
        let score = SchemaRule.description("Score; Python's NaN/Infinity/-Infinity tokens are accepted too")
        let leaseId = ParamDoc.path("lease_id", .string, "Lease id from POST /api/v1/tasks/lease")
        let batchId = ParamDoc.path("batch_id", .string, "Batch id from POST /api/v1/tasks/request")
        let health = RouteDoc("GET", "/health", .none, "Liveness and current window info", returns: .of(HealthResponse.self),
                              response: .object(["status": .string("healthy"), "window_number": .number(0), "current_block": .number(0),
                                                 "time_remaining_s": .number(3600), "window_seconds": .number(3600)]))
        var status = health
        status.path = "/status"
        status.summary = "Same as /health"
        let coldkeyBody = JSONSchema.of(RecipientColdkeyUpdate.self, [
            "recipient_coldkey": [.description("SS58 address (whitespace-trimmed) that receives this hotkey's claims")],
            "coldkey_address": [.description("Legacy name of recipient_coldkey (BitSota GUI)")],
        ])
        let recipientUpdates = [
            ("PUT", "/api/v1/miners/recipient-coldkey", "Set the caller's payout recipient coldkey"),
            ("POST", "/api/v1/miners/recipient-coldkey", "Alias of PUT /api/v1/miners/recipient-coldkey"),
            ("POST", "/api/v1/miners/coldkey_address/update", "Alias of PUT /api/v1/miners/recipient-coldkey"),
            ("POST", "/coldkey_address/update", "Alias of PUT /api/v1/miners/recipient-coldkey (the BitSota GUI's)"),
        ].map { method, path, summary in
            RouteDoc(method, path, .recipient, summary + "; X-Signature signs recipient_coldkey:update:{X-Timestamp}:{recipient_coldkey}",
                     body: coldkeyBody,
                     request: .object(["recipient_coldkey": .string("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]),
                     returns: .of(RecipientColdkeyUpdated.self), errors: [413, 422])
        }
        let epochId = ParamDoc.path("epoch_id", JSONSchema.integer.with(.description("Published epoch number")))
        let claimHotkey = ParamDoc.path("hotkey", JSONSchema.string.with(.description("SS58 hotkey")))
        var claims = [
            RouteDoc("GET", "/claims/health", .none, "Claim publication health and the leaf/tree hashing scheme",
                     returns: .of(ClaimsHealth.self)),
            RouteDoc("GET", "/claims/epochs", .none, "Published claim epochs; the default is the latest",
                     returns: .of(ClaimEpochList.self)),
            RouteDoc("GET", "/claims/epoch", .none, "The default (latest) epoch's Merkle root and totals",
                     returns: .of(ClaimEpochInfo.self), errors: [404]),
            RouteDoc("GET", "/claims/epoch/{epoch_id}", .none, "An epoch's Merkle root and totals",
                     returns: .of(ClaimEpochInfo.self), params: [epochId], errors: [404, 422]),
        ]
        for word in ["proof", "claim"] {
            claims.append(RouteDoc("GET", "/claims/epoch/\(word)/{hotkey}", .none,
                                   "A hotkey's claim and Merkle proof in the default epoch (404 without a leaf)",
                                   returns: .of(ClaimProof.self), params: [claimHotkey], errors: [404, 422]))
            claims.append(RouteDoc("GET", "/claims/epoch/{epoch_id}/\(word)/{hotkey}", .none,
                                   "A hotkey's claim and Merkle proof in an epoch (404 without a leaf)",
                                   returns: .of(ClaimProof.self), params: [epochId, claimHotkey], errors: [404, 422]))
        }
        var all: [RouteDoc] = [
            health, status,
            RouteDoc("POST", "/api/v1/miners/register", miner, "Register or refresh a miner (reads no body)",
                     returns: .of(MinerInfo.self)),
            HealthChecks.liveRoute, HealthChecks.readyRoute,
            RouteDoc("GET", "/api/v1/miners/stats", miner, "Miner stats and pool summary", returns: .of(StatsResponse.self),
                     errors: [404]),
            RouteDoc("GET", "/api/v1/miners/leaderboard", .none, "Top miners by reputation",
                     returns: .of(LeaderboardResponse.self),
                     params: [.query("limit", JSONSchema.integer.with(.range(1...200), .keyword("default", .number(50))))],
                     errors: [422]),
            RouteDoc("GET", "/api/v1/tasks/pending_evaluations", miner, "Whether evaluation work is waiting for the caller",
                     returns: .of(PendingEvaluationsResponse.self)),
            RouteDoc("POST", "/api/v1/tasks/request", miner, "Request a simple evolve or evaluate batch",
                     body: .of(TaskRequest.self, [
                         "task_type": [.values(["evolve", "evaluate"]), .description("Work kind (default evolve)")],
                         "problem_type": [taskType, .description("Task type (default cifar10_binary)")],
                     ]),
                     request: .object(["task_type": .string("evolve"), "problem_type": .string("scalar_linear")]),
                     returns: .of(BatchResponse.self),
                     errors: [400, 404, 413, 422],
                     links: [LinkDoc("submitEvolution", to: "POST", "/api/v1/tasks/{batch_id}/submit_evolution",
                                     ["batch_id": "$response.body#/batch_id"]),
                             LinkDoc("submitEvaluation", to: "POST", "/api/v1/tasks/{batch_id}/submit_evaluation",
                                     ["batch_id": "$response.body#/batch_id"])]),
            RouteDoc("POST", "/api/v1/tasks/lease", miner, "Request a lease with evaluate, seed, and gossip",
                     body: .of(LeaseRequest.self, [
                         "task_type": [taskType, .description("Task type (default cifar10_binary)")],
                         "eval_batch_size": [.range(0...rules.evalBatchMax),
                                             .description("Default \(rules.evalBatchDefault); raised to at least 2")],
                         "seed_batch_size": [.range(0...rules.seedBatchMax),
                                             .description("Default \(rules.seedBatchDefault); raised to at least 2")],
                         "gossip_limit": [.range(0...rules.gossipMax), .description("Default 0")],
                         "sim_window_number": [.schema(JSONSchema(["type": .string("null")])),
                                               .description("Development-only override; any value is refused (400)")],
                     ]),
                     request: .object(["task_type": .string("cifar10_binary"), "eval_batch_size": .number(8),
                                       "seed_batch_size": .number(2), "gossip_limit": .number(5)]),
                     returns: .of(LeaseResponse.self),
                     errors: [400, 404, 413, 422],
                     links: [LinkDoc("submit", to: "POST", "/api/v1/tasks/{lease_id}/submit_lease",
                                     ["lease_id": "$response.body#/lease_id"])]),
            RouteDoc("DELETE", "/api/v1/tasks/active", miner, "Abandon the caller's active lease or batch",
                     returns: .object(["status": .string.with(.values(["abandoned"])), "assignment_id": .string],
                                      required: ["status", "assignment_id"]),
                     errors: [404]),
            RouteDoc("POST", "/api/v1/tasks/{lease_id}/submit_lease", miner,
                     "Submit a lease result bundle (an identical repeat answers the stored response)",
                     body: .of(LeaseSubmission.self, [
                         "evaluations": [.description("Each algorithm_id at most once, and only ids given to this lease")],
                         "evaluations[].score": [score],
                         "evolutions[].algorithm_dsl": dsl,
                         "iterations": [.minimum(Double(max(0, rules.minLeaseIterations))),
                                        .description("Default: the number of evaluations")],
                     ]),
                     request: .object(["evaluations": .array([.object(["algorithm_id": .number(1), "score": .number(0.8)])]),
                                       "evolutions": .array([.object(["parent_algorithm_ids": .array([.number(1)]),
                                                                      "algorithm_dsl": .string("# predict\ns0 = dot(v0, v1)")])]),
                                       "gossip": .null, "iterations": .number(42)]),
                     returns: .of(SubmitResponse.self),
                     params: [leaseId],
                     errors: [400, 404, 413, 422]),
            RouteDoc("POST", "/api/v1/tasks/{batch_id}/submit_evolution", miner, "Submit an evolved algorithm for an evolve batch",
                     body: .of(EvolutionSubmission.self, ["evolved_function": dsl]),
                     request: .object(["evolved_function": .string("# predict\ns0 = dot(v0, v1)"),
                                       "parent_functions": .array([.object(["id": .number(1)])])]),
                     returns: .of(SubmitResponse.self),
                     params: [batchId],
                     errors: [400, 404, 413, 422]),
            RouteDoc("POST", "/api/v1/tasks/{batch_id}/submit_evaluation", miner, "Submit evaluations for an evaluate batch",
                     body: .of(EvaluationSubmission.self, ["evaluations[].score": [score]]),
                     request: .object(["evaluations": .array([.object(["algorithm_id": .number(1), "score": .number(0.8)])])]),
                     returns: .of(SubmitResponse.self),
                     params: [batchId],
                     errors: [400, 404, 413, 422]),
            RouteDoc("GET", "/api/v1/results", miner, "List results", returns: .of(ResultsResponse.self),
                     params: [
                         .query("limit", JSONSchema.integer.with(.range(1...500), .keyword("default", .number(50)))),
                         .query("task_type", JSONSchema.string.with(taskType)),
                         .query("min_score", JSONSchema.number.with(.description("Finite number"))),
                         .query("status", JSONSchema.string.with(.values(["verified", "completed"]),
                                                                  .keyword("default", .string("verified")))),
                     ],
                     errors: [422],
                     links: [LinkDoc("verify", to: "POST", "/api/v1/results/verify/{result_id}",
                                     ["result_id": "$response.body#/results/0/id"])]),
            RouteDoc("GET", "/api/v1/results/sota", .none, "Current pool SOTA for a task type", returns: .of(SOTAResponse.self),
                     params: [.query("task_type", JSONSchema.string.with(taskType, .keyword("default", .string("cifar10_binary"))))],
                     errors: [422]),
            RouteDoc("POST", "/api/v1/results/verify/{result_id}", miner, "Mark a completed result as verified (operators only)",
                     returns: .of(ResultRecord.self),
                     params: [.path("result_id", JSONSchema.integer.with(.description("Result id (a non-integer is 404)")))],
                     errors: [403, 404, 409]),
            RouteDoc("GET", "/api/v1/miners/recipient-coldkey", miner, "The caller's payout recipient (nulls when unset)",
                     returns: .of(RecipientColdkeyMapping.self)),
            RouteDoc("GET", "/api/v1/miners/recipient-coldkey/{miner_hotkey}", .none, "A hotkey's payout recipient",
                     returns: .of(RecipientColdkeyMapping.self),
                     params: [.path("miner_hotkey", JSONSchema.string.with(.description("SS58 hotkey")))],
                     errors: [404, 422]),
        ]
        all += recipientUpdates
        all += claims
        all += [
            RouteDoc("GET", "/api/v1/monitor/summary", .monitor, "Aggregated monitor summary", returns: .of(MonitorSummary.self)),
            PoolDashboard.route,
            RouteDoc("GET", "/openapi.json", .none, "This API as OpenAPI 3.1", returns: JSONSchema(["type": .string("object")])),
            RouteDoc("GET", "/docs", .none, "Human-readable API documentation", produces: "text/html"),
            RouteDoc("GET", "/metrics", .none, "Prometheus metrics", produces: "text/plain"),
        ]
        return all
    }
}

/// Builds the pool's router over a prepared store.
public func makePoolRouter(store: PoolStore, config: PoolConfig, drain: DrainState = DrainState(),
                           now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 })
    -> Router<BasicRequestContext>
{
    let router = Router(context: BasicRequestContext.self)
    router.addServiceBasics(catalogue: APICatalogue(
        title: "evalnet Pool API", version: "1.0",
        routes: PoolCatalogue.routes(rules: config.rules, taskTypes: store.algorithms.taskTypes)))
    let auth = RequestAuthenticator(windowSeconds: config.authWindowSeconds, ledger: SQLReplayLedger(db: store.db))
    let maxBody = config.maxBodyBytes

    @Sendable func miner(_ request: Request) async throws -> String {
        try await auth.authenticate(request).ss58Address
    }

    let health: @Sendable (Request, BasicRequestContext) async throws -> JSONResponse<HealthResponse> = { _, _ in
        let t = now()
        return JSONResponse(HealthResponse(
            status: "healthy", windowNumber: Int64(store.clock.number(at: t)), currentBlock: 0,
            timeRemainingS: Int64(store.clock.secondsRemaining(at: t).rounded(.up)),
            windowSeconds: Int64(config.rules.windowSeconds), consensusThreshold: config.rules.consensusThreshold))
    }
    router.get("/health", use: health)
    router.get("/status", use: health)
    router.addHealthChecks(db: store.db, drain: drain)

    let api = router.group("api/v1")
    api.post("miners/register") { request, _ in
        let hotkey = try await miner(request)
        return JSONResponse(try await store.register(hotkey: hotkey, now: now()))
    }
    api.get("miners/stats") { request, _ in
        let hotkey = try await miner(request)
        return JSONResponse(try await store.stats(hotkey: hotkey, now: now()))
    }
    api.get("miners/leaderboard") { request, _ in
        let limit = try request.intQuery("limit", default: 50, range: 1...200)
        return JSONResponse(try await store.leaderboard(limit: limit, now: now()))
    }
    api.get("tasks/pending_evaluations") { request, _ in
        let hotkey = try await miner(request)
        return JSONResponse(try await store.pendingEvaluations(hotkey: hotkey))
    }
    api.post("tasks/request") { request, _ in
        let hotkey = try await miner(request)
        let body = try await request.decodeJSON(TaskRequest.self, maxBytes: maxBody)
        return JSONResponse(try await store.requestBatch(
            hotkey: hotkey, kind: body.taskType, problemType: body.problemType, now: now()))
    }
    api.post("tasks/lease") { request, _ in
        let hotkey = try await miner(request)
        let body = try await request.decodeJSON(LeaseRequest.self, maxBytes: maxBody)
        return JSONResponse(try await store.lease(hotkey: hotkey, request: body, now: now()))
    }
    api.delete("tasks/active") { request, _ in
        let hotkey = try await miner(request)
        guard let id = try await store.abandonActive(hotkey: hotkey, now: now()) else {
            throw APIError.notFound(PoolErrorCode.leaseNotFound, "\(PoolErrorText.leaseNotFound): you hold no active task")
        }
        return JSONResponse(["status": "abandoned", "assignment_id": id])
    }
    api.post("tasks/:id/submit_lease") { request, context in
        let hotkey = try await miner(request)
        let id = try context.parameters.require("id")
        let body = try await request.decodeJSON(LeaseSubmission.self, maxBytes: maxBody)
        return try await store.submitEncoded(hotkey: hotkey, assignmentId: id, submission: body, now: now())
    }
    api.post("tasks/:id/submit_evolution") { request, context in
        let hotkey = try await miner(request)
        let id = try context.parameters.require("id")
        let body = try await request.decodeJSON(EvolutionSubmission.self, maxBytes: maxBody)
        let submission = LeaseSubmission(
            evaluations: [],
            evolutions: [EvolutionEntry(parentAlgorithmIds: body.parentFunctions.map(\.id), algorithmDsl: body.evolvedFunction)],
            iterations: 1)
        return try await store.submitEncoded(
            hotkey: hotkey, assignmentId: id, submission: submission, now: now(), expectKind: ["evolve"])
    }
    api.post("tasks/:id/submit_evaluation") { request, context in
        let hotkey = try await miner(request)
        let id = try context.parameters.require("id")
        let body = try await request.decodeJSON(EvaluationSubmission.self, maxBytes: maxBody)
        let submission = LeaseSubmission(evaluations: body.evaluations, evolutions: [], iterations: body.evaluations.count)
        return try await store.submitEncoded(
            hotkey: hotkey, assignmentId: id, submission: submission, now: now(), expectKind: ["evaluate"])
    }
    let listResults: @Sendable (Request, BasicRequestContext) async throws -> JSONResponse<ResultsResponse> = { request, _ in
        _ = try await miner(request)
        let limit = try request.intQuery("limit", default: 50, range: 1...500)
        let status = request.uri.queryParameters["status"].map(String.init) ?? "verified"
        guard ["verified", "completed"].contains(status) else {
            throw APIError.unprocessable(ErrorCode.invalidQuery, "status must be 'verified' or 'completed'")
        }
        let taskType = request.uri.queryParameters["task_type"].map(String.init)
        if let taskType { try store.checkTaskType(taskType) }
        var minScore: Double?
        if let text = request.uri.queryParameters["min_score"] {
            guard let v = Double(String(text)), v.isFinite else {
                throw APIError.unprocessable(ErrorCode.invalidQuery, "min_score must be a finite number")
            }
            minScore = v
        }
        return JSONResponse(ResultsResponse(results: try await store.results(
            status: status, taskType: taskType, minScore: minScore, limit: limit)))
    }
    api.get("results", use: listResults)
    api.get("results/sota") { request, _ in
        let taskType = request.uri.queryParameters["task_type"].map(String.init) ?? "cifar10_binary"
        return JSONResponse(try await store.sota(taskType: taskType))
    }
    api.post("results/verify/:id") { request, context in
        let hotkey = try await miner(request)
        guard config.operatorHotkeys.contains(hotkey) else {
            throw APIError.forbidden(PoolErrorCode.notOperator, "Hotkey \(hotkey) is not an operator of this pool")
        }
        guard let id = Int64(try context.parameters.require("id")) else {
            throw APIError.notFound(PoolErrorCode.resultNotFound, "Result ids are integers")
        }
        return JSONResponse(try await store.verify(resultId: id, by: hotkey, now: now()))
    }
    // Payout recipient: the signature covers the coldkey (pool-api.md §2.2), so the body is
    // read first; the same replay ledger as every signed request.
    let updateRecipient: @Sendable (Request, BasicRequestContext) async throws -> JSONResponse<RecipientColdkeyUpdated> = {
        request, _ in
        let body = try await request.decodeJSON(RecipientColdkeyUpdate.self, maxBytes: maxBody)
        let coldkey = body.address ?? ""
        let hotkey = try await auth.authenticate(request, message: {
            SignedRequest.recipientColdkeyMessage(timestamp: $0, recipientColdkey: coldkey)
        }).ss58Address
        let field = body.recipientColdkey == nil && body.coldkeyAddress != nil ? "coldkey_address" : "recipient_coldkey"
        _ = try PoolStore.accountId(ofAddress: coldkey, field: field)
        return JSONResponse(try await store.setRecipientColdkey(hotkey: hotkey, coldkey: coldkey, now: now()))
    }
    api.put("miners/recipient-coldkey", use: updateRecipient)
    api.post("miners/recipient-coldkey", use: updateRecipient)
    api.post("miners/coldkey_address/update", use: updateRecipient)
    router.post("coldkey_address/update", use: updateRecipient)
    api.get("miners/recipient-coldkey") { request, _ in
        let hotkey = try await miner(request)
        return JSONResponse(try await store.recipientColdkey(hotkey: hotkey))
    }
    api.get("miners/recipient-coldkey/:hotkey") { _, context in
        let hotkey = try context.parameters.require("hotkey")
        try PoolStore.checkHotkey(hotkey)
        let mapping = try await store.recipientColdkey(hotkey: hotkey)
        guard mapping.recipientColdkey != nil else {
            throw APIError.notFound(PoolErrorCode.recipientNotFound, "Hotkey \(hotkey) has no recipient coldkey")
        }
        return JSONResponse(mapping)
    }

    // Merkle claims (pool-api.md §4.7).
    @Sendable func epochParameter(_ context: BasicRequestContext) throws -> Int64 {
        let text = try context.parameters.require("epoch")
        guard text.utf8.count <= 19, let epoch = Int64(text), epoch >= 0 else {
            throw APIError.unprocessable(PoolErrorCode.invalidEpoch, "epoch_id must be a non-negative integer")
        }
        return epoch
    }
    @Sendable func claimHotkey(_ context: BasicRequestContext) throws -> String {
        let hotkey = try context.parameters.require("hotkey")
        try PoolStore.checkHotkey(hotkey)
        return hotkey
    }
    let claims = router.group("claims")
    claims.get("health") { _, _ in JSONResponse(try await store.claimsHealth()) }
    claims.get("epochs") { _, _ in JSONResponse(try await store.claimEpochList()) }
    claims.get("epoch") { _, _ in JSONResponse(try await store.claimEpoch(nil)) }
    claims.get("epoch/:epoch") { _, context in JSONResponse(try await store.claimEpoch(try epochParameter(context))) }
    for word in ["proof", "claim"] {
        claims.get("epoch/\(word)/:hotkey") { _, context in
            JSONResponse(try await store.claimProof(epoch: nil, hotkey: try claimHotkey(context)))
        }
        claims.get("epoch/:epoch/\(word)/:hotkey") { _, context in
            let epoch = try epochParameter(context)
            return JSONResponse(try await store.claimProof(epoch: epoch, hotkey: try claimHotkey(context)))
        }
    }

    api.get("monitor/summary") { request, _ in
        try PoolDashboard.authorize(request, token: config.monitorToken, allowQuery: false)
        return JSONResponse(try await store.monitorSummary(now: now()))
    }
    PoolDashboard.addRoutes(to: router, store: store, config: config, now: now)
    return router
}

/// Runs the pool until cancelled: opens the store, migrates, ships seeds, serves HTTP and
/// sweeps (lease expiry, epoch close) in the background.
public func runPool(config: PoolConfig, algorithms: any AlgorithmPolicy, logger: Logger,
                    stopper: ServiceStopper = ServiceStopper(),
                    onReady: (@Sendable (Int) async -> Void)? = nil) async throws {
    try config.rules.validate()
    let db = try await openDatabase(try DatabaseLocation.parse(config.database), logger: logger)
    let store = PoolStore(db: db, rules: config.rules, algorithms: algorithms, heldOutSeed: config.heldOutSeed)
    do {
        try await store.prepare(now: Date().timeIntervalSince1970)
        let k = config.rules.consensusThreshold
        logger.notice("""
            consensus needs \(k) evaluators other than a candidate's author: at least \(k + 1) miners must be \
            mining for any candidate to be scored (fewer: candidates wait for evaluators forever)
            """)
        logger.info("generalisation rules", metadata: [
            "held_out_tasks": "\(config.rules.heldOutTasks)", "suite_rotation": "\(config.rules.suiteRotation)"])
        let drain = DrainState()
        let router = makePoolRouter(store: store, config: config, drain: drain)
        let app = Application(
            router: router,
            server: .http1Refusing(),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "evalnet-pool"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                logger.info("pool listening", metadata: ["url": "http://\(config.host):\(port)", "database": "\(config.database)",
                                                         "replica": "\(config.replicaId)"])
                await onReady?(port)
            },
            logger: logger)
        let sweeper = PeriodicTask(name: "pool-sweeper", interval: config.sweepIntervalSeconds, logger: logger,
                                   exclusive: PeriodicRuns(db: db, holder: config.replicaId)) {
            let t = Date().timeIntervalSince1970
            let expired = try await store.expireOverdue(now: t)
            if expired > 0 { logger.info("expired leases", metadata: ["count": "\(expired)"]) }
            let epochs = try await store.closeFinishedEpochs(now: t)
            if !epochs.isEmpty { logger.info("closed epochs", metadata: ["epochs": "\(epochs)"]) }
        }
        // Shut down in reverse order: drain (readiness 503, wait), then the sweeper, then HTTP.
        try await stopper.run([app, sweeper, DrainService(drain: drain, delaySeconds: config.drainSeconds, logger: logger)],
                              logger: logger)
    } catch {
        await db.shutdown()
        throw error
    }
    await db.shutdown()
}

/// Opens the pool database at `database` (no migration, no writes) and recomputes each
/// published claim epoch (or only `epoch`) from the stored payouts (`PoolStore.auditClaimEpochs`).
public func auditPoolClaims(database: String, epoch: Int64?, logger: Logger) async throws -> [PoolStore.ClaimAudit] {
    let db = try await openDatabase(try DatabaseLocation.parse(database), logger: logger)
    let store = PoolStore(db: db, rules: PoolRules(), algorithms: AlgorithmCatalog())
    do {
        let audits = try await store.auditClaimEpochs(epoch: epoch)
        await db.shutdown()
        return audits
    } catch {
        await db.shutdown()
        throw error
    }
}
