import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import ServiceKit
import Store
import TestSupport
import Testing

extension JSONValue {
    subscript(_ key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }
}

@Suite("Platform OpenAPI document")
struct PlatformOpenAPITests {
    let catalogue = APICatalogue(title: "platform", version: "1", routes: PlatformCatalogue.routes)

    @Test func catalogueIsConsistent() {
        #expect(catalogue.problems() == [])
    }

    @Test func successStatusesAndBodiesAreDocumented() throws {
        let doc = catalogue.openAPI()
        for r in catalogue.routes {
            let op = doc["paths"]?[r.path]?[r.method.lowercased()]
            for s in r.successStatuses {
                #expect(op?["responses"]?[String(s)] != nil, "\(r.method) \(r.path): \(s) undocumented")
            }
            for e in r.errorStatuses {
                #expect(op?["responses"]?[String(e)]?["content"]?["application/json"]?["schema"]
                    == .object(["$ref": .string("#/components/schemas/APIError")]), "\(r.method) \(r.path): \(e)")
            }
            if r.body != nil {
                #expect(op?["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"] != nil, "\(r.method) \(r.path)")
            }
            if r.auth == .validator {
                #expect(op?["security"] == .array([.object(["ValidatorHotkey": .array([]), "HotkeyKey": .array([]),
                                                            "HotkeyTimestamp": .array([]), "HotkeySignature": .array([])])]))
            }
        }
        let status = { (method: String, path: String) in catalogue.routes.first { $0.method == method && $0.path == path }?.status }
        #expect(status("POST", "/challenges/{id}/submissions") == 201)
        #expect(status("POST", "/admin/challenges") == 201)
        #expect(status("POST", "/jobs/{id}/results") == 204)
        #expect(status("DELETE", "/admin/validators/{hotkey}") == 204)
        #expect(status("PUT", "/admin/validators/{hotkey}") == 201)
        #expect(doc["components"]?["schemas"]?["APIError"]?["required"] == .array([.string("detail"), .string("code")]))
    }

    @Test func schemasCarryTheEnforcedLimits() throws {
        var limits = PlatformLimits()
        limits.queryMaxParams = 7
        let routes = PlatformCatalogue.routes(limits: limits)
        let query = try #require(routes.first { $0.path == "/challenges/{id}/orm/query" }?.body?.json)
        #expect(query["required"] == .array([.string("query")]))
        #expect(query["properties"]?["params"]?["maxItems"] == .number(7))
        let create = try #require(routes.first { $0.method == "POST" && $0.path == "/admin/challenges" }?.body?.json)
        #expect(create["required"] == .array(["name", "github_repo", "github_commit", "compose_hash", "mechanism_id",
                                              "emission_share"].map(JSONValue.string)))
        #expect(create["properties"]?["mechanism_id"]?["maximum"] == .number(255))
        #expect(create["properties"]?["max_retries"]?["type"] == .array([.string("integer"), .string("null")]))
        let results = try #require(routes.first { $0.path == "/jobs/{id}/results" }?.body?.json)
        // Free-form metric values: an object of anything.
        #expect(results["properties"]?["metrics"]?["additionalProperties"] == .object([:]))
        #expect(results["anyOf"] != nil)
    }

    @Test func routerAndCatalogueListTheSameOperations() async throws {
        let h = try await PlatformHarness.make(.sqlite, validators: 0)
        let router = makePlatformRouter(store: h.store, hub: h.hub, config: h.config)
        let diff = catalogue.compare(with: router)
        await h.close()
        #expect(diff.undocumented == [], "routes missing from the catalogue")
        #expect(diff.unrouted == [], "catalogue entries without a route")
    }

    /// A route reads a JSON body exactly when the catalogue documents one: an authorised
    /// request with malformed JSON is refused as `invalid_body` only by routes that decode one.
    @Test func documentedBodiesAreTheBodiesHandlersRead() async throws {
        let h = try await PlatformHarness.make(.sqlite, validators: 1)
        let validator = h.validators[0]
        let routes = PlatformCatalogue.routes
        try await h.run { client in
            for r in routes where ["POST", "PUT", "PATCH"].contains(r.method) {
                let caller: Caller
                switch r.auth {
                case .admin: caller = .admin
                case .validator, .validatorSocket: caller = .validator(validator)
                case .miner: caller = .miner(SR25519Keypair.generate())
                default: caller = .anonymous
                }
                let path = r.path.split(separator: "/").map { $0.hasPrefix("{") ? "x" : String($0) }.joined(separator: "/")
                let reply = try await client.call(HTTPRequest.Method(r.method) ?? .post, "/" + path, as: caller, raw: "{\"x\":")
                let readsBody = reply.error?.code == "invalid_body"
                #expect(readsBody == (r.body != nil), "\(r.method) \(r.path): \(reply.status) \(reply.text)")
            }
        }
    }
}
