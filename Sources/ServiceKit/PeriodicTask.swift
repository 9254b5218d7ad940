import Logging
import ServiceLifecycle

/// A service that runs `body` every `interval` seconds until graceful shutdown; a failing
/// run is logged and the next one still happens.
public struct PeriodicTask: Service {
    let name: String
    let interval: Double
    let logger: Logger
    let body: @Sendable () async throws -> Void

    public init(name: String, interval: Double, logger: Logger, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await body() } catch {
                    logger.warning("periodic task failed", metadata: ["task": "\(name)", "error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
    }
}
