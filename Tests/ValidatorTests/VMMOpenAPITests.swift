import Foundation
import Hummingbird
import DstackAPI
import ServiceKit
import Testing
@testable import VMMServer

@Suite("VMM OpenAPI document")
struct VMMOpenAPITests {
    let catalogue = APICatalogue(title: "vmm", version: "1", routes: VMMCatalogue.routes)

    @Test func catalogueIsConsistent() {
        #expect(catalogue.problems() == [])
        for r in catalogue.routes where r.method == "POST" && ![VMMMethod.version, .listGpus].map(\.routePath).contains(r.path) {
            #expect(r.body != nil, "\(r.path) reads a body")
        }
    }

    @Test func routerAndCatalogueListTheSameOperations() throws {
        let tmp = try TempDir("vmm-openapi")
        defer { tmp.cleanup() }
        let router = makeVMMRouter(vmm: LocalVMM(stateDirectory: tmp.url))
        let diff = catalogue.compare(with: router)
        #expect(diff.undocumented == [], "routes missing from the catalogue")
        #expect(diff.unrouted == [], "catalogue entries without a route")
    }
}
