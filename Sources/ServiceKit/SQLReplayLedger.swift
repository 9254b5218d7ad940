import Foundation
import Hotkeys
import Store
import Synchronization

/// The replay ledger of a service: one table of used (public key, signature) pairs in the
/// service's own database, so a signature is accepted once across HTTP, WebSocket and
/// query-parameter credentials, across restarts, and across replicas sharing the database.
/// Rows past their expiry (the signed timestamp plus the window) are pruned as requests
/// arrive, at most once per `pruneIntervalSeconds`, so the table holds one window of traffic.
///
/// Claims are written in groups: while one insert is on its way to the database, claims
/// that arrive queue up and go together in the next multi-row insert (one statement, one
/// commit), so under load a request costs a fraction of a database write, and an idle
/// service still writes each claim at once.
public final class SQLReplayLedger: ReplayLedger {
    public static let migrations = [
        Migration(version: 1, name: "used request signatures", portable: [
            "CREATE TABLE used_signatures (public_key {{blob}} NOT NULL, signature {{blob}} NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (public_key, signature))",
            "CREATE INDEX used_signatures_expiry ON used_signatures (expires_at)",
        ]),
    ]

    private struct Claim: Sendable {
        let publicKey: [UInt8]
        let signature: [UInt8]
        let expiresAt: Int64
        let reply: CheckedContinuation<Bool, any Error>
    }

    private struct Queue {
        var waiting: [Claim] = []
        var writing = false
        var latestNow: Int64 = 0
        /// When expired rows were last deleted (only the one writing loop reads or sets it).
        var lastPrune: Int64 = 0
    }

    private let db: any SQLDatabase
    private let pruneIntervalSeconds: Int64
    private let queue = Mutex(Queue())
    /// Claims per insert statement at most (3 values each).
    static let groupLimit = 256

    public init(db: any SQLDatabase, pruneIntervalSeconds: Int64 = 30) {
        self.db = db
        self.pruneIntervalSeconds = pruneIntervalSeconds
    }

    /// Creates the ledger's table (component `replay`, versioned like every schema).
    public static func prepare(_ db: any SQLDatabase) async throws {
        try await db.migrate(migrations, component: "replay")
    }

    public func claim(publicKey: [UInt8], signature: [UInt8], expiresAt: Int64, now: Int64) async throws -> Bool {
        try await withCheckedThrowingContinuation { reply in
            let startWriter = queue.withLock { q -> Bool in
                q.waiting.append(Claim(publicKey: publicKey, signature: signature, expiresAt: expiresAt, reply: reply))
                q.latestNow = max(q.latestNow, now)
                if q.writing { return false }
                q.writing = true
                return true
            }
            if startWriter { Task { await self.writeQueued() } }
        }
    }

    /// Writes queued claims group by group until none wait; each claim learns whether its
    /// row was new. A claim repeated within one group is new at most once.
    private func writeQueued() async {
        while true {
            let (group, now) = queue.withLock { q -> ([Claim], Int64) in
                let group = Array(q.waiting.prefix(Self.groupLimit))
                q.waiting.removeFirst(group.count)
                if group.isEmpty { q.writing = false }
                return (group, q.latestNow)
            }
            guard !group.isEmpty else { return }
            struct Key: Hashable { let publicKey: [UInt8]; let signature: [UInt8] }
            var seen = Set<Key>()
            let distinct = group.filter { seen.insert(Key(publicKey: $0.publicKey, signature: $0.signature)).inserted }
            do {
                let values = Array(repeating: "(?, ?, ?)", count: distinct.count).joined(separator: ", ")
                let rows = try await db.query(
                    """
                    INSERT INTO used_signatures (public_key, signature, expires_at) VALUES \(values)
                    ON CONFLICT DO NOTHING RETURNING public_key, signature
                    """, distinct.flatMap { [.blob($0.publicKey), .blob($0.signature), .int($0.expiresAt)] })
                var inserted = Set<Key>()
                for r in rows {
                    if case let .blob(k) = try r.value("public_key"), case let .blob(s) = try r.value("signature") {
                        inserted.insert(Key(publicKey: k, signature: s))
                    }
                }
                // Only the first claim of a pair in this group can be the new one.
                var answered = Set<Key>()
                for c in group {
                    let key = Key(publicKey: c.publicKey, signature: c.signature)
                    c.reply.resume(returning: answered.insert(key).inserted && inserted.contains(key))
                }
            } catch {
                for c in group { c.reply.resume(throwing: error) }
            }
            await pruneIfDue(now: now)
        }
    }

    private func pruneIfDue(now: Int64) async {
        let due = queue.withLock { q in
            guard now - q.lastPrune >= pruneIntervalSeconds else { return false }
            q.lastPrune = now
            return true
        }
        // A failed prune is retried with the next one; claims do not depend on it.
        if due { _ = try? await db.fetch("DELETE FROM used_signatures WHERE expires_at < \(now)") }
    }
}
