import Foundation
import NIOCore
import NIOPosix
import PlatformAPI
import PlatformCore
import ServiceKit
import Store
import Synchronization
// SQLite as vendored by SQLiteNIO (its symbols carry a `sqlite_nio_` prefix; the module is
// visible through this target's SQLiteNIO dependency, it is not a product of its own).
// SQLiteNIO keeps its connection handle internal and offers no interrupt, and its build omits
// `sqlite3_progress_handler` (SQLITE_OMIT_PROGRESS_CALLBACK), so the sandbox opens its own
// read-only connections through the C API and stops statements with `sqlite3_interrupt`.
import VaporCSQLite

/// The read-only query endpoint, `POST /challenges/{id}/orm/query`. Two layers:
///
/// 1. `QueryGuard` (lexical): one SELECT, allow-listed functions, no catalogs — clear 400s.
/// 2. The database enforces read-only access on its own, so a query that slipped past the
///    guard still cannot write, leave the challenge's tables or run unbounded:
///    - PostgreSQL: `BEGIN READ ONLY`; `SET LOCAL statement_timeout`; `SET LOCAL search_path`
///      to the challenge schema only; `SET LOCAL ROLE ch_<id>_reader` (USAGE on its schema,
///      SELECT on its tables — no other schema, no platform table, no superuser-only
///      function); the transaction is always rolled back.
///    - SQLite: a `mode=ro` connection to the challenge's own file (a small pool per file,
///      see `SandboxReaders`) with `PRAGMA query_only`, no ATTACH slot, no virtual tables,
///      exactly one statement, and an authorizer that allows only SELECT, reads of the file's
///      tables and allow-listed functions (PRAGMA, writes, DDL, recursion denied). At the
///      deadline the statement is interrupted (`sqlite3_interrupt`), so a runaway query
///      stops instead of occupying the connection.
///
/// The statement always runs wrapped as `SELECT * FROM (<query>) LIMIT cap+1` (a subquery
/// cannot be anything but a query); when the result has more than `queryRowCap` rows it is
/// cut to the cap and `truncated` is set. A result (the rows kept) larger than
/// `queryResultMaxBytes` — counted per value as its text/blob bytes (blobs as hex) plus the
/// column name and a fixed overhead, roughly its JSON size — is refused with 400
/// `query_result_too_large` rather than truncated: SQLite stops reading at that point (and no
/// single string or blob may exceed the cap, even an intermediate one); PostgreSQL's fetch
/// is bounded by the row cap and the statement timeout and is checked after it.
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
        let maxBytes = limits.queryResultMaxBytes
        let wrapped = "SELECT * FROM (\n\(checked.sql)\n) AS evalnet_query LIMIT \(cap + 1)"
        let result: SandboxResult
        switch backend {
        case let .postgres(pg):
            let rows = try await Self.runPostgres(pg, schema: c.dataName, sql: wrapped, binds: binds,
                                                  timeoutMs: limits.queryTimeoutMs)
            result = SandboxResult(rows: Array(rows.prefix(cap)), truncated: rows.count > cap)
            var size = ResultSize(limit: maxBytes)
            for row in result.rows {
                for (name, value) in zip(row.columns, row.values) where !size.add(column: name, payload: ResultSize.payload(value)) {
                    throw Self.resultTooLarge(maxBytes)
                }
            }
        case .sqlite:
            guard let files else { throw APIError(.internalServerError, ErrorCode.internalError, "no challenge files") }
            let file = try await files.file(c.dataName)
            result = try await Self.runSQLite(file, sql: wrapped, binds: binds, timeoutMs: limits.queryTimeoutMs,
                                              rowCap: cap, maxBytes: maxBytes)
        }
        let kept = result.rows.map { row in
            var out: [String: JSONValue] = [:]
            for (name, value) in zip(row.columns, row.values) where out[name] == nil { out[name] = Self.json(value) }
            return out
        }
        return OrmQueryResponse(rows: kept, rowCount: kept.count, truncated: result.truncated)
    }

    static func resultTooLarge(_ maxBytes: Int) -> APIError {
        APIError.badRequest(PlatformErrorCode.queryResultTooLarge,
                            "the query result exceeds \(maxBytes) bytes; select fewer rows or columns")
    }

    static func json(_ v: SQLValue) -> JSONValue {
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
                    // A one-off statement: planned for its values, not kept as one plan for all
                    // (the pooled sessions' default, `PostgresStore.sessionSettings`).
                    try await ex.execute("SET LOCAL plan_cache_mode = force_custom_plan")
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

    /// Runs one statement on a read-only connection of the challenge's file: at most
    /// `rowCap` rows (`truncated` when there were more), at most `maxBytes` of result, and
    /// interrupted at `timeoutMs` (waiting for a free connection counts against it).
    static func runSQLite(_ file: ChallengeFile, sql: String, binds: [SQLValue], timeoutMs: Int, rowCap: Int,
                          maxBytes: Int) async throws -> SandboxResult
    {
        let budget = SandboxBudget(deadline: .now + .milliseconds(max(1, timeoutMs)), rowCap: max(0, rowCap),
                                   maxBytes: max(1, maxBytes))
        do {
            return try await file.readers.run(sql: sql, binds: binds, budget: budget)
        } catch let failure as SandboxFailure {
            switch failure {
            case .timedOut:
                throw APIError.badRequest(PlatformErrorCode.queryTimeout,
                                          "query exceeded the time limit of \(timeoutMs) ms and was stopped")
            case .tooLarge:
                throw resultTooLarge(maxBytes)
            case .notOneStatement:
                throw APIError.badRequest(PlatformErrorCode.queryRejected, "exactly one statement is allowed")
            case .cancelled:
                throw CancellationError()
            case .closed:
                throw APIError(.serviceUnavailable, ErrorCode.internalError, "the query sandbox is shutting down")
            case let .database(code, message):
                if code == SQLITE_AUTH || code == SQLITE_READONLY || code == SQLITE_PERM {
                    throw APIError.badRequest(PlatformErrorCode.queryForbidden, "query refused by the database: \(message)")
                }
                throw mapDatabaseError(message)
            }
        }
    }
}

