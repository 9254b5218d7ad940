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

/// Settings of `evalnet vmm serve`: listen host and port, and the directory holding VM state.
public struct VMMServerConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8090
    public var stateDirectory = "data/vmm"

    public init() {}
}

/// The local VMM's documented prpc routes, for `/openapi.json` and `/docs`.
public enum VMMCatalogue {
    static let example = JSONValue.object(["id": .string("8d5b0f0e-…")])
    static let vmId = JSONSchema.of(VmId.self, ["id": [.keyword("minLength", .number(1))]])
    static func rpc(_ method: VMMMethod, _ summary: String, body: JSONSchema?, request: JSONValue? = example,
                    returns: JSONSchema, response: JSONValue? = nil) -> RouteDoc {
        RouteDoc("POST", method.routePath, .none, summary + " (dstack clients call \(method.path); the query is ignored)",
                 body: body, request: body == nil ? nil : request, returns: returns, response: response,
                 errors: body == nil ? [] : [400])
    }

    public static let routes: [RouteDoc] = [
        rpc(.createVm, "Create a VM from a compose file (started unless stopped=true)",
            body: .of(VmConfiguration.self, [
                "name": [.pattern("^[A-Za-z0-9_. @~!$^()-]{1,128}$")],
                "vcpu": [.range(1...1024)],
                "memory": [.minimum(16), .description("MB")],
                "disk_size": [.minimum(1), .description("GB")],
                "ports[].protocol": [.values(["tcp", "udp"])],
                "ports[].host_port": [.range(1...65_535)],
                "ports[].vm_port": [.range(1...65_535)],
                "compose_file": [.description("The app-compose JSON document, as a string")],
            ]),
            request: .object([
                "name": .string("challenge-job-1"), "image": .string("dstack-0.5.2"),
                "compose_file": .string("{\"manifest_version\":2,\"docker_compose_file\":\"services: …\"}"),
                "vcpu": .number(1), "memory": .number(1024), "disk_size": .number(1),
                "ports": .array([.object(["protocol": .string("tcp"), "host_port": .number(18080),
                                          "vm_port": .number(8080), "host_address": .string("127.0.0.1")])]),
                "stopped": .bool(true),
            ]), returns: .of(VmId.self), response: example),
        rpc(.getInfo, "A VM's info: {found, info}", body: vmId, returns: .of(GetInfoResponse.self),
            response: .object(["found": .bool(true), "info": .object(["id": .string("…"), "status": .string("running")])])),
        rpc(.startVm, "Start a stopped or exited VM", body: vmId, returns: .of(Empty.self)),
        rpc(.stopVm, "Kill the VM's process group (SIGTERM, 2 s, SIGKILL)", body: vmId, returns: .of(Empty.self)),
        rpc(.shutdownVm, "Graceful stop (SIGTERM, 10 s, SIGKILL)", body: vmId, returns: .of(Empty.self)),
        rpc(.removeVm, "Delete a stopped VM and its files", body: vmId, returns: .of(Empty.self)),
        rpc(.status, "List VMs", body: .of(StatusRequest.self),
            request: .object(["keyword": .string(""), "page": .number(1), "page_size": .number(50)]),
            returns: .of(StatusResponse.self)),
        rpc(.listVms, "List VMs (the seed's name for Status)", body: .of(StatusRequest.self),
            request: .object(["keyword": .string(""), "page": .number(1), "page_size": .number(50)]),
            returns: .of(StatusResponse.self)),
        rpc(.version, "Server version", body: nil, returns: .of(VersionResponse.self)),
        rpc(.listGpus, "The host's GPUs: always none here (CreateVm with GPUs is refused)", body: nil,
            returns: .of(ListGpusResponse.self), response: .object(["gpus": .array([]), "allow_attach_all": .bool(false)])),
        RouteDoc("GET", "/logs", .none, "Last lines of a VM's console", produces: "text/plain",
                 params: [.query("id", JSONSchema.string.with(.keyword("minLength", .number(1))), "VM id", required: true),
                          .query("lines", JSONSchema.integer.with(.range(0...100_000), .keyword("default", .number(100))))],
                 errors: [400, 404, 422]),
        RouteDoc("GET", "/openapi.json", .none, "This API as OpenAPI 3.1", returns: JSONSchema(["type": .string("object")])),
        RouteDoc("GET", "/docs", .none, "Human-readable API documentation", produces: "text/html"),
        RouteDoc("GET", "/metrics", .none, "Prometheus metrics", produces: "text/plain"),
    ]
}

/// A prpc error: HTTP 400 with dstack's `error` field next to ServiceKit's `detail`/`code`.
func rpcError(_ code: ErrorCode, _ message: String) -> APIError {
    APIError(.badRequest, code, message, extra: ["error": message])
}

extension Request {
    /// Decodes a prpc body; malformed JSON is a 400 prpc error.
    func decodeRPC<T: Decodable>(_ type: T.Type) async throws -> T {
        do { return try await decodeJSON(type, maxBytes: 8 << 20) } catch let e as APIError {
            throw rpcError(e.code == ErrorCode.bodyTooLarge ? ErrorCode.bodyTooLarge : VMMErrorCode.invalidRequest, e.detail)
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
        guard !body.id.isEmpty else { throw rpcError(VMMErrorCode.invalidRequest, "Field id must not be empty") }
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
    router.post(RouterPath(VMMMethod.listGpus.routePath)) { _, _ in
        JSONResponse(ListGpusResponse(gpus: [], allowAttachAll: false))
    }
    router.post(RouterPath(VMMMethod.version.routePath)) { _, _ in
        JSONResponse(VersionResponse(version: "evalnet-local-vmm 1.0", rev: "local"))
    }
    router.get("/logs") { request, _ in
        guard let id = request.uri.queryParameters["id"].map(String.init), !id.isEmpty else {
            throw APIError.badRequest(VMMErrorCode.invalidRequest, "Query parameter id is required")
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
/// Serves the local VMM until SIGINT/SIGTERM or `stopper.stop()`, then shuts down gracefully
/// (in-flight requests finish, VMs are stopped).
public func runVMM(config: VMMServerConfig, logger: Logger, stopper: ServiceStopper = ServiceStopper(),
                   onReady: (@Sendable (Int) async -> Void)? = nil) async throws {
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
        try await stopper.run([app], logger: logger)
    } catch {
        await vmm.shutdown()
        throw error
    }
    await vmm.shutdown()
}
