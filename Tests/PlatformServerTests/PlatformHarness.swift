import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import PlatformAPI
@testable import PlatformServer
import ServiceKit
import Store
import Synchronization
import TestSupport
import Testing

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let body: [UInt8]

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do { return try JSONBody.decode(type, from: body) } catch {
            Issue.record("cannot decode \(T.self) from \(text)")
            throw error
        }
    }

    var error: APIErrorBody? { try? JSONDecoder().decode(APIErrorBody.self, from: Data(body)) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum Caller: Sendable {
    case anonymous
    case admin
    case miner(SR25519Keypair)
    case validator(SR25519Keypair)
}

/// A platform on a fresh database of one backend.
struct PlatformHarness: Sendable {
    static let adminToken = "test-admin-token"
    let store: PlatformStore
    let config: PlatformConfig
    let clock: TestClock
    let db: any SQLDatabase
    let hub: EventHub
    let validators: [SR25519Keypair]

    static func make(_ backend: Backend, validators count: Int = 3,
                     configure: (inout PlatformConfig) -> Void = { _ in }) async throws -> PlatformHarness {
        var config = PlatformConfig()
        config.adminToken = adminToken
        config.port = 0
        config.sweepIntervalSeconds = nil
        config.eventPollSeconds = 0.2
        let keys = (0..<count).map { _ in SR25519Keypair.generate() }
        config.validators = keys.map(\.publicKey.ss58Address)
        configure(&config)
        let db = try await TestDatabases.fresh(backend)
        let store = PlatformStore(db: db, limits: config.limits, logger: TestDatabases.logger)
        let clock = TestClock()
        try await store.prepare(validators: config.validators, now: clock.now)
        return PlatformHarness(store: store, config: config, clock: clock, db: db, hub: EventHub(), validators: keys)
    }

    func close() async {
        await store.shutdown()
        await db.shutdown()
    }

    /// Runs `body` against the router (no sockets); shuts the database down afterwards.
    func run(_ body: @escaping @Sendable (PlatformClient) async throws -> Void) async throws {
        let clock = self.clock
        let app = Application(router: makePlatformRouter(store: store, hub: hub, config: config, now: { clock.now }))
        do {
            try await app.test(.router) { client in try await body(PlatformClient(client: client)) }
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// Runs `body` against a live server on an ephemeral loopback port (HTTP + WebSocket,
    /// event pump running, sweeper off).
    func runLive(_ body: @escaping @Sendable (PlatformClient, Int) async throws -> Void) async throws {
        let clock = self.clock
        let app = try await makePlatformApplication(store: store, hub: hub, config: config, logger: TestDatabases.logger,
                                                    now: { clock.now })
        do {
            try await app.test(.live) { client in
                guard let port = client.port else { throw StoreError.backend("no port") }
                try await body(PlatformClient(client: client), port)
            }
        } catch {
            await close()
            throw error
        }
        await close()
    }
}

struct PlatformClient: Sendable {
    let client: any TestClientProtocol

    static func headers(_ caller: Caller) -> HTTPFields {
        var h: HTTPFields = [.contentType: "application/json"]
        switch caller {
        case .anonymous: break
        case .admin: h[.authorization] = "Bearer \(PlatformHarness.adminToken)"
        case let .miner(key):
            for (n, v) in SignedRequest.headers(for: key) { h[.init(n)!] = v }
        case let .validator(key):
            for (n, v) in SignedRequest.headers(for: key) { h[.init(n)!] = v }
            h[.init(PlatformHeaders.validatorHotkey)!] = key.publicKey.ss58Address
        }
        return h
    }

    func call(_ method: HTTPRequest.Method, _ path: String, as caller: Caller = .anonymous, raw: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> Reply {
        var h = Self.headers(caller)
        for f in extra { h[f.name] = f.value }
        let r = try await client.execute(uri: path, method: method, headers: h, body: raw.map { ByteBuffer(string: $0) })
        return Reply(status: r.status, body: Array(r.body.readableBytesView))
    }

    func call<B: Encodable>(_ method: HTTPRequest.Method, _ path: String, as caller: Caller, json: B) async throws -> Reply {
        try await call(method, path, as: caller, raw: String(decoding: try JSONBody.encoder().encode(json), as: UTF8.self))
    }

    static func challengeRequest(_ name: String = "ch-\(UUID().uuidString.prefix(8))", mechanism: Int = 1,
                                 share: Double = 0.5, validators: Int = 1, retries: Int = 3, timeout: Int = 600)
        -> CreateChallengeRequest
    {
        CreateChallengeRequest(name: name, githubRepo: "https://github.com/example/\(name)", githubCommit: "0123456789abcdef",
                               composeHash: "sha256:abc", mechanismId: mechanism, emissionShare: share,
                               validatorsPerSubmission: validators, maxRetries: retries, claimTimeoutS: timeout)
    }

    func createChallenge(_ req: CreateChallengeRequest = challengeRequest()) async throws -> ChallengeDetail {
        let r = try await call(.post, PlatformPaths.adminChallenges, as: .admin, json: req)
        #expect(r.status == .created, "create challenge: \(r.text)")
        return try r.decode(ChallengeDetail.self)
    }

    func submit(_ miner: SR25519Keypair, _ challenge: String, code: String = "print('hello')") async throws -> SubmissionView {
        let r = try await call(.post, PlatformPaths.submissions(challenge), as: .miner(miner), json: SubmissionPayload(code: code))
        #expect(r.status == .created, "submit: \(r.text)")
        return try r.decode(SubmissionView.self)
    }

    func pending(_ v: SR25519Keypair) async throws -> [PendingJob] {
        let r = try await call(.get, PlatformPaths.pendingJobs, as: .validator(v))
        #expect(r.status == .ok, "pending: \(r.text)")
        return try r.decode(PendingJobsResponse.self).jobs
    }

    func claim(_ v: SR25519Keypair, _ job: String) async throws -> Reply {
        try await call(.post, PlatformPaths.claim(job), as: .validator(v))
    }

    func results(_ v: SR25519Keypair, _ job: String, _ body: JobResultRequest) async throws -> Reply {
        try await call(.post, PlatformPaths.results(job), as: .validator(v), json: body)
    }

    func query(_ v: SR25519Keypair, _ challenge: String, _ sql: String, _ params: [JSONValue] = []) async throws -> Reply {
        try await call(.post, PlatformPaths.ormQuery(challenge), as: .validator(v), json: OrmQueryRequest(query: sql, params: params))
    }
}

/// A real WebSocket client (HummingbirdWSClient) collecting what the server sends.
final class SocketProbe: Sendable {
    private let outgoing: AsyncStream<String>.Continuation
    private let task: Task<Void, Never>

    init(port: Int, hotkey: String, headers: HTTPFields, query: String = "") {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        outgoing = continuation
        let url = "ws://127.0.0.1:\(port)\(PlatformPaths.validatorSocket(hotkey))\(query)"
        var logger = Logger(label: "probe")
        logger.logLevel = .critical
        let box = ProbeBox()
        task = Task { [box] in
            let frame = (try? await WebSocketClient.connect(
                url: url, configuration: .init(additionalHeaders: headers), logger: logger
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in stream { try await outbound.write(.text(text)) }
                    }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            if case let .text(t) = message, let m = try? PlatformServerMessage.decode(t) { box.append(m) }
                        }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }) ?? nil
            if case .unknown(1012) = frame?.closeCode { box.markRestartClose() }
            box.markClosed()
        }
        self.box = box
    }

    let box: ProbeBox

    var messages: [PlatformServerMessage] { box.messages }
    var isClosed: Bool { box.isClosed }

    func send(_ text: String) { outgoing.yield(text) }

    /// Waits (at most `seconds`) until a message matching `predicate` has arrived.
    @discardableResult
    func waitFor(_ what: String, seconds: Double = 10, _ predicate: (PlatformServerMessage) -> Bool) async throws
        -> PlatformServerMessage
    {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let m = box.messages.first(where: predicate) { return m }
            if box.isClosed { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no \(what) received; got \(box.messages)")
        throw StoreError.backend("timeout waiting for \(what)")
    }

    /// Waits until the connection is closed (at most `seconds`).
    func waitClosed(seconds: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if box.isClosed { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func close() async {
        outgoing.finish()
        task.cancel()
        _ = await task.value
    }
}

final class ProbeBox: Sendable {
    private let state = Mutex<(messages: [PlatformServerMessage], closed: Bool, restart: Bool)>(([], false, false))
    func append(_ m: PlatformServerMessage) { state.withLock { $0.messages.append(m) } }
    func markClosed() { state.withLock { $0.closed = true } }
    func markRestartClose() { state.withLock { $0.restart = true } }
    var messages: [PlatformServerMessage] { state.withLock { $0.messages } }
    var isClosed: Bool { state.withLock { $0.closed } }
    /// The server closed with 1012 "service restart".
    var closedForRestart: Bool { state.withLock { $0.restart } }
}

extension PlatformServerMessage {
    var newJobId: String? { if case let .newJob(m) = self { return m.jobId } else { return nil } }
    var isWelcome: Bool { if case .welcome = self { return true } else { return false } }
}