/// Rows of a sandbox query, already cut to the row cap.
struct SandboxResult: Sendable {
    var rows: [SQLRow]
    var truncated: Bool
}

/// Limits of one sandbox statement.
struct SandboxBudget: Sendable {
    var deadline: ContinuousClock.Instant
    var rowCap: Int
    var maxBytes: Int
}

/// How a sandbox statement failed (mapped to API errors by `runSQLite`).
enum SandboxFailure: Error, Sendable {
    case timedOut
    case cancelled
    case tooLarge
    case notOneStatement
    case closed
    case database(code: Int32, message: String)
}

/// What a result counts against `queryResultMaxBytes`: per value, the bytes of its text (a
/// blob as its `0x…` hex form), its column name and a fixed overhead — roughly the JSON size.
struct ResultSize {
    static let perValueOverhead = 16
    let limit: Int
    private(set) var used = 0

    init(limit: Int) { self.limit = limit }

    /// False once the total exceeds the limit.
    mutating func add(column: String, payload: Int) -> Bool { add(columnBytes: column.utf8.count, payload: payload) }

    mutating func add(columnBytes: Int, payload: Int) -> Bool {
        used += Self.perValueOverhead + columnBytes + payload
        return used <= limit
    }

    static func payload(_ value: SQLValue) -> Int {
        switch value {
        case .null, .int, .double: return 0
        case let .text(t): return t.utf8.count
        case let .blob(b): return blobPayload(b.count)
        }
    }

    static func blobPayload(_ count: Int) -> Int { 2 + 2 * count }
}

// MARK: SQLite sandbox connections

/// The `sqlite3*` of a sandbox connection. SQLite is built thread-safe (`SQLITE_THREADSAFE=1`)
/// and the connection is opened with `SQLITE_OPEN_FULLMUTEX`, so SQLite serializes calls on
/// it; besides, `SandboxReaders` lends a connection to one query at a time, and the only call
/// made from another thread meanwhile is `sqlite3_interrupt`, which is meant for that.
struct SQLiteHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// One read-only connection to a challenge file, configured for the sandbox.
final class SandboxConnection: Sendable {
    let handle: SQLiteHandle

    private init(_ handle: SQLiteHandle) { self.handle = handle }

