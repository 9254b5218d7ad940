import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import Store
import TestSupport
import ServiceKit
import Testing

/// Hostile input against a live platform (real sockets) on each backend: nothing traps,
/// nothing reaches a 5xx, every refusal is a JSON `{detail, code}`, limits hold under
/// parallel requests, and a signature is used once across HTTP, WebSocket and query
/// credentials.
@Suite struct PlatformHostileInputTests {
    @Test(arguments: TestDatabases.available)
    func hostileHeadersNeverCrashAndAreRefusedAsJSON(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        try await h.runLive { c, port in
            let ch = try await c.createChallenge()
            let failures = await HostileRequests.run(port: port, method: "POST", path: PlatformPaths.submissions(ch.id),
                                                     key: SR25519Keypair.generate())
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    @Test(arguments: TestDatabases.available)
    func extremeNumbersAndNULsAreRefusedAtTheEdgeNamingTheField(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        let miner = SR25519Keypair.generate()
        try await h.runLive { c, _ in
            let ch = try await c.createChallenge()
            // NUL in a submission's code.
            let code = try await c.call(.post, PlatformPaths.submissions(ch.id), as: .miner(miner), raw: #"{"code": "print(1)\u0000"}"#)
            #expect(code.status == .unprocessableContent && code.error?.code == "invalid_text", "\(code.text)")
            #expect(code.error?.detail.contains("code") == true)
            // NUL in a challenge name, out-of-range numbers in a challenge.
            let base = #""github_repo": "https://github.com/o/r", "github_commit": "0123456789abcdef", "compose_hash": "sha256:abc""#
            let nulName = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin,
                                           raw: #"{"name": "x\u0000y", \#(base), "mechanism_id": 2, "emission_share": 0.1}"#)
            #expect(nulName.status == .unprocessableContent && nulName.error?.detail.contains("name") == true, "\(nulName.text)")
            for (field, value) in [("mechanism_id", "3000000000"), ("mechanism_id", "-1"), ("validators_per_submission", "3000000000"),
                                   ("max_retries", "9223372036854775807"), ("claim_timeout_s", "1e20"),
                                   ("claim_timeout_s", "9223372036854775808"), ("emission_share", "1e400"),
                                   ("emission_share", "-0.5")] {
                var fields = [#""name": "n-\#(UUID().uuidString.prefix(6))""#, base, #""mechanism_id": 2"#, #""emission_share": 0.1"#]
                fields.removeAll { $0.hasPrefix("\"\(field)\"") }
                fields.append("\"\(field)\": \(value)")
                let r = try await c.call(.post, PlatformPaths.adminChallenges, as: .admin, raw: "{\(fields.joined(separator: ", "))}")
                #expect((400..<500).contains(Int(r.status.code)) && r.error != nil, "\(field)=\(value): \(r.status) \(r.text)")
                #expect(r.error?.detail.contains(field) == true, "\(field)=\(value): \(r.text)")
            }
            // A job result with a NUL in its error, its logs and a metric name; extreme times.
            let s = try await c.submit(miner, ch.id)
            let job = s.jobs[0].id
            #expect(try await c.claim(v, job).status == .ok)
            for (body, field) in [(#"{"error": "boom\u0000"}"#, "error"), (#"{"score": 0.5, "logs": ["a", "\u0000"]}"#, "logs[1]"),
                                  (#"{"score": 0.5, "metrics": {"a\u0000": 1}}"#, "metrics.a")] {
                let r = try await c.call(.post, PlatformPaths.results(job), as: .validator(v), raw: body)
                #expect(r.status == .unprocessableContent && r.error?.code == "invalid_text", "\(field): \(r.text)")
                #expect(r.error?.detail.contains(field) == true, "\(field): \(r.text)")
            }
            for t in ["-1", "9223372036854775808", "1e300"] {
                let r = try await c.call(.post, PlatformPaths.results(job), as: .validator(v), raw: #"{"score": 0.5, "execution_time_ms": \#(t)}"#)
                #expect((400..<500).contains(Int(r.status.code)) && r.error != nil, "execution_time_ms \(t): \(r.status) \(r.text)")
            }
            let done = try await c.call(.post, PlatformPaths.results(job), as: .validator(v),
                                        raw: #"{"score": 0.5, "execution_time_ms": 9223372036854775807}"#)
            #expect(done.status == .noContent, "\(done.text)")
            // NUL and garbage in path and query parameters.
            for path in ["/submissions/%00", "/challenges/%00/leaderboard", "/mechanisms/%00/weights",
                         "/challenges/\(ch.id)/leaderboard?limit=%00", "/mechanisms/99999999999999999999/weights"] {
                let r = try await c.call(.get, path)
                #expect((400..<500).contains(Int(r.status.code)) && r.error != nil, "\(path): \(r.status) \(r.text)")
            }
            let wrong = try await c.call(.put, PlatformPaths.submissions(ch.id), as: .miner(miner))
            #expect(wrong.status == .methodNotAllowed && wrong.error?.code == "method_not_allowed", "\(wrong.text)")
            #expect(try await c.call(.get, PlatformPaths.health).status == .ok)
        }
    }

    @Test(arguments: TestDatabases.available)
    func theOpenSubmissionCapHoldsUnderParallelSubmissions(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) { $0.limits.maxOpenSubmissionsPerMiner = 10 }
        let miner = SR25519Keypair.generate()
        try await h.runLive { c, port in
            let ch = try await c.createChallenge()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                // Each request on its own connection, so they really run at once (the test
                // client pipelines requests on one connection, one after another).
                for i in 0..<30 {
                    group.addTask {
                        let headers = PlatformClient.headers(.miner(miner)).map { ($0.name.rawName, Array($0.value.utf8)) }
                        let body = Array(try JSONBody.encoder().encode(SubmissionPayload(code: "print(\(i))")))
                        let reply = try await RawHTTP.exchange(
                            port: port, RawHTTP.request("POST", PlatformPaths.submissions(ch.id), headers: headers, body: body),
                            timeoutSeconds: 60)
                        return reply.status ?? 0
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 10, "\(statuses.sorted())")
            #expect(statuses.filter { $0 == 429 }.count == 20, "\(statuses.sorted())")
        }
    }

    /// The upgrade request of a WebSocket to `hotkey`'s path, with `headers` and `query`.
    static func upgrade(_ hotkey: String, headers: HostileRequests.Headers, query: String = "") -> [UInt8] {
        RawHTTP.request("GET", PlatformPaths.validatorSocket(hotkey) + query, headers: headers + [
            ("Upgrade", Array("websocket".utf8)), ("Connection", Array("Upgrade".utf8)),
            ("Sec-WebSocket-Key", Array("dGhlIHNhbXBsZSBub25jZQ==".utf8)), ("Sec-WebSocket-Version", Array("13".utf8)),
        ]).replacing(Array("Connection: close\r\n".utf8), with: [])
    }

    @Test(arguments: TestDatabases.available)
    func aSignatureIsUsedOnceAcrossHTTPWebSocketAndQueryCredentials(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        let hotkey = v.publicKey.ss58Address
        try await h.runLive { c, port in
            func signed() -> [(name: String, value: String)] { SignedRequest.headers(for: v) }
            func asHeaders(_ s: [(name: String, value: String)]) -> HostileRequests.Headers {
                s.map { ($0.name, Array($0.value.utf8)) } + [(PlatformHeaders.validatorHotkey, Array(hotkey.utf8))]
            }
            func asQuery(_ s: [(name: String, value: String)]) -> String {
                let v = Dictionary(uniqueKeysWithValues: s.map { ($0.name, $0.value) })
                return "?key=\(v["X-Key"] ?? "")&timestamp=\(v["X-Timestamp"] ?? "")&signature=\(v["X-Signature"] ?? "")"
            }

            // Used on plain HTTP, then offered to the WebSocket upgrade: refused, as JSON.
            let first = signed()
            var fields: HTTPFields = [:]
            for (n, value) in first { fields[.init(n)!] = value }
            #expect(try await c.call(.get, PlatformPaths.pendingJobs, as: .anonymous,
                                     headers: fields.appending([.init(PlatformHeaders.validatorHotkey)!: hotkey])).status == .ok)
            let again = try await RawHTTP.exchange(port: port, Self.upgrade(hotkey, headers: asHeaders(first)))
            #expect(again.status == 401 && again.text.contains("auth_replayed"), "\(again.head) \(again.text)")

            // Used by a WebSocket through query parameters, then offered as headers, then as query again.
            let second = signed()
            let opened = try await RawHTTP.exchange(port: port, Self.upgrade(hotkey, headers: [], query: asQuery(second)))
            #expect(opened.status == 101, "\(opened.head)")
            var reuse: HTTPFields = [.init(PlatformHeaders.validatorHotkey)!: hotkey]
            for (n, value) in second { reuse[.init(n)!] = value }
            let viaHeaders = try await c.call(.get, PlatformPaths.pendingJobs, as: .anonymous, headers: reuse)
            #expect(viaHeaders.status == .unauthorized && viaHeaders.error?.code == "auth_replayed", "\(viaHeaders.text)")
            let viaQuery = try await RawHTTP.exchange(port: port, Self.upgrade(hotkey, headers: [], query: asQuery(second)))
            #expect(viaQuery.status == 401 && viaQuery.text.contains("auth_replayed"), "\(viaQuery.head) \(viaQuery.text)")

            // A refused upgrade (bad signature, unknown validator) answers JSON with its reason.
            var forged = signed()
            forged[2] = SignedRequest.headers(for: SR25519Keypair.generate())[2]
            let bad = try await RawHTTP.exchange(port: port, Self.upgrade(hotkey, headers: asHeaders(forged)))
            #expect(bad.status == 401 && HostileRequests.isJSONError(bad, 401...401) && bad.text.contains("auth_bad_signature"),
                    "\(bad.head) \(bad.text)")
            let stranger = SR25519Keypair.generate()
            let unknown = try await RawHTTP.exchange(port: port, Self.upgrade(
                stranger.publicKey.ss58Address,
                headers: SignedRequest.headers(for: stranger).map { ($0.name, Array($0.value.utf8)) }))
            #expect(unknown.status == 403 && HostileRequests.isJSONError(unknown, 403...403), "\(unknown.head) \(unknown.text)")
            #expect(try await c.call(.get, PlatformPaths.health).status == .ok)
        }
    }
}

extension HTTPFields {
    func appending(_ other: HTTPFields) -> HTTPFields {
        var copy = self
        for f in other { copy[f.name] = f.value }
        return copy
    }
}
