import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Statements on one PostgreSQL connection.
struct PostgresExecutor: SQLExecutor {
    let connection: PostgresConnection
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try refuseNUL(binds)
        var bindings = PostgresBindings(capacity: binds.count)
        for v in binds {
            switch v {
            case .null: bindings.appendNull()
            case let .int(i): bindings.append(i)
            case let .double(d): bindings.append(d)
            case let .text(t): bindings.append(t)
            case let .blob(b): bindings.append(ByteBuffer(bytes: b))
            }
        }
        let q = PostgresQuery(unsafeSQL: numberPlaceholders(sql), binds: bindings)
        do {
            let rows = try await connection.query(q, logger: logger)
            var out: [SQLRow] = []
            for try await row in rows {
                var names: [String] = []
                var values: [SQLValue] = []
                for cell in row {
                    names.append(cell.columnName)
                    values.append(try Self.value(of: cell))
                }
                out.append(SQLRow(columns: names, values: values))
            }
            return out
        } catch let error as PSQLError {
            throw Self.translate(error)
        }
    }

    static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .int(try cell.decode(Int64.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .numeric:
            // SUM over BIGINT yields NUMERIC: integral values come back as integers.
            let d = try cell.decode(Decimal.self)
            var rounded = Decimal()
            var copy = d
            NSDecimalRound(&rounded, &copy, 0, .plain)
            if rounded == d, let i = Int64(exactly: NSDecimalNumber(decimal: d).int64Value),
                Decimal(i) == d
            {
                return .int(i)
            }
            return .double(NSDecimalNumber(decimal: d).doubleValue)
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        case .bytea:
            var buf = try cell.decode(ByteBuffer.self)
            return .blob(buf.readBytes(length: buf.readableBytes) ?? [])
        default:
            return .text(try cell.decode(String.self))
        }
    }

    static func translate(_ error: PSQLError) -> StoreError {
        let code = error.serverInfo?[.sqlState] ?? ""
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        if code == "40001" || code == "40P01" { return .conflict("\(code): \(message)") }
        return .backend(code.isEmpty ? message : "\(code): \(message)")
    }
}

/// The production store: a PostgresNIO connection pool. Each transaction runs on one
/// pooled connection at READ COMMITTED with row locks where the caller asks for them.
public final class PostgresStore: SQLDatabase {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    private let settings: DatabaseLocation.PostgresSettings
    public var dialect: SQLDialect { .postgres }

    private init(client: PostgresClient, settings: DatabaseLocation.PostgresSettings, logger: Logger) {
        self.client = client
        self.settings = settings
        self.logger = logger
        // Started at once on this thread, so the client is running before the first query
        // leases a connection (PostgresNIO warns about a query that comes first).
        runner = Task.immediate { await client.run() }
    }

    public static func open(_ s: DatabaseLocation.PostgresSettings, logger: Logger, maxConnections: Int = 20)
        async throws -> PostgresStore
    {
        var config = PostgresClient.Configuration(
            host: s.host, port: s.port, username: s.username, password: s.password, database: s.database,
            tls: .disable)
        config.options.maximumConnections = maxConnections
        let store = PostgresStore(client: PostgresClient(configuration: config, backgroundLogger: logger), settings: s,
                                  logger: logger)
        do { _ = try await store.query("SELECT 1 AS ok", []) } catch {
            await store.shutdown()
            throw StoreError.backend("cannot connect to PostgreSQL at \(s.host):\(s.port)/\(s.database): \(error)")
        }
        return store
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let logger = self.logger
        return try await client.withConnection { conn in
            try await PostgresExecutor(connection: conn, logger: logger).query(sql, binds)
        }
    }

    /// How many times a transaction runs before a conflict is given up to the caller (whom
    /// the services answer 503 with Retry-After).
    static let conflictAttempts = 6

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await runTransaction(body)
            } catch StoreError.conflict(let why) where attempt < Self.conflictAttempts {
                // Serialization failure or deadlock: the whole transaction runs again after a
                // jittered, growing pause, so colliding transactions do not collide again in step.
                logger.debug("retrying transaction after conflict", metadata: ["why": "\(why)", "attempt": "\(attempt)"])
                let ceiling = 4 << min(attempt, 6)
                try await Task.sleep(for: .milliseconds(Int.random(in: (ceiling / 2)...ceiling)))
            }
        }
    }

    private func runTransaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await client.withConnection { conn in
            let ex = PostgresExecutor(connection: conn, logger: logger)
            _ = try await ex.query("BEGIN", [])
            do {
                let result = try await body(ex)
                _ = try await ex.query("COMMIT", [])
                return result
            } catch {
                _ = try? await ex.query("ROLLBACK", [])
                throw error
            }
        }
    }

    /// Runs `body` on one connection outside any transaction management (for callers that
    /// set their own session state, such as the read-only query sandbox).
    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await client.withConnection { conn in
            try await body(PostgresExecutor(connection: conn, logger: logger))
        }
    }

    /// Holds one dedicated connection (outside the pool) that LISTENs on `channel` until the
    /// calling task is cancelled: `onListening` runs each time the LISTEN is in place (first
    /// and after every reconnection — notifications sent while it was down are lost, so the
    /// caller catches up there), `onNotification` with each payload. A dropped or unanswering
    /// connection is replaced after a short, growing pause (0.1 s doubling to 5 s); every
    /// `healthCheckSeconds` a `SELECT 1` with a 5 s limit proves the connection alive.
    /// `applicationName` shows in `pg_stat_activity`.
    public func listen(channel: String, applicationName: String = "evalnet-listen", healthCheckSeconds: Double = 10,
                       onListening: @escaping @Sendable () async -> Void,
                       onNotification: @escaping @Sendable (String) async -> Void) async
    {
        var config = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, tls: .disable)
        config.options.additionalStartupParameters = [("application_name", applicationName)]
        let logger = self.logger
        var delay = 0.1
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            let started = ContinuousClock.now
            var connection: PostgresConnection?
            do {
                let conn = try await PostgresConnection.connect(configuration: config, id: attempt, logger: logger)
                connection = conn
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await conn.listen(on: channel) { notifications in
                            await onListening()
                            for try await n in notifications { await onNotification(n.payload) }
                        }
                        throw StoreError.backend("the LISTEN connection closed")
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: .milliseconds(Int(healthCheckSeconds * 1000)))
                            let alive = await firstWithin(seconds: 5) {
                                try await PostgresExecutor(connection: conn, logger: logger).query("SELECT 1 AS ok", [])
                            }
                            if alive == nil { throw StoreError.backend("the LISTEN connection stopped answering") }
                        }
                    }
                    defer { group.cancelAll() }
                    _ = try await group.next()
                }
            } catch where !Task.isCancelled {
                logger.warning("LISTEN connection lost; reconnecting",
                               metadata: ["channel": "\(channel)", "error": "\(error)", "in_s": "\(delay)"])
            } catch {}
            try? await connection?.close()
            if Task.isCancelled { break }
            // A connection that listened for a while earns a quick retry again.
            if ContinuousClock.now - started > .seconds(30) { delay = 0.1 }
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000 * Double.random(in: 0.8...1.2))))
            delay = min(delay * 2, 5)
        }
    }

    public func shutdown() async {
        runner.cancel()
        _ = await runner.value
    }
}
