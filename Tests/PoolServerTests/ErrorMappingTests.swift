import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Store
import Testing

/// How the shared middleware answers store errors that escape a handler.
@Suite struct ErrorMappingTests {
    @Test func storeErrorsBecomeTheirHTTPAnswers() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware<BasicRequestContext>(routes: [RouteDoc("GET", "/t/{kind}", .none, "test")]))
        router.get("/t/:kind") { _, context -> String in
            switch context.parameters.get("kind") ?? "" {
            case "conflict": throw StoreError.conflict("40P01: deadlock detected")
            case "nul": throw StoreError.invalidText("text value 1")
            default: throw StoreError.backend("boom")
            }
        }
        try await Application(router: router).test(.router) { client in
            let conflict = try await client.execute(uri: "/t/conflict", method: .get)
            #expect(conflict.status == .serviceUnavailable && conflict.headers[.retryAfter] == "1")
            #expect(String(buffer: conflict.body).contains("write_conflict"))
            let nul = try await client.execute(uri: "/t/nul", method: .get)
            #expect(nul.status == .unprocessableContent && String(buffer: nul.body).contains("invalid_text"))
            let other = try await client.execute(uri: "/t/other", method: .get)
            #expect(other.status == .internalServerError && String(buffer: other.body).contains("internal_error"))
            #expect(!String(buffer: other.body).contains("boom"))
            let wrong = try await client.execute(uri: "/t/x", method: .post)
            #expect(wrong.status == .methodNotAllowed && wrong.headers[.allow] == "GET")
        }
    }
}
