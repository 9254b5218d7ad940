import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Store
import Synchronization

/// Whether this process is draining: set once graceful shutdown begins (SIGTERM), after
/// which `/health/ready` answers 503 so load balancers stop sending new work here.
public final class DrainState: Sendable {
    private let draining = Mutex(false)

    public init() {}

    public var isDraining: Bool { draining.withLock { $0 } }

    public func begin() { draining.withLock { $0 = true } }
}

/// `/health/live` and `/health/ready`, for load balancers and orchestrators.
public enum HealthChecks {
    /// The body of `GET /health/live` (`status` is `alive`).
    public struct Live: Codable, Sendable, Equatable {
        public var status: String

        public init(status: String) { self.status = status }
    }

    /// The body of `GET /health/ready` when ready: `status` and the database backend.
    public struct Ready: Codable, Sendable, Equatable {
        public var status: String
        public var database: String

        public init(status: String, database: String) {
            self.status = status
            self.database = database
        }
    }

    public static let live = "/health/live"
    public static let ready = "/health/ready"

    /// How long the readiness check waits for the database (`SELECT 1`).
    public static let databaseTimeoutSeconds = 2.0

    /// Their catalogue entries (OpenAPI).
    public static var routes: [RouteDoc] { [liveRoute, readyRoute] }

    public static var liveRoute: RouteDoc {
        RouteDoc("GET", live, .none, "Liveness for load balancers: 200 while the process serves HTTP (touches nothing else)",
                 returns: .of(Live.self), response: .object(["status": .string("alive")]))
    }

    public static var readyRoute: RouteDoc {
        RouteDoc("GET", ready, .none,
                 "Readiness for load balancers: 200 when the database answers within \(Int(databaseTimeoutSeconds)) s and the process is not draining; else 503 with code database_unavailable or draining",
                 returns: .of(Ready.self),
                 response: .object(["status": .string("ready"), "database": .string("postgres")]),
                 errors: [503])
    }

    /// Whether the process may take new work: not draining and `db` answers in time.
    public static func readiness(db: any SQLDatabase, drain: DrainState, timeoutSeconds: Double = databaseTimeoutSeconds)
        async throws -> Ready
    {
        if drain.isDraining {
            throw APIError(.serviceUnavailable, ErrorCode.draining, "This replica is shutting down; use another", retryAfterSeconds: 1)
        }
        let answered = await firstWithin(seconds: timeoutSeconds) { try await db.query("SELECT 1 AS ok", []) }
        guard answered != nil else {
            throw APIError(.serviceUnavailable, ErrorCode.databaseUnavailable,
                           "The database did not answer within \(timeoutSeconds) s", retryAfterSeconds: 1)
        }
        return Ready(status: "ready", database: db.dialect.rawValue)
    }
}

extension Router {
    /// Adds `GET /health/live` and `GET /health/ready` (see `HealthChecks`).
    public func addHealthChecks(db: any SQLDatabase, drain: DrainState) {
        get(RouterPath(HealthChecks.live)) { _, _ in JSONResponse(HealthChecks.Live(status: "alive")) }
        get(RouterPath(HealthChecks.ready)) { _, _ in JSONResponse(try await HealthChecks.readiness(db: db, drain: drain)) }
    }
}

/// The first service to hear of graceful shutdown (list it last in the service group, which
/// shuts services down in reverse order): marks the process draining (readiness 503), keeps
/// serving for `delaySeconds` so load balancers notice, runs `onDrain` (tell WebSocket
/// clients to reconnect elsewhere), then returns, and the HTTP server's own graceful
/// shutdown follows: it stops accepting and lets in-flight requests finish.
public struct DrainService: Service {
    let drain: DrainState
    let delaySeconds: Double
    let logger: Logger
    let onDrain: @Sendable () async -> Void

    public init(drain: DrainState, delaySeconds: Double, logger: Logger, onDrain: @escaping @Sendable () async -> Void = {}) {
        self.drain = drain
        self.delaySeconds = delaySeconds
        self.logger = logger
        self.onDrain = onDrain
    }

    public func run() async throws {
        do { try await gracefulShutdown() } catch { return }
        drain.begin()
        logger.info("draining: readiness now 503", metadata: ["delay_s": "\(delaySeconds)"])
        if delaySeconds > 0 { try? await Task.sleep(for: .milliseconds(Int(delaySeconds * 1000))) }
        await onDrain()
    }
}
