import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A statement the server keeps parsed and planned on each connection (one plan for every
/// value: `PostgresStore.sessionSettings`), named for its text and the types of its values:
/// the service's statements are a small fixed set of shapes run thousands of times, and
/// parsing and planning each run was over a third of the server's CPU under load. PostgresNIO prepares a statement type on a
/// connection the first time it runs there; the name, text and types of the one being run
/// are read from a task-local, set around the call (PostgresNIO reads them in that call).
struct NamedStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow
    struct Shape: Sendable {
        var name = ""
        var sql = ""
        var types: [PostgresDataType] = []
    }
    @TaskLocal static var shape = Shape()
    static var name: String { shape.name }
    static var sql: String { shape.sql }
    static var bindingDataTypes: [PostgresDataType] { shape.types }
    let bindings: PostgresBindings
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }

    /// Statements with more values than this run unnamed: their shapes (list lengths) would
    /// grow each connection's set of kept statements without a useful bound. 64, not 32: the
    /// pool's end-of-submit statement (verdicts, points and totals with the lease's completion)
    /// often carries more than 32, and unnamed it was parsed and planned on every submit.
    static let maxValues = 64

    /// Whether `sql` runs named. Not with more than `maxValues` values, and not a `LIMIT` query
    /// unless its text starts with `StatementHint.planOnce`: the server keeps one plan of a named
    /// statement for every value, and the best plan of a top-N pick usually depends on the
    /// values (a listing filtered by status and read in age order could, with a kept plan, walk
    /// every finished row to find a pending one). A pick whose plan reads a set bounded whatever
    /// the values (its filter narrows, through an index, to rows that do not pile up with
    /// history) says so with `StatementHint.planOnce`.
    static func suits(_ statement: PostgresText, values: Int) -> Bool {
        values <= maxValues && !statement.unhintedLimit
    }

    /// A statement shape: its text and the types of its values.
    struct Key: Hashable {
        var sql: String
        var types: [UInt32]
    }

    /// Every shape this process has run named: its number (the name is built from it, so two
    /// shapes never share a name) and its generation. PostgresNIO keeps a preparation that
    /// failed as failed on that connection for good (a statement that ran before its table
    /// existed — a migration probe — would fail there ever after), so a shape whose preparation
    /// may have failed moves to its next generation, a new name. After `maxGenerations` it runs
    /// unnamed.
    static let registry = Mutex<(shapes: [Key: Entry], count: Int)>(([:], 0))
    static let maxGenerations = 16

    struct Entry {
        var number: Int
        var generation: Int
        var name: String { "evalnet_\(number)_\(generation)" }
    }

    /// The name to run `key` under now, or nil when it has failed too often to run named.
    static func name(for key: Key) -> String? {
        registry.withLock { r -> String? in
            let entry: Entry
            if let known = r.shapes[key] {
                entry = known
            } else {
                r.count += 1
                entry = Entry(number: r.count, generation: 0)
                r.shapes[key] = entry
            }
            return entry.generation <= maxGenerations ? entry.name : nil
        }
    }

    /// Moves `key` past the generation named `name` (a later failure of the same name does not
    /// move it twice).
    static func retire(_ key: Key, name: String) {
        registry.withLock { r in
            guard var entry = r.shapes[key], entry.name == name else { return }
            entry.generation += 1
            r.shapes[key] = entry
        }
    }

    /// SQLSTATE classes of errors a preparation can raise (syntax or access rule, feature not
    /// supported — e.g. a kept statement whose result columns changed —, invalid transaction
    /// state, invalid schema or statement name); errors of execution (constraints, conflicts,
    /// data) leave the kept statement good.
    static func mayHaveFailedPreparation(sqlState: String) -> Bool {
        ["42", "0A", "25", "26", "3F"].contains(String(sqlState.prefix(2)))
    }
}

