import Foundation
import Hotkeys
import Logging
import Miner
import MinerEngine
import PoolAPI
import PoolServer
import ServiceKit
import TestSupport
import Testing

/// Miners against a live pool over loopback HTTP.
@Suite struct MinerLoopTests {
    @Test(arguments: TestDatabases.available)
    func minersCompleteLeasesAndReputationRises(_ backend: Backend) async throws {
        var config = PoolConfig()
        config.port = 0
        config.database = try await TestDatabases.freshURL(backend)
        config.rules.consensusThreshold = 2
        let stopper = ServiceStopper()
        let (server, port) = try await launchServer { [config] ready in
            try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: TestDatabases.logger, stopper: stopper,
                              onReady: ready)
        }
        let base = "http://127.0.0.1:\(port)"
        let summaries = try await withThrowingTaskGroup(of: MinerSummary.self) { group in
            for i in 0..<3 {
                group.addTask {
                    let client = PoolClient(baseURL: base, keypair: .generate())
                    var options = MinerOptions()
                    options.maxLeases = 4
                    options.generations = 10
                    options.suite = SuiteConfig(taskCount: 4, nSamples: 100)
                    options.randomSeed = UInt64(i + 7)
                    let summary = try await MinerLoop(client: client, options: options) { _ in }.run(stop: StopSignal())
                    await client.shutdown()
                    return summary
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let observer = PoolClient(baseURL: base, keypair: .generate())
        let board = try await observer.leaderboard()
        await observer.shutdown()
        await stopper.stop()
        _ = await server.result
        #expect(board.miners.filter { $0.reputation > 0 }.count >= 2, "\(board.miners.map(\.reputation))")
        #expect(summaries.count == 3)
        #expect(summaries.filter { $0.evaluations > 0 }.count >= 2)
        for s in summaries {
            #expect(s.leasesCompleted == 4)
            #expect(s.bestScore.isFinite)
        }
        // Reputation is earned as peers' evaluations reach consensus; it is not monotonic (an
        // evolution's points shrink when its parents are scored later), but it rises overall.
        #expect(summaries.contains { ($0.reputationHistory.last ?? 0) > ($0.reputationHistory.first ?? 0) },
                "reputation rises over the leases")
    }
}