    static func open(path: String) throws -> SandboxConnection {
        let encoded = path.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "?", with: "%3f")
            .replacingOccurrences(of: "#", with: "%23")
        var db: OpaquePointer?
        let rc = sqlite_nio_sqlite3_open_v2("file:\(encoded)?mode=ro", &db,
                                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open"
            sqlite_nio_sqlite3_close_v2(db)
            throw SandboxFailure.database(code: rc, message: message)
        }
        let connection = SandboxConnection(SQLiteHandle(raw: db))
        do { try connection.configure() } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private func configure() throws {
        let db = handle.raw
        // Before the authorizer, which denies every PRAGMA.
        try check(sqlite_nio_sqlite3_exec(db, "PRAGMA query_only = 1; PRAGMA trusted_schema = 0", nil, nil, nil))
        sqlite_nio_sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0)
        try check(sqlite_nio_sqlite3_set_authorizer(db, { _, action, p1, p2, database, _ in
            SQLiteSandboxPolicy.allows(action: action, p1.map { String(cString: $0) }, p2.map { String(cString: $0) },
                                       database: database.map { String(cString: $0) }) ? SQLITE_OK : SQLITE_DENY
        }, nil))
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw failure(rc) }
    }

    private func failure(_ rc: Int32) -> SandboxFailure {
        switch rc & 0xFF {
        case SQLITE_TOOBIG: return .tooLarge
        case SQLITE_INTERRUPT: return .timedOut
        default:
            let message = sqlite_nio_sqlite3_errmsg(handle.raw).map { String(cString: $0) } ?? "error \(rc)"
            return .database(code: rc & 0xFF, message: message)
        }
    }

    /// Stops the running statement (callable from any thread; a no-op between statements).
    func interrupt() { sqlite_nio_sqlite3_interrupt(handle.raw) }

    func close() { sqlite_nio_sqlite3_close_v2(handle.raw) }

    /// Runs one read-only statement on the calling thread (a thread-pool thread). Checks the
    /// deadline and `cancelled` before every step; a long step is stopped by `interrupt()`.
    func execute(_ sql: String, binds: [SQLValue], budget: SandboxBudget, cancelled: () -> Bool) throws -> SandboxResult {
        let db = handle.raw
        func stopReason() -> SandboxFailure? {
            if cancelled() { return .cancelled }
            if ContinuousClock.now >= budget.deadline { return .timedOut }
            return nil
        }
        func failure(_ rc: Int32) -> SandboxFailure {
            if rc & 0xFF == SQLITE_INTERRUPT, cancelled() { return .cancelled }
            return self.failure(rc)
        }
        if let stop = stopReason() { throw stop }
        // A writer holding the file briefly: wait for it, but not past the deadline.
        let remainingMs = min(max((budget.deadline - .now) / .milliseconds(1), 1), 3_600_000)
        sqlite_nio_sqlite3_busy_timeout(db, Int32(remainingMs.rounded(.up)))
        // No string or blob — returned or intermediate — may be larger than the result cap.
        sqlite_nio_sqlite3_limit(db, SQLITE_LIMIT_LENGTH, Int32(clamping: budget.maxBytes))

        var statement: OpaquePointer?
        let (prepared, trailing) = sql.withCString { text -> (Int32, Bool) in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite_nio_sqlite3_prepare_v3(db, text, -1, UInt32(SQLITE_PREPARE_NO_VTAB), &statement, &tail)
            let rest = tail.map { String(cString: $0) } ?? ""
            return (rc, !rest.allSatisfy(\.isWhitespace))
        }
        guard prepared == SQLITE_OK else { throw failure(prepared) }
        guard let statement else { throw SandboxFailure.notOneStatement }
        defer { sqlite_nio_sqlite3_finalize(statement) }
        // A second statement after the first (a `;` the lexical guard did not see) is refused
        // rather than ignored: it would otherwise end the subquery wrapper early.
        if trailing { throw SandboxFailure.notOneStatement }
        guard sqlite_nio_sqlite3_stmt_readonly(statement) != 0 else {
            throw SandboxFailure.database(code: SQLITE_READONLY, message: "the statement is not read-only")
        }
        let parameters = Int(sqlite_nio_sqlite3_bind_parameter_count(statement))
        guard parameters == binds.count else {
            throw SandboxFailure.database(code: SQLITE_RANGE,
                                          message: "the query has \(parameters) parameters but \(binds.count) were given")
        }
        for (i, value) in binds.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite_nio_sqlite3_bind_null(statement, index)
            case let .int(v): rc = sqlite_nio_sqlite3_bind_int64(statement, index, v)
            case let .double(v): rc = sqlite_nio_sqlite3_bind_double(statement, index, v)
            case let .text(v):
                rc = sqlite_nio_sqlite3_bind_text64(statement, index, v, UInt64(v.utf8.count), Self.transient,
                                                    UInt8(SQLITE_UTF8))
            case let .blob(v):
                rc = v.withUnsafeBytes {
                    sqlite_nio_sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), Self.transient)
                }
            }
            guard rc == SQLITE_OK else { throw failure(rc) }
        }

        let count = sqlite_nio_sqlite3_column_count(statement)
        let names = (0..<count).map { i in sqlite_nio_sqlite3_column_name(statement, i).map { String(cString: $0) } ?? "" }
        let nameBytes = names.map(\.utf8.count)
        var size = ResultSize(limit: budget.maxBytes)
        var rows: [SQLRow] = []
        while true {
            if let stop = stopReason() { throw stop }
            let rc = sqlite_nio_sqlite3_step(statement)
            if rc == SQLITE_DONE { return SandboxResult(rows: rows, truncated: false) }
            guard rc == SQLITE_ROW else { throw failure(rc) }
            // One row past the cap only tells that there are more.
            if rows.count >= budget.rowCap { return SandboxResult(rows: rows, truncated: true) }
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for i in 0..<count {
                let type = sqlite_nio_sqlite3_column_type(statement, i)
                // Measured before anything is copied (`column_text` first, then `column_bytes`).
                let text = type == SQLITE_TEXT ? sqlite_nio_sqlite3_column_text(statement, i) : nil
                let blob = type == SQLITE_BLOB ? sqlite_nio_sqlite3_column_blob(statement, i) : nil
                let length = type == SQLITE_TEXT || type == SQLITE_BLOB ? Int(sqlite_nio_sqlite3_column_bytes(statement, i)) : 0
                let payload = type == SQLITE_BLOB ? ResultSize.blobPayload(length) : length
                guard size.add(columnBytes: nameBytes[Int(i)], payload: payload) else { throw SandboxFailure.tooLarge }
                switch type {
                case SQLITE_INTEGER: values.append(.int(sqlite_nio_sqlite3_column_int64(statement, i)))
                case SQLITE_FLOAT: values.append(.double(sqlite_nio_sqlite3_column_double(statement, i)))
                case SQLITE_TEXT:
                    values.append(.text(text.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""))
                case SQLITE_BLOB:
                    values.append(.blob(blob.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []))
                default: values.append(.null)
                }
            }
            rows.append(SQLRow(columns: names, values: values))
        }
    }

    /// `SQLITE_TRANSIENT`: SQLite copies a bound value before the call returns.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}

