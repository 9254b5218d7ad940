import Foundation
import Hotkeys
import PoolAPI
import PoolCore
@testable import PoolServer
import Store
import TestSupport
import Testing

/// Lease advice (seeds, backlog, gossip) is kept a moment between leases; what this process
/// commits that changes it is seen by the next lease at once.
@Suite struct LeaseAdviceTests {
    static func seedRow(_ id: Int64, _ score: Double?) -> SQLRow {
        SQLRow(columns: ["id", "consensus_score"], values: [.int(id), score.map { .double($0) } ?? .null])
    }

    /// Two seeds, the last (id 10) scored `lastScore` (nil: not scored).
    static func advice(lastScore: Double?, wanted: Int = 2) -> LeaseAdvice {
        LeaseAdvice(seeds: [seedRow(1, 0.9), seedRow(10, lastScore)], backlog: 0,
                    gossip: GossipPacket(taskType: "t", algorithmIds: []), seedsWanted: wanted,
                    lastSeed: lastScore.map { ($0, 10) })
    }

    static let key = LeaseAdviceCache.Key(taskType: "t", seedLimit: 2, gossipLimit: 0, window: 1)

    static func changes(score: Double, id: Int64 = 20, taskType: String = "t") -> LeaseAdviceCache.Changes {
        var c = LeaseAdviceCache.Changes()
        c.scores = [(taskType, id, score)]
        return c
    }

    @Test func aScoreEnteringTheSeedListDropsTheEntryAndOneBelowItDoesNot() {
        let cache = LeaseAdviceCache()
        cache.keep(Self.key, Self.advice(lastScore: 0.5), readSince: cache.lookup(Self.key).generation)
        #expect(cache.lookup(Self.key).advice != nil)
        cache.changed(Self.changes(score: 0.4))
        #expect(cache.lookup(Self.key).advice != nil, "below the lowest seed: the list cannot change")
        cache.changed(Self.changes(score: 0.7, taskType: "other"))
        #expect(cache.lookup(Self.key).advice != nil, "another task type's score")
        cache.changed(Self.changes(score: 0.5, id: 11))
        #expect(cache.lookup(Self.key).advice != nil, "a tie with a later id comes after the last seed")
        cache.changed(Self.changes(score: 0.5, id: 9))
        #expect(cache.lookup(Self.key).advice == nil, "a tie with an earlier id comes before it")
    }

    @Test func fewerScoredSeedsThanWantedMeansAnyScoreEnters() {
        let cache = LeaseAdviceCache()
        cache.keep(Self.key, Self.advice(lastScore: nil), readSince: 0)
        cache.changed(Self.changes(score: -100))
        #expect(cache.lookup(Self.key).advice == nil)
        // A lease that asked for no seeds is not affected by scores.
        let noSeeds = LeaseAdviceCache.Key(taskType: "t", seedLimit: 0, gossipLimit: 0, window: 1)
        cache.keep(noSeeds, Self.advice(lastScore: nil, wanted: 0), readSince: cache.lookup(noSeeds).generation)
        cache.changed(Self.changes(score: 5))
        #expect(cache.lookup(noSeeds).advice != nil)
    }

    @Test func gossipDropsOnlyEntriesThatCarryGossip() {
        let cache = LeaseAdviceCache()
        let gossipKey = LeaseAdviceCache.Key(taskType: "t", seedLimit: 2, gossipLimit: 5, window: 1)
        for k in [Self.key, gossipKey] { cache.keep(k, Self.advice(lastScore: 0.5), readSince: 0) }
        var c = LeaseAdviceCache.Changes()
        c.gossipTaskTypes = ["t"]
        cache.changed(c)
        #expect(cache.lookup(Self.key).advice != nil)
        #expect(cache.lookup(gossipKey).advice == nil)
    }

    /// A read that began before a change committed may not have seen it: kept only if that
    /// change cannot affect what was read.
    @Test func aReadRacingAChangeIsKeptOnlyIfTheChangeCannotAffectIt() {
        let cache = LeaseAdviceCache()
        let before = cache.lookup(Self.key).generation
        cache.changed(Self.changes(score: 0.8))
        cache.keep(Self.key, Self.advice(lastScore: 0.5), readSince: before)
        #expect(cache.lookup(Self.key).advice == nil)
        let again = cache.lookup(Self.key).generation
        cache.changed(Self.changes(score: 0.1))
        cache.keep(Self.key, Self.advice(lastScore: 0.5), readSince: again)
        #expect(cache.lookup(Self.key).advice != nil)
        // Older than the changes remembered: not kept.
        let stale = cache.lookup(Self.key).generation
        for _ in 0...LeaseAdviceCache.recentKept { cache.changed(Self.changes(score: 0.1)) }
        cache.keep(Self.key, Self.advice(lastScore: 0.3), readSince: stale)
        #expect(cache.lookup(Self.key).advice?.lastSeed?.score == 0.5, "the entry kept before stays; the stale read did not replace it")
    }

    /// Through the pool, both backends: a lease reads the advice (kept), a candidate then reaches
    /// consensus above every scored algorithm, and the next lease has it as its first seed; a
    /// submit's gossip is in the next lease's packet.
    @Test(arguments: TestDatabases.available)
    func theNextLeaseSeesWhatThisPoolCommitted(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        let author = SR25519Keypair.generate()
        let evaluators = Keys.make(3)
        let watcher = SR25519Keypair.generate()
        let request = LeaseRequest(taskType: "scalar_linear", evalBatchSize: 0, seedBatchSize: 2, gossipLimit: 5)
        try await h.run { c in
            let before = try await c.lease(watcher, request)
            #expect(!before.seedAlgorithms.isEmpty)
            #expect(before.gossip.algorithmIds.isEmpty)
            _ = try await c.call(.delete, PoolPaths.activeTask, key: watcher)

            let lease = try await c.lease(author)
            let r = try await c.submit(author, lease.leaseId, LeaseSubmission(
                evaluations: [], evolutions: [EvolutionEntry(parentAlgorithmIds: [], algorithmDsl: HeldOutGateStoreTests.lms(0.05))],
                iterations: 1))
            #expect(r.status == .ok, "\(r.text)")
            let candidate = try #require(try r.decode(SubmitResponse.self).evolutionsAccepted.first)
            var reached: [Int64] = []
            for k in evaluators {
                let l = try await c.lease(k, LeaseRequest(taskType: "scalar_linear", evalBatchSize: 64))
                #expect(l.evaluateAlgorithms.contains { $0.id == candidate })
                let s = try await c.submit(k, l.leaseId, LeaseSubmission(
                    evaluations: [EvaluationEntry(algorithmId: candidate, score: 0.9)], evolutions: [],
                    gossip: GossipPacket(taskType: "scalar_linear", algorithmIds: [candidate]), iterations: 1))
                #expect(s.status == .ok, "\(s.text)")
                reached += try s.decode(SubmitResponse.self).consensusReached
            }
            #expect(reached == [candidate])

            let after = try await c.lease(watcher, request)
            #expect(after.seedAlgorithms.first?.id == candidate, "the new best scored algorithm leads the seeds")
            #expect(after.gossip.algorithmIds == [candidate])
        }
    }
}
