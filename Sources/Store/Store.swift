/// # Store
///
/// Owns persistence plumbing shared by every service: one small SQL interface
/// (`SQLDatabase`, `SQLExecutor`, `SQLValue`, `SQLRow`) with two real backends — an
/// embedded SQLite file (SQLiteNIO, the default) and PostgreSQL (PostgresNIO, production) —
/// plus versioned migrations and `transaction`, the only way services write: a body runs
/// inside one database transaction and either commits whole or leaves nothing behind.
/// Services write their SQL once with `?` placeholders; the PostgreSQL backend numbers them.
/// For replicas sharing one PostgreSQL database: `PeriodicRuns` (one claimer per period of a
/// periodic job) and `PostgresStore.listen` (a dedicated, self-healing LISTEN connection).
import Foundation
import Logging
import Synchronization

/// A value bound into or read out of SQL.
public enum SQLValue: Sendable, Equatable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public static func from(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    public static func from(_ value: Int?) -> SQLValue { value.map { .int(Int64($0)) } ?? .null }
    public static func from(_ value: Double?) -> SQLValue { value.map { .double($0) } ?? .null }
    public static func bool(_ value: Bool) -> SQLValue { .int(value ? 1 : 0) }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// Why a database call failed: bad URL, unexpected row shape, migration, backend error,
/// write conflict or NUL in text.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    case badURL(String)
    case missingColumn(String)
    case typeMismatch(column: String, expected: String, got: SQLValue)
    case migrationFailed(version: Int, String)
    case backend(String)
    case conflict(String)
    /// A text value holds a NUL character, which PostgreSQL cannot store; refused on both
    /// backends alike. The associated value names what was being written.
    case invalidText(String)

    public var description: String {
        switch self {
        case let .badURL(u):
            return "unsupported database URL '\(u)': use sqlite:PATH or postgres://user:pass@host:port/db"
        case let .missingColumn(c): return "result has no column '\(c)'"
        case let .typeMismatch(c, e, g): return "column '\(c)': expected \(e), got \(g)"
        case let .migrationFailed(v, why): return "migration \(v) failed: \(why)"
        case let .backend(why): return "database error: \(why)"
        case let .conflict(why): return "write conflict: \(why)"
        case let .invalidText(what): return "\(what) contains a NUL character"
        }
    }
}

/// One result row, columns addressed by name.
public struct SQLRow: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public func has(_ name: String) -> Bool { columns.contains(name) }

    /// This row with the values of `changes` in place of its own (columns it lacks are added).
    public func replacing(_ changes: [String: SQLValue]) -> SQLRow {
        var columns = self.columns, values = self.values
        for (name, value) in changes.sorted(by: { $0.key < $1.key }) {
            if let i = columns.firstIndex(of: name) { values[i] = value } else {
                columns.append(name)
                values.append(value)
            }
        }
        return SQLRow(columns: columns, values: values)
    }

    /// The value of column `name`, or `missingColumn` when the result has none (a typo in a
    /// column name is an error, not a silent NULL).
    public func value(_ name: String) throws -> SQLValue {
        guard let i = columns.firstIndex(of: name) else { throw StoreError.missingColumn(name) }
        return values[i]
    }

    public func int(_ name: String) throws -> Int64 {
        let v = try value(name)
        switch v {
        case let .int(i): return i
        // Integral and in range only: `Int64(_:)` traps on a double beyond Int64 (SQLite keeps
        // whatever number a column is given, 1e300 in an INTEGER column included).
        case let .double(d): if let i = Int64(exactly: d) { return i }
        case let .text(t): if let i = Int64(t) { return i }
        default: break
        }
        throw StoreError.typeMismatch(column: name, expected: "integer", got: v)
    }

    public func optionalInt(_ name: String) throws -> Int64? {
        if case .null = try value(name) { return nil }
        return try int(name)
    }

    public func double(_ name: String) throws -> Double {
        let v = try value(name)
        switch v {
        case let .double(d): return d
        case let .int(i): return Double(i)
        case let .text(t): if let d = Double(t) { return d }
        default: break
        }
        throw StoreError.typeMismatch(column: name, expected: "number", got: v)
    }

    public func optionalDouble(_ name: String) throws -> Double? {
        if case .null = try value(name) { return nil }
        return try double(name)
    }

    public func string(_ name: String) throws -> String {
        switch try value(name) {
        case let .text(t): return t
        case let .int(v): return String(v)
        case let other: throw StoreError.typeMismatch(column: name, expected: "text", got: other)
        }
    }

    public func optionalString(_ name: String) throws -> String? {
        if case .null = try value(name) { return nil }
        return try string(name)
    }

    public func bool(_ name: String) throws -> Bool { try int(name) != 0 }

    /// The row as a JSON-friendly dictionary (used by read-only query endpoints).
    public var dictionary: [String: SQLValue] {
        Dictionary(zip(columns, values), uniquingKeysWith: { a, _ in a })
    }
}

