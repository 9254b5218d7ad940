import TestSupport
import Testing
@testable import PoolCore

@Suite struct WindowTallyTests {
    @Test func countersGiveTheDerivedPoints() {
        var rules = PoolRules()
        rules.repetitionPenalty = 0.5
        rules.minRewardActivity = 3
        var c = MinerCounters(agreements: 2, disagreements: 1, evolutionsConsidered: 1, repeatedEvolutions: 1)
        c.addImprovement(0.25)
        c.addImprovement(-1)  // not an improvement
        let p = c.points(hotkey: "a", rules: rules)
        #expect(p.evaluatorPoints == 1 && p.evolverPoints == 2.5 - 0.5 && p.total == 3)
        #expect(p.inConsensus && p.rewardEligible && p.reward == 3 && p.activity == 4)
        let out = MinerCounters(agreements: 0, disagreements: 2).points(hotkey: "b", rules: rules)
        #expect(!out.inConsensus && out.total == 0 && out.reward == 0)
    }

    /// Evolutions reach consensus one at a time in random order (some were created before
    /// the window and sat in its history until then); the per-hash deltas of
    /// `repetitionDelta` add up to `compute`'s repeated evolutions of the final window.
    @Test(arguments: [UInt64(3), 11, 42, 99])
    func repetitionDeltasAddUpToCompute(_ seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for scope in PoolRules.RepetitionScope.allCases {
            var rules = PoolRules()
            rules.repetitionScope = scope
            let authors = ["a", "b", "c"], hashes = ["h1", "h2", "h3"]
            struct Evo { var id: Int; var author: String; var hash: String; var createdBefore: Bool }
            let evos = (0..<12).map { i in
                Evo(id: i + 1, author: authors[rng.below(3)], hash: hashes[rng.below(3)], createdBefore: rng.chance(0.3))
            }
            var baseHistory = RepetitionHistory()
            for _ in 0..<3 { baseHistory.record(hashes[rng.below(3)], author: rng.chance(0.5) ? "" : authors[rng.below(3)]) }

            var settled: [Evo] = []
            var tally: [String: Int] = [:]
            for e in rng.shuffled(evos) {
                func state(_ s: [Evo]) -> (ordered: [(author: String, dslHash: String)], history: RepetitionHistory) {
                    var history = baseHistory
                    let ids = Set(s.map(\.id))
                    for x in evos where x.hash == e.hash && x.createdBefore && !ids.contains(x.id) {
                        history.record(x.hash, author: x.author)
                    }
                    let ordered = s.filter { $0.hash == e.hash }.sorted { $0.id < $1.id }
                    return (ordered.map { (author: $0.author, dslHash: $0.hash) }, history)
                }
                let delta = WindowTally.repetitionDelta(before: state(settled), after: state(settled + [e]), scope: scope)
                settled.append(e)
                for (author, d) in delta { tally[author, default: 0] += d }
            }
            // The oracle: every evolution settled, history = base (none left waiting).
            let records = evos.map { EvolutionRecord(algorithmId: $0.id, author: $0.author, consensusScore: 0.5, dslHash: $0.hash) }
            let result = WindowPoints.compute(verdicts: [], evolutions: records, rules: rules, history: baseHistory)
            for author in authors {
                #expect((tally[author] ?? 0) == (result.miners[author]?.repeatedEvolutions ?? 0), "\(scope) \(author)")
            }
        }
    }
}
