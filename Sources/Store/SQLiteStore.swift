import Foundation
import Logging
import Synchronization
// SQLite as vendored by SQLiteNIO (its symbols carry a `sqlite_nio_` prefix). The store talks
// to the C API directly: a statement runs on the calling thread, with no hop to a thread
// pool and back, and prepared statements are cached per connection.
import VaporCSQLite

/// An async mutex for the writer connection: one holder at a time. Taking a free lock and
/// releasing it are a few instructions under a `Mutex` (no actor hop). A release wakes the
/// longest waiter but does not hand the lock over: a task already running may take it first,
/// and the woken one, if it loses, waits again at the head of the line. Handing the lock to a
/// task that is not running yet left the writer idle until a thread picked that task up — on
/// a machine whose cores are busy serving requests, most of each hand-over.
final class AsyncLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
        var isEmpty: Bool { head == waiters.count }
        mutating func popFirst() -> CheckedContinuation<Void, Never>? {
            guard !isEmpty else { return nil }
            let first = waiters[head]
            head += 1
            if head == waiters.count { waiters.removeAll(keepingCapacity: true); head = 0 }
            return first
        }
        mutating func enqueue(_ c: CheckedContinuation<Void, Never>, atFront: Bool) {
            if atFront {
                if head > 0 { head -= 1; waiters[head] = c } else { waiters.insert(c, at: 0) }
            } else {
                waiters.append(c)
            }
        }
    }
    private let state = Mutex(State())

    func lock() async {
        var woken = false
        while true {
            let taken = state.withLock { s in
                if s.held { return false }
                s.held = true
                return true
            }
            if taken { return }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                // Released between the attempt and here: try again at once.
                let retry = state.withLock { s in
                    if !s.held { return true }
                    s.enqueue(c, atFront: woken)
                    return false
                }
                if retry { c.resume() }
            }
            woken = true
        }
    }

    func unlock() {
        let next = state.withLock { s in
            s.held = false
            return s.popFirst()
        }
        next?.resume()
    }

    func withLock<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}

/// One SQLite connection and its prepared statements. Not thread-safe on its own: the store
/// lends it to one caller at a time (the writer under `AsyncLock`, each reader under its own
/// mutex), and the connection is opened in multi-thread mode (`SQLITE_OPEN_NOMUTEX`), which is
/// safe exactly when no two threads use it at once.
final class SQLiteConnection: @unchecked Sendable {
    private let db: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    private var closed = false
    /// Distinct statement texts kept prepared (texts with `IN (?, ?, …)` lists of varying
    /// length are distinct); past this the cache is emptied and starts over.
    static let statementCacheLimit = 512

    private init(_ db: OpaquePointer) { self.db = db }

