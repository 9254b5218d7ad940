import Foundation
import Hummingbird
import Metrics
import Prometheus

/// Who may call a route.
public enum AuthClass: String, Sendable {
    case none = "public"
    case miner = "signed hotkey (X-Key, X-Timestamp, X-Signature)"
    case monitor = "X-Monitor-Token"
    case admin = "Authorization: Bearer <admin token>"
    case validator = "registered validator (X-Validator-Hotkey + signed headers)"
}

/// One documented route; the catalogue is the single source of `/openapi.json` and `/docs`.
public struct RouteDoc: Sendable {
    public var method: String
    public var path: String
    public var auth: AuthClass
    public var summary: String
    public var request: JSONValue?
    public var response: JSONValue?
    public var errors: [Int]

    public init(_ method: String, _ path: String, _ auth: AuthClass, _ summary: String,
                request: JSONValue? = nil, response: JSONValue? = nil, errors: [Int] = []) {
        self.method = method
        self.path = path
        self.auth = auth
        self.summary = summary
        self.request = request
        self.response = response
        self.errors = errors
    }
}

public struct APICatalogue: Sendable {
    public var title: String
    public var version: String
    public var routes: [RouteDoc]

    public init(title: String, version: String, routes: [RouteDoc]) {
        self.title = title
        self.version = version
        self.routes = routes
    }

    /// An OpenAPI 3.1 document describing every route, its auth and example bodies.
    public func openAPI() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for r in routes {
            var op: [String: JSONValue] = [
                "summary": .string(r.summary),
                "description": .string("Auth: \(r.auth.rawValue)"),
            ]
            let params = r.path.split(separator: "/").filter { $0.hasPrefix("{") }.map {
                JSONValue.object(["name": .string(String($0.dropFirst().dropLast())), "in": .string("path"),
                                  "required": .bool(true), "schema": .object(["type": .string("string")])])
            }
            if !params.isEmpty { op["parameters"] = .array(params) }
            if let req = r.request {
                op["requestBody"] = .object(["content": .object(["application/json": .object(["example": req])])])
            }
            var responses: [String: JSONValue] = [
                "200": .object(["description": .string("Success")]
                    .merging(r.response.map { ["content": .object(["application/json": .object(["example": $0])])] } ?? [:]) { a, _ in a }),
            ]
            for e in r.errors {
                responses[String(e)] = .object([
                    "description": .string("Error: {\"detail\": string, \"code\": string}"),
                    "content": .object(["application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/Error")])])]),
                ])
            }
            op["responses"] = .object(responses)
            paths[r.path, default: [:]][r.method.lowercased()] = .object(op)
        }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object(["title": .string(title), "version": .string(version)]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object(["schemas": .object(["Error": .object([
                "type": .string("object"),
                "required": .array([.string("detail"), .string("code")]),
                "properties": .object([
                    "detail": .object(["type": .string("string")]),
                    "code": .object(["type": .string("string")]),
                ]),
            ])])]),
        ])
    }

    /// A self-contained HTML page (no external scripts: these machines may be offline).
    public func html() -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        func pretty(_ v: JSONValue) -> String {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            return (try? String(decoding: e.encode(v), as: UTF8.self)) ?? ""
        }
        var rows = ""
        for r in routes {
            rows += "<section><h3><span class=m>\(r.method)</span> <code>\(esc(r.path))</code></h3>"
            rows += "<p>\(esc(r.summary))</p><p class=a>Auth: \(esc(r.auth.rawValue))</p>"
            if let q = r.request { rows += "<details><summary>Request</summary><pre>\(esc(pretty(q)))</pre></details>" }
            if let s = r.response { rows += "<details><summary>Response</summary><pre>\(esc(pretty(s)))</pre></details>" }
            if !r.errors.isEmpty {
                rows += "<p class=a>Errors: \(r.errors.map(String.init).joined(separator: ", ")) — body {\"detail\", \"code\"}</p>"
            }
            rows += "</section>\n"
        }
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>\(esc(title))</title>
            <style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
            section{border-top:1px solid #ddd;padding:.3rem 0}.m{background:#245;color:#fff;padding:.1rem .4rem;border-radius:3px}
            .a{color:#555;font-size:.9rem}pre{background:#f5f5f5;padding:.5rem;overflow:auto}</style></head>
            <body><h1>\(esc(title)) <small>\(esc(version))</small></h1>
            <p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
            \(rows)</body></html>
            """
    }
}

/// Process-wide metrics: swift-metrics bootstrapped once with a Prometheus registry.
public enum Telemetry {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

extension Router {
    /// Adds `/openapi.json`, `/docs` and `/metrics`, plus the JSON error and metrics middleware.
    public func addServiceBasics(catalogue: APICatalogue) {
        _ = Telemetry.registry
        add(middleware: JSONErrorMiddleware<Context>(routes: catalogue.routes))
        add(middleware: MetricsMiddleware<Context>())
        let spec = catalogue.openAPI().encoded()
        let page = catalogue.html()
        get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: spec)))
        }
        get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: Telemetry.registry.emitToBuffer())))
        }
    }
}
