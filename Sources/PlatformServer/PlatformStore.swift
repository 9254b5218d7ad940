import CSodium
import Foundation
import Hotkeys
import Logging
import PlatformAPI
import PlatformCore
import ServiceKit
import Store
import Synchronization

/// Limits and defaults of the Platform service (all configurable).
public struct PlatformLimits: Sendable {
    /// Largest inline `code` (UTF-8 bytes) of a submission; larger → 413.
    public var maxSubmissionBytes = 256 * 1024
    /// Largest request body of every other route.
    public var maxBodyBytes = 1 << 20
    /// Largest encoded `metrics` object of a result.
    public var maxMetricsBytes = 64 * 1024
    /// Results keep at most this many log lines (the last ones) …
    public var maxLogLines = 1000
    /// … each cut to this many bytes.
    public var maxLogLineBytes = 4096
    /// Submissions of one miner per challenge still pending/evaluating; more → 429.
    public var maxOpenSubmissionsPerMiner = 10
    /// Rows returned by the query endpoint at most (more are cut and `truncated` is set).
    public var queryRowCap = 1000
    /// Largest result of the query endpoint: the sum over the rows kept of each value's
    /// text/blob bytes (blobs as hex), column name and a 16-byte overhead. Larger → 400
    /// `query_result_too_large` (refused, not truncated); on SQLite also no single string or
    /// blob, even an intermediate one, may be larger.
    public var queryResultMaxBytes = 8 << 20
    /// Statement timeout of the query endpoint, milliseconds.
    public var queryTimeoutMs = 2000
    public var queryMaxLength = 16_384
    public var queryMaxParams = 100
    /// Events older than this are pruned; a client resuming from before the pruned range gets a snapshot.
    public var eventRetentionSeconds = 86_400.0
    // Challenge defaults.
    public var defaultValidatorsPerSubmission = 1
    public var defaultMaxRetries = 3
    public var defaultClaimTimeoutS = 1800

    public init() {}
}

/// Platform persistence: schema, and every write as one transaction. Each public method is
/// one API operation; nothing half-written survives a failure inside it. After a commit that
/// recorded events, `signal` wakes the WebSocket event pump.
public struct PlatformStore: Sendable {
    public let db: any SQLDatabase
    public let limits: PlatformLimits
    let challengeData: ChallengeDataManager
    let signal: EventSignal
    let validatorCache = ValidatorCache()
    let logger: Logger

