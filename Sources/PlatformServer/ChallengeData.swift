import Foundation
import Logging
import NIOCore
import NIOPosix
import PlatformAPI
import PlatformCore
import VaporCSQLite
import ServiceKit
import Store
import Synchronization

/// Each challenge owns its tables — `agents` (one row per submission: status, score,
/// miner_hotkey, job counts) and `evaluations` (one row per job) — fed from evaluation
/// results and readable through the query sandbox.
///
/// - PostgreSQL: a schema `ch_<16 hex>` and a role `ch_<16 hex>_reader` (USAGE on that
///   schema, SELECT on its tables, nothing else) are created in the challenge-creation
///   transaction. Every write that changes a submission upserts its rows in the same transaction.
/// - SQLite: a separate file `<main stem>.ch_<16 hex>.db` next to the main database. A file
///   cannot join the main transaction, so rows are written right after the main commit with an
///   idempotent, version-guarded upsert (a row only moves to a newer `data_version`). A
///   crash between the two commits leaves the file behind; `repair` (at startup and
///   periodically) compares versions and rewrites whatever lags.
final class ChallengeDataManager: Sendable {
    enum Backend: Sendable {
        case postgres(PostgresStore)
        case sqlite(mainPath: String)
    }

    let backend: Backend
    let files: ChallengeFiles?
    let logger: Logger
    /// Version of the per-challenge table layout.
    static let layoutVersion = 1

    init(db: any SQLDatabase, logger: Logger) {
        self.logger = logger
        if let pg = db as? PostgresStore {
            backend = .postgres(pg)
            files = nil
        } else if let lite = db as? SQLiteStore {
            backend = .sqlite(mainPath: lite.path)
            files = ChallengeFiles(mainPath: lite.path, logger: logger)
        } else {
            preconditionFailure("PlatformStore needs a PostgresStore or SQLiteStore")
        }
    }

    /// `ch_` and the first 16 characters of the challenge id without its hyphens, lowercased.
    /// Computed on every result a validator posts: plain Swift (Foundation's
    /// `replacingOccurrences` was 1.5–2 % of the platform benchmark's CPU).
    static func dataName(challengeId: String) -> String {
        "ch_" + String(challengeId.lazy.filter { $0 != "-" }).lowercased().prefix(16)
    }

    static func readerRole(_ dataName: String) -> String { dataName + "_reader" }

    /// The table layout; `prefix` qualifies table names (`"ch_x".` on PostgreSQL).
    static func layout(prefix: String, dialect: SQLDialect) -> [String] {
        let real = dialect == .postgres ? "DOUBLE PRECISION" : "REAL"
        return [
            """
            CREATE TABLE \(prefix)agents (
              submission_id TEXT PRIMARY KEY,
              miner_hotkey TEXT NOT NULL,
              status TEXT NOT NULL,
              score \(real),
              jobs_total INTEGER NOT NULL,
              jobs_completed INTEGER NOT NULL,
              jobs_failed INTEGER NOT NULL,
              payload_kind TEXT NOT NULL,
              payload_sha256 TEXT NOT NULL,
              submitted_at TEXT NOT NULL,
              updated_at TEXT NOT NULL,
              finished_at TEXT,
              data_version BIGINT NOT NULL)
            """,
            "CREATE INDEX agents_status ON \(prefix)agents (status, score)",
            "CREATE INDEX agents_miner ON \(prefix)agents (miner_hotkey)",
            """
            CREATE TABLE \(prefix)evaluations (
              job_id TEXT PRIMARY KEY,
              submission_id TEXT NOT NULL,
              miner_hotkey TEXT NOT NULL,
              validator_hotkey TEXT,
              status TEXT NOT NULL,
              score \(real),
              metrics TEXT,
              execution_time_ms BIGINT,
              error TEXT,
              retry_count INTEGER NOT NULL,
              finished_at TEXT,
              data_version BIGINT NOT NULL)
            """,
            "CREATE INDEX evaluations_submission ON \(prefix)evaluations (submission_id)",
        ]
    }

    // MARK: Provisioning

