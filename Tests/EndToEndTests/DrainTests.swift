import Foundation
import Hotkeys
import Logging
import PlatformAPI
import PlatformServer
import ServiceKit
import Store
import TestSupport
import Testing

@testable import Validator

/// The validator's WebSocket client and a platform shutting down: the drain's `reconnect`
/// (and close code 1012) is recognised as a request to reconnect at once; an ordinary close is not.
@Suite(.serialized) struct DrainTests {
    static let logger: Logger = {
        var l = Logger(label: "e2e.drain")
        l.logLevel = .error
        return l
    }()

    /// Runs `body` against a platform on SQLite (draining for 0.2 s on stop); `stop` is graceful shutdown.
    static func withPlatform(validator: String,
                             _ body: @escaping @Sendable (_ port: Int, _ hub: EventHub, _ stop: @escaping @Sendable () async -> Void) async throws -> Void)
        async throws
    {
        var config = PlatformConfig()
        config.host = "127.0.0.1"
        config.port = 0
        config.validators = [validator]
        config.sweepIntervalSeconds = nil
        config.drainSeconds = 0.2
        config.database = try await TestDatabases.freshURL(.sqlite)
        let db = try await openDatabase(try DatabaseLocation.parse(config.database), logger: logger)
        let store = PlatformStore(db: db, limits: config.limits, logger: logger)
        try await store.prepare(validators: config.validators, now: Date().timeIntervalSince1970)
        let hub = EventHub(), drain = DrainState()
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let app = try await makePlatformApplication(store: store, hub: hub, config: config, logger: logger, drain: drain,
                                                    onReady: { sink.yield($0) })
        let stopper = ServiceStopper()
        let drainService = platformDrainService(hub: hub, drain: drain, config: config, logger: logger)
        let server = Task { try await stopper.run([app, drainService], logger: logger) }
        var iterator = ports.makeAsyncIterator()
        if let port = await iterator.next() {
            do { try await body(port, hub) { await stopper.stop() } } catch {
                Issue.record("\(error)")
            }
        } else {
            Issue.record("the platform did not start")
        }
        await stopper.stop()
        _ = await server.result
        await store.shutdown()
        await db.shutdown()
    }

    /// Opens a session and waits for its welcome; returns the session's task.
    static func session(_ client: PlatformClient) async throws -> Task<Bool, any Error> {
        let welcomed = FlagBox()
        let task = Task {
            try await client.connectWebSocket(since: nil) { m in
                if case .welcome = m { welcomed.set() }
            }
        }
        for _ in 0..<500 where !welcomed.value { try await Task.sleep(for: .milliseconds(10)) }
        #expect(welcomed.value, "welcome received")
        return task
    }

    @Test func aDrainingPlatformAsksTheValidatorToReconnect() async throws {
        let key = SR25519Keypair.generate()
        try await Self.withPlatform(validator: key.publicKey.ss58Address) { port, hub, stop in
            let client = PlatformClient(baseURL: "http://127.0.0.1:\(port)", keypair: key, logger: Self.logger)
            // An ordinary close (the validator unregistered): not a request to hurry back.
            let first = try await Self.session(client)
            await hub.disconnect(hotkey: key.publicKey.ss58Address)
            #expect(try await first.value == false)
            // The drain: reconnect requested.
            let second = try await Self.session(client)
            await stop()
            #expect(try await second.value == true)
        }
    }
}
