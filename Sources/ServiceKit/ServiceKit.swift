/// # ServiceKit
///
/// Owns what every HTTP service of the network shares: the FastAPI-compatible JSON error
/// (`{"detail", "code"}`) and the middleware that turns any thrown error into it, capped
/// JSON body decoding that tolerates Python's `NaN`/`Infinity` tokens, the signed-request
/// check (`X-Key`/`X-Timestamp`/`X-Signature`) on Hummingbird requests, Prometheus
/// metrics at `/metrics`, the route catalogue behind `/openapi.json` and `/docs`, health checks
/// for load balancers (`/health/live`, `/health/ready`), the drain on SIGTERM (`DrainService`)
/// and periodic work done once per period across replicas (`PeriodicTask` + `PeriodicRuns`).
import Foundation
import Hotkeys
import Hummingbird
import Logging
import Store
@_exported import WireJSON

/// An error answered to the client as `{"detail": "...", "code": "..."}` with `status`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let detail: String
    public let code: ErrorCode
    public var retryAfterSeconds: Int?
    public var extra: [String: String]
    /// The `Allow` header of a 405.
    public var allow: String?

    public init(_ status: HTTPResponse.Status, _ code: ErrorCode, _ detail: String, retryAfterSeconds: Int? = nil,
                extra: [String: String] = [:]) {
        self.status = status
        self.code = code
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
        self.extra = extra
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    public static func badRequest(_ code: ErrorCode, _ detail: String) -> APIError { .init(.badRequest, code, detail) }
    public static func notFound(_ code: ErrorCode, _ detail: String) -> APIError { .init(.notFound, code, detail) }
    public static func unprocessable(_ code: ErrorCode, _ detail: String) -> APIError {
        .init(.unprocessableContent, code, detail)
    }
    public static func conflict(_ code: ErrorCode, _ detail: String) -> APIError { .init(.conflict, code, detail) }
    public static func unauthorized(_ code: ErrorCode, _ detail: String) -> APIError { .init(.unauthorized, code, detail) }
    public static func forbidden(_ code: ErrorCode, _ detail: String) -> APIError { .init(.forbidden, code, detail) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: JSONValue] = ["detail": .string(detail), "code": .string(code.rawValue)]
        if let retryAfterSeconds { body["retry_after_s"] = .number(Double(retryAfterSeconds)) }
        for (k, v) in extra { body[k] = .string(v) }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        if let allow { headers[.allow] = allow }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).encoded())))
    }
}

extension APIError {
    /// The HTTP answer for an error that escapes a handler (or a WebSocket upgrade check):
    /// an `APIError` as is, an `AuthFailure` as 401 with its code, a NUL in text as 422, a
    /// write conflict that outlived its retries as 503 with Retry-After, a cancelled request
    /// (shutdown) as 503, anything else as a 500 that tells nothing of the cause.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let api as APIError: return api
        case let failure as AuthFailure: return APIError(.unauthorized, ErrorCode(failure.code), failure.description)
        case StoreError.invalidText:
            return .unprocessable(ErrorCode.invalidText, "Text in the request (path, query or body) must not contain a NUL character")
        case StoreError.conflict:
            return APIError(.serviceUnavailable, ErrorCode.writeConflict, "The database is busy with conflicting writes; retry the same request",
                            retryAfterSeconds: 1)
        case is CancellationError: return APIError(.serviceUnavailable, ErrorCode.cancelled, "The server is shutting down")
        default: return APIError(.internalServerError, ErrorCode.internalError, "Internal server error")
        }
    }
}

/// The wire shape of an error, for clients.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var detail: String
    public var code: String
}

