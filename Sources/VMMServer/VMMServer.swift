/// # VMMServer
///
/// Owns `evalnet vmm serve`: a local stand-in for the dstack VMM that answers the same
/// prpc JSON endpoints (`/prpc/CreateVm?json`, `GetInfo`, `StartVm`, `StopVm`,
/// `ShutdownVm`, `RemoveVm`, `Status`/`ListVms`, `Version`, plus `GET /logs`) with the
/// wire types of `DstackAPI`, so the validator's `DstackExecutor` can be run and tested
/// without TDX hardware. A "VM" is a host process group started from the compose file
/// (`ComposeLaunch`), its ports used directly on loopback. It provides **no TDX
/// isolation and no attestation**: a VM runs as the server's user on the host.
import DstackAPI
import Foundation
import Hummingbird
import Logging
import ServiceKit

public struct VMMServerConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8090
    public var stateDirectory = "data/vmm"

    public init() {}
}

public enum VMMCatalogue {
    static let example = JSONValue.object(["id": .string("8d5b0f0e-…")])
    public static let routes: [RouteDoc] = [
        RouteDoc("POST", "/prpc/CreateVm?json", .none, "Create a VM from a compose file (started unless stopped=true)",
                 request: .object([
                     "name": .string("challenge-job-1"), "image": .string("dstack-0.5.2"),
                     "compose_file": .string("{\"manifest_version\":2,\"docker_compose_file\":\"services: …\"}"),
                     "vcpu": .number(1), "memory": .number(1024), "disk_size": .number(1),
                     "ports": .array([.object(["protocol": .string("tcp"), "host_port": .number(18080),
                                               "vm_port": .number(8080), "host_address": .string("127.0.0.1")])]),
                     "stopped": .bool(true),
                 ]), response: example, errors: [400]),
        RouteDoc("POST", "/prpc/GetInfo?json", .none, "A VM's info: {found, info}", request: example,
                 response: .object(["found": .bool(true), "info": .object(["id": .string("…"), "status": .string("running")])]),
                 errors: [400]),
        RouteDoc("POST", "/prpc/StartVm?json", .none, "Start a stopped or exited VM", request: example, errors: [400]),
        RouteDoc("POST", "/prpc/StopVm?json", .none, "Kill the VM's process group (SIGTERM, 2 s, SIGKILL)", request: example,
                 errors: [400]),
        RouteDoc("POST", "/prpc/ShutdownVm?json", .none, "Graceful stop (SIGTERM, 10 s, SIGKILL)", request: example,
                 errors: [400]),
        RouteDoc("POST", "/prpc/RemoveVm?json", .none, "Delete a stopped VM and its files", request: example, errors: [400]),
        RouteDoc("POST", "/prpc/Status?json", .none, "List VMs (also /prpc/ListVms?json)",
                 request: .object(["keyword": .string(""), "page": .number(1), "page_size": .number(50)]), errors: [400]),
        RouteDoc("POST", "/prpc/Version?json", .none, "Server version"),
        RouteDoc("GET", "/logs", .none, "Last lines of a VM's console (query: id, lines)", errors: [400, 404]),
        RouteDoc("GET", "/openapi.json", .none, "This API as OpenAPI 3.1"),
        RouteDoc("GET", "/docs", .none, "Human-readable API documentation"),
        RouteDoc("GET", "/metrics", .none, "Prometheus metrics"),
    ]
}

/// A prpc error: HTTP 400 with dstack's `error` field next to ServiceKit's `detail`/`code`.
func rpcError(_ code: String, _ message: String) -> APIError {
    APIError(.badRequest, code, message, extra: ["error": message])
}

extension Request {
    /// Decodes a prpc body; malformed JSON is a 400 prpc error.
    func decodeRPC<T: Decodable>(_ type: T.Type) async throws -> T {
        do { return try await decodeJSON(type, maxBytes: 8 << 20) } catch let e as APIError {
            throw rpcError(e.code == "body_too_large" ? "body_too_large" : "invalid_request", e.detail)
        }
    }
}