    static func open(path: String, readOnly: Bool) throws -> SQLiteConnection {
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "error \(rc)"
            sqlite_nio_sqlite3_close_v2(handle)
            throw StoreError.backend("cannot open SQLite database \(path): \(message)")
        }
        sqlite_nio_sqlite3_extended_result_codes(handle, 1)
        return SQLiteConnection(handle)
    }

    private func error(_ rc: Int32) -> StoreError {
        let message = sqlite_nio_sqlite3_errmsg(db).map { String(cString: $0) } ?? "error \(rc)"
        return .backend("SQLite error \(rc): \(message)")
    }

    /// The prepared statement for `sql` (from the cache when it was seen before), and whether
    /// text follows its first statement.
    private func prepared(_ sql: String) throws -> (statement: OpaquePointer, more: Bool) {
        if let cached = statements[sql] { return (cached, false) }
        var statement: OpaquePointer?
        var more = false
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite_nio_sqlite3_prepare_v3(db, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail)
            if let tail { more = String(cString: tail).contains { !$0.isWhitespace && $0 != ";" } }
            return rc
        }
        guard rc == SQLITE_OK, let statement else { throw error(rc) }
        if !more {
            if statements.count >= Self.statementCacheLimit { clearCache() }
            statements[sql] = statement
        }
        return (statement, more)
    }

    private func clearCache() {
        for s in statements.values { sqlite_nio_sqlite3_finalize(s) }
        statements.removeAll(keepingCapacity: true)
    }

    /// Runs one statement with `binds` bound in order and returns its rows. A text of several
    /// statements (a migration) runs them all, in order, and returns the last one's rows.
    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        guard !closed else { throw StoreError.backend("the SQLite connection is closed (the service is shutting down)") }
        try refuseNUL(binds)
        let (statement, more) = try prepared(sql)
        guard more else {
            // Reset only: every parameter is bound again on the next use, and clearing the
            // bindings would expire (re-prepare) any statement whose plan SQLite tied to them.
            defer { sqlite_nio_sqlite3_reset(statement) }
            return try run(statement, binds)
        }
        sqlite_nio_sqlite3_finalize(statement)
        guard binds.isEmpty else { throw StoreError.backend("binds are not allowed in a text of several statements") }
        let rc = sqlite_nio_sqlite3_exec(db, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
        return []
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func run(_ statement: OpaquePointer, _ binds: [SQLValue]) throws -> [SQLRow] {
        let expected = Int(sqlite_nio_sqlite3_bind_parameter_count(statement))
        guard expected == binds.count else {
            throw StoreError.backend("statement takes \(expected) values, \(binds.count) given")
        }
        for (i, value) in binds.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite_nio_sqlite3_bind_null(statement, index)
            case let .int(v): rc = sqlite_nio_sqlite3_bind_int64(statement, index, v)
            case let .double(v): rc = sqlite_nio_sqlite3_bind_double(statement, index, v)
            case let .text(t): rc = sqlite_nio_sqlite3_bind_text(statement, index, t, -1, Self.transient)
            case let .blob(b):
                rc = b.withUnsafeBytes { sqlite_nio_sqlite3_bind_blob(statement, index, $0.baseAddress, Int32(b.count), Self.transient) }
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
        var rows: [SQLRow] = []
        var columns: [String]?
        while true {
            let rc = sqlite_nio_sqlite3_step(statement)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw error(rc) }
            let count = Int(sqlite_nio_sqlite3_column_count(statement))
            let names = columns ?? (0..<count).map { i in
                sqlite_nio_sqlite3_column_name(statement, Int32(i)).map { String(cString: $0) } ?? ""
            }
            columns = names
            var values: [SQLValue] = []
            values.reserveCapacity(count)
            for i in 0..<Int32(count) {
                switch sqlite_nio_sqlite3_column_type(statement, i) {
                case SQLITE_INTEGER: values.append(.int(sqlite_nio_sqlite3_column_int64(statement, i)))
                case SQLITE_FLOAT: values.append(.double(sqlite_nio_sqlite3_column_double(statement, i)))
                case SQLITE_TEXT:
                    let n = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
                    if let p = sqlite_nio_sqlite3_column_text(statement, i) {
                        values.append(.text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)))
                    } else {
                        values.append(.text(""))
                    }
                case SQLITE_BLOB:
                    let n = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
                    if let p = sqlite_nio_sqlite3_column_blob(statement, i), n > 0 {
                        values.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: n))))
                    } else {
                        values.append(.blob([]))
                    }
                default: values.append(.null)
                }
            }
            rows.append(SQLRow(columns: names, values: values))
        }
    }

    /// Reports the WAL's length in pages to `watch` after each commit (and turns off SQLite's
    /// own checkpoint on commit, which a WAL hook replaces).
    func watchWAL(_ watch: WALWatch) {
        let hook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32 = { context, _, _, pages in
            if let context { Unmanaged<WALWatch>.fromOpaque(context).takeUnretainedValue().pages.store(pages, ordering: .relaxed) }
            return SQLITE_OK
        }
        _ = sqlite_nio_sqlite3_wal_hook(db, hook, Unmanaged.passUnretained(watch).toOpaque())
    }

    /// Whether a transaction is open on this connection (SQLite rolls one back by itself
    /// after some errors: a full disk, an I/O error).
    var inTransaction: Bool { !closed && sqlite_nio_sqlite3_get_autocommit(db) == 0 }

    func close() {
        guard !closed else { return }
        closed = true
        clearCache()
        sqlite_nio_sqlite3_close_v2(db)
    }
}

/// How far the checkpoint thread's last checkpoint got: the WAL's length then and the pages it
/// had copied into the database file (`PRAGMA wal_checkpoint`'s `log` and `checkpointed`).
final class Backfill: Sendable {
    private let state = Mutex((log: Int32(0), copied: Int32(0)))

    func record(_ row: SQLRow) {
        guard let log = try? row.int("log"), let copied = try? row.int("checkpointed"), log >= 0, copied >= 0,
              log <= Int64(Int32.max), copied <= log
        else { return }
        state.withLock { $0 = (Int32(log), Int32(copied)) }
    }

