import Foundation
import Logging
import NIOCore
import SQLiteNIO
import Synchronization

/// A FIFO async mutex: one holder at a time, waiters resumed in arrival order.
actor AsyncLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }

    nonisolated func withLock<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        do {
            let result = try await body()
            await unlock()
            return result
        } catch {
            await unlock()
            throw error
        }
    }
}

/// Statements on one SQLite connection (used inside and outside transactions).
struct SQLiteExecutor: SQLExecutor {
    let connection: SQLiteConnection
    var dialect: SQLDialect { .sqlite }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try refuseNUL(binds)
        let data: [SQLiteData] = binds.map { v in
            switch v {
            case .null: return .null
            case let .int(i): return .integer(SQLiteInt64(i))
            case let .double(d): return .float(d)
            case let .text(t): return .text(t)
            case let .blob(b): return .blob(ByteBuffer(bytes: b))
            }
        }
        let rows: [SQLiteRow]
        do { rows = try await connection.query(sql, data) } catch is CancellationError {
            throw CancellationError()  // the caller went away (shutdown): not a database fault
        } catch {
            throw StoreError.backend("\(error)")
        }
        return rows.map { row in
            let cols = row.columns
            return SQLRow(
                columns: cols.map(\.name),
                values: cols.map { c in
                    switch c.data {
                    case .null: return .null
                    case let .integer(i): return .int(Int64(i))
                    case let .float(d): return .double(d)
                    case let .text(t): return .text(t)
                    case var .blob(buf): return .blob(buf.readBytes(length: buf.readableBytes) ?? [])
                    }
                })
        }
    }
}

/// The embedded store: one SQLite file in WAL mode. Writes (every transaction, and any
/// statement that is not a plain `SELECT`) run on the one writer connection, serialised by
/// an async lock, each transaction `BEGIN IMMEDIATE … COMMIT`. Plain `SELECT`s outside a
/// transaction run on separate read-only connections, so reads never wait behind writes:
/// in WAL mode a reader sees the last committed state while a writer works.
public final class SQLiteStore: SQLDatabase {
    private let executor: SQLiteExecutor
    private let readers: [SQLiteExecutor]
    private let nextReader = Atomic<Int>(0)
    private let lock = AsyncLock()
    public let path: String
    public var dialect: SQLDialect { .sqlite }

    /// Read-only connections opened beside the writer.
    static let readerCount = 2

    private init(connection: SQLiteConnection, readers: [SQLiteConnection], path: String) {
        executor = SQLiteExecutor(connection: connection)
        self.readers = readers.map { SQLiteExecutor(connection: $0) }
        self.path = path
    }

    public static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        func connect() async throws -> SQLiteConnection {
            do { return try await SQLiteConnection.open(storage: .file(path: path), logger: logger) } catch {
                throw StoreError.backend("cannot open SQLite database \(path): \(error)")
            }
        }
        let writer = try await connect()
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                       "PRAGMA busy_timeout=5000"] {
            _ = try await SQLiteExecutor(connection: writer).query(pragma, [])
        }
        // An in-memory database is private to its connection: it gets no readers.
        var readers: [SQLiteConnection] = []
        if path != ":memory:" {
            for _ in 0..<readerCount {
                let reader = try await connect()
                for pragma in ["PRAGMA query_only=1", "PRAGMA busy_timeout=5000"] {
                    _ = try await SQLiteExecutor(connection: reader).query(pragma, [])
                }
                readers.append(reader)
            }
        }
        return SQLiteStore(connection: writer, readers: readers, path: path)
    }

    /// Whether `sql` only reads: it starts with `SELECT` (a `WITH` may hide a write).
    static func isPlainSelect(_ sql: String) -> Bool {
        let head = sql.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }.prefix(7)
        return String(decoding: head, as: UTF8.self).uppercased().hasPrefix("SELECT")
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        if !readers.isEmpty, Self.isPlainSelect(sql) {
            let i = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
            return try await readers[i % readers.count].query(sql, binds)
        }
        return try await lock.withLock { try await executor.query(sql, binds) }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await lock.withLock {
            _ = try await executor.query("BEGIN IMMEDIATE", [])
            do {
                let result = try await body(executor)
                _ = try await executor.query("COMMIT", [])
                return result
            } catch {
                _ = try? await executor.query("ROLLBACK", [])
                throw error
            }
        }
    }

    public func shutdown() async {
        let connections = [executor.connection] + readers.map(\.connection)
        // Close outside the caller's task: a cancelled caller must still close the file.
        await lock.withLock {
            await Task.detached { for c in connections { try? await c.close() } }.value
        }
    }
}
