import Foundation
import Hotkeys
import Hummingbird
import PoolAPI
import PoolCore
import PoolServer
import ServiceKit
import Store
import TestSupport
import Testing

/// Reads fields out of a JSONValue document.
extension JSONValue {
    subscript(_ key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    var objectValue: [String: JSONValue]? { if case let .object(o) = self { return o } else { return nil } }
    var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }
}

/// Checks every operation of an OpenAPI document: a documented success status, the
/// `APIError` schema on every error, a JSON schema on every request body. Returns problems.
func openAPIDocumentProblems(_ doc: JSONValue) -> [String] {
    var out: [String] = []
    let schemas = doc["components"]?["schemas"]?.objectValue ?? [:]
    if schemas["APIError"]?["required"] != .array([.string("detail"), .string("code")]) {
        out.append("APIError must require detail and code")
    }
    func resolve(_ schema: JSONValue?) -> JSONValue? {
        guard let ref = schema?["$ref"]?.stringValue else { return schema }
        return schemas[String(ref.dropFirst("#/components/schemas/".count))]
    }
    for (path, item) in doc["paths"]?.objectValue ?? [:] {
        for (method, op) in item.objectValue ?? [:] {
            let name = "\(method.uppercased()) \(path)"
            let responses = op["responses"]?.objectValue ?? [:]
            let success = responses.keys.compactMap(Int.init).filter { (200...299).contains($0) || $0 == 101 }
            if success.isEmpty { out.append("\(name): no success status") }
            for (code, response) in responses where (Int(code) ?? 0) >= 400 {
                if response["content"]?["application/json"]?["schema"]?["$ref"]?.stringValue != "#/components/schemas/APIError" {
                    out.append("\(name): \(code) lacks the APIError schema")
                }
            }
            if let body = op["requestBody"] {
                guard let schema = resolve(body["content"]?["application/json"]?["schema"]) else {
                    out.append("\(name): request body without a JSON schema")
                    continue
                }
                if schema["type"] != .string("object") { out.append("\(name): request body schema is not an object") }
                if schema["properties"]?.objectValue?.isEmpty != false, schema["type"] == .string("object"),
                    name != "POST /prpc/Version" {
                    out.append("\(name): request body schema lists no properties")
                }
            }
        }
    }
    return out
}

@Suite("Pool OpenAPI document")
struct PoolOpenAPITests {
    let catalogue = APICatalogue(title: "pool", version: "1", routes: PoolCatalogue.routes)

    @Test func catalogueIsConsistent() {
        #expect(catalogue.problems() == [])
        #expect(openAPIDocumentProblems(catalogue.openAPI()) == [])
    }

    @Test func everyBodyRouteHasASchemaAndSuccessStatus() throws {
        let doc = catalogue.openAPI()
        for r in catalogue.routes where ["POST", "PUT", "PATCH"].contains(r.method) {
            let op = doc["paths"]?[r.path]?[r.method.lowercased()]
            #expect(op?["responses"]?[String(r.status)] != nil, "\(r.method) \(r.path): success status undocumented")
            if r.body != nil {
                #expect(op?["requestBody"]?["content"]?["application/json"]?["schema"] != nil, "\(r.method) \(r.path)")
            }
        }
        // The bodies the miner client sends are all described.
        for path in ["/api/v1/tasks/request", "/api/v1/tasks/lease", "/api/v1/tasks/{lease_id}/submit_lease",
                     "/api/v1/tasks/{batch_id}/submit_evolution", "/api/v1/tasks/{batch_id}/submit_evaluation"] {
            #expect(catalogue.routes.first { $0.method == "POST" && $0.path == path }?.body != nil, "\(path)")
        }
    }

    @Test func schemasFollowTheWireTypesAndTheRules() throws {
        var rules = PoolRules()
        rules.evalBatchMax = 40
        let routes = PoolCatalogue.routes(rules: rules, taskTypes: ["scalar_linear"])
        let lease = try #require(routes.first { $0.path == "/api/v1/tasks/lease" }?.body?.json)
        #expect(lease["properties"]?["eval_batch_size"]?["maximum"] == .number(40))
        #expect(lease["properties"]?["eval_batch_size"]?["type"] == .array([.string("integer"), .string("null")]))
        #expect(lease["properties"]?["task_type"]?["enum"] == .array([.string("scalar_linear"), .null]))
        #expect(lease["required"] == nil)

        let submit = try #require(routes.first { $0.path.hasSuffix("submit_lease") }?.body?.json)
        let evaluation = submit["properties"]?["evaluations"]?["items"]
        #expect(evaluation?["required"] == .array([.string("algorithm_id"), .string("score")]))
        #expect(evaluation?["properties"]?["algorithm_id"]?["type"] == .string("integer"))
        #expect(evaluation?["properties"]?["score"]?["type"] == .string("number"))
        #expect(submit["properties"]?["gossip"]?["type"] == .array([.string("object"), .string("null")]))
        #expect(submit["properties"]?["evolutions"]?["items"]?["properties"]?["algorithm_dsl"]?["maxLength"] == .number(65_536))

        let evolution = JSONSchema.of(EvolutionSubmission.self).json
        #expect(evolution["required"] == .array([.string("evolved_function"), .string("parent_functions")]))
        #expect(evolution["properties"]?["parent_functions"]?["items"]?["required"] == .array([.string("id")]))

        // String-keyed maps become additionalProperties.
        let summary = JSONSchema.of(MonitorSummary.self).json
        #expect(summary["properties"]?["miners"]?["additionalProperties"]?["type"] == .string("integer"))
        #expect(summary["properties"]?["alerts"]?["properties"]?["items"]?["items"]?["required"]
            == .array([.string("code"), .string("severity"), .string("message")]))
    }

    @Test func routerAndCatalogueListTheSameOperations() async throws {
        let db = try await TestDatabases.fresh(.sqlite)
        let store = PoolStore(db: db, rules: PoolRules(), algorithms: AlgorithmCatalog())
        let router = makePoolRouter(store: store, config: PoolConfig())
        let diff = catalogue.compare(with: router)
        await db.shutdown()
        #expect(diff.undocumented == [], "routes missing from the catalogue")
        #expect(diff.unrouted == [], "catalogue entries without a route")
    }

    /// A route reads a JSON body exactly when the catalogue documents one: a signed request
    /// with malformed JSON is refused as `invalid_body` only by routes that decode a body.
    @Test(arguments: [Backend.sqlite])
    func documentedBodiesAreTheBodiesHandlersRead(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let routes = PoolCatalogue.routes
        try await h.run { client in
            let key = SR25519Keypair.generate()
            try await client.register(key)
            for r in routes where ["POST", "PUT", "PATCH"].contains(r.method) {
                let path = r.path.split(separator: "/").map { $0.hasPrefix("{") ? "1" : String($0) }.joined(separator: "/")
                let reply = try await client.call(HTTPRequest.Method(r.method) ?? .post, "/" + path, key: key, raw: "{\"x\":")
                let readsBody = reply.error?.code == "invalid_body"
                #expect(readsBody == (r.body != nil), "\(r.method) \(r.path): \(reply.status) \(reply.text)")
            }
        }
    }
}