    /// Whether the last checkpoint copied all but `SQLiteStore.catchUpPages` of a WAL now
    /// `pages` long (a checkpoint of an earlier, longer WAL — before it started over — does not count).
    func caughtUp(_ pages: Int32) -> Bool {
        state.withLock { s in pages >= s.log && pages - s.copied <= SQLiteStore.catchUpPages }
    }
}

/// The WAL's length in pages after the writer's last commit.
final class WALWatch: Sendable {
    let pages = Atomic<Int32>(0)
}

/// Statements on the writer connection, by a caller that holds the writer lock.
struct SQLiteExecutor: SQLExecutor {
    let connection: SQLiteConnection
    var dialect: SQLDialect { .sqlite }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try connection.query(sql, binds)
    }
}

/// The embedded store: one SQLite file in WAL mode. Writes (every transaction, and any
/// statement that is not a plain `SELECT`) run on the one writer connection, serialised by
/// an async lock; a transaction's code runs on the writer's own thread (`WriterThread`), its
/// statements one after another with prepared statements reused, and the next transaction
/// follows on that thread without a hand-over to another. Group commit: a transaction is a savepoint
/// inside a `BEGIN IMMEDIATE … COMMIT`; when it ends while another caller waits for the
/// writer, that caller's transaction goes on in the same SQLite transaction, and one
/// `COMMIT` (one write of the WAL pages they share) ends the group, up to `groupLimit`
/// transactions. No caller hears back before its group has committed, and a body that
/// throws rolls back only its own savepoint. (A deferred constraint would be checked only at
/// the group's `COMMIT` and fail the whole group: the schemas here use none.) Plain `SELECT`s
/// outside a transaction run on separate read-only connections, so reads never wait behind
/// writes: in WAL mode a reader sees the last committed state while a writer works.
public final class SQLiteStore: SQLDatabase {
    private let writer: SQLiteConnection
    /// A reader connection lent to one query at a time.
    private final class Reader: Sendable {
        let connection: Mutex<SQLiteConnection>
        init(_ c: SQLiteConnection) { connection = Mutex(c) }
    }

    private let readers: [Reader]
    private let nextReader = Atomic<Int>(0)
    /// Checkpoints run on their own connection and thread, beside the writer: copying WAL
    /// pages into the database file and syncing it no longer happens inside a commit, with
    /// every other writer waiting.
    private let checkpointer: SQLiteConnection?
    private let checkpointQueue = DispatchQueue(label: "evalnet.sqlite.checkpoint")
    private let checkpointRunning = Atomic<Bool>(false)
    private let wal = WALWatch()
    /// Every this many new WAL pages a commit asks the checkpoint thread for a checkpoint.
    static let checkpointPages: Int32 = 1000
    /// Past this WAL length the writer checkpoints itself after a commit, holding the lock:
    /// the checkpoint thread has copied nearly everything by then, and a checkpoint with no
    /// commit running beside it can finish the WAL, which the next transaction then starts
    /// over from its beginning. (Background checkpoints alone never catch up with a writer
    /// that always has a transaction open, and the WAL would only grow.)
    static let restartPages: Int32 = 4000
    /// The writer's own checkpoint waits (going on with commits) until the checkpoint thread has
    /// copied all but this many pages, or until `forcedRestartPages`.
    static let catchUpPages: Int32 = 512
    static let forcedRestartPages: Int32 = 16000
    /// How far the checkpoint thread's last checkpoint got.
    private let backfill = Backfill()
    private let lock = AsyncLock()
    /// The group commit in progress (open while the writer has a SQLite transaction open); read
    /// and changed only by the writer lock's holder.
    private final class Group: @unchecked Sendable {
        var members = 0
        var waiting: [CheckedContinuation<Void, any Error>] = []
        /// WAL length at the last checkpoint asked for or run.
        var lastCheckpointAt: Int32 = 0
        /// WAL length at the writer's last own checkpoint: one that could not finish the WAL
        /// (a reader on an old snapshot) is tried again only `restartPages` later.
        var lastWriterCheckpointAt: Int32 = 0
        func takeWaiting() -> [CheckedContinuation<Void, any Error>] {
            defer { waiting = []; members = 0 }
            return waiting
        }
    }
    private let group = Group()
    /// Most transactions committed together.
    static let groupLimit = 64
    /// Callers of `transaction` that do not hold the writer yet (queued on its thread or for
    /// its lock).
    private let comingWriters = Atomic<Int>(0)
    /// Runs every transaction's code (`WriterThread`).
    private let writerThread = WriterThread(name: "sqlite-writer")
    /// Whether a caller is on its way to the writer (tests use it to form a group).
    var writerHasWaiters: Bool { comingWriters.load(ordering: .relaxed) > 0 }
    public let path: String
    public var dialect: SQLDialect { .sqlite }

