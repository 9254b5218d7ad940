import Foundation
import Hotkeys

/// The hostile-input battery both services face in their tests: every way of writing the
/// signed-request headers wrong, extreme timestamps, oversized and non-UTF-8 headers, each
/// sent over a raw socket, and after each one a check that the service still answers
/// `/health`. `run` returns one line per broken expectation (empty when all held).
public enum HostileRequests {
    /// Header lines as (name, raw value bytes), so a value can hold any bytes.
    public typealias Headers = [(String, [UInt8])]

    /// Header sets that must each be refused with 401 and a JSON `{detail, code}`.
    public static func authCases(_ key: SR25519Keypair) -> [(label: String, headers: Headers)] {
        func signed(_ edit: (inout [(name: String, value: String)]) -> Void = { _ in }) -> Headers {
            var h = SignedRequest.headers(for: key)
            edit(&h)
            return h.map { ($0.name, Array($0.value.utf8)) }
        }
        var cases: [(String, Headers)] = [
            ("no headers", []),
            ("key only", Array(signed().prefix(1))),
            ("no signature", Array(signed().prefix(2))),
        ]
        for ts in ["-9223372036854775808", "9223372036854775807", "-9223372036854775807", "9223372036854775808",
                   "99999999999999999999999999", "-1", "0", "1e9", "0x65", "+-1", "", " ", String(repeating: "7", count: 4000)] {
            cases.append(("timestamp \(ts.prefix(24))", signed { $0[1].value = ts }))
        }
        let alias = (try? SS58.twoByteSpelling(publicKey: key.publicKey.bytes)) ?? ""
        for k in [alias, "", "5", "0x" + key.publicKey.hex, key.publicKey.ss58Address + "A",
                  String(key.publicKey.ss58Address.dropLast()), String(repeating: "1", count: 50),
                  String(repeating: "z", count: 5000)] {
            cases.append(("key \(k.prefix(24))", signed { $0[0].value = k }))
        }
        for s in ["", "0x", "0x0", "zz", String(repeating: "0", count: 128), String(repeating: "f", count: 130),
                  String(repeating: "ab", count: 3000)] {
            cases.append(("signature \(s.prefix(24))", signed { $0[2].value = s }))
        }
        // Not UTF-8 at all, in each header.
        for i in 0..<3 {
            var h = signed()
            h[i].1 = [0xFF, 0xFE, 0xC3, 0x28, 0x80] + h[i].1
            cases.append(("invalid UTF-8 in \(h[i].0)", h))
        }
        // Another key's signature.
        let other = SignedRequest.headers(for: SR25519Keypair.generate())
        cases.append(("foreign signature", signed { $0[2].value = other[2].value }))
        return cases
    }

    /// Whether `reply` is an error with a status in `statuses` and a JSON `{detail, code}` body.
    public static func isJSONError(_ reply: RawHTTPReply, _ statuses: ClosedRange<Int>) -> Bool {
        guard let status = reply.status, statuses.contains(status),
            let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any],
            object["detail"] is String, object["code"] is String
        else { return false }
        return true
    }

    /// Sends the battery to `method path` on 127.0.0.1:`port`.
    public static func run(port: Int, method: String, path: String, key: SR25519Keypair) async -> [String] {
        var failures: [String] = []
        func healthy() async -> Bool {
            let r = try? await RawHTTP.exchange(port: port, RawHTTP.request("GET", "/health"))
            return r?.status == 200
        }
        /// Sends `headers`, expects a JSON error with a status in `statuses`, then a healthy service.
        func expectRefusal(_ label: String, _ headers: Headers, _ statuses: ClosedRange<Int>) async {
            do {
                let r = try await RawHTTP.exchange(port: port, RawHTTP.request(method, path, headers: headers))
                if !isJSONError(r, statuses) {
                    failures.append("\(label): expected a \(statuses) JSON error, got \(r.status.map(String.init) ?? "no status") \(r.text.prefix(200))")
                }
            } catch {
                failures.append("\(label): \(error)")
            }
            if !(await healthy()) { failures.append("\(label): /health does not answer afterwards") }
        }
        for (label, headers) in authCases(key) { await expectRefusal(label, headers, 400...401) }
        // Oversized head: one 100 KB header, then 2,000 small ones.
        await expectRefusal("100 KB header", [("X-Key", [UInt8](repeating: 0x41, count: 100_000))], 400...431)
        await expectRefusal("2000 headers", (0..<2000).map { ("X-Filler-\($0)", Array("value".utf8)) }, 400...431)
        // A body that is not UTF-8, and one that is not JSON, behind valid signatures.
        for body in [[0xFF, 0xFE, 0x7B, 0x7D] as [UInt8], Array("{\"a\": ".utf8), Array("[[[[[[[[[[".utf8)] {
            let headers = SignedRequest.headers(for: key).map { ($0.name, Array($0.value.utf8)) } + [("Content-Type", Array("application/json".utf8))]
            do {
                let r = try await RawHTTP.exchange(port: port, RawHTTP.request(method, path, headers: headers, body: body))
                if let s = r.status, s >= 500 { failures.append("body \(body.prefix(4)): \(s) \(r.text.prefix(200))") }
            } catch {
                failures.append("body \(body.prefix(4)): \(error)")
            }
        }
        if !(await healthy()) { failures.append("/health does not answer at the end") }
        return failures
    }
}
