import Foundation
import Hummingbird
import Metrics
import Prometheus

/// Who may call a route.
public enum AuthClass: String, Sendable {
    case none = "public"
    case miner = "signed hotkey (X-Key, X-Timestamp, X-Signature)"
    case recipient = "signed hotkey (X-Key, X-Timestamp, X-Signature over recipient_coldkey:update:{X-Timestamp}:{recipient_coldkey})"
    case monitor = "X-Monitor-Token (when the server has a monitor token)"
    case admin = "Authorization: Bearer <admin token>"
    case validator = "registered validator (X-Validator-Hotkey + signed headers)"
    case validatorSocket = "registered validator (signed headers, or key/timestamp/signature query parameters)"

    /// OpenAPI security requirements (alternatives; schemes within one are all required).
    var security: [[String]]? {
        let signed = ["HotkeyKey", "HotkeyTimestamp", "HotkeySignature"]
        switch self {
        case .none: return nil
        case .miner, .recipient, .validatorSocket: return [signed]
        case .validator: return [["ValidatorHotkey"] + signed]
        case .monitor: return [["MonitorToken"], []]
        case .admin: return [["AdminToken"]]
        }
    }

    /// Statuses the auth check itself answers.
    var errors: [Int] {
        switch self {
        case .none: return []
        case .miner, .recipient, .monitor: return [401]
        case .validator, .admin: return [401, 403]
        case .validatorSocket: return [400, 401, 403]
        }
    }

    static let securitySchemes: [String: JSONValue] = [
        "HotkeyKey": apiKey("X-Key", "SS58 address of the caller's SR25519 hotkey"),
        "HotkeyTimestamp": apiKey("X-Timestamp", "Unix seconds; must be within the server's window (default 300 s)"),
        "HotkeySignature": apiKey(
            "X-Signature", "0x-prefixed hex SR25519 signature (context `substrate`) of `auth:{X-Timestamp}`; each triple is accepted once"),
        "ValidatorHotkey": apiKey("X-Validator-Hotkey", "SS58 hotkey of a registered validator; must equal X-Key"),
        "MonitorToken": apiKey("X-Monitor-Token", "Monitor token, required only when the server is configured with one"),
        "AdminToken": .object(["type": .string("http"), "scheme": .string("bearer"),
                               "description": .string("The admin token; without one configured the admin API answers 403")]),
    ]

    private static func apiKey(_ header: String, _ description: String) -> JSONValue {
        .object(["type": .string("apiKey"), "in": .string("header"), "name": .string(header),
                 "description": .string(description)])
    }
}

/// A path, query or header parameter of a route.
public struct ParamDoc: Sendable {
    /// Where the parameter travels: in the path, the query string or a header.
    public enum Location: String, Sendable { case path, query, header }
    public var name: String
    public var location: Location
    public var schema: JSONSchema
    public var required: Bool
    public var description: String?
    /// An example value (fuzzers start from it).
    public var example: JSONValue?

    public init(_ name: String, in location: Location, _ schema: JSONSchema, required: Bool = false,
                description: String? = nil, example: JSONValue? = nil) {
        self.name = name
        self.location = location
        self.schema = schema
        self.required = location == .path || required
        self.description = description
        self.example = example
    }

    public static func query(_ name: String, _ schema: JSONSchema, _ description: String? = nil,
                             required: Bool = false) -> ParamDoc {
        ParamDoc(name, in: .query, schema, required: required, description: description)
    }

    public static func path(_ name: String, _ schema: JSONSchema, _ description: String? = nil,
                            example: JSONValue? = nil) -> ParamDoc {
        ParamDoc(name, in: .path, schema, description: description, example: example)
    }

    public static func header(_ name: String, _ schema: JSONSchema, _ description: String? = nil) -> ParamDoc {
        ParamDoc(name, in: .header, schema, description: description)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name), "in": .string(location.rawValue), "schema": schema.json]
        if required { o["required"] = .bool(true) }
        if let description { o["description"] = .string(description) }
        if let example { o["example"] = example }
        return .object(o)
    }
}

