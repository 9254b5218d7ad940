import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ports for tests that must name a port before a server binds it (a child process, a
/// restart on the same address). They come from 20000..<32768, below the kernel's ephemeral
/// range (32768–60999 on Linux), so the many servers and clients that bind port 0 in the same
/// test run can never be handed one of them meanwhile; a random pick that binds now is used.
public enum TestPorts {
    public static func unused() -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20000..<32768)
            if canBind(port) { return port }
        }
        return Int.random(in: 20000..<32768)
    }

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
