import Foundation
import PlatformAPI
import PlatformCore
import ServiceKit
import Store

extension PlatformStore {
    func completedSubmissions(_ ex: any SQLExecutor, challengeId: String) async throws -> [ScoredSubmission] {
        let rows = try await ex.fetch(
            """
            SELECT id, miner_hotkey, score, finished_at, updated_at FROM submissions
            WHERE challenge_id = \(challengeId) AND status = 'completed' AND score IS NOT NULL
            """)
        return try rows.map { r in
            ScoredSubmission(submissionId: try r.string("id"), minerHotkey: try r.string("miner_hotkey"),
                             score: try r.double("score"),
                             completedAt: try r.optionalDouble("finished_at") ?? r.double("updated_at"))
        }
    }

    /// `GET /challenges/{id}/leaderboard`: each miner's best completed submission, ranked
    /// by `Leaderboard.rank`, with its weight within the challenge (`WeightRule`).
    public func leaderboard(challengeId: String, limit: Int) async throws -> LeaderboardResponse {
        let c = try await challenge(db, id: challengeId)
        let ranked = Leaderboard.rank(try await completedSubmissions(db, challengeId: c.id))
        let weights = WeightRule.challengeWeights(Dictionary(ranked.map { ($0.minerHotkey, $0.score) },
                                                             uniquingKeysWith: { a, _ in a }))
        let entries = ranked.prefix(limit).enumerated().map { i, s in
            LeaderboardEntry(rank: i + 1, minerHotkey: s.minerHotkey, submissionId: s.submissionId, score: s.score,
                             weight: weights[s.minerHotkey] ?? 0, completedAt: PlatformTime.string(s.completedAt))
        }
        return LeaderboardResponse(challengeId: c.id, entries: Array(entries))
    }

    /// `GET /mechanisms/{id}/weights`: `WeightRule.mechanismWeights` over the mechanism's
    /// active challenges.
    public func weights(mechanismId: Int) async throws -> MechanismWeightsResponse {
        let rows = try await db.fetch(
            "SELECT * FROM challenges WHERE mechanism_id = \(mechanismId) AND status = 'active' ORDER BY id")
        var inputs: [ChallengeScores] = []
        var challenges: [ChallengeRow] = []
        var minerCounts: [String: Int] = [:]
        for r in rows {
            let c = try ChallengeRow(r)
            challenges.append(c)
            let best = Leaderboard.rank(try await completedSubmissions(db, challengeId: c.id))
            minerCounts[c.id] = best.count
            inputs.append(ChallengeScores(
                challengeId: c.id, emissionShare: c.emissionShare,
                minerScores: Dictionary(best.map { ($0.minerHotkey, $0.score) }, uniquingKeysWith: { a, _ in a })))
        }
        let result = WeightRule.mechanismWeights(inputs)
        return MechanismWeightsResponse(
            mechanismId: mechanismId,
            weights: result.weights.map { MinerWeight(hotkey: $0.hotkey, weight: $0.weight) },
            total: result.total,
            challenges: challenges.map {
                MechanismChallengeShare(challengeId: $0.id, name: $0.name, emissionShare: $0.emissionShare,
                                        miners: minerCounts[$0.id] ?? 0, allocated: result.allocated.contains($0.id))
            })
    }
}