/// An OpenAPI link: a value of this route's success response feeds a parameter of another
/// route (lets stateful fuzzers follow ids, e.g. a lease id into its submit).
public struct LinkDoc: Sendable {
    public var name: String
    public var method: String
    public var path: String
    /// Target parameter name → runtime expression, e.g. `"id": "$response.body#/id"`.
    public var parameters: [String: String]

    public init(_ name: String, to method: String, _ path: String, _ parameters: [String: String]) {
        self.name = name
        self.method = method
        self.path = path
        self.parameters = parameters
    }
}

/// One documented route; the catalogue is the single source of `/openapi.json` and `/docs`.
public struct RouteDoc: Sendable {
    public var method: String
    public var path: String
    public var auth: AuthClass
    public var summary: String
    /// The success status the handler answers (201 for creates, 204 without a body, …).
    public var status: Int
    /// Other success statuses (a PUT answering 201 when it created and 200 otherwise).
    public var alsoSucceeds: [Int]
    /// Schema of the JSON request body; nil for routes that read no body.
    public var body: JSONSchema?
    /// Example request body.
    public var request: JSONValue?
    /// Schema of the success response body.
    public var returns: JSONSchema?
    /// Example success response body.
    public var response: JSONValue?
    /// Content type of the success response.
    public var produces: String
    /// Query and header parameters, and path parameters that are not plain strings.
    public var params: [ParamDoc]
    /// Error statuses beyond those of the auth class (each answered as `{detail, code}`).
    public var errors: [Int]
    /// Links from the success response to other routes.
    public var links: [LinkDoc]

    public init(_ method: String, _ path: String, _ auth: AuthClass, _ summary: String,
                status: Int = 200, alsoSucceeds: [Int] = [],
                body: JSONSchema? = nil, request: JSONValue? = nil,
                returns: JSONSchema? = nil, response: JSONValue? = nil, produces: String = "application/json",
                params: [ParamDoc] = [], errors: [Int] = [], links: [LinkDoc] = []) {
        self.method = method
        self.path = path
        self.auth = auth
        self.summary = summary
        self.status = status
        self.alsoSucceeds = alsoSucceeds
        self.body = body
        self.request = request
        self.returns = returns
        self.response = response
        self.produces = produces
        self.params = params
        self.errors = errors
        self.links = links
    }

    /// Names of the `{…}` segments of `path`.
    public var pathParameterNames: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") && $0.hasSuffix("}") }.map { String($0.dropFirst().dropLast()) }
    }

    /// Every documented success status.
    public var successStatuses: [Int] { [status] + alsoSucceeds.filter { $0 != status } }

    /// Every documented error status: the auth class's and the route's own.
    public var errorStatuses: [Int] { Array(Set(errors + auth.errors)).sorted() }

    /// All parameters, path ones first (plain strings unless `params` says otherwise).
    public var allParameters: [ParamDoc] {
        let declared = Dictionary(params.map { ("\($0.location.rawValue):\($0.name)", $0) }) { a, _ in a }
        let pathParams = pathParameterNames.map { declared["path:\($0)"] ?? .path($0, .string) }
        return pathParams + params.filter { $0.location != .path }
    }

    var operationId: String { Self.operationId(method, path) }

    static func operationId(_ method: String, _ path: String) -> String {
        let parts = path.split(separator: "/").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "{}")) }
        return ([method.lowercased()] + parts).joined(separator: "_")
            .map { $0.isLetter || $0.isNumber || $0 == "_" ? String($0) : "_" }.joined()
    }
}

/// A service's documented API (title, version, routes), served as `/openapi.json` and `/docs`.
public struct APICatalogue: Sendable {
    public var title: String
    public var version: String
    public var routes: [RouteDoc]

    public init(title: String, version: String, routes: [RouteDoc]) {
        self.title = title
        self.version = version
        self.routes = routes
    }