    /// Read-only connections opened beside the writer.
    static let readerCount = 2

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], checkpointer: SQLiteConnection?, path: String) {
        self.writer = writer
        self.readers = readers.map { Reader($0) }
        self.checkpointer = checkpointer
        self.path = path
        if checkpointer != nil { writer.watchWAL(wal) }
    }

    public static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let writer = try SQLiteConnection.open(path: path, readOnly: false)
        var readers: [SQLiteConnection] = []
        var checkpointer: SQLiteConnection?
        do {
            // A page cache of 64 MiB on the writer and 16 MiB per reader, and reads through a
            // memory map, so indexes of a long history stay in memory without a system call
            // per page. The writer keeps its statement journals (the pages a statement inside a
            // transaction changes, kept so that statement alone can be undone) in memory: in a
            // temporary file they were a system call per page, 3 % of the pool benchmark's CPU.
            // The busy timeout first: switching to WAL waits for another process (or store)
            // opening the same file at the same moment.
            for pragma in ["PRAGMA busy_timeout=5000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                           "PRAGMA foreign_keys=ON", "PRAGMA cache_size=-65536", "PRAGMA mmap_size=268435456",
                           "PRAGMA temp_store=MEMORY"] {
                _ = try writer.query(pragma, [])
            }
            // An in-memory database is private to its connection: it gets no readers.
            if path != ":memory:" {
                for _ in 0..<readerCount {
                    let reader = try SQLiteConnection.open(path: path, readOnly: true)
                    readers.append(reader)
                    for pragma in ["PRAGMA busy_timeout=5000", "PRAGMA query_only=1", "PRAGMA cache_size=-16384",
                                   "PRAGMA mmap_size=268435456"] {
                        _ = try reader.query(pragma, [])
                    }
                }
                let c = try SQLiteConnection.open(path: path, readOnly: false)
                checkpointer = c
                _ = try c.query("PRAGMA busy_timeout=5000", [])
            }
        } catch {
            for c in [writer] + readers + (checkpointer.map { [$0] } ?? []) { c.close() }
            throw error
        }
        return SQLiteStore(writer: writer, readers: readers, checkpointer: checkpointer, path: path)
    }

    /// Whether `sql` only reads: it starts with `SELECT` (a `WITH` may hide a write).
    static func isPlainSelect(_ sql: String) -> Bool {
        let head = sql.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }.prefix(7)
        return String(decoding: head, as: UTF8.self).uppercased().hasPrefix("SELECT")
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        if !readers.isEmpty, Self.isPlainSelect(sql) {
            let i = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
            return try readers[i % readers.count].connection.withLock { reader throws(StoreError) -> [SQLRow] in
                do { return try reader.query(sql, binds) } catch let e as StoreError { throw e } catch {
                    throw StoreError.backend("\(error)")
                }
            }
        }
        // A write outside a transaction is a transaction of one statement (it may join a group).
        return try await transaction { try await $0.query(sql, binds) }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        // Counted from here until it holds the writer: a transaction that ends while any is
        // on its way leaves the group open for it (it will take the lock).
        comingWriters.add(1, ordering: .relaxed)
        return try await withTaskExecutorPreference(writerThread) {
            try await self.transactionOnWriterThread(body)
        }
    }

    private func transactionOnWriterThread<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        await lock.lock()
        comingWriters.subtract(1, ordering: .relaxed)
        // The writer lock is held from here until the group is passed on or committed.
        do {
            if !writer.inTransaction { _ = try writer.query("BEGIN IMMEDIATE", []) }
        } catch {
            lock.unlock()
            throw error
        }
        let outcome: Result<T, any Error>
        do {
            _ = try writer.query("SAVEPOINT evalnet_tx", [])
            let value = try await body(SQLiteExecutor(connection: writer))
            _ = try writer.query("RELEASE evalnet_tx", [])
            outcome = .success(value)
        } catch {
            if writer.inTransaction {
                _ = try? writer.query("ROLLBACK TO evalnet_tx", [])
                _ = try? writer.query("RELEASE evalnet_tx", [])
            }
            outcome = .failure(error)
        }
        group.members += 1
        if !writer.inTransaction {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): the
            // group's earlier members are lost with it.
            let waiting = group.takeWaiting()
            lock.unlock()
            let lost = StoreError.backend("the SQLite transaction was rolled back by an error in a transaction committed with it")
            for w in waiting { w.resume(throwing: lost) }
            if case let .failure(error) = outcome { throw error }
            throw lost
        }
        if comingWriters.load(ordering: .relaxed) > 0, group.members < Self.groupLimit {
            // Another caller is waiting for the writer: it goes on in this transaction. A
            // failed body's changes are already undone (its savepoint); a successful one's
            // caller hears back when the group commits.
            if case let .failure(error) = outcome {
                lock.unlock()
                throw error
            }
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                group.waiting.append(c)
                lock.unlock()
            }
            return try outcome.get()
        }
        switch outcome {
        case let .success(value):
            try commitGroupAndUnlock()
            return value
        case let .failure(error):
            // Commits the group's earlier members (their callers hear of a commit failure).
            try? commitGroupAndUnlock()
            throw error
        }
    }

    /// Commits the open group (caller holds the writer lock), releases the lock, and tells the
    /// group's waiting members how it went; throws the commit's error to the caller too.
    private func commitGroupAndUnlock() throws {
        var failure: (any Error)?
        if writer.inTransaction {
            do { _ = try writer.query("COMMIT", []) } catch {
                failure = error
                if writer.inTransaction { _ = try? writer.query("ROLLBACK", []) }
            }
        }
        if failure == nil, checkpointer != nil { checkpointAfterCommit() }
        let waiting = group.takeWaiting()
        lock.unlock()
        for w in waiting {
            if let failure { w.resume(throwing: failure) } else { w.resume() }
        }
        if let failure { throw failure }
    }

    /// After a commit, holding the writer lock: asks the checkpoint thread for a checkpoint
    /// every `checkpointPages` new pages, and past `restartPages` runs one on the writer — once
    /// the checkpoint thread has copied all but the last `catchUpPages` of the WAL, so the
    /// writer's own checkpoint (which every other writer waits for) copies a few pages and syncs
    /// rather than copying a thousand (measured: 12 ms a time in the pool benchmark, 45 times in
    /// 20 s). Past `forcedRestartPages` it runs one whatever the checkpoint thread did (a reader
    /// on an old snapshot can keep that thread from catching up).
    private func checkpointAfterCommit() {
        let pages = wal.pages.load(ordering: .relaxed)
        // The WAL started over since: count from its beginning.
        if pages < group.lastCheckpointAt { group.lastCheckpointAt = 0 }
        if pages < group.lastWriterCheckpointAt { group.lastWriterCheckpointAt = 0 }
        let sinceWriter = pages - group.lastWriterCheckpointAt
        if sinceWriter >= Self.restartPages,
           sinceWriter >= Self.forcedRestartPages || (!checkpointRunning.load(ordering: .acquiring) && backfill.caughtUp(pages))
        {
            // On the checkpoint thread's queue, after any checkpoint running there (two
            // checkpoints cannot run at once: this one would find the database busy and do nothing).
            checkpointQueue.sync { _ = try? writer.query("PRAGMA wal_checkpoint(PASSIVE)", []) }
            group.lastCheckpointAt = pages
            group.lastWriterCheckpointAt = pages
        } else if sinceWriter >= Self.restartPages || pages >= group.lastCheckpointAt + Self.checkpointPages {
            group.lastCheckpointAt = pages
            requestCheckpoint()
        }
    }

    /// Starts a passive checkpoint (it never waits for readers or the writer) on the
    /// checkpoint thread, unless one is running.
    private func requestCheckpoint() {
        guard let checkpointer, checkpointRunning.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        checkpointQueue.async {
            if let row = try? checkpointer.query("PRAGMA wal_checkpoint(PASSIVE)", []).first {
                self.backfill.record(row)
            }
            self.checkpointRunning.store(false, ordering: .releasing)
        }
    }

    public func shutdown() async {
        await lock.lock()
        try? commitGroupAndUnlock()
        if let checkpointer {
            // After the last checkpoint started; the writer's close checkpoints the rest.
            checkpointQueue.sync { checkpointer.close() }
        }
        await lock.withLock {
            writer.close()
            for r in readers { r.connection.withLock { $0.close() } }
        }
        writerThread.stop()
    }
}