    public init(db: any SQLDatabase, limits: PlatformLimits = PlatformLimits(), logger: Logger) {
        self.db = db
        self.limits = limits
        self.logger = logger
        self.signal = EventSignal()
        self.challengeData = ChallengeDataManager(db: db, logger: logger)
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "platform schema", portable: [
            """
            CREATE TABLE challenges (
              id TEXT PRIMARY KEY,
              name TEXT NOT NULL UNIQUE,
              status TEXT NOT NULL,
              github_repo TEXT NOT NULL,
              github_commit TEXT NOT NULL,
              compose_hash TEXT NOT NULL,
              mechanism_id INTEGER NOT NULL,
              emission_share {{real}} NOT NULL,
              validators_per_submission INTEGER NOT NULL,
              max_retries INTEGER NOT NULL,
              claim_timeout_s INTEGER NOT NULL,
              data_name TEXT NOT NULL UNIQUE,
              data_version INTEGER NOT NULL,
              created_at {{real}} NOT NULL,
              updated_at {{real}} NOT NULL)
            """,
            "CREATE INDEX challenges_mechanism ON challenges (mechanism_id, status)",
            """
            CREATE TABLE validators (
              hotkey TEXT PRIMARY KEY,
              source TEXT NOT NULL,
              added_at {{real}} NOT NULL)
            """,
            """
            CREATE TABLE submissions (
              id TEXT PRIMARY KEY,
              challenge_id TEXT NOT NULL REFERENCES challenges(id),
              miner_hotkey TEXT NOT NULL,
              payload_kind TEXT NOT NULL,
              payload TEXT NOT NULL,
              payload_sha256 TEXT NOT NULL,
              payload_bytes INTEGER NOT NULL,
              status TEXT NOT NULL,
              score {{real}},
              jobs_total INTEGER NOT NULL,
              jobs_completed INTEGER NOT NULL DEFAULT 0,
              jobs_failed INTEGER NOT NULL DEFAULT 0,
              data_version BIGINT NOT NULL DEFAULT 1,
              created_at {{real}} NOT NULL,
              updated_at {{real}} NOT NULL,
              finished_at {{real}})
            """,
            "CREATE INDEX submissions_board ON submissions (challenge_id, status, score)",
            "CREATE INDEX submissions_miner ON submissions (miner_hotkey, challenge_id, status)",
            """
            CREATE TABLE jobs (
              id TEXT PRIMARY KEY,
              challenge_id TEXT NOT NULL REFERENCES challenges(id),
              submission_id TEXT NOT NULL REFERENCES submissions(id),
              miner_hotkey TEXT NOT NULL,
              slot INTEGER NOT NULL,
              status TEXT NOT NULL,
              validator_hotkey TEXT,
              retry_count INTEGER NOT NULL DEFAULT 0,
              max_retries INTEGER NOT NULL,
              claim_timeout_s INTEGER NOT NULL,
              claimed_at {{real}},
              started_at {{real}},
              lease_expires_at {{real}},
              finished_at {{real}},
              score {{real}},
              metrics TEXT,
              logs TEXT,
              logs_truncated INTEGER NOT NULL DEFAULT 0,
              execution_time_ms BIGINT,
              error TEXT,
              failure_reason TEXT,
              result_fingerprint TEXT,
              announce_seq BIGINT NOT NULL DEFAULT 0,
              created_at {{real}} NOT NULL,
              updated_at {{real}} NOT NULL)
            """,
            "CREATE INDEX jobs_pending ON jobs (status, created_at, id)",
            "CREATE INDEX jobs_submission ON jobs (submission_id)",
            "CREATE INDEX jobs_lease ON jobs (status, lease_expires_at)",
            // A validator evaluates a submission at most once: it may hold (or have finished)
            // one of its jobs only. An expired claim clears validator_hotkey.
            "CREATE UNIQUE INDEX jobs_one_slot_per_validator ON jobs (submission_id, validator_hotkey) WHERE validator_hotkey IS NOT NULL",
            """
            CREATE TABLE platform_events (
              seq BIGINT PRIMARY KEY,
              kind TEXT NOT NULL,
              target_hotkey TEXT,
              job_id TEXT,
              challenge_id TEXT,
              github_commit TEXT,
              compose_hash TEXT,
              status TEXT,
              reason TEXT,
              created_at {{real}} NOT NULL)
            """,
            "CREATE INDEX platform_events_time ON platform_events (created_at)",
            """
            CREATE TABLE platform_event_counter (
              id INTEGER PRIMARY KEY,
              last_seq BIGINT NOT NULL,
              pruned_through BIGINT NOT NULL)
            """,
            "INSERT INTO platform_event_counter (id, last_seq, pruned_through) VALUES (1, 0, 0)",
        ]),
        // The query sandbox runs as a per-challenge role, but SET ROLE permission is judged
        // against the session user (the platform's, often a superuser): without this, a
        // sandboxed `SELECT set_config('role', …)` could switch back to it mid-statement.
        // Superusers keep the function; ordinary roles (the readers) lose it.
        Migration(version: 2, name: "sandbox hardening", sqlite: [], postgres: [
            """
            DO $$ BEGIN
              REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC;
            EXCEPTION WHEN insufficient_privilege THEN
              RAISE WARNING 'evalnet: cannot revoke set_config from PUBLIC; the query sandbox relies on its lexical guard for it';
            END $$
            """,
        ]),
        // The queue of pending jobs in claim order, alone in its indexes (a job leaves them when
        // claimed): the listing and the claim of the oldest job read it in order and stop at
        // the first jobs the caller may take, whatever the table's statistics say. (With
        // statistics from before a burst of submissions, PostgreSQL read every pending job of
        // the old index, joined and sorted them all — 7,000 buffers and 10–40 ms a claim at
        // 1,200 pending jobs.)
        Migration(version: 3, name: "pending job queue indexes", portable: [
            "CREATE INDEX jobs_queue ON jobs (created_at, id) WHERE status = 'pending'",
            "CREATE INDEX jobs_challenge_queue ON jobs (challenge_id, created_at, id) WHERE status = 'pending'",
        ]),
    ]

    /// Creates or upgrades the schema, registers the configured validators, brings every
    /// challenge's own tables up to date and repairs challenge data left behind.
    public func prepare(validators: [String], now: Double) async throws {
        try await db.migrate(Self.migrations, component: "platform")
        try await SQLReplayLedger.prepare(db)
        try await PeriodicRuns.prepare(db)
        for v in validators {
            let hotkey = try Self.canonicalHotkey(v)
            try await db.transaction { tx in
                try await tx.fetch(
                    "INSERT INTO validators (hotkey, source, added_at) VALUES (\(hotkey), 'config', \(now)) ON CONFLICT (hotkey) DO NOTHING")
                return ()
            }
        }
        try await challengeData.upgradeAll(store: self)
        try await challengeData.repair(store: self)
    }

    public func shutdown() async {
        await challengeData.shutdown()
    }

    // MARK: Helpers

    static func newId() -> String { RecordID.make() }

    /// The SS58 address (prefix 42) of a hotkey given in any SS58 form.
    static func canonicalHotkey(_ text: String) throws -> String {
        do { return try SR25519PublicKey(ss58: RequestAuthenticator.trimmedWhitespace(text)).ss58Address } catch {
            throw APIError.badRequest(PlatformErrorCode.invalidField, "'\(text.prefix(64))' is not a valid SS58 hotkey: \(error)")
        }
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONBody.encoder().encode(value), as: UTF8.self)
    }

    /// Maps a unique-constraint violation (either backend) to `mapped`.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        let text = "\(error)"
        return text.contains("23505") || text.contains("UNIQUE constraint failed")
    }

    // MARK: Validators

    /// Registry lookups are cached for `ValidatorCache.ttl` seconds; this process's own
    /// changes take effect at once, another process's within the TTL.
    public func isValidator(_ hotkey: String) async throws -> Bool {
        if let known = validatorCache.lookup(hotkey) { return known }
        let found = try await db.fetchOne("SELECT hotkey FROM validators WHERE hotkey = \(hotkey)") != nil
        validatorCache.store(hotkey, found)
        return found
    }

    public func listValidators(connected: Set<String>) async throws -> ValidatorListResponse {
        let rows = try await db.fetch("SELECT * FROM validators ORDER BY hotkey")
        return ValidatorListResponse(validators: try rows.map { r in
            let hk = try r.string("hotkey")
            return ValidatorEntry(hotkey: hk, source: try r.string("source"), connected: connected.contains(hk),
                                  addedAt: PlatformTime.string(try r.double("added_at")))
        })
    }

    /// Adds a validator; returns false when it was already registered.
    public func addValidator(_ text: String, now: Double) async throws -> (ValidatorEntry, created: Bool) {
        let hotkey = try Self.canonicalHotkey(text)
        let result = try await db.transaction { tx in
            let inserted = try await tx.fetch(
                "INSERT INTO validators (hotkey, source, added_at) VALUES (\(hotkey), 'admin', \(now)) ON CONFLICT (hotkey) DO NOTHING RETURNING hotkey")
            guard let row = try await tx.fetchOne("SELECT * FROM validators WHERE hotkey = \(hotkey)") else {
                throw APIError(.internalServerError, ErrorCode.internalError, "validator vanished")
            }
            return (ValidatorEntry(hotkey: hotkey, source: try row.string("source"), connected: false,
                                   addedAt: PlatformTime.string(try row.double("added_at"))), !inserted.isEmpty)
        }
        validatorCache.forget(hotkey)
        return result
    }

    /// Removes a validator. Its claims are left to expire (they return to pending).
    public func removeValidator(_ text: String) async throws -> String {
        let hotkey = try Self.canonicalHotkey(text)
        let removed = try await db.transaction { tx in
            let rows = try await tx.fetch("DELETE FROM validators WHERE hotkey = \(hotkey) RETURNING hotkey")
            // Every replica's hub closes this validator's sockets when the event reaches it.
            if !rows.isEmpty {
                try await self.emit(tx, [EventDraft(kind: EventDraft.validatorRemoved, target: hotkey)],
                                    now: Date().timeIntervalSince1970)
            }
            return rows
        }
        validatorCache.forget(hotkey)
        if !removed.isEmpty { signal.poke() }
        guard !removed.isEmpty else {
            throw APIError.notFound(PlatformErrorCode.validatorNotFound, "Validator \(hotkey) is not registered")
        }
        return hotkey
    }
}

/// A short-lived cache of validator registry lookups.
final class ValidatorCache: Sendable {
    static let ttl = 2.0
    private let entries = Mutex<[String: (allowed: Bool, until: Double)]>([:])

    func lookup(_ hotkey: String) -> Bool? {
        let now = Date().timeIntervalSince1970
        return entries.withLock { e in
            guard let hit = e[hotkey], hit.until > now else { return nil }
            return hit.allowed
        }
    }

    func store(_ hotkey: String, _ allowed: Bool) {
        let until = Date().timeIntervalSince1970 + Self.ttl
        entries.withLock { e in
            if e.count > 10_000 { e.removeAll() }
            e[hotkey] = (allowed, until)
        }
    }

    func forget(_ hotkey: String) { _ = entries.withLock { $0.removeValue(forKey: hotkey) } }
}
