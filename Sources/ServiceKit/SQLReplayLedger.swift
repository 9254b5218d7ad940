import Foundation
import Hotkeys
import Store
import Synchronization

/// The replay ledger of a service: one table of used (public key, signature) pairs in the
/// service's own database, so a signature is accepted once across HTTP, WebSocket and
/// query-parameter credentials, across restarts, and across replicas sharing the database.
/// Rows past their expiry (the signed timestamp plus the window) are pruned as requests
/// arrive, at most once per `pruneIntervalSeconds`, so the table holds one window of traffic.
public final class SQLReplayLedger: ReplayLedger {
    public static let migrations = [
        Migration(version: 1, name: "used request signatures", portable: [
            "CREATE TABLE used_signatures (public_key {{blob}} NOT NULL, signature {{blob}} NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (public_key, signature))",
            "CREATE INDEX used_signatures_expiry ON used_signatures (expires_at)",
        ]),
    ]

    private let db: any SQLDatabase
    private let pruneIntervalSeconds: Int64
    private let lastPrune = Mutex<Int64>(0)

    public init(db: any SQLDatabase, pruneIntervalSeconds: Int64 = 30) {
        self.db = db
        self.pruneIntervalSeconds = pruneIntervalSeconds
    }

    /// Creates the ledger's table (component `replay`, versioned like every schema).
    public static func prepare(_ db: any SQLDatabase) async throws {
        try await db.migrate(migrations, component: "replay")
    }

    public func claim(publicKey: [UInt8], signature: [UInt8], expiresAt: Int64, now: Int64) async throws -> Bool {
        let inserted = try await db.query(
            "INSERT INTO used_signatures (public_key, signature, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING expires_at",
            [.blob(publicKey), .blob(signature), .int(expiresAt)])
        let due = lastPrune.withLock { last in
            guard now - last >= pruneIntervalSeconds else { return false }
            last = now
            return true
        }
        if due { try await db.execute("DELETE FROM used_signatures WHERE expires_at < ?", [.int(now)]) }
        return !inserted.isEmpty
    }
}