/// Statements on one PostgreSQL connection. With `named`, statements of up to
/// `NamedStatement.maxValues` values run as named prepared statements (see `NamedStatement`),
/// and a `LIMIT` statement with values that is not `StatementHint.planOnce` is planned for its
/// values (see `forItsValues`); callers running text that is not the service's own (the
/// read-only query sandbox) use unnamed statements only and set their own plan mode.
struct PostgresExecutor: SQLExecutor {
    let connection: PostgresConnection
    let logger: Logger
    var named = false
    /// Whether the statements run inside a transaction the store opened (`BEGIN` … `COMMIT`).
    var inTransaction = false
    var dialect: SQLDialect { .postgres }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try refuseNUL(binds)
        var bindings = PostgresBindings(capacity: binds.count)
        var types: [PostgresDataType] = []
        types.reserveCapacity(binds.count)
        for v in binds {
            switch v {
            case .null: bindings.appendNull(); types.append(.null)
            case let .int(i): bindings.append(i); types.append(.int8)
            case let .double(d): bindings.append(d); types.append(.float8)
            case let .text(t): bindings.append(t); types.append(.text)
            case let .blob(b): bindings.append(ByteBuffer(bytes: b)); types.append(.bytea)
            }
        }
        let statement = numberPlaceholders(sql)
        let text = statement.text
        do {
            if named, NamedStatement.suits(statement, values: binds.count) {
                let key = NamedStatement.Key(sql: text, types: types.map(\.rawValue))
                if let name = NamedStatement.name(for: key) {
                    let shape = NamedStatement.Shape(name: name, sql: text, types: types)
                    do {
                        return try await NamedStatement.$shape.withValue(shape) {
                            try await Self.collect(try await connection.execute(NamedStatement(bindings: bindings), logger: logger))
                        }
                    } catch let error as PSQLError {
                        if let state = error.serverInfo?[.sqlState], NamedStatement.mayHaveFailedPreparation(sqlState: state) {
                            NamedStatement.retire(key, name: name)
                        }
                        throw error
                    }
                }
            }
            let unnamed = PostgresQuery(unsafeSQL: text, binds: bindings)
            if named, statement.unhintedLimit, !binds.isEmpty {
                return try await forItsValues { try await Self.collect(try await connection.query(unnamed, logger: logger)) }
            }
            return try await Self.collect(try await connection.query(unnamed, logger: logger))
        } catch let error as PSQLError {
            throw Self.translate(error)
        }
    }

    /// Runs `body` (one statement) with the server planning it for the values bound, not the
    /// one plan for every value the pooled sessions otherwise make (`plan_cache_mode`, see
    /// `PostgresStore.sessionSettings`): the best plan of a top-N pick usually depends on its
    /// values. `SET LOCAL` lasts to the end of a transaction, so inside the store's transaction
    /// the mode is put back after the statement (a failed statement ends the transaction, and
    /// its rollback puts it back); outside, the statement runs in a transaction of its own.
    private func forItsValues<T>(_ body: () async throws -> T) async throws -> T {
        let custom = PostgresQuery(unsafeSQL: "SET LOCAL plan_cache_mode = force_custom_plan")
        guard inTransaction else {
            return try await Self.betweenBeginAndCommit(connection, logger: logger) {
                _ = try await connection.query(custom, logger: logger)
                return try await body()
            }
        }
        _ = try await connection.query(custom, logger: logger)
        let result = try await body()
        _ = try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL plan_cache_mode = force_generic_plan"), logger: logger)
        return result
    }

    /// Runs `body` between `BEGIN` and `COMMIT` on `conn`, rolling back when it throws. These
    /// commands run unnamed: ROLLBACK follows a failed statement, and PostgresNIO would keep a
    /// preparation that fails there as failed for the connection.
    static func betweenBeginAndCommit<T>(_ conn: PostgresConnection, logger: Logger,
                                         _ body: () async throws -> T) async throws -> T {
        let control = PostgresExecutor(connection: conn, logger: logger)
        _ = try await control.query("BEGIN", [])
        do {
            let result = try await body()
            _ = try await control.query("COMMIT", [])
            return result
        } catch {
            _ = try? await control.query("ROLLBACK", [])
            throw error
        }
    }

    static func collect<Rows: AsyncSequence>(_ rows: Rows) async throws -> [SQLRow] where Rows.Element == PostgresRow {
        var out: [SQLRow] = []
        // Every row of a result has the same columns: their names are read once and shared.
        var columns: [String]?
        for try await row in rows {
            let names = columns ?? row.map(\.columnName)
            columns = names
            var values: [SQLValue] = []
            values.reserveCapacity(row.count)
            for cell in row { values.append(try Self.value(of: cell)) }
            out.append(SQLRow(columns: names, values: values))
        }
        return out
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

    /// Opens a pool on the server of `s`. The server must answer within `connectWait` (a
    /// service started beside its database waits for it to come up); a server that answers and
    /// refuses — unknown database or role, wrong password — fails at once. Either way the
    /// error says why, in the server's or the system's words.
    public static func open(_ s: DatabaseLocation.PostgresSettings, logger: Logger, maxConnections: Int = 20,
                            connectWait: Duration = .seconds(30)) async throws -> PostgresStore
    {
        try await waitForServer(s, logger: logger, within: connectWait)
        var config = s.socketPath.map {
            PostgresClient.Configuration(unixSocketPath: $0, username: s.username, password: s.password, database: s.database)
        } ?? PostgresClient.Configuration(
            host: s.host, port: s.port, username: s.username, password: s.password, database: s.database,
            tls: .disable)
        config.options.maximumConnections = maxConnections
        config.options.additionalStartupParameters = Self.sessionSettings
        let store = PostgresStore(client: PostgresClient(configuration: config, backgroundLogger: logger), settings: s,
                                  logger: logger)
        do { _ = try await store.query("SELECT 1 AS ok", []) } catch {
            await store.shutdown()
            throw StoreError.backend("cannot connect to PostgreSQL at \(s.address)/\(s.database): \(error)")
        }
        return store
    }

    /// A single connection's settings for `s` (the pool builds its own from the same fields).
    static func connectionConfiguration(_ s: DatabaseLocation.PostgresSettings) -> PostgresConnection.Configuration {
        s.socketPath.map {
            PostgresConnection.Configuration(unixSocketPath: $0, username: s.username, password: s.password, database: s.database)
        } ?? PostgresConnection.Configuration(
            host: s.host, port: s.port, username: s.username, password: s.password, database: s.database, tls: .disable)
    }

    /// Connects once (and closes) until the server answers, for at most `within`: a refused or
    /// unreachable server is tried again after a growing pause (0.2 s doubling to 2 s), each
    /// failure logged; a server that answers with an error (SQLSTATE — no such database, role
    /// or password) is not. Throws `StoreError.backend` naming the address and the cause.
    static func waitForServer(_ s: DatabaseLocation.PostgresSettings, logger: Logger, within: Duration) async throws {
        let deadline = ContinuousClock.now + within
        var delay = 0.2
        var attempt = 0
        while true {
            attempt += 1
            do {
                let conn = try await PostgresConnection.connect(configuration: connectionConfiguration(s), id: attempt, logger: logger)
                try? await conn.close()
                return
            } catch {
                let answered = (error as? PSQLError)?.serverInfo?[.sqlState] != nil
                let why = Self.describe(connectError: error)
                if answered || ContinuousClock.now + .milliseconds(Int(delay * 1000)) > deadline {
                    throw StoreError.backend("cannot connect to PostgreSQL at \(s.address)/\(s.database): \(why)")
                }
                logger.warning("PostgreSQL not reachable yet; retrying",
                               metadata: ["address": "\(s.address)", "error": "\(why)", "in_s": "\(delay)"])
                try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 2)
            }
        }
    }

    /// A connection failure in words: the server's message and SQLSTATE when it answered,
    /// else the underlying system error (refused, no such socket, unknown host).
    static func describe(connectError error: any Error) -> String {
        guard let e = error as? PSQLError else { return String(describing: error) }
        if let message = e.serverInfo?[.message] {
            return message + (e.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = e.underlying { return String(describing: underlying) }
        return String(reflecting: e)
    }

    /// Set on every pooled connection when it opens. No parallel plans: every statement here
    /// reads a handful of rows through indexes, many transactions at a time, and a plan made
    /// for a value the statistics call common (a program copied 200,000 times) started two
    /// workers for twenty rows — 50 to 130 ms instead of 1 to 3 — taking cores from the
    /// requests beside it. One plan per named statement (`force_generic_plan`): left to choose,
    /// the server compares the kept plan's cost with the average of every plan it made for
    /// values on that connection — made while the tables were small, so cheap — and went on
    /// planning most named statements on every run (a pool under load: 8,799 to 10,434 plans
    /// per 10,435 runs of its hottest statements, a fifth of PostgreSQL's CPU). Statements
    /// whose plan depends on their values are planned for them (`PostgresExecutor.forItsValues`).
    static let sessionSettings = [("max_parallel_workers_per_gather", "0"), ("plan_cache_mode", "force_generic_plan")]

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let logger = self.logger
        return try await client.withConnection { conn in
            try await PostgresExecutor(connection: conn, logger: logger, named: true).query(sql, binds)
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
            try await Self.inTransaction(conn, logger: logger, body)
        }
    }

    private static func inTransaction<T: Sendable>(_ conn: PostgresConnection, logger: Logger,
                                                   _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await PostgresExecutor.betweenBeginAndCommit(conn, logger: logger) {
            try await body(PostgresExecutor(connection: conn, logger: logger, named: true, inTransaction: true))
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
        var config = Self.connectionConfiguration(settings)
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