/// Builds the VMM router over `vmm`.
public func makeVMMRouter(vmm: LocalVMM) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.addServiceBasics(catalogue: APICatalogue(title: "evalnet local VMM (dstack prpc subset)", version: "1.0",
                                                    routes: VMMCatalogue.routes))

    @Sendable func guarded<T: Encodable & Sendable>(_ body: () async throws -> T) async throws -> JSONResponse<T> {
        do { return JSONResponse(try await body()) } catch let f as VMMFailure {
            throw rpcError(f.code, f.message)
        }
    }
    @Sendable func requireId(_ request: Request) async throws -> String {
        let body = try await request.decodeRPC(VmId.self)
        guard !body.id.isEmpty else { throw rpcError("invalid_request", "Field id must not be empty") }
        return body.id
    }

    router.post(RouterPath(VMMMethod.createVm.routePath)) { request, _ in
        let config = try await request.decodeRPC(VmConfiguration.self)
        return try await guarded { try await vmm.createVm(config) }
    }
    router.post(RouterPath(VMMMethod.getInfo.routePath)) { request, _ in
        let id = try await requireId(request)
        let info = await vmm.info(id)
        return JSONResponse(GetInfoResponse(found: info != nil, info: info))
    }
    router.post(RouterPath(VMMMethod.startVm.routePath)) { request, _ in
        let id = try await requireId(request)
        return try await guarded { try await vmm.startVm(id); return Empty() }
    }
    router.post(RouterPath(VMMMethod.stopVm.routePath)) { request, _ in
        let id = try await requireId(request)
        return try await guarded { try await vmm.stopVm(id); return Empty() }
    }
    router.post(RouterPath(VMMMethod.shutdownVm.routePath)) { request, _ in
        let id = try await requireId(request)
        return try await guarded { try await vmm.stopVm(id, grace: .seconds(10)); return Empty() }
    }
    router.post(RouterPath(VMMMethod.removeVm.routePath)) { request, _ in
        let id = try await requireId(request)
        return try await guarded { try await vmm.removeVm(id); return Empty() }
    }
    for method in [VMMMethod.status, .listVms] {
        router.post(RouterPath(method.routePath)) { request, _ in
            let body = try await request.decodeRPC(StatusRequest.self)
            return JSONResponse(await vmm.list(body))
        }
    }
    router.post(RouterPath(VMMMethod.version.routePath)) { _, _ in
        JSONResponse(VersionResponse(version: "evalnet-local-vmm 1.0", rev: "local"))
    }
    router.get("/logs") { request, _ in
        guard let id = request.uri.queryParameters["id"].map(String.init), !id.isEmpty else {
            throw APIError.badRequest("invalid_request", "Query parameter id is required")
        }
        let lines = try request.intQuery("lines", default: 100, range: 0...100_000)
        let text: String
        do { text = try await vmm.logs(id, lines: lines) } catch let f as VMMFailure {
            throw APIError(.notFound, f.code, f.message, extra: ["error": f.message])
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    return router
}

/// Serves the local VMM until cancelled, then stops every VM it started.
public func runVMM(config: VMMServerConfig, logger: Logger, onReady: (@Sendable (Int) async -> Void)? = nil) async throws {
    let state = URL(fileURLWithPath: config.stateDirectory)
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    let vmm = LocalVMM(stateDirectory: state, logger: logger)
    let app = Application(
        router: makeVMMRouter(vmm: vmm),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "evalnet-vmm"),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            logger.info("local VMM listening (no TDX isolation: VMs are host processes)",
                        metadata: ["url": "http://\(config.host):\(port)", "state_dir": "\(config.stateDirectory)"])
            await onReady?(port)
        },
        logger: logger)
    do {
        try await app.runService()
    } catch {
        await vmm.shutdown()
        throw error
    }
    await vmm.shutdown()
}
