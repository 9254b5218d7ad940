import Foundation
import NIOCore
import PlatformAPI
import PlatformCore
import SQLiteNIO
import ServiceKit
import Store
import Synchronization

/// The read-only query endpoint, `POST /challenges/{id}/orm/query`. Two layers:
///
/// 1. `QueryGuard` (lexical): one SELECT, allow-listed functions, no catalogs — clear 400s.
/// 2. The database enforces read-only access on its own, so a query that slipped past the
///    guard still cannot write, leave the challenge's tables or run unbounded:
///    - PostgreSQL: `BEGIN READ ONLY`; `SET LOCAL statement_timeout`; `SET LOCAL search_path`
///      to the challenge schema only; `SET LOCAL ROLE ch_<id>_reader` (USAGE on its schema,
///      SELECT on its tables — no other schema, no platform table, no superuser-only
///      function); the transaction is always rolled back.
///    - SQLite: a separate `mode=ro` connection to the challenge's own file with
///      `PRAGMA query_only`, and an authorizer that allows only SELECT, reads of the file's
///      tables and allow-listed functions (ATTACH, PRAGMA, writes, DDL, recursion denied).
///
/// The statement always runs wrapped as `SELECT * FROM (<query>) LIMIT cap+1` (a subquery
/// cannot be anything but a query); when the result has more than `queryRowCap` rows it is
/// cut to the cap and `truncated` is set.
extension ChallengeDataManager {

    func runQuery(challenge c: ChallengeRow, request: OrmQueryRequest, limits: PlatformLimits,
                  lexicalGuard: Bool = true) async throws -> OrmQueryResponse
    {
        let params = request.params ?? []
        guard params.count <= limits.queryMaxParams else {
            throw APIError.badRequest(PlatformErrorCode.queryRejected, "at most \(limits.queryMaxParams) params are allowed")
        }
        let checked: CheckedQuery
        if lexicalGuard {
            do { checked = try QueryGuard(maxLength: limits.queryMaxLength).check(request.query) } catch {
                throw APIError.badRequest(PlatformErrorCode.queryRejected, "query rejected: \(error.reason)")
            }
            guard checked.placeholders == params.count else {
                throw APIError.badRequest(
                    PlatformErrorCode.queryRejected,
                    "query has \(checked.placeholders) '?' placeholders but \(params.count) params were given")
            }
        } else {
            var text = request.query.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasSuffix(";") { text.removeLast() }
            checked = CheckedQuery(sql: text, placeholders: params.count)
        }
        let binds = try params.enumerated().map { i, p -> SQLValue in
            switch p {
            case .null: return .null
            case let .bool(b): return .int(b ? 1 : 0)
            case let .number(n):
                guard n.isFinite else { throw APIError.badRequest(PlatformErrorCode.queryRejected, "params[\(i)] is not finite") }
                if n.rounded() == n, abs(n) < 9.0e15 { return .int(Int64(n)) }
                return .double(n)
            case let .string(s): return .text(s)
            case .array, .object:
                throw APIError.badRequest(PlatformErrorCode.queryRejected, "params[\(i)] must be a string, number, boolean or null")
            }
        }
        let cap = limits.queryRowCap
        let wrapped = "SELECT * FROM (\n\(checked.sql)\n) AS evalnet_query LIMIT \(cap + 1)"
        let rows: [SQLRow]
        switch backend {
        case let .postgres(pg):
            rows = try await Self.runPostgres(pg, schema: c.dataName, sql: wrapped, binds: binds,
                                              timeoutMs: limits.queryTimeoutMs)
        case .sqlite:
            guard let files else { throw APIError(.internalServerError, "internal_error", "no challenge files") }
            let file = try await files.file(c.dataName)
            rows = try await Self.runSQLite(file, gate: sandboxGate, sql: wrapped, binds: binds, timeoutMs: limits.queryTimeoutMs)
        }
        let truncated = rows.count > cap
        let kept = rows.prefix(cap).map { row in
            var out: [String: PlatformJSON] = [:]
            for (name, value) in zip(row.columns, row.values) where out[name] == nil { out[name] = Self.json(value) }
            return out
        }
        return OrmQueryResponse(rows: kept, rowCount: kept.count, truncated: truncated)
    }

    static func json(_ v: SQLValue) -> PlatformJSON {
        switch v {
        case .null: return .null
        case let .int(i): return .number(Double(i))
        case let .double(d): return d.isFinite ? .number(d) : .null
        case let .text(t): return .string(t)
        case let .blob(b): return .string("0x" + b.map { String(format: "%02x", $0) }.joined())
        }
    }

