import Foundation
import Logging
import NIOCore
import SQLiteNIO

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
        do { rows = try await connection.query(sql, data) } catch {
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

/// The embedded store: one SQLite file in WAL mode; writers are serialised by an async
/// lock and every transaction is `BEGIN IMMEDIATE … COMMIT`.
public final class SQLiteStore: SQLDatabase {
    private let executor: SQLiteExecutor
    private let lock = AsyncLock()
    public let path: String
    public var dialect: SQLDialect { .sqlite }

    private init(connection: SQLiteConnection, path: String) {
        executor = SQLiteExecutor(connection: connection)
        self.path = path
    }

    public static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let connection: SQLiteConnection
        do { connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger) } catch {
            throw StoreError.backend("cannot open SQLite database \(path): \(error)")
        }
        let store = SQLiteStore(connection: connection, path: path)
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                       "PRAGMA busy_timeout=5000"] {
            _ = try await store.executor.query(pragma, [])
        }
        return store
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await lock.withLock { try await executor.query(sql, binds) }
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
        let connection = executor.connection
        // Close outside the caller's task: a cancelled caller must still close the file.
        await lock.withLock { await Task.detached { try? await connection.close() }.value }
    }
}
