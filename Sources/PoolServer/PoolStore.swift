import Foundation
import PoolAPI
import PoolCore
import ServiceKit
import Store

/// What the pool needs to know about algorithms: how to normalise submitted DSL and which
/// seed programs each task type starts from. `AlgorithmCatalog` (AlgorithmDSL) provides it.
public protocol AlgorithmPolicy: Sendable {
    /// Canonical, profile-compliant DSL for a submission; throws a human-readable error.
    func normalize(dsl: String, taskType: String, inputDim: Int) throws -> String
    /// A miner's submitted evolution read the way the upstream client's parser reads it
    /// (unreadable lines dropped), as canonical DSL; throws `EvolutionRefusal` only when
    /// nothing is left to run.
    func normalizeSubmission(dsl: String, taskType: String, inputDim: Int) throws(EvolutionRefusal) -> String
    func seeds(taskType: String) -> [String]
    func inputDim(taskType: String) -> Int
    var taskTypes: [String] { get }
}

/// Why one submitted evolution was refused (the rest of its submit still lands).
public struct EvolutionRefusal: Error, Sendable, Equatable {
    /// Machine code: `empty_program` (nothing left to run) or `invalid_dsl`.
    public var code: ErrorCode
    public var detail: String

    public init(code: ErrorCode, detail: String) {
        self.code = code
        self.detail = detail
    }
}

extension AlgorithmPolicy {
    /// Default: the strict normalisation, every failure refused as `invalid_dsl`.
    public func normalizeSubmission(dsl: String, taskType: String, inputDim: Int) throws(EvolutionRefusal) -> String {
        do { return try normalize(dsl: dsl, taskType: taskType, inputDim: inputDim) } catch {
            throw EvolutionRefusal(code: PoolErrorCode.invalidDSL, detail: "\(error)")
        }
    }
}

/// `pool_secrets` holds no readable held-out seed.
struct HeldOutSeedError: Error, CustomStringConvertible {
    var description: String { "pool_secrets holds no readable held_out_seed" }
}

/// Pool persistence: schema, and every write as one transaction. Each public method is
/// one API operation; nothing half-written survives a failure inside it.
public struct PoolStore: Sendable {
    public let db: any SQLDatabase
    public let rules: PoolRules
    public let algorithms: any AlgorithmPolicy
    public let clock: WindowClock
    /// The pool's own held-out scoring (secret seed loaded or created by `prepare`).
    public let heldOut: HeldOutScorer
    /// Seeds, backlog and gossip as leases last read them (`LeaseAdviceCache`).
    let adviceCache = LeaseAdviceCache()
    let candidateFacts = CandidateFacts()

