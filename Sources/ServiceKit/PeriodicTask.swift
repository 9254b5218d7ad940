import Synchronization
import Logging
import ServiceLifecycle
import Store

/// A service that runs `body` every `interval` seconds until graceful shutdown; a failing
/// run is logged and the next one still happens.
///
/// With `exclusive` (replicas sharing a PostgreSQL database, whose services create
/// `periodic_runs` with `PeriodicRuns.prepare` at start-up), each turn first claims the
/// period in `periodic_runs` (`PeriodicRuns.claim`) and runs `body` only if it won, so the
/// work is done once per period across replicas and, if the replica doing it dies, by
/// another within one period. On SQLite every claim wins: behaviour as without it.
public struct PeriodicTask: Service {
    let name: String
    let interval: Double
    let logger: Logger
    let exclusive: PeriodicRuns?
    let body: @Sendable () async throws -> Void

    public init(name: String, interval: Double, logger: Logger, exclusive: PeriodicRuns? = nil,
                body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.exclusive = exclusive
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await exclusive?.claim(name, interval: interval) ?? true {
                        try await body()
                    } else {
                        logger.trace("periodic task run by another replica this period", metadata: ["task": "\(name)"])
                    }
                } catch {
                    logger.warning("periodic task failed", metadata: ["task": "\(name)", "error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
    }
}

/// Lets code that started a service group stop it gracefully (as SIGTERM would), e.g. the
/// demo stopping the servers it started. Create one, pass it to the run function, call `stop()`.
public final class ServiceStopper: Sendable {
    private let state = Mutex<(group: ServiceGroup?, requested: Bool)>((nil, false))

    public init() {}

    /// Runs `services` until SIGINT/SIGTERM or `stop()`, shutting them down gracefully.
    public func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let stopNow = state.withLock { s -> Bool in
            s.group = group
            return s.requested
        }
        if stopNow { return }
        try await group.run()
    }

    public func stop() async {
        let group = state.withLock { s -> ServiceGroup? in
            s.requested = true
            return s.group
        }
        await group?.triggerGracefulShutdown()
    }
}

/// Thrown by `launchServer` when the server does not report its port in time.
public struct ServiceStartError: Error, CustomStringConvertible {
    public let description: String
}

/// Starts a server in a task and waits (up to `seconds`) for it to report its bound port
/// through the `onReady` callback it is given; returns the task and the port. A server that
/// fails or never reports is surfaced as an error.
public func launchServer(waitingUpTo seconds: Double = 90,
                         _ body: @escaping @Sendable (@escaping @Sendable (Int) async -> Void) async throws -> Void)
    async throws -> (task: Task<Void, any Error>, port: Int)
{
    let port = Mutex<Int?>(nil)
    let task = Task { try await body { p in port.withLock { $0 = p } } }
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if let p = port.withLock({ $0 }) { return (task, p) }
        try await Task.sleep(for: .milliseconds(20))
    }
    task.cancel()
    // The server's own failure, if it failed; not the cancellation this wait caused.
    if case let .failure(error) = await task.result, !(error is CancellationError) { throw error }
    throw ServiceStartError(description: "the server did not start within \(Int(seconds)) s")
}
