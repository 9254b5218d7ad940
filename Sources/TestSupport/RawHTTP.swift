import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP exchange over a plain TCP socket, for requests a well-behaved client cannot
/// send (oversized or invalid header bytes, broken framing). The blocking socket work runs on
/// its own thread, so a test's cooperative threads stay free for the server under test.
public struct RawHTTPReply: Sendable {
    /// The status code, or nil when the server closed without a status line.
    public let status: Int?
    public let head: String
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The value of a response header (case-insensitive name).
    public func header(_ name: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}

/// Raw HTTP/1.1 requests to a local port over a plain socket (`exchange`, `request`).
public enum RawHTTP {
    /// Sends `request` to 127.0.0.1:`port` and reads until the server closes, the response
    /// is complete (Content-Length, or the head of a 101 Switching Protocols), or
    /// `timeoutSeconds` pass.
    public static func exchange(port: Int, _ request: [UInt8], timeoutSeconds: Int = 10) async throws -> RawHTTPReply {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<RawHTTPReply, any Error>) in
            let thread = Thread {
                cont.resume(with: Result { try blockingExchange(port: port, request, timeoutSeconds: timeoutSeconds) })
            }
            thread.start()
        }
    }

    /// A request with the given head lines (no CRLFs needed) and body.
    public static func request(_ method: String, _ path: String, headers: [(String, [UInt8])] = [], body: [UInt8] = [])
        -> [UInt8]
    {
        var out = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".utf8)
        for (name, value) in headers { out += Array("\(name): ".utf8) + value + Array("\r\n".utf8) }
        out += Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
        return out
    }

    struct SocketError: Error, CustomStringConvertible {
        let what: String
        var description: String { "raw HTTP: \(what) failed (errno \(errno))" }
    }

    static func blockingExchange(port: Int, _ request: [UInt8], timeoutSeconds: Int) throws -> RawHTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(what: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketError(what: "connect") }
        // The server may answer and close before it has read everything (an oversized
        // head): a failed send is not an error, the answer is read below.
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
            guard let reply = parse(received) else { continue }
            // A switched protocol (a WebSocket upgrade) keeps the connection open: its head is the answer.
            if reply.status == 101 { return reply }
            if let length = reply.header("Content-Length").flatMap(Int.init), reply.body.count >= length { return reply }
        }
        return parse(received) ?? RawHTTPReply(status: nil, head: "", body: received)
    }

    static func parse(_ bytes: [UInt8]) -> RawHTTPReply? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator })
        else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        let statusText = head.split(separator: " ", maxSplits: 2).dropFirst().first
        return RawHTTPReply(status: statusText.flatMap { Int($0) }, head: head, body: Array(bytes[(end + 4)...]))
    }
}