/// Turns every error a handler throws into an `APIError` response, and logs server faults.
/// Given the service's documented routes, a path that exists under other methods answers
/// 405 with `Allow` instead of 404.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    private let routes: [(method: String, segments: [Substring])]

    public init(routes: [RouteDoc] = []) {
        self.routes = routes.map { r in
            let path = r.path.split(separator: "?", maxSplits: 1).first ?? ""
            return (r.method, path.split(separator: "/"))
        }
    }

    /// Methods documented for `path` (`{name}` segments match any one segment).
    func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/")
        return routes.filter { r in
            r.segments.count == parts.count
                && zip(r.segments, parts).allSatisfy { t, p in (t.hasPrefix("{") && t.hasSuffix("}")) || t == p }
        }.map(\.method)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let code: ErrorCode
            switch error.status {
            case .notFound: code = .notFound
            case .contentTooLarge: code = .bodyTooLarge
            case .methodNotAllowed: code = .methodNotAllowed
            case .badRequest: code = .badRequest
            default: code = ErrorCode("http_\(error.status.code)")
            }
            if error.status == .notFound, error.body == nil {
                let allowed = Array(Set(methods(for: request.uri.path))).sorted()
                if !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
                    var refusal = APIError(.methodNotAllowed, ErrorCode.methodNotAllowed,
                                           "\(request.method) is not allowed on \(request.uri.path); use \(allowed.joined(separator: ", "))")
                    refusal.allow = allowed.joined(separator: ", ")
                    throw refusal
                }
            }
            let detail = error.body ?? (error.status == .notFound
                ? "No route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            throw APIError(error.status, code, detail)
        } catch {
            let answer = APIError.from(error)
            if answer.status == .internalServerError {
                context.logger.error("unhandled error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            } else if answer.code == ErrorCode.writeConflict {
                context.logger.warning("write conflict after retries", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            throw answer
        }
    }
}

/// Request helpers every service uses.
extension Request {
    /// Looks a header up by name, case-insensitively.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.canonicalName == lower }?.value
    }

    /// Decodes a JSON body of at most `maxBytes`. An empty body decodes as `{}`.
    /// Python's bare `NaN`, `Infinity` and `-Infinity` tokens are accepted as numbers.
    public func decodeJSON<T: Decodable>(_ type: T.Type, maxBytes: Int = 1 << 20) async throws -> T {
        let body = self.body
        let buffer: ByteBuffer
        do { buffer = try await body.collect(upTo: maxBytes) } catch {
            throw APIError(.contentTooLarge, ErrorCode.bodyTooLarge, "Request body exceeds \(maxBytes) bytes")
        }
        var bytes = Array(buffer.readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { bytes = Array("{}".utf8) }
        return try JSONBody.decode(type, from: bytes)
    }

    /// A text query parameter, or nil when absent: 422 when it is empty, longer than
    /// `maxBytes` or holds a control character.
    public func textQuery(_ name: String, maxBytes: Int) throws -> String? {
        guard let text = uri.queryParameters[Substring(name)] else { return nil }
        guard !text.isEmpty, text.utf8.count <= maxBytes, !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw APIError.unprocessable(ErrorCode.invalidQuery,
                                         "Query parameter \(name) must be 1...\(maxBytes) bytes of text without control characters")
        }
        return String(text)
    }

    /// A query parameter parsed as an integer within `range`, or `defaultValue` when absent.
    public func intQuery(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = uri.queryParameters[Substring(name)] else { return defaultValue }
        guard let v = Int(text), range.contains(v) else {
            throw APIError.unprocessable(ErrorCode.invalidQuery, "Query parameter \(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }
}

/// JSON encoding and decoding with the project's conventions (snake_case fields declared
/// by CodingKeys, ISO-8601 dates, non-finite numbers as Python writes them).
public enum JSONBody {
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        decoder.dateDecodingStrategy = .iso8601
        let data = Data(quoteNonFiniteTokens(bytes))
        let value: T
        do {
            value = try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            if case let .dataCorrupted(ctx) = error, ctx.codingPath.isEmpty, let detail = numberError(type, bytes, decoder) {
                throw APIError.unprocessable(ErrorCode.invalidBody, detail)
            }
            throw APIError.unprocessable(ErrorCode.invalidBody, describe(error))
        }
        // No text with a NUL reaches a store (PostgreSQL cannot hold one): name the field.
        if mayHoldNUL(bytes), let json = try? decoder.decode(JSONValue.self, from: data), let field = json.pathToNUL() {
            throw APIError.unprocessable(ErrorCode.invalidText, "Field \(field) must not contain a NUL character (\\u0000)")
        }
        return value
    }

    /// Names the number the decoder refused without saying where (it reports a number that
    /// fits no field type as "not valid JSON"): the first that fits neither Int64 nor a
    /// finite double, or else the first whose replacement by `0` lets the body decode (a
    /// fraction where an integer belongs). Runs only on that error path.
    static func numberError<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ decoder: JSONDecoder) -> String? {
        let numbers = numberTokens(bytes)
        for (path, range) in numbers {
            let token = String(decoding: bytes[range], as: UTF8.self)
            let integral = !token.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
            let fits: Bool
            if integral { fits = Int64(token) != nil } else if let d = Double(token), d.isFinite {
                // Integral-valued but past Int64 (`1e20`) cannot be an integer field either.
                fits = d.rounded() != d || abs(d) < 9.2e18
            } else { fits = false }
            if !fits { return "Field \(path): the number \(token.prefix(40)) is out of range" }
        }
        for (path, range) in numbers.prefix(200) {
            var patched = bytes
            patched.replaceSubrange(range, with: [UInt8(ascii: "0")])
            do { _ = try decoder.decode(type, from: Data(quoteNonFiniteTokens(patched))) } catch let DecodingError.dataCorrupted(ctx)
                where ctx.codingPath.isEmpty { continue } catch {}
            let token = String(decoding: bytes[range], as: UTF8.self)
            return "Field \(path): expected an integer, got \(token.prefix(40))"
        }
        return nil
    }

    /// Every number of a JSON text with its path (`a.b[2]`, `body` for the top).
    static func numberTokens(_ bytes: [UInt8]) -> [(String, Range<Int>)] {
        struct Frame { var isObject: Bool; var key = ""; var index = 0; var expectingKey = true }
        var stack: [Frame] = []
        var found: [(String, Range<Int>)] = []
        func path() -> String {
            var out = ""
            for f in stack {
                if f.isObject { out += out.isEmpty ? f.key : ".\(f.key)" } else { out += "[\(f.index)]" }
            }
            return out.isEmpty ? "body" : out
        }
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"): stack.append(Frame(isObject: true))
            case UInt8(ascii: "["): stack.append(Frame(isObject: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","):
                if let last = stack.indices.last {
                    if stack[last].isObject { stack[last].expectingKey = true } else { stack[last].index += 1 }
                }
            case UInt8(ascii: "\""):
                var j = i + 1
                var text: [UInt8] = []
                while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
                    if bytes[j] == UInt8(ascii: "\\") { j += 1 }
                    if j < bytes.count { text.append(bytes[j]) }
                    j += 1
                }
                if let last = stack.indices.last, stack[last].isObject, stack[last].expectingKey {
                    stack[last].key = String(decoding: text, as: UTF8.self)
                    stack[last].expectingKey = false
                }
                i = j
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var j = i
                while j < bytes.count, "+-.eE0123456789".utf8.contains(bytes[j]) { j += 1 }
                found.append((path(), i..<j))
                i = j - 1
            default: break
            }
            i += 1
        }
        return found
    }

    /// Whether the JSON text spells a NUL escape (`\u0000`); a cheap pre-check
    /// before the body is walked for the field holding it.
    static func mayHoldNUL(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 6 else { return false }
        var i = 0
        while i + 5 < bytes.count {
            if bytes[i] == 0x5C, bytes[i + 1] == 0x75, bytes[i + 2] == 0x30, bytes[i + 3] == 0x30,
                bytes[i + 4] == 0x30, bytes[i + 5] == 0x30
            {
                return true
            }
            i += 1
        }
        return false
    }

    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    /// Rewrites bare `NaN`, `Infinity`, `-Infinity` outside strings as quoted strings, so the
    /// standard decoder's non-conforming-float strategy can read them.
    static func quoteNonFiniteTokens(_ input: [UInt8]) -> [UInt8] {
        let tokens: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        var out: [UInt8] = []
        out.reserveCapacity(input.count + 8)
        var i = 0
        var inString = false
        var escaped = false
        outer: while i < input.count {
            let c = input[i]
            if inString {
                out.append(c)
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
                i += 1
                continue
            }
            if c == 0x22 {
                inString = true
                out.append(c)
                i += 1
                continue
            }
            // Only `-`, `I` and `N` can start a token: every other byte is copied at once.
            guard c == 0x2D || c == 0x49 || c == 0x4E else {
                out.append(c)
                i += 1
                continue
            }
            for t in tokens where input.count - i >= t.count && input[i..<(i + t.count)].elementsEqual(t) {
                out.append(0x22)
                out.append(contentsOf: t)
                out.append(0x22)
                i += t.count
                continue outer
            }
            out.append(c)
            i += 1
        }
        return out
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ ctx: DecodingError.Context) -> String {
            let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "body" : p
        }
        switch error {
        case let .keyNotFound(key, ctx):
            let parent = path(ctx)
            return "Missing field '\(key.stringValue)'" + (parent == "body" ? "" : " in \(parent)")
        case let .typeMismatch(type, ctx): return "Field \(path(ctx)): expected \(type)"
        case let .valueNotFound(type, ctx): return "Field \(path(ctx)): expected \(type), got null"
        case let .dataCorrupted(ctx):
            if ctx.codingPath.isEmpty { return "Body is not valid JSON" }
            return "Field \(path(ctx)): \(ctx.debugDescription)"
        @unknown default: return "Invalid body"
        }
    }
}

