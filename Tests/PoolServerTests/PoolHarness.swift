import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import Synchronization
import TestSupport
import Testing

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let body: [UInt8]
    let headers: HTTPFields

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do { return try JSONBody.decode(type, from: body) } catch {
            Issue.record("cannot decode \(T.self) from \(String(decoding: body, as: UTF8.self))")
            throw error
        }
    }

    var error: APIErrorBody? { try? JSONDecoder().decode(APIErrorBody.self, from: Data(body)) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A pool on a fresh database of one backend, driven through the real router.
struct PoolHarness: Sendable {
    let store: PoolStore
    let config: PoolConfig
    let clock: TestClock
    let db: any SQLDatabase

    /// `wrap` may put a layer around the database (fault injection); `db` is the wrapped one.
    static func make(_ backend: Backend, configure: (inout PoolConfig) -> Void = { _ in },
                     wrap: (any SQLDatabase) -> any SQLDatabase = { $0 }) async throws -> PoolHarness {
        var config = PoolConfig()
        config.rules.windowSeconds = 3600
        configure(&config)
        let db = wrap(try await TestDatabases.fresh(backend))
        let store = PoolStore(db: db, rules: config.rules, algorithms: AlgorithmCatalog(), heldOutSeed: config.heldOutSeed)
        let clock = TestClock()
        try await store.prepare(now: clock.now)
        return PoolHarness(store: store, config: config, clock: clock, db: db)
    }

    /// Runs `body` with a client; shuts the database down afterwards.
    func run(_ body: @escaping @Sendable (PoolClientForTests) async throws -> Void) async throws {
        let clock = self.clock
        let app = Application(router: makePoolRouter(store: store, config: config, now: { clock.now }))
        do {
            try await app.test(.router) { client in
                try await body(PoolClientForTests(client: client))
            }
        } catch {
            await db.shutdown()
            throw error
        }
        await db.shutdown()
    }
}

struct PoolClientForTests: Sendable {
    let client: any TestClientProtocol

    static func headers(_ key: SR25519Keypair?) -> HTTPFields {
        var h: HTTPFields = [.contentType: "application/json"]
        if let key {
            for (name, value) in SignedRequest.headers(for: key) {
                h[.init(name)!] = value
            }
        }
        return h
    }

    func call(_ method: HTTPRequest.Method, _ path: String, key: SR25519Keypair? = nil, raw: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> Reply {
        var h = Self.headers(key)
        for f in extra { h[f.name] = f.value }
        let r = try await client.execute(uri: path, method: method, headers: h, body: raw.map { ByteBuffer(string: $0) })
        return Reply(status: r.status, body: Array(r.body.readableBytesView), headers: r.headers)
    }

    func call<B: Encodable>(_ method: HTTPRequest.Method, _ path: String, key: SR25519Keypair?, json: B) async throws -> Reply {
        let data = try JSONBody.encoder().encode(json)
        return try await call(method, path, key: key, raw: String(decoding: data, as: UTF8.self))
    }

    func register(_ key: SR25519Keypair) async throws {
        let r = try await call(.post, PoolPaths.register, key: key)
        #expect(r.status == .ok, "register: \(r.text)")
    }

    func lease(_ key: SR25519Keypair, _ request: LeaseRequest = LeaseRequest(taskType: "scalar_linear")) async throws -> LeaseResponse {
        let r = try await call(.post, PoolPaths.lease, key: key, json: request)
        #expect(r.status == .ok, "lease: \(r.text)")
        return try r.decode(LeaseResponse.self)
    }

    func submit(_ key: SR25519Keypair, _ lease: String, _ s: LeaseSubmission) async throws -> Reply {
        try await call(.post, PoolPaths.submitLease(lease), key: key, json: s)
    }
}

enum Keys {
    static func make(_ n: Int) -> [SR25519Keypair] { (0..<n).map { _ in SR25519Keypair.generate() } }
}
