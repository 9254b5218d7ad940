import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import TestSupport
import Testing

/// Hostile input against a live pool (real sockets) on each backend: nothing traps, nothing
/// reaches a 5xx, every refusal is a JSON `{detail, code}`, and `/health` answers after each.
@Suite struct PoolHostileInputTests {
    /// Bare non-finite tokens (as Python writes them) are read as numbers wherever they stand
    /// outside a string, and left alone inside one, escaped quotes included.
    @Test func bareNonFiniteTokensDecodeOutsideStringsOnly() throws {
        struct Body: Decodable { var a: Double; var b: Double; var c: [Double]; var s: String; var t: String }
        let text = #"{"a": -Infinity, "b":NaN, "c": [Infinity, -1.5e3, -0.25], "s": "NaN -Infinity", "t": "x\"Infinity\" N"}"#
        let body = try JSONBody.decode(Body.self, from: Array(text.utf8))
        #expect(body.a == -.infinity)
        #expect(body.b.isNaN)
        #expect(body.c.count == 3 && body.c[0] == .infinity && body.c[1] == -1500 && body.c[2] == -0.25)
        #expect(body.s == "NaN -Infinity")
        #expect(body.t == #"x"Infinity" N"#)
        // A word that only starts like a token is still refused as JSON.
        #expect(throws: APIError.self) { try JSONBody.decode(Body.self, from: Array(#"{"a": Nope}"#.utf8)) }
    }

    /// Runs `body` against a live pool server on an ephemeral port.
    func live(_ h: PoolHarness, _ body: @escaping @Sendable (PoolClientForTests, Int) async throws -> Void) async throws {
        let clock = h.clock
        let app = Application(router: makePoolRouter(store: h.store, config: h.config, now: { clock.now }),
                              server: .http1Refusing())
        do {
            try await app.test(.live) { client in
                guard let port = client.port else { throw StoreError.backend("no port") }
                try await body(PoolClientForTests(client: client), port)
            }
        } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }

    @Test(arguments: TestDatabases.available)
    func hostileHeadersNeverCrashAndAreRefusedAsJSON(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await live(h) { _, port in
            let failures = await HostileRequests.run(port: port, method: "POST", path: PoolPaths.register, key: key)
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    @Test(arguments: TestDatabases.available)
    func extremeNumbersAndNULsAreRefusedAtTheEdgeNamingTheField(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await live(h) { c, _ in
            try await c.register(key)
            let lease = try await c.lease(key)
            let id = try #require(lease.evaluateAlgorithms.first?.id)
            let path = PoolPaths.submitLease(lease.leaseId)
            for iterations in ["3000000000", "9223372036854775807", "9223372036854775808", "1e400", "-1", "18446744073709551616",
                               "1.5", "1e20"] {
                let r = try await c.call(.post, path, key: key,
                                         raw: #"{"evaluations": [{"algorithm_id": \#(id), "score": 0.5}], "iterations": \#(iterations)}"#)
                #expect(r.status == .unprocessableContent && r.error?.code == "invalid_body", "iterations \(iterations): \(r.text)")
                #expect(r.error?.detail.contains("iterations") == true, "iterations \(iterations): \(r.text)")
            }
            // A NUL in an evolution's program, in a gossip task type, in a key.
            let nulBodies = [
                (##"{"evaluations": [], "evolutions": [{"parent_algorithm_ids": [\##(id)], "algorithm_dsl": "# predict\n\u0000s0 = v0"}]}"##,
                 "evolutions[0].algorithm_dsl"),
                (#"{"evaluations": [], "gossip": {"task_type": "scalar\u0000", "algorithm_ids": []}}"#, "gossip.task_type"),
            ]
            for (body, field) in nulBodies {
                let r = try await c.call(.post, path, key: key, raw: body)
                #expect(r.status == .unprocessableContent && r.error?.code == "invalid_text", "\(field): \(r.text)")
                #expect(r.error?.detail.contains(field) == true, "\(field): \(r.text)")
            }
            // A NUL in a query parameter reaches no store either.
            for q in ["task_type=%00", "task_type=scalar_linear%00x", "limit=%00"] {
                let r = try await c.call(.get, "\(PoolPaths.results)?\(q)", key: key)
                #expect((400..<500).contains(Int(r.status.code)) || r.status == .ok, "\(q): \(r.status) \(r.text)")
                #expect(r.error != nil || r.status == .ok)
            }
            let sota = try await c.call(.get, "\(PoolPaths.sota)?task_type=%00")
            #expect(sota.status.code < 500, "\(sota.text)")
            // The lease still completes with a good submission afterwards.
            let good = try await c.submit(key, lease.leaseId, LeaseSubmission(
                evaluations: [EvaluationEntry(algorithmId: id, score: 0.5)], evolutions: [], iterations: 1))
            #expect(good.status == .ok, "\(good.text)")
            // A path with another method answers 405 naming the allowed one.
            let wrong = try await c.call(.delete, PoolPaths.register, key: key)
            #expect(wrong.status == .methodNotAllowed && wrong.error?.code == "method_not_allowed", "\(wrong.text)")
            #expect(wrong.headers[.allow] == "POST")
            #expect(try await c.call(.get, "/health").status == .ok)
        }
    }

    @Test(arguments: TestDatabases.available)
    func oneActiveLeasePerMinerUnderParallelRequests(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let key = SR25519Keypair.generate()
        try await live(h) { c, port in
            try await c.register(key)
            let body = Array(try JSONBody.encoder().encode(LeaseRequest(taskType: "scalar_linear")))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                // Each request on its own connection, so they really run at once (the test
                // client pipelines requests on one connection, one after another).
                for _ in 0..<20 {
                    group.addTask {
                        let headers = SignedRequest.headers(for: key).map { ($0.name, Array($0.value.utf8)) }
                            + [("Content-Type", Array("application/json".utf8))]
                        let reply = try await RawHTTP.exchange(
                            port: port, RawHTTP.request("POST", PoolPaths.lease, headers: headers, body: body), timeoutSeconds: 60)
                        return reply.status ?? 0
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
            #expect(statuses.allSatisfy { $0 < 500 }, "\(statuses)")
        }
    }

    /// A used signature stays used when the pool restarts on the same database.
    @Test(arguments: TestDatabases.available)
    func aSignatureStaysUsedAcrossARestart(_ backend: Backend) async throws {
        let url = try await TestDatabases.freshURL(backend)
        let key = SR25519Keypair.generate()
        var once: HTTPFields = [:]
        for (n, v) in SignedRequest.headers(for: key) { once[.init(n)!] = v }
        let headers = once
        for run in 0..<2 {
            let db = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
            let store = PoolStore(db: db, rules: PoolConfig().rules, algorithms: AlgorithmCatalog())
            try await store.prepare(now: Date().timeIntervalSince1970)
            let app = Application(router: makePoolRouter(store: store, config: PoolConfig()))
            try await app.test(.router) { client in
                let r = try await client.execute(uri: PoolPaths.register, method: .post, headers: headers)
                if run == 0 {
                    #expect(r.status == .ok)
                } else {
                    #expect(r.status == .unauthorized && String(buffer: r.body).contains("auth_replayed"), "\(String(buffer: r.body))")
                }
            }
            await db.shutdown()
        }
    }
}