/// A JSON response from any `Encodable` value, with a chosen status.
public struct JSONResponse<T: Encodable & Sendable>: ResponseGenerator {
    public let value: T
    public let status: HTTPResponse.Status

    public init(_ value: T, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonAnswer(status: status, body: try JSONBody.encoder().encode(value))
    }
}

/// A JSON answer encoded already, by `JSONBody.encoder()` as `JSONResponse` would encode
/// `value`: a store that keeps an answer for an identical retry sends the bytes it kept
/// instead of encoding the same value twice.
public struct EncodedJSONResponse<T: Sendable>: ResponseGenerator, Sendable {
    public let value: T
    public let body: [UInt8]
    public let status: HTTPResponse.Status

    public init(_ value: T, body: [UInt8], status: HTTPResponse.Status = .ok) {
        self.value = value
        self.body = body
        self.status = status
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonAnswer(status: status, body: body)
    }
}

private func jsonAnswer(status: HTTPResponse.Status, body: some Sequence<UInt8>) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
}

/// Checks the signed-request headers of a Hummingbird request.
extension RequestAuthenticator {
    /// The caller's public key, once per signature. A refused signature throws its
    /// `AuthFailure` (a 401 with its code); see `use` for a ledger that cannot be reached.
    public func authenticate(_ request: Request, now: Date = Date(),
                             message: (String) -> [UInt8] = SignedRequest.message(timestamp:)) async throws -> SR25519PublicKey {
        let verified = try verify(header: { request.header($0) }, now: now, message: message)
        try await use(verified, now: now)
        return verified.publicKey
    }

    /// `consume` as a service answers it: a replay throws `AuthFailure.replayed` (401); a
    /// replay ledger (the database) that cannot be reached is a 503 the client may retry
    /// with a new signature.
    public func use(_ verified: VerifiedSignature, now: Date = Date()) async throws {
        do { try await consume(verified, now: now) } catch is StoreError {
            throw APIError(.serviceUnavailable, ErrorCode.authUnavailable,
                           "Cannot check the request signature right now; retry shortly with a new signature",
                           retryAfterSeconds: 1)
        }
    }
}