    /// PostgreSQL: schema, tables and the read-only role, inside the creating transaction.
    func provisionInTransaction(_ tx: any SQLExecutor, dataName: String, challengeId: String) async throws {
        guard case .postgres = backend else { return }
        let schema = "\"\(dataName)\""
        let role = "\"\(Self.readerRole(dataName))\""
        try await tx.execute("CREATE SCHEMA \(schema)")
        for s in Self.layout(prefix: schema + ".", dialect: .postgres) { try await tx.execute(s) }
        try await tx.execute("CREATE ROLE \(role) NOLOGIN NOINHERIT")
        try await tx.execute("GRANT USAGE ON SCHEMA \(schema) TO \(role)")
        try await tx.execute("GRANT SELECT ON ALL TABLES IN SCHEMA \(schema) TO \(role)")
        try await tx.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA \(schema) GRANT SELECT ON TABLES TO \(role)")
        // A non-superuser platform user must be a member of the role to SET ROLE to it.
        try await tx.execute(
            """
            DO $$ BEGIN
              IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                EXECUTE 'GRANT \(role) TO ' || quote_ident(current_user);
              END IF;
            END $$
            """)
        try await tx.execute("UPDATE challenges SET data_version = ? WHERE id = ?",
                             [.int(Int64(Self.layoutVersion)), .text(challengeId)])
    }

    /// SQLite: creates the challenge's file and tables after the challenge row committed.
    func provisionAfterCommit(store: PlatformStore, dataName: String, challengeId: String) async throws {
        guard let files else { return }
        _ = try await files.file(dataName)
        try await store.db.execute("UPDATE challenges SET data_version = ? WHERE id = ?",
                                   [.int(Int64(Self.layoutVersion)), .text(challengeId)])
    }

    /// Startup: every challenge's tables exist at the current layout.
    func upgradeAll(store: PlatformStore) async throws {
        let rows = try await store.db.query("SELECT id, data_name, data_version FROM challenges", [])
        for r in rows where try r.int("data_version") < Self.layoutVersion {
            let id = try r.string("id")
            let name = try r.string("data_name")
            switch backend {
            case .postgres:
                try await store.db.transaction { tx in try await self.provisionInTransaction(tx, dataName: name, challengeId: id) }
            case .sqlite:
                try await provisionAfterCommit(store: store, dataName: name, challengeId: id)
            }
        }
    }

    // MARK: Sync

    struct Snapshot: Sendable {
        var dataName: String
        var submission: SQLRow
        var jobs: [SQLRow]
    }

    func snapshot(_ ex: any SQLExecutor, submissionId: String) async throws -> Snapshot? {
        guard let s = try await ex.queryOne(
            "SELECT s.*, c.data_name FROM submissions s JOIN challenges c ON c.id = s.challenge_id WHERE s.id = ?",
            [.text(submissionId)])
        else { return nil }
        let jobs = try await ex.query("SELECT * FROM jobs WHERE submission_id = ? ORDER BY slot", [.text(submissionId)])
        return Snapshot(dataName: try s.string("data_name"), submission: s, jobs: jobs)
    }