/// The backend an executor runs on; its raw value is the `database` the health routes report.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// Hints a statement's text carries for the store that runs it.
public enum StatementHint {
    /// Leads a `LIMIT` statement whose best plan is the same whatever its values — its filter
    /// reaches, through an index, a set of rows that does not grow with history — so that on
    /// PostgreSQL it runs named like the service's other statements, and the server plans it
    /// once per connection instead of on every call (see `NamedStatement.suits`; unhinted, it
    /// is planned for its values each time, `PostgresExecutor.forItsValues`).
    public static let planOnce = "/* plan once */"

    /// Ends an `EXISTS` / `NOT EXISTS` subquery that looks one key up per outer row (through a
    /// unique index on every column it compares). On PostgreSQL the `OFFSET` keeps the planner
    /// from turning the subquery into a join, whose plan — made while the tables were small and
    /// then kept — read every row matching part of the key (every job a validator ever took,
    /// every evaluation of a candidate) instead of looking the pair up. Both backends accept it.
    public static let perRowProbe = " LIMIT 1 OFFSET 0"
}

/// Runs statements; inside `transaction` it is bound to that transaction.
public protocol SQLExecutor: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement with `?` placeholders bound in order, returning its rows.
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

extension SQLExecutor {
    @discardableResult
    public func execute(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        try await query(sql, binds)
    }

    public func queryOne(_ sql: String, _ binds: [SQLValue] = []) async throws -> SQLRow? {
        try await query(sql, binds).first
    }

    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL (several pool processes can share one
    /// database); empty on SQLite, where a write transaction already holds the database lock.
    public var skipLocked: String { dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }
    public var forUpdate: String { dialect == .postgres ? " FOR UPDATE" : "" }
    /// `FOR UPDATE OF table` on PostgreSQL: of a join, locks only `table`'s rows.
    public func forUpdate(of table: String) -> String { dialect == .postgres ? " FOR UPDATE OF \(table)" : "" }

    /// Serialises, until commit, the transactions that lock the same `key` (a limit checked
    /// by counting rows, say): a transaction-scoped advisory lock on PostgreSQL; nothing on
    /// SQLite, where a write transaction already holds the whole database. Take it before
    /// any row lock, so it is always first in the lock order.
    public func lock(key: String) async throws {
        guard dialect == .postgres else { return }
        try await execute("SELECT count(*) AS n FROM (SELECT pg_advisory_xact_lock(hashtextextended(?, 0))) AS l", [.text(key)])
    }
}

/// A schema change, written once per dialect where the two differ.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sqlite: [String]
    public let postgres: [String]

    public init(version: Int, name: String, sqlite: [String], postgres: [String]) {
        self.version = version
        self.name = name
        self.sqlite = sqlite
        self.postgres = postgres
    }

    /// A migration whose statements are the same on both backends, with the type
    /// placeholders `{{pk}}` (auto-increment integer primary key), `{{real}}` and `{{blob}}`.
    public init(version: Int, name: String, portable: [String]) {
        func render(_ s: String, pk: String, real: String, blob: String) -> String {
            s.replacingOccurrences(of: "{{pk}}", with: pk)
                .replacingOccurrences(of: "{{real}}", with: real)
                .replacingOccurrences(of: "{{blob}}", with: blob)
        }
        self.init(
            version: version, name: name,
            sqlite: portable.map { render($0, pk: "INTEGER PRIMARY KEY AUTOINCREMENT", real: "REAL", blob: "BLOB") },
            postgres: portable.map { render($0, pk: "BIGSERIAL PRIMARY KEY", real: "DOUBLE PRECISION", blob: "BYTEA") })
    }

