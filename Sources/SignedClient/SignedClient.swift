/// # SignedClient
///
/// Owns the one way our clients (the miner's `PoolClient`, the validator's
/// `PlatformClient`) call a JSON HTTP API: the query string built with percent-encoded
/// values, fresh signed headers on every request, a timeout and a cap on the reply, and
/// the reply read as a status plus either JSON or the `{detail, code}` error body (a
/// FastAPI server that sends `detail` alone is read too). Each client maps a `JSONReply`
/// to the errors its own caller acts on.
import AsyncHTTPClient
import Foundation
import Hotkeys
import NIOCore
import NIOHTTP1
import WireJSON

/// The request never got an answer (connection refused, timeout, reply over the cap).
public struct TransportFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A reply: the status, headers and body bytes.
public struct JSONReply: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: ByteBuffer

    public init(status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var succeeded: Bool { (200..<300).contains(status) }

    /// The body as `T` (non-finite numbers accepted as Python writes them).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONCoding.decoder.decode(type, from: Data(body.readableBytesView))
    }

    /// The error's machine code and human detail: from a `{detail, code}` body, else
    /// `http_<status>` and the body's text.
    public var failure: (code: String, detail: String) {
        let data = Data(body.readableBytesView)
        let parsed = try? JSONDecoder().decode(LenientErrorBody.self, from: data)
        return (parsed?.code ?? "http_\(status)", parsed?.detail ?? String(decoding: data, as: UTF8.self))
    }

    /// The `Retry-After` header in whole seconds, when the server sent one.
    public var retryAfterSeconds: Int? { headers.first(name: "Retry-After").flatMap { Int($0) } }

    /// What clients of both services read: `detail` text and an optional code.
    struct LenientErrorBody: Decodable {
        var detail: String
        var code: String?
    }
}

/// JSON encoding for request bodies: non-finite numbers as `"Infinity"`, `"-Infinity"`,
/// `"NaN"` strings, which both services accept.
public enum JSONCoding {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }()
}

/// A query string, `?name=value&…`, values percent-encoded (nil values left out; empty
/// when nothing is left).
public func queryString(_ items: [(name: String, value: String?)]) -> String {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "&=+?#")
    let parts = items.compactMap { item -> String? in
        guard let value = item.value else { return nil }
        let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return "\(item.name)=\(encoded)"
    }
    return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
}

extension HTTPClient {
    /// A client of the services' own APIs on the shared event loops, with request tracing off:
    /// nothing here traces, and AsyncHTTPClient otherwise opens a span per request on the
    /// (no-op) global tracer, parsing the URL again to label it.
    public static func untraced() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

/// Calls one JSON API at `baseURL`.
public struct SignedJSONCaller: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let timeout: TimeAmount
    let maxReplyBytes: Int

    public init(baseURL: String, http: HTTPClient, timeoutSeconds: Int64 = 30, maxReplyBytes: Int = 16 << 20) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.http = http
        self.timeout = .seconds(timeoutSeconds)
        self.maxReplyBytes = maxReplyBytes
    }

    /// Sends `method path` with `body` (JSON) and `headers`, plus fresh signed headers of
    /// `signer` when given. Throws `TransportFailure` when no reply came.
    public func call(_ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [(String, String)] = [],
                     signer: SR25519Keypair? = nil) async throws(TransportFailure) -> JSONReply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let signer {
            for (name, value) in SignedRequest.headers(for: signer) { request.headers.add(name: name, value: value) }
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: maxReplyBytes)
            return JSONReply(status: Int(response.status.code), headers: response.headers, body: bytes)
        } catch {
            throw TransportFailure(description: "\(error)")
        }
    }
}