    /// The statements that mirror `snap` into a challenge's `agents` and `evaluations` tables
    /// (`prefix`: the schema on PostgreSQL, "" in a challenge file); each row only if newer
    /// than the one there.
    static func mirror(_ snap: Snapshot, prefix: String) throws -> [SQLQuery] {
        let s = snap.submission
        let version = try s.int("data_version")
        func time(_ v: Double?) -> SQLValue { v.map { .text(PlatformTime.string($0)) } ?? .null }
        let agent = """
            INSERT INTO \(prefix)agents AS t (submission_id, miner_hotkey, status, score, jobs_total, jobs_completed,
              jobs_failed, payload_kind, payload_sha256, submitted_at, updated_at, finished_at, data_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (submission_id) DO UPDATE SET status = excluded.status, score = excluded.score,
              jobs_total = excluded.jobs_total, jobs_completed = excluded.jobs_completed, jobs_failed = excluded.jobs_failed,
              updated_at = excluded.updated_at, finished_at = excluded.finished_at, data_version = excluded.data_version
            WHERE t.data_version < excluded.data_version
            """
        let agentValues: [SQLValue] = [
            .text(try s.string("id")), .text(try s.string("miner_hotkey")), .text(try s.string("status")),
            .from(try s.optionalDouble("score")), .int(try s.int("jobs_total")), .int(try s.int("jobs_completed")),
            .int(try s.int("jobs_failed")), .text(try s.string("payload_kind")), .text(try s.string("payload_sha256")),
            time(try s.double("created_at")), time(try s.double("updated_at")), time(try s.optionalDouble("finished_at")),
            .int(version)]
        var jobValues: [SQLValue] = []
        for j in snap.jobs {
            jobValues += [
                .text(try j.string("id")), .text(try j.string("submission_id")), .text(try j.string("miner_hotkey")),
                .from(try j.optionalString("validator_hotkey")), .text(try j.string("status")),
                .from(try j.optionalDouble("score")), .from(try j.optionalString("metrics")),
                (try j.optionalInt("execution_time_ms")).map { .int($0) } ?? .null, .from(try j.optionalString("error")),
                .int(try j.int("retry_count")), time(try j.optionalDouble("finished_at")), .int(version)]
        }
        guard !snap.jobs.isEmpty else { return [SQLQuery(sql: agent, binds: agentValues)] }
        let evaluations = """
            INSERT INTO \(prefix)evaluations AS t (job_id, submission_id, miner_hotkey, validator_hotkey, status, score,
              metrics, execution_time_ms, error, retry_count, finished_at, data_version)
            VALUES \(SQLText.rows(snap.jobs.count, columns: 12))
            ON CONFLICT (job_id) DO UPDATE SET validator_hotkey = excluded.validator_hotkey, status = excluded.status,
              score = excluded.score, metrics = excluded.metrics, execution_time_ms = excluded.execution_time_ms,
              error = excluded.error, retry_count = excluded.retry_count, finished_at = excluded.finished_at,
              data_version = excluded.data_version
            WHERE t.data_version < excluded.data_version
            """
        return [SQLQuery(sql: agent, binds: agentValues), SQLQuery(sql: evaluations, binds: jobValues)]
    }

    /// Runs `mirror`'s version-guarded upserts of one submission's rows on `ex`.
    static func write(_ snap: Snapshot, to ex: any SQLExecutor, prefix: String) async throws {
        for q in try mirror(snap, prefix: prefix) { try await ex.execute(q.sql, q.binds) }
    }

    /// Runs `update` — the write of the submission that `snap` shows — in `tx`; on PostgreSQL
    /// together with the mirror of `snap` into its challenge's schema, in one statement
    /// (`fetch(after:)`). SQLite: only `update` here (the challenge file follows in `publish`).
    func record(_ tx: any SQLExecutor, _ snap: Snapshot, update: SQLQuery) async throws {
        guard case .postgres = backend else {
            try await tx.fetch(update)
            return
        }
        var statements = [update] + (try Self.mirror(snap, prefix: "\"\(snap.dataName)\"."))
        let last = statements.removeLast()
        try await tx.fetch(after: statements, last)
    }

    /// SQLite: mirror snapshots taken inside a committed transaction into their challenge
    /// files. Failures are logged and left to `repair`; the version guard makes late or
    /// repeated writes harmless. PostgreSQL: nothing (already written in the transaction).
    func publish(_ snapshots: [Snapshot]) async {
        guard let files else { return }
        for snap in snapshots {
            do {
                let file = try await files.file(snap.dataName)
                try await file.writer.transaction { tx in try await Self.write(snap, to: tx, prefix: "") }
            } catch {
                logger.warning("challenge data sync failed; repair will retry",
                               metadata: ["submission": "\((try? snap.submission.string("id")) ?? "?")", "error": "\(error)"])
            }
        }
    }

    /// SQLite: re-reads submissions from the main database and mirrors them (repair path).
    func syncAfterCommit(store: PlatformStore, submissionIds: [String]) async {
        var snaps: [Snapshot] = []
        for id in submissionIds {
            do {
                if let snap = try await snapshot(store.db, submissionId: id) { snaps.append(snap) }
            } catch {
                logger.warning("challenge data snapshot failed", metadata: ["submission": "\(id)", "error": "\(error)"])
            }
        }
        await publish(snaps)
    }