    /// `heldOutSeed`: the secret seed of the held-out tasks; nil = the one stored in the
    /// database (`pool_secrets`), generated on first start.
    public init(db: any SQLDatabase, rules: PoolRules, algorithms: any AlgorithmPolicy, heldOutSeed: Int? = nil) {
        self.db = db
        self.rules = rules
        self.algorithms = algorithms
        self.clock = rules.windowClock()
        self.heldOut = HeldOutScorer(tasks: rules.heldOutTasks, samples: rules.heldOutSamples, seed: heldOutSeed)
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "pool schema", portable: [
            """
            CREATE TABLE miners (
              hotkey TEXT PRIMARY KEY,
              registered_at {{real}} NOT NULL,
              last_seen_at {{real}} NOT NULL,
              evaluations_submitted BIGINT NOT NULL DEFAULT 0,
              evolutions_submitted BIGINT NOT NULL DEFAULT 0,
              evolutions_accepted BIGINT NOT NULL DEFAULT 0,
              carried_rao BIGINT NOT NULL DEFAULT 0,
              paid_rao BIGINT NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE algorithms (
              id {{pk}},
              task_type TEXT NOT NULL,
              input_dim INTEGER NOT NULL,
              dsl TEXT NOT NULL,
              dsl_hash TEXT NOT NULL,
              parent_ids TEXT NOT NULL DEFAULT '',
              author TEXT,
              origin TEXT NOT NULL,
              source_assignment TEXT,
              window_created BIGINT NOT NULL,
              status TEXT NOT NULL,
              eval_count INTEGER NOT NULL DEFAULT 0,
              reserved INTEGER NOT NULL DEFAULT 0,
              consensus_score {{real}},
              consensus_window BIGINT,
              sota_before {{real}},
              created_at {{real}} NOT NULL)
            """,
            "CREATE INDEX algorithms_pick ON algorithms (task_type, status, eval_count, id)",
            "CREATE UNIQUE INDEX algorithms_seed_unique ON algorithms (task_type, dsl_hash) WHERE origin = 'seed'",
            """
            CREATE TABLE assignments (
              id TEXT PRIMARY KEY,
              miner TEXT NOT NULL REFERENCES miners(hotkey),
              kind TEXT NOT NULL,
              task_type TEXT NOT NULL,
              window_number BIGINT NOT NULL,
              evolve_budget INTEGER NOT NULL,
              issued_at {{real}} NOT NULL,
              timeout_at {{real}} NOT NULL,
              status TEXT NOT NULL,
              iterations INTEGER,
              completed_at {{real}},
              evaluations_count INTEGER,
              submission_hash TEXT,
              response TEXT)
            """,
            "CREATE INDEX assignments_miner ON assignments (miner, status)",
            "CREATE INDEX assignments_status ON assignments (status, timeout_at)",
            """
            CREATE TABLE assignment_items (
              assignment_id TEXT NOT NULL REFERENCES assignments(id),
              algorithm_id BIGINT NOT NULL REFERENCES algorithms(id),
              role TEXT NOT NULL,
              position INTEGER NOT NULL,
              PRIMARY KEY (assignment_id, role, algorithm_id))
            """,
            """
            CREATE TABLE evaluations (
              id {{pk}},
              assignment_id TEXT NOT NULL REFERENCES assignments(id),
              algorithm_id BIGINT NOT NULL REFERENCES algorithms(id),
              evaluator TEXT NOT NULL,
              score {{real}},
              window_number BIGINT NOT NULL,
              created_at {{real}} NOT NULL,
              in_consensus INTEGER,
              UNIQUE (algorithm_id, evaluator))
            """,
            """
            CREATE TABLE reputation (
              miner TEXT NOT NULL,
              window_number BIGINT NOT NULL,
              evaluator_points {{real}} NOT NULL,
              evolver_points {{real}} NOT NULL,
              agreements INTEGER NOT NULL,
              disagreements INTEGER NOT NULL,
              reward {{real}} NOT NULL,
              PRIMARY KEY (miner, window_number))
            """,
            """
            CREATE TABLE results (
              id {{pk}},
              algorithm_id BIGINT NOT NULL UNIQUE REFERENCES algorithms(id),
              task_type TEXT NOT NULL,
              score {{real}} NOT NULL,
              miner TEXT,
              status TEXT NOT NULL,
              created_at {{real}} NOT NULL,
              verified_at {{real}},
              verified_by TEXT)
            """,
            """
            CREATE TABLE sota (
              task_type TEXT PRIMARY KEY,
              score {{real}} NOT NULL,
              result_id BIGINT NOT NULL,
              algorithm_id BIGINT NOT NULL,
              updated_at {{real}} NOT NULL)
            """,
            """
            CREATE TABLE gossip (
              task_type TEXT NOT NULL,
              algorithm_id BIGINT NOT NULL,
              miner TEXT NOT NULL,
              window_number BIGINT NOT NULL,
              created_at {{real}} NOT NULL,
              PRIMARY KEY (task_type, algorithm_id, miner))
            """,
            """
            CREATE TABLE epochs (
              epoch BIGINT PRIMARY KEY,
              budget_rao BIGINT NOT NULL,
              fee_rao BIGINT NOT NULL,
              paid_rao BIGINT NOT NULL,
              carried_rao BIGINT NOT NULL,
              unallocated_rao BIGINT NOT NULL,
              computed_at {{real}} NOT NULL)
            """,
            """
            CREATE TABLE payouts (
              epoch BIGINT NOT NULL,
              miner TEXT NOT NULL,
              allocation_rao BIGINT NOT NULL,
              paid_rao BIGINT NOT NULL,
              carried_rao BIGINT NOT NULL,
              PRIMARY KEY (epoch, miner))
            """,
        ]),
        // Window points kept incrementally (`WindowTally`): the counters behind each
        // reputation row, every derived value, the baseline inputs frozen when an evolution
        // reaches consensus, and the indexes the per-event lookups use.
        Migration(version: 2, name: "incremental window points", portable: [
            "ALTER TABLE reputation ADD COLUMN evolutions_considered INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE reputation ADD COLUMN repeated_evolutions INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE reputation ADD COLUMN total_improvement {{real}} NOT NULL DEFAULT 0",
            "ALTER TABLE reputation ADD COLUMN total_points {{real}} NOT NULL DEFAULT 0",
            "ALTER TABLE reputation ADD COLUMN in_consensus INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE reputation ADD COLUMN reward_eligible INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE algorithms ADD COLUMN parent_best {{real}}",
            "ALTER TABLE algorithms ADD COLUMN local_best {{real}}",
            "CREATE INDEX algorithms_hash ON algorithms (dsl_hash, origin, status)",
            "CREATE INDEX algorithms_author_window ON algorithms (author, consensus_window, id)",
        ]),
        // Seeds for a lease are the best consensus scores of the task: read in index order,
        // so a lease's cost does not grow with the number of scored algorithms.
        Migration(version: 3, name: "best algorithms index", portable: [
            "CREATE INDEX algorithms_best ON algorithms (task_type, consensus_score DESC, id) WHERE consensus_score IS NOT NULL",
        ]),
        // Payout recipients (hotkey → coldkey) and the Merkle publication of each epoch's
        // claims: one row per published epoch, one per leaf as published (its recipient is
        // frozen at publication).
        Migration(version: 4, name: "recipient coldkeys and claim epochs", portable: [
            """
            CREATE TABLE recipient_coldkeys (
              hotkey TEXT PRIMARY KEY,
              recipient_coldkey TEXT NOT NULL,
              updated_at {{real}} NOT NULL)
            """,
            """
            CREATE TABLE claim_epochs (
              epoch BIGINT PRIMARY KEY,
              root TEXT NOT NULL,
              num_leaves INTEGER NOT NULL,
              total_rao BIGINT NOT NULL,
              epoch_paid_rao BIGINT NOT NULL,
              published_at {{real}} NOT NULL)
            """,
            """
            CREATE TABLE claim_leaves (
              epoch BIGINT NOT NULL,
              leaf_index INTEGER NOT NULL,
              hotkey TEXT NOT NULL,
              recipient_coldkey TEXT NOT NULL,
              amount_rao BIGINT NOT NULL,
              leaf TEXT NOT NULL,
              PRIMARY KEY (epoch, hotkey))
            """,
            "CREATE UNIQUE INDEX claim_leaves_position ON claim_leaves (epoch, leaf_index)",
        ]),
        // The held-out check: the pool's secret (never served by any route), and the held-out
        // score of every candidate at consensus, of every result and of the SOTA.
        Migration(version: 5, name: "held-out scores", portable: [
            """
            CREATE TABLE pool_secrets (
              name TEXT PRIMARY KEY,
              value TEXT NOT NULL,
              created_at {{real}} NOT NULL)
            """,
            "ALTER TABLE algorithms ADD COLUMN held_out_score {{real}}",
            "ALTER TABLE results ADD COLUMN held_out_score {{real}}",
            "ALTER TABLE sota ADD COLUMN held_out_score {{real}}",
        ]),
        // Reward totals per miner for the leaderboard, and indexes for the monitor's counts
        // (statuses, recent leases, active miners), so neither reads the whole history.
        Migration(version: 6, name: "reward totals and monitor indexes", portable: [
            "CREATE TABLE reputation_totals (miner TEXT PRIMARY KEY, total {{real}} NOT NULL DEFAULT 0)",
            "INSERT INTO reputation_totals (miner, total) SELECT miner, SUM(reward) FROM reputation GROUP BY miner",
            "CREATE INDEX reputation_totals_rank ON reputation_totals (total DESC, miner)",
            "CREATE INDEX algorithms_status ON algorithms (status)",
            "CREATE INDEX assignments_issued ON assignments (issued_at)",
            "CREATE INDEX assignments_completed ON assignments (status, completed_at)",
            "CREATE INDEX miners_seen ON miners (last_seen_at)",
        ]),
        // A candidate's evaluation count changes with every evaluation; kept out of every
        // index, its update writes no index entry (on PostgreSQL it stays a heap-only update,
        // and the table keeps room on each page for those updates).
        Migration(version: 7, name: "pick index without the evaluation count",
                  sqlite: [
                      "DROP INDEX algorithms_pick",
                      "CREATE INDEX algorithms_pick ON algorithms (task_type, status, id)",
                  ],
                  postgres: [
                      "DROP INDEX algorithms_pick",
                      "CREATE INDEX algorithms_pick ON algorithms (task_type, status, id)",
                      "ALTER TABLE algorithms SET (fillfactor = 70)",
                  ]),
        // A miner's unexpired lease, looked up on every lease, through an index of active
        // leases only (PostgreSQL read it through the status index, every active lease of every
        // miner and the dead versions of finished ones, ~100 buffers a lease at 64 miners); a
        // miner's leases of one window, counted under a window quota, through (miner, window)
        // instead of every lease the miner ever took.
        Migration(version: 8, name: "active lease and window quota indexes", portable: [
            "CREATE INDEX assignments_active ON assignments (miner) WHERE status = 'active'",
            "CREATE INDEX assignments_miner_window ON assignments (miner, window_number)",
            "DROP INDEX assignments_miner",
        ]),
        // On SQLite the pick reads candidates in its own order — load (evaluations plus slots
        // held), then id — through the index, and stops at the first `limit` that qualify,
        // instead of reading every candidate in evaluation and sorting them (~60 rows at 64
        // miners, ~0.1 ms of every lease on the one writer). The candidates' entries are a
        // few adjacent index pages that every submit writes anyway. PostgreSQL keeps the index
        // without the counts: there, an update that touches no indexed column stays heap-only.
        Migration(version: 9, name: "pick index in pick order on SQLite",
                  sqlite: [
                      "DROP INDEX algorithms_pick",
                      "CREATE INDEX algorithms_pick ON algorithms (task_type, status, (eval_count + reserved), id)",
                  ],
                  postgres: []),
        // The repetition check of a settling evolution reads only what it decides on, through
        // indexes: the window's evolutions of its DSL hash (the hash index now ends with the
        // consensus window, so earlier windows' copies are not read), and of the authors of
        // the hash before the window, whether each of those authors is among them and the first
        // two (through `algorithms_hash_author`) — not every earlier copy of the hash, which
        // grew with history wherever a program kept being resubmitted.
        Migration(version: 10, name: "repetition lookups that do not read history", portable: [
            "DROP INDEX algorithms_hash",
            "CREATE INDEX algorithms_hash ON algorithms (dsl_hash, origin, status, consensus_window)",
            "CREATE INDEX algorithms_hash_author ON algorithms (dsl_hash, author, window_created)",
        ]),
    ]

    /// Creates or upgrades the schema and ships the seed algorithms of every task type.
    public func prepare(now: Double) async throws {
        // A pool created before window points were kept incrementally (schema 2) has rows
        // without the counters increments add to: recount them once after the upgrade.
        let applied = (try? await db.fetch("SELECT version FROM schema_migrations WHERE component = 'pool'")) ?? []
        let versions = Set(applied.compactMap { try? $0.int("version") })
        let upgradingToIncrementalPoints = !versions.isEmpty && !versions.contains(2)
        try await db.migrate(Self.migrations, component: "pool")
        if upgradingToIncrementalPoints { try await recountAllWindows() }
        try await SQLReplayLedger.prepare(db)
        try await PeriodicRuns.prepare(db)
        try await loadHeldOutSeed(now: now)
        for taskType in algorithms.taskTypes {
            let dim = algorithms.inputDim(taskType: taskType)
            for seed in algorithms.seeds(taskType: taskType) {
                let dsl = try algorithms.normalize(dsl: seed, taskType: taskType, inputDim: dim)
                try await db.transaction { tx in
                    let exists = try await tx.fetchOne(
                        "SELECT id FROM algorithms WHERE task_type = \(taskType) AND dsl_hash = \(Self.hash(dsl)) AND origin = 'seed'")
                    guard exists == nil else { return }
                    try await tx.fetch(
                        """
                        INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, origin, window_created, status, created_at)
                        VALUES (\(taskType), \(dim), \(dsl), \(Self.hash(dsl)), 'seed',
                          \(clock.number(at: now)), 'in_evaluation', \(now))
                        """)
                }
            }
        }
    }

    /// Loads the held-out seed from `pool_secrets`, creating it (random, 1...999_999_937) the
    /// first time; replicas starting together keep whichever was inserted first. A seed given
    /// in the configuration wins and is not stored.
    func loadHeldOutSeed(now: Double) async throws {
        guard rules.heldOutTasks > 0, heldOut.seed == nil else { return }
        let fresh = Int.random(in: 1...999_999_937)
        try await db.fetch(
            "INSERT INTO pool_secrets (name, value, created_at) VALUES ('held_out_seed', \(String(fresh)), \(now)) ON CONFLICT (name) DO NOTHING")
        guard let text = try await db.fetchOne("SELECT value FROM pool_secrets WHERE name = 'held_out_seed'")?
            .string("value"), let seed = Int(text)
        else { throw HeldOutSeedError() }
        heldOut.setSeedIfUnset(seed)
    }

    /// A stable content hash (FNV-1a 64) for DSL repetition checks and idempotent submits.
    static func hash(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return String(h, radix: 16)
    }

    // MARK: Miners

    public func register(hotkey: String, now: Double) async throws -> MinerInfo {
        try await db.transaction { tx in
            try await tx.fetch(
                """
                INSERT INTO miners (hotkey, registered_at, last_seen_at) VALUES (\(hotkey), \(now), \(now))
                ON CONFLICT (hotkey) DO UPDATE SET last_seen_at = excluded.last_seen_at
                """)
            return try await minerInfo(tx, hotkey: hotkey, now: now)
        }
    }

    /// The miner was seen now (registered on first sight). In a transaction that then checks
    /// the miner's active lease, this row's lock is what serialises two parallel requests of
    /// one miner, so the check must be a statement of its own after it: a PostgreSQL statement
    /// reads the database as it was when the statement began, before the lock was granted
    /// (merged into one statement, both of two parallel leases passed the check).
    func touch(_ tx: any SQLExecutor, hotkey: String, now: Double) async throws {
        try await tx.fetch(
            """
            INSERT INTO miners (hotkey, registered_at, last_seen_at) VALUES (\(hotkey), \(now), \(now))
            ON CONFLICT (hotkey) DO UPDATE SET last_seen_at = excluded.last_seen_at
            """)
    }

    func minerInfo(_ ex: any SQLExecutor, hotkey: String, now: Double) async throws -> MinerInfo {
        guard let row = try await ex.fetchOne("SELECT * FROM miners WHERE hotkey = \(hotkey)") else {
            throw APIError.notFound(PoolErrorCode.minerNotFound, "Miner \(hotkey) is not registered")
        }
        let (total, window) = try await reputation(ex, hotkey: hotkey, window: Int64(clock.number(at: now)))
        return MinerInfo(
            hotkey: hotkey, reputation: total, windowReputation: window,
            registeredAt: WireTime.string(try row.double("registered_at")),
            lastSeenAt: WireTime.string(try row.double("last_seen_at")))
    }

    func reputation(_ ex: any SQLExecutor, hotkey: String, window: Int64) async throws -> (Double, Double) {
        let row = try await ex.fetchOne(
            """
            SELECT COALESCE((SELECT total FROM reputation_totals WHERE miner = \(hotkey)), 0) AS total,
                   COALESCE((SELECT reward FROM reputation WHERE miner = \(hotkey) AND window_number = \(window)), 0) AS current
            """)
        return (try row?.double("total") ?? 0, try row?.double("current") ?? 0)
    }

    public func stats(hotkey: String, now: Double) async throws -> StatsResponse {
        let window = Int64(clock.number(at: now))
        guard let m = try await db.fetchOne("SELECT * FROM miners WHERE hotkey = \(hotkey)") else {
            throw APIError.notFound(PoolErrorCode.minerNotFound, "Miner \(hotkey) is not registered; POST \(PoolPaths.register) first")
        }
        let (total, current) = try await reputation(db, hotkey: hotkey, window: window)
        let ev = try await db.fetchOne(
            """
            SELECT SUM(CASE WHEN in_consensus = 1 THEN 1 ELSE 0 END) AS agree,
                   SUM(CASE WHEN in_consensus = 0 THEN 1 ELSE 0 END) AS disagree
            FROM evaluations WHERE evaluator = \(hotkey)
            """)
        let active = try await db.fetchOne(
            "SELECT id FROM assignments WHERE miner = \(hotkey) AND status = 'active' AND timeout_at > \(now)")
        let waiting = try await db.fetchOne(
            "SELECT COUNT(*) AS n FROM algorithms WHERE author = \(hotkey) AND status = 'in_evaluation'")
        var out = StatsResponse(
            hotkey: hotkey, reputation: total, windowReputation: current, windowNumber: window,
            evaluationsSubmitted: try m.int("evaluations_submitted"),
            evaluationsInConsensus: try ev?.optionalInt("agree") ?? 0,
            evaluationsOutOfConsensus: try ev?.optionalInt("disagree") ?? 0,
            evolutionsSubmitted: try m.int("evolutions_submitted"),
            evolutionsAccepted: try m.int("evolutions_accepted"),
            pendingRao: try m.int("carried_rao"), paidRao: try m.int("paid_rao"),
            activeAssignment: try active?.string("id"), pool: try await poolSummary(now: now))
        out.ownCandidatesWaiting = try waiting?.int("n") ?? 0
        out.consensusThreshold = rules.consensusThreshold
        return out
    }

    func poolSummary(now: Double) async throws -> PoolSummary {
        let windowStart = clock.start(of: clock.number(at: now))
        let row = try await db.fetchOne(
            """
            SELECT (SELECT COUNT(*) FROM miners) AS total,
                   (SELECT COUNT(*) FROM miners WHERE last_seen_at >= \(windowStart)) AS active,
                   (SELECT COUNT(*) FROM algorithms WHERE status = 'in_evaluation') AS candidates
            """)
        return PoolSummary(
            minersTotal: try row?.int("total") ?? 0, minersActiveWindow: try row?.int("active") ?? 0,
            candidatesInEvaluation: try row?.int("candidates") ?? 0, sotaByTask: try await sotaMap())
    }

    func sotaMap() async throws -> [String: Double] {
        var out: [String: Double] = [:]
        for r in try await db.fetch("SELECT task_type, score FROM sota") {
            out[try r.string("task_type")] = try r.double("score")
        }
        return out
    }

    public func leaderboard(limit: Int, now: Double) async throws -> LeaderboardResponse {
        let window = Int64(clock.number(at: now))
        let rows = try await db.fetch(
            """
            SELECT m.hotkey, m.last_seen_at, m.evaluations_submitted, m.evolutions_submitted,
                   COALESCE(t.total, 0) AS total, COALESCE(r.reward, 0) AS current
            FROM miners m
            LEFT JOIN reputation_totals t ON t.miner = m.hotkey
            LEFT JOIN reputation r ON r.miner = m.hotkey AND r.window_number = \(window)
            ORDER BY total DESC, current DESC, m.hotkey ASC
            LIMIT \(limit)
            """)
        let total = try await db.fetchOne("SELECT COUNT(*) AS n FROM miners")?.int("n") ?? 0
        var entries: [LeaderboardEntry] = []
        for (i, r) in rows.enumerated() {
            entries.append(LeaderboardEntry(
                rank: i + 1, hotkey: try r.string("hotkey"), reputation: try r.double("total"),
                windowReputation: try r.double("current"), evaluations: try r.int("evaluations_submitted"),
                evolutions: try r.int("evolutions_submitted"), lastSeenAt: WireTime.string(try r.double("last_seen_at"))))
        }
        return LeaderboardResponse(miners: entries, total: total)
    }
}