/// Links one query to the connection running it, so the deadline watchdog and task
/// cancellation interrupt that statement — never a later query's on the same connection.
final class SandboxLease: Sendable {
    private struct State {
        var connection: SandboxConnection?
        var cancelled = false
    }

    private let state = Mutex(State())

    func attach(_ connection: SandboxConnection) { state.withLock { $0.connection = connection } }
    func detach() { state.withLock { $0.connection = nil } }
    func interrupt() { state.withLock { $0.connection?.interrupt() } }

    func cancel() {
        state.withLock { s in
            s.cancelled = true
            s.connection?.interrupt()
        }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }
}

/// The sandbox's read-only connections to one challenge file: at most `limit` queries of
/// the challenge run at once (later ones wait for a free connection, at most until their
/// deadline), on a thread pool shared by all challenge files. Connections are opened on first
/// use and kept for reuse. One challenge can thus neither starve another (a query holds a
/// connection and a thread at most until its deadline, then it is interrupted) nor occupy
/// every thread.
final class SandboxReaders: Sendable {
    static let defaultLimit = 2

    private struct State {
        var idle: [SandboxConnection] = []
        var closed = false
    }

    let path: String
    private let threads: NIOThreadPool
    private let slots: SandboxSlots
    private let state = Mutex(State())

    init(path: String, threads: NIOThreadPool, limit: Int = SandboxReaders.defaultLimit) {
        self.path = path
        self.threads = threads
        slots = SandboxSlots(limit: limit)
    }

    /// Queries of this file running or about to run (tests).
    var inUse: Int { slots.inUse }

