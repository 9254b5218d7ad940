import AlgorithmDSL
import Miner
import MinerEngine
import PoolAPI
import PoolCore
import Testing

@Suite struct MinerSearchTests {
    /// Two miners given the same lease suite build the same engine (so they agree); another
    /// window's suite scores differently.
    @Test func leaseSuiteGivesEveryMinerTheSameScores() throws {
        let base = SuiteConfig(taskCount: 4, nSamples: 100)
        let rotated = SuiteRotation.suite(window: 42, salt: 1, taskCount: 6, samples: 120)
        let suite = EvalSuite(seed: rotated.seed, taskCount: rotated.taskCount, samples: rotated.samples)
        let a = MinerLoop.suiteConfig(for: suite, base: base)
        let b = MinerLoop.suiteConfig(for: suite, base: base)
        #expect(a == b && a.seed == suite.seed && a.taskCount == 6 && a.nSamples == 120)
        #expect(MinerLoop.suiteConfig(for: nil, base: base) == base)
        var options = MinerOptions()
        options.searchExtraTasks = 2
        options.selectionTasks = 3
        let ea = try MinerSuites(taskType: "scalar_linear", publicConfig: a, options: options)
        let eb = try MinerSuites(taskType: "scalar_linear", publicConfig: b, options: options)
        let seeds = seedAlgorithms(taskType: "scalar_linear")
        for dsl in seeds { #expect(ea.publicSuite.score(dsl: dsl) == eb.publicSuite.score(dsl: dsl)) }
        let next = SuiteRotation.suite(window: 43, salt: 1, taskCount: 6, samples: 120)
        let other = try MinerSuites(
            taskType: "scalar_linear",
            publicConfig: MinerLoop.suiteConfig(for: EvalSuite(seed: next.seed, taskCount: 6, samples: 120), base: base),
            options: options)
        #expect(seeds.contains { ea.publicSuite.score(dsl: $0) != other.publicSuite.score(dsl: $0) })
        #expect(ea.search.suite.tasks.count == 8 && ea.selection?.suite.tasks.count == 3)
    }

    @Test func waitingNoteSaysWhenConsensusCannotBeReached() {
        func stats(waiting: Int64, active: Int64) -> StatsResponse {
            var s = StatsResponse(
                hotkey: "x", reputation: 0, windowReputation: 0, windowNumber: 1, evaluationsSubmitted: 0,
                evaluationsInConsensus: 0, evaluationsOutOfConsensus: 0, evolutionsSubmitted: 0, evolutionsAccepted: 0,
                pendingRao: 0, paidRao: 0, activeAssignment: nil,
                pool: PoolSummary(minersTotal: active, minersActiveWindow: active, candidatesInEvaluation: waiting, sotaByTask: [:]))
            s.ownCandidatesWaiting = waiting
            s.consensusThreshold = 3
            return s
        }
        #expect(MinerLoop.waitingNote(stats(waiting: 0, active: 3)) == nil)
        let few = MinerLoop.waitingNote(stats(waiting: 2, active: 3))
        #expect(few?.contains("consensus needs 3 miners other than you") == true)
        #expect(few?.contains("2 other active") == true)
        let enough = MinerLoop.waitingNote(stats(waiting: 1, active: 4))
        #expect(enough?.contains("waiting for evaluators") == true && enough?.contains("other active") == false)
    }
}
