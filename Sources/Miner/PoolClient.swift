import AsyncHTTPClient
import Foundation
import Hotkeys
import NIOCore
import NIOHTTP1
import PoolAPI

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
    public let baseURL: String
    let keypair: SR25519Keypair
    let http: HTTPClient
    let timeout: TimeAmount

    public init(baseURL: String, keypair: SR25519Keypair, timeoutSeconds: Int64 = 30) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.keypair = keypair
        self.http = HTTPClient(eventLoopGroupProvider: .singleton)
        self.timeout = .seconds(timeoutSeconds)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()

    func send<Response: Decodable>(_ method: HTTPMethod, _ path: String, signed: Bool = true, as: Response.Type)
        async throws -> Response
    {
        try await perform(method, path, body: nil, signed: signed, as: Response.self)
    }

    func send<Body: Encodable, Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Body,
                                                    as: Response.Type) async throws -> Response {
        // Non-finite scores go out as "-Infinity"/"NaN" strings, which the pool accepts.
        try await perform(method, path, body: try Self.encoder.encode(body), signed: true, as: Response.self)
    }

    func perform<Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Data?, signed: Bool,
                                      as: Response.Type) async throws -> Response {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if signed {
            for (name, value) in SignedRequest.headers(for: keypair) { request.headers.add(name: name, value: value) }
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 8 << 20)
        } catch {
            throw PoolClientError.transient("\(error)")
        }
        let status = Int(response.status.code)
        if (200..<300).contains(status) {
            do { return try JSONDecoder().decode(Response.self, from: Data(bytes.readableBytesView)) } catch {
                throw PoolClientError.badResponse("\(path): \(error)")
            }
        }
        let err = try? JSONDecoder().decode(ErrorBody.self, from: Data(bytes.readableBytesView))
        let code = err?.code ?? "http_\(status)"
        let detail = err?.detail ?? String(buffer: bytes)
        if status == 429 || status >= 500 { throw PoolClientError.transient("\(status) \(detail)") }
        if status == 404 { throw PoolClientError.notFound(code: code, detail: detail) }
        let retry = response.headers.first(name: "Retry-After").flatMap { Int($0) }
        throw PoolClientError.rejected(status: status, code: code, detail: detail, retryAfter: retry)
    }

    struct ErrorBody: Decodable {
        var detail: String
        var code: String?
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
        try await send(.GET, PoolPaths.leaderboard + "?limit=\(limit)", signed: false, as: LeaderboardResponse.self)
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
        try await send(.GET, PoolPaths.sota + "?task_type=\(taskType)", signed: false, as: SOTAResponse.self)
    }

    public func results(status: String = "verified", taskType: String? = nil, limit: Int = 50) async throws -> ResultsResponse {
        var path = PoolPaths.results + "?status=\(status)&limit=\(limit)"
        if let taskType { path += "&task_type=\(taskType)" }
        return try await send(.GET, path, as: ResultsResponse.self)
    }

    public func verify(resultId: Int64) async throws -> ResultRecord {
        try await send(.POST, PoolPaths.verify(resultId), body: Empty(), as: ResultRecord.self)
    }

    public func monitorSummary(token: String? = nil) async throws -> MonitorSummary {
        var request = HTTPClientRequest(url: baseURL + PoolPaths.monitorSummary)
        if let token { request.headers.add(name: "X-Monitor-Token", value: token) }
        let response = try await http.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 8 << 20)
        guard response.status == .ok else { throw PoolClientError.badResponse("monitor: \(response.status)") }
        return try JSONDecoder().decode(MonitorSummary.self, from: Data(bytes.readableBytesView))
    }
}