    func run(sql: String, binds: [SQLValue], budget: SandboxBudget) async throws -> SandboxResult {
        guard await slots.acquire(until: budget.deadline) else {
            try Task.checkCancellation()
            throw SandboxFailure.timedOut
        }
        defer { slots.release() }
        let lease = SandboxLease()
        let watchdog = Task {
            do { try await Task.sleep(until: budget.deadline, clock: .continuous) } catch { return }
            // Repeated: SQLite clears an interrupt that arrives before the statement's first step.
            while !Task.isCancelled {
                lease.interrupt()
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { watchdog.cancel() }
        return try await withTaskCancellationHandler {
            try await threads.runIfActive { [self] in
                let connection = try checkOut()
                lease.attach(connection)
                defer {
                    lease.detach()
                    checkIn(connection)
                }
                return try connection.execute(sql, binds: binds, budget: budget, cancelled: { lease.isCancelled })
            }
        } onCancel: {
            lease.cancel()
        }
    }

    private enum Pick: Sendable {
        case closed
        case reuse(SandboxConnection)
        case open
    }

    private func checkOut() throws -> SandboxConnection {
        let pick = state.withLock { s -> Pick in
            if s.closed { return .closed }
            if let c = s.idle.popLast() { return .reuse(c) }
            return .open
        }
        switch pick {
        case .closed: throw SandboxFailure.closed
        case let .reuse(c): return c
        case .open: return try SandboxConnection.open(path: path)
        }
    }

    private func checkIn(_ connection: SandboxConnection) {
        let keep = state.withLock { s -> Bool in
            if s.closed { return false }
            s.idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes idle connections; a connection still in use is closed when its query returns.
    func close() {
        let idle = state.withLock { s -> [SandboxConnection] in
            s.closed = true
            defer { s.idle = [] }
            return s.idle
        }
        for c in idle { c.close() }
    }
}

/// A counting semaphore for async callers: at most `limit` holders; waiters are served in
/// arrival order and give up at their deadline or when their task is cancelled (no polling).
final class SandboxSlots: Sendable {
    private enum Ticket {
        case queued
        case waiting(CheckedContinuation<Bool, Never>)
        case decided(Bool)
    }

    private struct State {
        var free: Int
        var next: UInt64 = 0
        var queue: [UInt64] = []
        var tickets: [UInt64: Ticket] = [:]
    }

    let limit: Int
    private let state: Mutex<State>

    init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State(free: max(1, limit)))
    }

    var inUse: Int { limit - state.withLock { $0.free } }

    /// True when a slot was taken (give it back with `release`), false at the deadline or on
    /// cancellation.
    func acquire(until deadline: ContinuousClock.Instant) async -> Bool {
        let ticket = state.withLock { s -> UInt64? in
            if s.free > 0, s.queue.isEmpty {
                s.free -= 1
                return nil
            }
            s.next &+= 1
            s.queue.append(s.next)
            s.tickets[s.next] = .queued
            return s.next
        }
        guard let ticket else { return true }
        let timer = Task {
            do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
            self.giveUp(ticket)
        }
        let granted = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let decided = state.withLock { s -> Bool? in
                    if case let .decided(d)? = s.tickets[ticket] { return d }
                    s.tickets[ticket] = .waiting(continuation)
                    return nil
                }
                if let decided { continuation.resume(returning: decided) }
            }
        } onCancel: {
            self.giveUp(ticket)
        }
        timer.cancel()
        state.withLock { _ = $0.tickets.removeValue(forKey: ticket) }
        return granted
    }

    func release() {
        let handedTo = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            while !s.queue.isEmpty {
                let next = s.queue.removeFirst()
                switch s.tickets[next] {
                case .queued?:
                    s.tickets[next] = .decided(true)
                    return nil
                case let .waiting(c)?:
                    s.tickets[next] = .decided(true)
                    return c
                case .decided?, nil:
                    continue
                }
            }
            s.free += 1
            return nil
        }
        handedTo?.resume(returning: true)
    }

    /// A waiter that has not been served yet gives up (deadline or cancellation).
    private func giveUp(_ ticket: UInt64) {
        let waiting = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard let t = s.tickets[ticket] else { return nil }
            switch t {
            case .decided: return nil
            case .queued:
                s.tickets[ticket] = .decided(false)
                s.queue.removeAll { $0 == ticket }
                return nil
            case let .waiting(c):
                s.tickets[ticket] = .decided(false)
                s.queue.removeAll { $0 == ticket }
                return c
            }
        }
        waiting?.resume(returning: false)
    }
}