    /// SQLite: rewrites every submission whose challenge-file row is missing or older than
    /// the main database's. Returns how many were rewritten.
    @discardableResult
    func repair(store: PlatformStore) async throws -> Int {
        guard let files else { return 0 }
        var fixed = 0
        for c in try await store.db.query("SELECT id, data_name FROM challenges", []) {
            let file = try await files.file(try c.string("data_name"))
            var inFile: [String: Int64] = [:]
            for r in try await file.writer.query("SELECT submission_id, data_version FROM agents", []) {
                inFile[try r.string("submission_id")] = try r.int("data_version")
            }
            let main = try await store.db.query("SELECT id, data_version FROM submissions WHERE challenge_id = ?",
                                                [.text(try c.string("id"))])
            var stale: [String] = []
            for r in main {
                let id = try r.string("id")
                if (inFile[id] ?? -1) < (try r.int("data_version")) { stale.append(id) }
            }
            if !stale.isEmpty {
                await syncAfterCommit(store: store, submissionIds: stale)
                fixed += stale.count
            }
        }
        return fixed
    }

    func shutdown() async {
        await files?.closeAll()
    }
}

/// One challenge's SQLite file: a writer (for sync) and the query sandbox's read-only,
/// authorized connections (`SandboxReaders`, opened on demand).
final class ChallengeFile: Sendable {
    let path: String
    let writer: SQLiteStore
    let readers: SandboxReaders

    init(path: String, writer: SQLiteStore, readers: SandboxReaders) {
        self.path = path
        self.writer = writer
        self.readers = readers
    }
}

/// Opens challenge files once (concurrent callers share the opening task).
actor ChallengeFiles {
    let directory: String
    let stem: String
    let logger: Logger
    private var opening: [String: Task<ChallengeFile, any Error>] = [:]
    /// Sandbox queries run on their own threads, so a slow query never occupies the threads
    /// that serve the platform's own database; each challenge file uses at most
    /// `SandboxReaders.defaultLimit` of them at once.
    let readerPool: NIOThreadPool
    static let readerThreads = 4

    init(mainPath: String, logger: Logger) {
        let url = URL(fileURLWithPath: mainPath)
        directory = url.deletingLastPathComponent().path
        var name = url.lastPathComponent
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        stem = name
        self.logger = logger
        readerPool = NIOThreadPool(numberOfThreads: Self.readerThreads)
        readerPool.start()
    }

    func path(for dataName: String) -> String { "\(directory)/\(stem).\(dataName).db" }

    func file(_ dataName: String) async throws -> ChallengeFile {
        if let task = opening[dataName] { return try await task.value }
        let path = path(for: dataName)
        let logger = self.logger
        let pool = readerPool
        let task = Task { try await Self.open(path: path, logger: logger, pool: pool) }
        opening[dataName] = task
        do { return try await task.value } catch {
            opening[dataName] = nil
            throw error
        }
    }

    static func open(path: String, logger: Logger, pool: NIOThreadPool) async throws -> ChallengeFile {
        let writer = try await SQLiteStore.open(path: path, logger: logger)
        try await writer.migrate([Migration(version: 1, name: "challenge tables",
                                            sqlite: ChallengeDataManager.layout(prefix: "", dialect: .sqlite),
                                            postgres: [])], component: "challenge")
        return ChallengeFile(path: path, writer: writer, readers: SandboxReaders(path: path, threads: pool))
    }

    func closeAll() async {
        for (_, task) in opening {
            guard let file = try? await task.value else { continue }
            file.readers.close()
            await file.writer.shutdown()
        }
        opening = [:]
        try? await readerPool.shutdownGracefully()
    }
}

/// What a sandboxed SQLite statement may do: read tables of the challenge's own file
/// (`main`, not `sqlite_*` internals) and call allow-listed functions. Anything else —
/// writes, DDL, ATTACH, PRAGMA, transactions, recursive CTEs, other functions — is denied
/// while the statement is prepared, so it never runs (`SandboxConnection` installs it as the
/// connection's authorizer).
enum SQLiteSandboxPolicy {
    static let functions: Set<String> = QueryGuard.allowedFunctions.union(["like", "glob", "->", "->>"])

    /// `action` is an SQLite authorizer action code; `p1`/`p2` its two parameters.
    static func allows(action: Int32, _ p1: String?, _ p2: String?, database: String?) -> Bool {
        switch action {
        case SQLITE_SELECT:
            return true
        case SQLITE_READ:
            if (p1 ?? "").lowercased().hasPrefix("sqlite_") { return false }
            if let database, database != "main" { return false }
            return true
        case SQLITE_FUNCTION:
            return functions.contains((p2 ?? "").lowercased())
        default:
            return false
        }
    }
}
