import Foundation

/// Decides which replica does a periodic job's work each period, when several processes
/// share one PostgreSQL database (see docs/deploy.md, "Periodic work").
///
/// One row per job in `periodic_runs (name, holder, started_at, next_due, runs)`. Every
/// replica asks on its own schedule; a single upsert, timed by the database's clock (so
/// replicas' clocks may disagree), claims the run only when `next_due` has passed and moves
/// it one interval ahead. Under READ COMMITTED a concurrent claimer waits for the row lock and
/// re-checks `next_due` on the committed row, so exactly one replica wins each period. No
/// replica is the leader: if the one that has been winning dies, whichever replica asks next
/// after `next_due` wins, within one period. On SQLite (one process) every claim succeeds
/// and nothing is written.
public struct PeriodicRuns: Sendable {
    public static let migrations = [
        Migration(version: 1, name: "periodic runs", portable: [
            "CREATE TABLE periodic_runs (name TEXT PRIMARY KEY, holder TEXT NOT NULL, started_at {{real}} NOT NULL, next_due {{real}} NOT NULL, runs BIGINT NOT NULL)",
        ]),
    ]

    public let db: any SQLDatabase
    /// Who claims (a replica's id), recorded in the row.
    public let holder: String

    public init(db: any SQLDatabase, holder: String) {
        self.db = db
        self.holder = holder
    }

    /// Creates the table (component `periodic`); safe when replicas start at once.
    public static func prepare(_ db: any SQLDatabase) async throws {
        try await db.migrate(migrations, component: "periodic")
    }

    /// Whether this replica does `name`'s work now: true for the one claimer per `interval`
    /// seconds across all replicas on PostgreSQL; always true on SQLite.
    public func claim(_ name: String, interval: Double) async throws -> Bool {
        guard db.dialect == .postgres else { return true }
        let won = try await db.transaction { tx in
            try await tx.fetch(
                """
                INSERT INTO periodic_runs AS p (name, holder, started_at, next_due, runs)
                SELECT \(name), \(holder), c.t, c.t + \(interval),
                  1 FROM (SELECT EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION AS t) AS c
                ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, started_at = EXCLUDED.started_at,
                  next_due = EXCLUDED.next_due, runs = p.runs + 1
                WHERE p.next_due <= EXCLUDED.started_at
                RETURNING p.runs
                """)
        }
        return !won.isEmpty
    }

    /// The latest claim of `name`: who made it and how many runs there have been (nil before the first).
    public func latest(_ name: String) async throws -> (holder: String, runs: Int64)? {
        guard let row = try await db.fetchOne("SELECT holder, runs FROM periodic_runs WHERE name = \(name)") else {
            return nil
        }
        return (try row.string("holder"), try row.int("runs"))
    }
}

/// A name for this process among replicas: host, process id and a random suffix.
public enum ReplicaIdentity {
    public static let current: String = {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(6).lowercased())"
    }()
}