    func statements(for dialect: SQLDialect) -> [String] { dialect == .sqlite ? sqlite : postgres }
}

/// A database: reads, atomic write transactions and migrations.
public protocol SQLDatabase: SQLExecutor {
    /// Runs `body` in one transaction: commit on return, rollback on throw. On PostgreSQL,
    /// serialization failures and deadlocks are retried a few times.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T
    func shutdown() async
}

extension SQLDatabase {
    /// Applies every migration newer than the recorded schema version, each in its own
    /// transaction together with its bookkeeping row, so a crash never leaves half a migration.
    public func migrate(_ migrations: [Migration], component: String) async throws {
        try await transaction { tx in
            try await tx.lock(key: "schema_migrations")
            try await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))"
            )
        }
        let applied = try await query("SELECT version FROM schema_migrations WHERE component = ?", [.text(component)])
            .compactMap { try? $0.int("version") }
        let done = Set(applied)
        for m in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(Int64(m.version)) {
            do {
                try await transaction { tx in
                    // Replicas starting at once: one applies the migration, the others wait
                    // for its commit here, then see it applied and skip it.
                    try await tx.lock(key: "schema_migrations:\(component)")
                    guard try await tx.queryOne(
                        "SELECT version FROM schema_migrations WHERE component = ? AND version = ?",
                        [.text(component), .int(Int64(m.version))]) == nil
                    else { return }
                    for s in m.statements(for: tx.dialect) { try await tx.execute(s) }
                    try await tx.execute(
                        "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
                        [.text(component), .int(Int64(m.version)), .text(m.name), .text(ISO8601DateFormatter().string(from: Date()))])
                }
            } catch {
                throw StoreError.migrationFailed(version: m.version, "\(error)")
            }
        }
    }
}

/// Where a store lives: `sqlite:PATH` (or a path ending in .db/.sqlite) or `postgres://…`.
public enum DatabaseLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresSettings)

    /// Connection settings parsed from a `postgres://user:pass@host:port/db` URL, or — for a
    /// server on the same machine — `postgres://user:pass@/db?host=/run/postgresql` (libpq's
    /// form: a `host` that is a directory names the server's Unix socket there,
    /// `.s.PGSQL.<port>`). On one machine the socket costs less per round trip than TCP over
    /// loopback, on both sides.
    public struct PostgresSettings: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// The directory of the server's Unix socket, when connecting through one.
        public var socketDirectory: String? = nil

        /// The socket file when connecting through a Unix socket.
        public var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

        /// Where the server is, for messages: `host:port` or the socket's path.
        public var address: String { socketPath ?? "\(host):\(port)" }

        /// A URL for `database` on the same server with the same credentials.
        public func url(database: String) -> String {
            var c = URLComponents()
            c.scheme = "postgres"
            c.user = username
            c.password = password
            c.path = "/" + database
            if let socketDirectory {
                c.host = ""
                c.queryItems = [URLQueryItem(name: "host", value: socketDirectory), URLQueryItem(name: "port", value: String(port))]
            } else {
                c.host = host
                c.port = port
            }
            return c.string ?? "postgres://\(username)@\(host):\(port)/\(database)"
        }
    }

    public static func parse(_ text: String) throws -> DatabaseLocation {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw StoreError.badURL(text) }
            return .sqlite(path: path)
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            guard let url = URLComponents(string: text) else { throw StoreError.badURL(text) }
            let query = url.queryItems ?? []
            func item(_ name: String) -> String? { query.last { $0.name == name }?.value }
            // libpq's `?host=/dir` (a socket directory) and `?port=N` stand beside the authority.
            let socketDirectory = item("host").flatMap { $0.hasPrefix("/") ? $0 : nil }
            let host = url.host ?? ""
            guard !host.isEmpty || socketDirectory != nil else { throw StoreError.badURL(text) }
            var port = url.port ?? 5432
            if let p = item("port") {
                guard let n = Int(p), (1...65535).contains(n) else { throw StoreError.badURL(text) }
                port = n
            }
            guard (1...65535).contains(port) else { throw StoreError.badURL(text) }
            let db = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
            return .postgres(.init(
                host: host.isEmpty ? "localhost" : host, port: port, username: url.user ?? "postgres",
                password: url.password, database: db.isEmpty ? (url.user ?? "postgres") : db,
                socketDirectory: socketDirectory))
        }
        if text.hasSuffix(".db") || text.hasSuffix(".sqlite") || text.hasSuffix(".sqlite3") {
            return .sqlite(path: text)
        }
        throw StoreError.badURL(text)
    }
}

