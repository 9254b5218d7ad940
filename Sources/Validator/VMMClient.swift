import AsyncHTTPClient
import DstackAPI
import Foundation
import NIOCore
import NIOHTTP1
import SignedClient

/// Why a VMM call failed.
public enum VMMError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No answer (connection refused, timeout, …).
    case unreachable(method: String, reason: String)
    /// The VMM answered with an error (prpc errors are HTTP 400 `{"error": ...}`).
    case rpc(method: String, status: Int, message: String)
    case badResponse(method: String, reason: String)

    public var description: String {
        switch self {
        case let .unreachable(m, why): return "VMM \(m): unreachable: \(why)"
        case let .rpc(m, status, message): return "VMM \(m) failed (\(status)): \(message)"
        case let .badResponse(m, why): return "VMM \(m): unexpected response: \(why)"
        }
    }
}

/// Client of the dstack VMM prpc JSON API (`POST {url}/prpc/{Method}?json`).
public struct VMMClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let timeout: TimeAmount

    public init(baseURL: String, httpClient: HTTPClient = .shared, timeoutSeconds: Double = 30) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.http = httpClient
        self.timeout = .milliseconds(Int64(timeoutSeconds * 1000))
    }

    /// One prpc call.
    public func call<Request: Encodable, Response: Decodable>(_ method: VMMMethod, _ body: Request,
                                                               as: Response.Type) async throws -> Response {
        var request = HTTPClientRequest(url: baseURL + method.path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        request.body = .bytes(ByteBuffer(bytes: try encoder.encode(body)))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 16 << 20)
        } catch {
            try Task.checkCancellation()
            throw VMMError.unreachable(method: method.rawValue, reason: "\(error)")
        }
        let data = Data(bytes.readableBytesView)
        guard response.status == .ok else {
            let message = (try? JSONDecoder().decode(VMMErrorBody.self, from: data))?.message
                ?? String(decoding: data.prefix(2000), as: UTF8.self)
            throw VMMError.rpc(method: method.rawValue, status: Int(response.status.code), message: message)
        }
        do { return try JSONDecoder().decode(Response.self, from: data.isEmpty ? Data("{}".utf8) : data) } catch {
            throw VMMError.badResponse(method: method.rawValue, reason: "\(error)")
        }
    }

    /// CreateVm → the new VM's id.
    public func createVm(_ configuration: VmConfiguration) async throws -> String {
        try await call(.createVm, configuration, as: VmId.self).id
    }

    /// GetInfo → the VM, or nil when the VMM does not know the id (`found: false`).
    public func getInfo(id: String) async throws -> VmInfo? {
        let r = try await call(.getInfo, VmId(id: id), as: GetInfoResponse.self)
        return r.found ? r.info : nil
    }

    public func startVm(id: String) async throws { _ = try await call(.startVm, VmId(id: id), as: Empty.self) }
    public func stopVm(id: String) async throws { _ = try await call(.stopVm, VmId(id: id), as: Empty.self) }
    public func shutdownVm(id: String) async throws { _ = try await call(.shutdownVm, VmId(id: id), as: Empty.self) }
    public func removeVm(id: String) async throws { _ = try await call(.removeVm, VmId(id: id), as: Empty.self) }

    /// The host's GPUs (ListGpus).
    public func listGpus() async throws -> ListGpusResponse {
        try await call(.listGpus, Empty(), as: ListGpusResponse.self)
    }

    /// Every VM (dstack `Status`, the seed's ListVms).
    public func listVms() async throws -> [VmInfo] {
        try await call(.status, StatusRequest(), as: StatusResponse.self).vms
    }

    /// The last `lines` of a VM's console log (`GET /logs?id=&follow=false&lines=`).
    public func logs(id: String, lines: Int = 50) async throws -> String {
        let query = queryString([("id", id), ("follow", "false"), ("ansi", "false"), ("lines", String(lines))])
        var request = HTTPClientRequest(url: "\(baseURL)/logs" + query)
        request.method = .GET
        do {
            let response = try await http.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: 4 << 20)
            guard response.status == .ok else {
                throw VMMError.rpc(method: "logs", status: Int(response.status.code), message: String(buffer: bytes))
            }
            return String(buffer: bytes)
        } catch let error as VMMError {
            throw error
        } catch {
            throw VMMError.unreachable(method: "logs", reason: "\(error)")
        }
    }
}
