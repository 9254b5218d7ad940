import AsyncHTTPClient
import Foundation
import Hotkeys
import NIOCore
import NIOHTTP1
import PoolAPI
import SignedClient

/// Why a pool call failed, classified the way a miner must react to it.
public enum PoolClientError: Error, CustomStringConvertible, Sendable {
    /// Network failure, 429 or 5xx: retry with backoff.
    case transient(String)
    /// 404 — no work, or an unknown / finished lease.
    case notFound(code: String, detail: String)
    /// Another 4xx: the request itself is wrong or refused.
    case rejected(status: Int, code: String, detail: String, retryAfter: Int?)
    case badResponse(String)

    public var description: String {
        switch self {
        case let .transient(why): return "pool unreachable or busy: \(why)"
        case let .notFound(code, detail): return "\(detail) [\(code)]"
        case let .rejected(status, code, detail, _): return "pool refused (\(status) \(code)): \(detail)"
        case let .badResponse(why): return "unexpected pool response: \(why)"
        }
    }
}

/// Client of the Pool API: every call signed with the miner's hotkey (fresh headers per
/// request), bodies encoded with the shared `PoolAPI` wire types.
public final class PoolClient: Sendable {
    public var baseURL: String { caller.baseURL }
    let keypair: SR25519Keypair
    let http: HTTPClient
    let caller: SignedJSONCaller

    public init(baseURL: String, keypair: SR25519Keypair, timeoutSeconds: Int64 = 30) {
        self.keypair = keypair
        self.http = HTTPClient.untraced()
        self.caller = SignedJSONCaller(baseURL: baseURL, http: http, timeoutSeconds: timeoutSeconds, maxReplyBytes: 8 << 20)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    func send<Response: Decodable>(_ method: HTTPMethod, _ path: String, signed: Bool = true, headers: [(String, String)] = [],
                                   as: Response.Type) async throws -> Response {
        try await perform(method, path, body: nil, signed: signed, headers: headers, as: Response.self)
    }

    func send<Body: Encodable, Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Body,
                                                    as: Response.Type) async throws -> Response {
        // Non-finite scores go out as "-Infinity"/"NaN" strings, which the pool accepts.
        try await perform(method, path, body: try JSONCoding.encoder.encode(body), signed: true, as: Response.self)
    }

    func perform<Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Data?, signed: Bool,
                                      headers: [(String, String)] = [], as: Response.Type) async throws -> Response {
        let reply: JSONReply
        do { reply = try await caller.call(method, path, body: body, headers: headers, signer: signed ? keypair : nil) } catch {
            throw PoolClientError.transient(error.description)
        }
        if reply.succeeded {
            do { return try reply.decode(Response.self) } catch { throw PoolClientError.badResponse("\(path): \(error)") }
        }
        let (code, detail) = reply.failure
        if reply.status == 429 || reply.status >= 500 { throw PoolClientError.transient("\(reply.status) \(detail)") }
        if reply.status == 404 { throw PoolClientError.notFound(code: code, detail: detail) }
        throw PoolClientError.rejected(status: reply.status, code: code, detail: detail, retryAfter: reply.retryAfterSeconds)
    }

    struct Empty: Encodable {}

    public func health() async throws -> HealthResponse {
        try await send(.GET, PoolPaths.health, signed: false, as: HealthResponse.self)
    }

    public func register() async throws -> MinerInfo {
        try await send(.POST, PoolPaths.register, body: Empty(), as: MinerInfo.self)
    }

    public func stats() async throws -> StatsResponse {
        try await send(.GET, PoolPaths.stats, as: StatsResponse.self)
    }

    public func leaderboard(limit: Int = 20) async throws -> LeaderboardResponse {
        try await send(.GET, PoolPaths.leaderboard + queryString([("limit", String(limit))]), signed: false, as: LeaderboardResponse.self)
    }

    public func lease(_ request: LeaseRequest) async throws -> LeaseResponse {
        try await send(.POST, PoolPaths.lease, body: request, as: LeaseResponse.self)
    }

    public func submit(leaseId: String, _ submission: LeaseSubmission) async throws -> SubmitResponse {
        try await send(.POST, PoolPaths.submitLease(leaseId), body: submission, as: SubmitResponse.self)
    }

    public func abandonActive() async throws {
        _ = try await send(.DELETE, PoolPaths.activeTask, as: [String: String].self)
    }

    public func sota(taskType: String) async throws -> SOTAResponse {
        try await send(.GET, PoolPaths.sota + queryString([("task_type", taskType)]), signed: false, as: SOTAResponse.self)
    }

    public func results(status: String = "verified", taskType: String? = nil, limit: Int = 50) async throws -> ResultsResponse {
        let query = queryString([("status", status), ("limit", String(limit)), ("task_type", taskType)])
        return try await send(.GET, PoolPaths.results + query, as: ResultsResponse.self)
    }

    public func verify(resultId: Int64) async throws -> ResultRecord {
        try await send(.POST, PoolPaths.verify(resultId), body: Empty(), as: ResultRecord.self)
    }

    public func monitorSummary(token: String? = nil) async throws -> MonitorSummary {
        try await send(.GET, PoolPaths.monitorSummary, signed: false, headers: token.map { [("X-Monitor-Token", $0)] } ?? [],
                       as: MonitorSummary.self)
    }
}
