import Foundation
import PoolAPI
import Store
import Synchronization

/// What a lease reads only as advice: the seed algorithms it may evolve from, how many
/// candidates wait for evaluation (above `PoolStore.evolutionBacklogLimit` a lease carries no
/// evolve budget) and the gossip packet. None of it is reserved or locked, so every lease
/// reading it afresh only repeated the same three reads (a sixth of the PostgreSQL pool's
/// buffer reads per cycle went to the backlog count alone).
struct LeaseAdvice: Sendable {
    var seeds: [SQLRow]
    var backlog: Int64
    var gossip: GossipPacket
    /// How many seed rows were asked for, and the last of them (score and id) when all of
    /// those were scored algorithms (nil: fewer were, so any new score enters the list).
    var seedsWanted: Int
    var lastSeed: (score: Double, id: Int64)?

    /// Whether algorithm `id` of this task type, newly scored `score`, belongs in `seeds` (the
    /// scored algorithms by score, best first, then by id).
    func seedsMayChange(withScore score: Double, id: Int64) -> Bool {
        guard seedsWanted > 0 else { return false }
        guard let lastSeed else { return true }
        return score > lastSeed.score || (score == lastSeed.score && id < lastSeed.id)
    }
}

/// Lease advice kept per (task type, sizes, window) for at most `maxAge`. Within one
/// process the cache is exact for seeds and gossip: a committed submit that scores an
/// algorithm into an entry's seed list, or records gossip, drops that entry (`changed`). The
/// backlog, and what other replicas write, may be up to `maxAge` old — advice either way.
final class LeaseAdviceCache: Sendable {
    struct Key: Hashable, Sendable {
        var taskType: String
        var seedLimit: Int
        var gossipLimit: Int
        var window: Int64
    }

    /// What a committed transaction changed that advice reads.
    struct Changes: Sendable {
        var scores: [(taskType: String, id: Int64, score: Double)] = []
        var gossipTaskTypes: Set<String> = []
        var isEmpty: Bool { scores.isEmpty && gossipTaskTypes.isEmpty }
    }

    static let maxAge: Duration = .seconds(1)
    /// Entries kept at most; keys are bounded by the lease sizes' ranges, this bounds the rest.
    static let maxEntries = 256

    private struct State {
        var entries: [Key: (advice: LeaseAdvice, readAt: ContinuousClock.Instant)] = [:]
        /// Counts changes; `recent` holds the last `recentKept` of them with their number, so
        /// a read that raced with a change is kept only if that change cannot affect it.
        var generation: UInt64 = 0
        var recent: [(generation: UInt64, changes: Changes)] = []
    }

    static let recentKept = 64

    private let state = Mutex(State())
    private let clock = ContinuousClock()

    static func affects(_ changes: Changes, _ key: Key, _ advice: LeaseAdvice) -> Bool {
        if key.gossipLimit > 0 && changes.gossipTaskTypes.contains(key.taskType) { return true }
        return changes.scores.contains { $0.taskType == key.taskType && advice.seedsMayChange(withScore: $0.score, id: $0.id) }
    }

    /// The kept advice for `key` if fresh, and the generation to pass to `keep` otherwise.
    func lookup(_ key: Key) -> (advice: LeaseAdvice?, generation: UInt64) {
        let now = clock.now
        return state.withLock { s in
            if let e = s.entries[key], now - e.readAt < Self.maxAge { return (e.advice, s.generation) }
            return (nil, s.generation)
        }
    }

    /// Keeps `advice`, read after `lookup` returned `generation`, unless a change committed
    /// since may have been missed by the read.
    func keep(_ key: Key, _ advice: LeaseAdvice, readSince generation: UInt64) {
        let now = clock.now
        state.withLock { s in
            let since = s.generation &- generation
            guard since <= UInt64(s.recent.count) else { return }
            for r in s.recent.suffix(Int(since)) where Self.affects(r.changes, key, advice) { return }
            if s.entries.count >= Self.maxEntries {
                s.entries = s.entries.filter { now - $0.value.readAt < Self.maxAge }
                if s.entries.count >= Self.maxEntries { s.entries.removeAll() }
            }
            s.entries[key] = (advice, now)
        }
    }

    /// Drops the entries a committed transaction's `changes` may have made wrong.
    func changed(_ changes: Changes) {
        guard !changes.isEmpty else { return }
        state.withLock { s in
            s.generation &+= 1
            s.recent.append((s.generation, changes))
            if s.recent.count > Self.recentKept { s.recent.removeFirst(s.recent.count - Self.recentKept) }
            s.entries = s.entries.filter { !Self.affects(changes, $0.key, $0.value.advice) }
        }
    }
}
