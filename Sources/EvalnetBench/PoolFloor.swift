import AlgorithmDSL
import Foundation
import Hotkeys
import Hummingbird
import Logging
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Synchronization
import TimeText

/// The floor under the pool benchmark: a server that answers the miners' register → lease →
/// submit cycle the way the pool does on the wire — same HTTP server and middleware (JSON
/// errors, metrics), same signature check, same request decoding with the same size limit,
/// and a lease as large as the pool's (four programs to evaluate, two seeds, in the pool's
/// normalised text) — but keeps no state at all: no store, no consensus, no accounting, and
/// signatures remembered in memory. `evalnet-bench pool --backend none` drives it with the
/// same miners as the real pool, so what it reaches is the most any pool can reach on this
/// machine with this HTTP, JSON and SR25519 stack and the load generator beside it; the gap
/// to the real pool is what its state costs.
func runFloorPool(rules: PoolRules, maxBodyBytes: Int, logger: Logger, stopper: ServiceStopper,
                  onReady: @escaping @Sendable (Int) async -> Void) async throws {
    let taskType = "scalar_linear"
    let inputDim = 16
    let programs = try (0..<6).map {
        try normalizeForPool(dsl: lmsProgram(rate: String(format: "%.6f", 0.01 + Double($0) * 0.013)),
                             taskType: taskType, inputDim: inputDim)
    }
    let nextId = Atomic<Int64>(1)
    let router = Router(context: BasicRequestContext.self)
    router.addServiceBasics(catalogue: APICatalogue(
        title: "evalnet Pool API (bench floor)", version: "1.0",
        routes: PoolCatalogue.routes(rules: rules, taskTypes: [taskType])))
    let auth = RequestAuthenticator(windowSeconds: 300, ledger: MemoryReplayLedger())
    let api = router.group("api/v1")
    api.post("miners/register") { request, _ in
        let hotkey = try await auth.authenticate(request).ss58Address
        let now = RFC3339.utc(Date().timeIntervalSince1970, fraction: true)
        return JSONResponse(MinerInfo(hotkey: hotkey, reputation: 0, windowReputation: 0, registeredAt: now, lastSeenAt: now))
    }
    api.post("tasks/lease") { request, _ in
        _ = try await auth.authenticate(request)
        let leased = try await request.decodeJSON(LeaseRequest.self, maxBytes: maxBodyBytes).taskType ?? taskType
        let first = nextId.add(6, ordering: .relaxed).oldValue
        let records = programs.enumerated().map { i, dsl in
            AlgorithmRecord(id: first + Int64(i), algorithmDsl: dsl, inputDim: inputDim, taskType: leased)
        }
        let t = Date().timeIntervalSince1970
        let window = Int64(rules.windowClock().number(at: t))
        return JSONResponse(LeaseResponse(
            leaseId: UUID().uuidString.lowercased(), windowNumber: window,
            timeoutAt: RFC3339.utc(t + 300, fraction: true), evolveBudget: 1, taskType: leased,
            evaluateAlgorithms: Array(records.prefix(4)), seedAlgorithms: Array(records.suffix(2)),
            gossip: GossipPacket(taskType: leased, algorithmIds: [], windowNumber: window)))
    }
    api.post("tasks/:id/submit_lease") { request, context in
        _ = try await auth.authenticate(request)
        let id = try context.parameters.require("id")
        let body = try await request.decodeJSON(LeaseSubmission.self, maxBytes: maxBodyBytes)
        let accepted = body.evolutions.isEmpty ? [] : [nextId.add(1, ordering: .relaxed).oldValue]
        return JSONResponse(SubmitResponse(
            status: "accepted", leaseId: id, evaluationsAccepted: body.evaluations.count, evaluationsInvalid: 0,
            evolutionsAccepted: accepted, consensusReached: []))
    }
    let app = Application(
        router: router, server: .http1Refusing(),
        configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "evalnet-pool-floor"),
        onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0) },
        logger: logger)
    try await stopper.run([app], logger: logger)
}