    /// The `{detail, code}` body of every error response.
    public static let errorSchema = JSONSchema.object(
        ["detail": JSONSchema.string.with(.description("Human-readable explanation")),
         "code": JSONSchema.string.with(.description("Stable machine code clients may branch on"))],
        required: ["detail", "code"])
        .with(.description("Every error: FastAPI-compatible `detail` plus a machine `code` (some errors add fields, e.g. retry_after_s)"))

    /// An OpenAPI 3.1 document: every route with its auth, parameters, request-body schema,
    /// success status and response schema, and error statuses with the `APIError` schema.
    public func openAPI() -> JSONValue {
        var components = SchemaComponents()
        components.schemas["APIError"] = Self.errorSchema.json
        let errorRef = JSONValue.object(["$ref": .string("#/components/schemas/APIError")])
        var usedSchemes: Set<String> = []
        var paths: [String: [String: JSONValue]] = [:]
        for r in routes {
            var op: [String: JSONValue] = [
                "operationId": .string(r.operationId),
                "summary": .string(r.summary),
                "description": .string("Auth: \(r.auth.rawValue)"),
            ]
            let params = r.allParameters
            if !params.isEmpty { op["parameters"] = .array(params.map(\.json)) }
            if let body = r.body {
                var media: [String: JSONValue] = ["schema": components.reference(body)]
                if let example = r.request { media["example"] = example }
                // An empty body reads as `{}`: the body is required only when a field is.
                var required = body.object["oneOf"] != nil || body.object["anyOf"] != nil
                if case let .array(names)? = body.object["required"], !names.isEmpty { required = true }
                op["requestBody"] = .object(["required": .bool(required),
                                             "content": .object(["application/json": .object(media)])])
            }
            var responses: [String: JSONValue] = [:]
            for status in r.successStatuses {
                var resp: [String: JSONValue] = ["description": .string(Self.reason(status))]
                if status != 204 && status != 101 {
                    var media: [String: JSONValue] = [:]
                    if let schema = r.returns { media["schema"] = components.reference(schema) }
                    if let example = r.response { media["example"] = example }
                    resp["content"] = .object([r.produces: .object(media)])
                    if !r.links.isEmpty {
                        resp["links"] = .object(Dictionary(r.links.map { link in
                            (link.name, JSONValue.object([
                                "operationId": .string(RouteDoc.operationId(link.method, link.path)),
                                "parameters": .object(link.parameters.mapValues(JSONValue.string)),
                            ]))
                        }) { a, _ in a })
                    }
                }
                responses[String(status)] = .object(resp)
            }
            for e in r.errorStatuses {
                responses[String(e)] = .object([
                    "description": .string(Self.reason(e)),
                    "content": .object(["application/json": .object(["schema": errorRef])]),
                ])
            }
            op["responses"] = .object(responses)
            if let security = r.auth.security {
                op["security"] = .array(security.map { req in .object(Dictionary(uniqueKeysWithValues: req.map { ($0, JSONValue.array([])) })) })
                usedSchemes.formUnion(security.joined())
            }
            paths[r.path, default: [:]][r.method.lowercased()] = .object(op)
        }
        var componentsObject: [String: JSONValue] = ["schemas": .object(components.schemas)]
        let schemes = AuthClass.securitySchemes.filter { usedSchemes.contains($0.key) }
        if !schemes.isEmpty { componentsObject["securitySchemes"] = .object(schemes) }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object(["title": .string(title), "version": .string(version)]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object(componentsObject),
        ])
    }

    /// Titled schemas become `#/components/schemas/{title}` (a differing schema of the same
    /// title gets a numbered name); untitled ones stay inline.
    struct SchemaComponents {
        var schemas: [String: JSONValue] = [:]

        mutating func reference(_ schema: JSONSchema) -> JSONValue {
            guard case let .string(title)? = schema.object["title"] else { return schema.json }
            let base = String(title.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") ? $0 : "_" })
            var name = base
            var n = 2
            while let existing = schemas[name], existing != schema.json {
                name = "\(base)\(n)"
                n += 1
            }
            schemas[name] = schema.json
            return .object(["$ref": .string("#/components/schemas/\(name)")])
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 101: return "Switching Protocols (WebSocket upgrade)"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized: authentication missing or invalid"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 422: return "Unprocessable Content: body or parameters do not decode or are out of range"
        case 429: return "Too Many Requests"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
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
            if let b = r.body { rows += "<details><summary>Request schema</summary><pre>\(esc(pretty(b.json)))</pre></details>" }
            if let q = r.request { rows += "<details><summary>Request example</summary><pre>\(esc(pretty(q)))</pre></details>" }
            rows += "<p class=a>Success: \(r.successStatuses.map(String.init).joined(separator: ", "))</p>"
            if let s = r.response { rows += "<details><summary>Response example</summary><pre>\(esc(pretty(s)))</pre></details>" }
            if !r.errorStatuses.isEmpty {
                rows += "<p class=a>Errors: \(r.errorStatuses.map(String.init).joined(separator: ", ")) — body {\"detail\", \"code\"}</p>"
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

extension APICatalogue {
    /// Inconsistencies of the catalogue itself (empty when sound): duplicate operations,
    /// refinements naming no field, undeclared or unknown path parameters, success statuses
    /// outside 2xx/101, bodies on GET/DELETE, and a 204 that claims a response body.
    public func problems() -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        for r in routes {
            let op = "\(r.method) \(r.path)"
            if !seen.insert(op).inserted { out.append("\(op): listed twice") }
            for schema in [r.body, r.returns].compactMap({ $0 }) + r.params.map(\.schema) {
                for path in schema.unresolvedRefinements { out.append("\(op): refinement '\(path)' names no field") }
            }
            let names = Set(r.pathParameterNames)
            for p in r.params where p.location == .path && !names.contains(p.name) {
                out.append("\(op): path parameter '\(p.name)' is not in the path")
            }
            for s in r.successStatuses where !(200...299).contains(s) && s != 101 {
                out.append("\(op): success status \(s) is not 2xx")
            }
            for e in r.errorStatuses where !(400...599).contains(e) { out.append("\(op): error status \(e) is not 4xx/5xx") }
            if r.body != nil, ["GET", "DELETE", "HEAD"].contains(r.method) { out.append("\(op): a \(r.method) with a body") }
            if r.status == 204, r.returns != nil || r.response != nil { out.append("\(op): 204 documents a response body") }
            for link in r.links {
                guard let target = routes.first(where: { $0.method == link.method && $0.path == link.path }) else {
                    out.append("\(op): link '\(link.name)' targets unknown \(link.method) \(link.path)")
                    continue
                }
                let known = Set(target.allParameters.map(\.name))
                for name in link.parameters.keys where !known.contains(name) {
                    out.append("\(op): link '\(link.name)' sets unknown parameter '\(name)'")
                }
            }
        }
        return out
    }

    /// Operations as `METHOD /path` with every parameter segment written `{}`.
    public var operations: Set<String> { Set(routes.map { Self.operation($0.method, $0.path) }) }

    static func operation(_ method: String, _ path: String) -> String {
        let segments = path.split(separator: "/").map { s -> String in
            s.hasPrefix(":") || (s.hasPrefix("{") && s.hasSuffix("}")) ? "{}" : String(s)
        }
        return "\(method.uppercased()) /\(segments.joined(separator: "/"))"
    }

    /// Operations the router serves but the catalogue does not list, and the reverse.
    public func compare<Context>(with router: Router<Context>) -> (undocumented: [String], unrouted: [String]) {
        let served = Set(router.routes.map { Self.operation($0.method.rawValue, $0.path.description) })
        let listed = operations
        return (served.subtracting(listed).sorted(), listed.subtracting(served).sorted())
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