    static func runPostgres(_ pg: PostgresStore, schema: String, sql: String, binds: [SQLValue], timeoutMs: Int)
        async throws -> [SQLRow]
    {
        let role = readerRole(schema)
        do {
            return try await pg.withConnection { ex in
                try await ex.execute("BEGIN READ ONLY")
                do {
                    try await ex.execute("SET LOCAL statement_timeout = \(max(1, timeoutMs))")
                    try await ex.execute("SET LOCAL search_path TO \"\(schema)\"")
                    try await ex.execute("SET LOCAL ROLE \"\(role)\"")
                    let rows = try await ex.query(sql, binds)
                    try await ex.execute("ROLLBACK")
                    return rows
                } catch {
                    _ = try? await ex.execute("ROLLBACK")
                    throw error
                }
            }
        } catch let error as StoreError {
            throw mapDatabaseError("\(error)")
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.badRequest(PlatformErrorCode.queryFailed, "query failed: a result column has an unsupported type")
        }
    }

    static func mapDatabaseError(_ text: String) -> APIError {
        let message = text.replacingOccurrences(of: "database error: ", with: "")
        if message.hasPrefix("57014") || message.contains("statement timeout") {
            return APIError.badRequest(PlatformErrorCode.queryTimeout, "query exceeded the time limit and was cancelled")
        }
        if message.hasPrefix("42501") || message.hasPrefix("25006") || message.contains("not authorized")
            || message.contains("readonly") || message.contains("read-only") || message.contains("prohibited")
        {
            return APIError.badRequest(PlatformErrorCode.queryForbidden, "query refused by the database: \(message)")
        }
        return APIError.badRequest(PlatformErrorCode.queryFailed, "query failed: \(message)")
    }

    static func runSQLite(_ file: ChallengeFile, gate sandboxGate: SandboxGate, sql: String, binds: [SQLValue], timeoutMs: Int) async throws -> [SQLRow] {
        let data: [SQLiteData] = binds.map { v in
            switch v {
            case .null: return .null
            case let .int(i): return .integer(Int(i))
            case let .double(d): return .float(d)
            case let .text(t): return .text(t)
            case let .blob(b): return .blob(ByteBuffer(bytes: b))
            }
        }
        // SQLite cannot be interrupted through SQLiteNIO: one sandbox query runs at a time on
        // the reader's own thread, and a caller waits at most the timeout for its turn or result.
        let deadline = ContinuousClock.now + .milliseconds(max(1, timeoutMs))
        guard await sandboxGate.acquire(until: deadline) else {
            throw APIError.badRequest(PlatformErrorCode.queryTimeout, "another query is still running; retry later")
        }
        let reader = file.reader
        let outcome = await Deadline.race(until: deadline) {
            defer { sandboxGate.release() }
            return try await reader.query(sql, data)
        }
        switch outcome {
        case .timedOut:
            throw APIError.badRequest(PlatformErrorCode.queryTimeout, "query exceeded the time limit")
        case let .failed(error):
            if let e = error as? SQLiteError { throw mapDatabaseError(e.message) }
            throw mapDatabaseError("\(error)")
        case let .finished(rows):
            return rows.map { row in
                let cols = row.columns
                return SQLRow(columns: cols.map(\.name), values: cols.map { c in
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
}

/// A try-with-deadline mutual exclusion (the SQLite sandbox runs one query at a time).
final class SandboxGate: Sendable {
    private let busy = Mutex(false)

    func acquire(until deadline: ContinuousClock.Instant) async -> Bool {
        while true {
            if busy.withLock({ b in
                if b { return false }
                b = true
                return true
            }) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    func release() { busy.withLock { $0 = false } }
}

/// A flag that can be claimed once.
final class OnceFlag: Sendable {
    private let state = Mutex(false)

    func claim() -> Bool {
        state.withLock { d in
            if d { return false }
            d = true
            return true
        }
    }
}

/// Runs work in its own task and answers at the deadline even if the work (which cannot be
/// cancelled) is still running.
enum Deadline {
    enum Outcome<T: Sendable>: Sendable {
        case finished(T)
        case failed(any Error)
        case timedOut
    }

    static func race<T: Sendable>(until deadline: ContinuousClock.Instant,
                                  _ work: @escaping @Sendable () async throws -> T) async -> Outcome<T> {
        let flag = OnceFlag()
        return await withCheckedContinuation { (cont: CheckedContinuation<Outcome<T>, Never>) in
            let timer = Task {
                do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
                if flag.claim() { cont.resume(returning: .timedOut) }
            }
            Task {
                let outcome: Outcome<T>
                do { outcome = .finished(try await work()) } catch { outcome = .failed(error) }
                timer.cancel()
                if flag.claim() { cont.resume(returning: outcome) }
            }
        }
    }
}