/// Opens the database at `location`.
public func openDatabase(_ location: DatabaseLocation, logger: Logger) async throws -> any SQLDatabase {
    switch location {
    case let .sqlite(path): return try await SQLiteStore.open(path: path, logger: logger)
    case let .postgres(settings): return try await PostgresStore.open(settings, logger: logger)
    }
}

/// Refuses text binds holding a NUL character before they reach either backend (PostgreSQL
/// cannot store one; SQLite would, so both refuse alike). Services validate at their edge
/// and name the field; this is the floor under every write.
func refuseNUL(_ binds: [SQLValue]) throws {
    for (i, v) in binds.enumerated() {
        if case let .text(t) = v, t.utf8.contains(0) { throw StoreError.invalidText("text value \(i + 1)") }
    }
}

/// A statement's text as PostgreSQL runs it, with what `NamedStatement.suits` reads of it
/// worked out once per text (a search of the text on every run cost 1.7 % of the pool
/// benchmark's process CPU on PostgreSQL).
struct PostgresText: Sendable {
    /// The text with `$1, $2, …` placeholders.
    var text: String
    /// Whether the text has a `LIMIT` (other than a `StatementHint.perRowProbe`'s, which
    /// picks no top rows) and does not lead with `StatementHint.planOnce`.
    var unhintedLimit: Bool
}

/// Converts `?` placeholders to PostgreSQL's `$1, $2, …` (outside quoted strings), working
/// on UTF-8 bytes (both characters are ASCII, so no multi-byte sequence can contain them).
/// Statement texts repeat, so conversions are remembered (up to `placeholderCacheLimit`).
func numberPlaceholders(_ sql: String) -> PostgresText {
    if let known = placeholderCache.withLock({ $0[sql] }) { return known }
    var out: [UInt8] = []
    out.reserveCapacity(sql.utf8.count + 16)
    var n = 0
    var inString = false
    for byte in sql.utf8 {
        if byte == UInt8(ascii: "'") { inString.toggle() }
        if byte == UInt8(ascii: "?") && !inString {
            n += 1
            out.append(UInt8(ascii: "$"))
            out += String(n).utf8
        } else {
            out.append(byte)
        }
    }
    let hinted = out.starts(with: StatementHint.planOnce.utf8)
    let converted = PostgresText(text: String(decoding: out, as: UTF8.self),
                                 unhintedLimit: !hinted
                                     && out.ranges(of: "LIMIT".utf8).count > out.ranges(of: StatementHint.perRowProbe.utf8).count)
    placeholderCache.withLock { cache in
        if cache.count >= placeholderCacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[sql] = converted
    }
    return converted
}

private let placeholderCacheLimit = 1024
private let placeholderCache = Mutex<[String: PostgresText]>([:])

/// Placeholder lists for statements whose number of values varies.
public enum SQLText {
    /// `?,?,?` — an `IN (…)` list of `count` values.
    public static func list(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    /// `(?,?),(?,?)` — the `VALUES` of a multi-row insert: `rows` rows of `columns` values.
    public static func rows(_ rows: Int, columns: Int) -> String {
        Array(repeating: "(" + list(columns) + ")", count: rows).joined(separator: ",")
    }
}

/// The result of `operation` if it finishes within `seconds`; nil if it throws or is still
/// running then (it is cancelled and left to end in the background, its result dropped —
/// the caller is never held up by an operation that ignores cancellation).
public func firstWithin<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async -> T? {
    let (stream, continuation) = AsyncStream.makeStream(of: T?.self)
    let work = Task {
        continuation.yield(try? await operation())
        continuation.finish()
    }
    let timer = Task {
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        continuation.yield(nil)
        continuation.finish()
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    for await first in stream { return first }
    return nil
}
