import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hotkeys
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import PlatformAPI
import SignedClient
import Synchronization

/// Why a `PlatformClient` call failed.
public enum PlatformClientError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Network failure or 5xx: try again later.
    case unavailable(String)
    /// 409: another validator claimed the job first, or it is no longer claimable.
    case conflict(code: String, detail: String)
    case rejected(status: Int, code: String, detail: String)
    case badResponse(String)

    public var description: String {
        switch self {
        case let .unavailable(why): return "platform unavailable: \(why)"
        case let .conflict(code, detail): return "conflict (\(code)): \(detail)"
        case let .rejected(status, code, detail): return "platform refused (\(status) \(code)): \(detail)"
        case let .badResponse(why): return "unexpected platform response: \(why)"
        }
    }
}

/// The validator's client of the Platform API (seed names: get_challenges, get_pending_jobs,
/// claim_job, submit_results, execute_orm_query, connect_websocket). Every request carries
/// `X-Validator-Hotkey` and fresh signed headers; the WebSocket upgrade too.
public final class PlatformClient: Sendable {
    public var baseURL: String { caller.baseURL }
    let keypair: SR25519Keypair
    let caller: SignedJSONCaller
    let logger: Logger

    public init(baseURL: String, keypair: SR25519Keypair, http: HTTPClient = .shared, logger: Logger) {
        self.keypair = keypair
        self.caller = SignedJSONCaller(baseURL: baseURL, http: http, timeoutSeconds: 30, maxReplyBytes: 16 << 20)
        self.logger = logger
    }

    public var hotkey: String { keypair.publicKey.ss58Address }

    func signedHeaders() -> [(String, String)] {
        [(PlatformHeaders.validatorHotkey, hotkey)] + SignedRequest.headers(for: keypair).map { ($0.name, $0.value) }
    }

    func call<Response: Decodable>(_ method: HTTPMethod, _ path: String, body: Data? = nil, as: Response.Type)
        async throws -> Response?
    {
        let reply: JSONReply
        do {
            reply = try await caller.call(method, path, body: body, headers: [(PlatformHeaders.validatorHotkey, hotkey)],
                                          signer: keypair)
        } catch {
            throw PlatformClientError.unavailable(error.description)
        }
        if reply.status == 204 { return nil }
        if reply.succeeded {
            do { return try reply.decode(Response.self) } catch { throw PlatformClientError.badResponse("\(path): \(error)") }
        }
        let (code, detail) = reply.failure
        if reply.status >= 500 || reply.status == 429 { throw PlatformClientError.unavailable("\(reply.status) \(detail)") }
        if reply.status == 409 { throw PlatformClientError.conflict(code: code, detail: detail) }
        throw PlatformClientError.rejected(status: reply.status, code: code, detail: detail)
    }

    struct Nothing: Decodable {}

    public func getChallenges() async throws -> [ActiveChallenge] {
        try await call(.GET, PlatformPaths.activeChallenges, as: ActiveChallengesResponse.self)?.challenges ?? []
    }

    /// Claims the oldest pending job this validator may take (of `challengeId` when given);
    /// nil when there is none. Unlike a claim by id, it is never lost to another validator.
    public func claimNextJob(challengeId: String?) async throws -> ClaimResponse? {
        try await call(.POST, PlatformPaths.claimNext + queryString([(PlatformQueryNames.challengeId, challengeId)]),
                       as: ClaimResponse.self)
    }

    public func startJob(_ id: String) async throws {
        _ = try await call(.POST, PlatformPaths.start(id), as: JobView.self)
    }

    public func submitResults(_ id: String, _ results: JobResultRequest) async throws {
        _ = try await call(.POST, PlatformPaths.results(id), body: try JSONCoding.encoder.encode(results), as: Nothing.self)
    }

    public func executeOrmQuery(_ challengeId: String, _ query: OrmQueryRequest) async throws -> OrmQueryResponse {
        guard let r = try await call(.POST, PlatformPaths.ormQuery(challengeId), body: try JSONCoding.encoder.encode(query),
                                     as: OrmQueryResponse.self)
        else { throw PlatformClientError.badResponse("query answered without a body") }
        return r
    }

    /// One WebSocket session: signed upgrade, then every server message to `onMessage` until
    /// the connection closes. `since` resumes after the last event sequence received. Returns
    /// whether the server asked for a prompt reconnection (a `reconnect` message or close
    /// code 1012: a replica draining behind a load balancer).
    @discardableResult
    public func connectWebSocket(since: Int64?, onMessage: @escaping @Sendable (PlatformServerMessage) async -> Void)
        async throws -> Bool
    {
        var url = baseURL.replacingOccurrences(of: "http://", with: "ws://")
            .replacingOccurrences(of: "https://", with: "wss://") + PlatformPaths.validatorSocket(hotkey)
        url += queryString([(PlatformSocketQuery.since, since.map { String($0) })])
        var headers = HTTPFields()
        for (n, v) in signedHeaders() { if let name = HTTPField.Name(n) { headers[name] = v } }
        var quiet = logger
        quiet.logLevel = .warning
        let asked = FlagBox()
        let close = try await WebSocketClient.connect(
            url: url, configuration: .init(additionalHeaders: headers, autoPing: .enabled(timePeriod: .seconds(20))),
            logger: quiet
        ) { inbound, _, _ in
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case let .text(text) = message, let m = try? PlatformServerMessage.decode(text) else { continue }
                if case .reconnect = m { asked.set() }
                await onMessage(m)
            }
        }
        if case .unknown(platformServiceRestartCloseCode) = close?.closeCode { return true }
        return asked.value
    }

    /// Keeps a WebSocket session up until the task is cancelled: reconnects with capped
    /// exponential backoff and jitter, resuming after the last sequence seen, and calls
    /// `onConnect` on every (re)connection so the caller can re-list pending jobs. A server
    /// that asks for a reconnection (draining) is left at once: the next attempt comes after
    /// a short random pause (0.05–0.5 s, so validators do not all arrive together), through
    /// the load balancer to another replica.
    public func runWebSocket(onConnect: @escaping @Sendable () async -> Void,
                             onMessage: @escaping @Sendable (PlatformServerMessage) async -> Void) async {
        let lastSeq = SeqBox()
        var delay = 0.5
        while !Task.isCancelled {
            let started = Date()
            var restart = false
            do {
                restart = try await connectWebSocket(since: lastSeq.value) { message in
                    if let seq = message.seq { lastSeq.update(seq) }
                    if case .welcome = message { await onConnect() }
                    await onMessage(message)
                }
            } catch {
                logger.debug("websocket closed", metadata: ["error": "\(error)"])
            }
            if Task.isCancelled { break }
            if restart {
                delay = 0.5
                let wait = Double.random(in: 0.05...0.5)
                logger.info("platform asked to reconnect", metadata: ["in_s": "\(String(format: "%.2f", wait))"])
                try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                continue
            }
            if Date().timeIntervalSince(started) > 30 { delay = 0.5 }
            let wait = delay * Double.random(in: 0.7...1.3)
            logger.info("websocket reconnecting", metadata: ["in_s": "\(String(format: "%.1f", wait))"])
            try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            delay = min(delay * 2, 30)
        }
    }
}

/// A flag set from a concurrent closure.
final class FlagBox: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}

/// The newest event sequence number received.
final class SeqBox: Sendable {
    private let state = Mutex<Int64?>(nil)
    var value: Int64? { state.withLock { $0 } }
    func update(_ seq: Int64) { state.withLock { $0 = max($0 ?? seq, seq) } }
}

