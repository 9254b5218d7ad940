import ArgumentParser
import Foundation
import Hotkeys
import Logging
import Miner
import PoolAPI
import PoolServer
import ServiceKit

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the local network on embedded defaults and show it working.")

    @Option(help: "Seconds of mining before the summary.") var duration: Double = 60
    @Option(help: "Number of miners (fresh hotkeys).") var miners = 3
    @Option(help: "Directory for the demo's databases and files.") var dataDir = "data"
    @Option(help: "Pool database (default: a fresh SQLite file under the data directory).") var database: String?
    @Option(help: "Pool port.") var port = 8434
    @Option(help: "Platform API port.") var platformPort = 8435
    @Option(help: "Local VMM port.") var vmmPort = 8090
    @Option(help: "Task type the miners work on.") var taskType = "scalar_linear"
    @Flag(help: "Leave the services running after the summary (Ctrl-C to stop).") var keep = false

    /// What a demo run produced (for the summary and the demo's test).
    struct Outcome: Sendable {
        var candidatesWithConsensus: Int64 = 0
        var sota: Double?
        var verifiedResults = 0
        var platformJobsCompleted = 0
        var platformScore: Double?
    }

    func run() async throws {
        _ = try await execute()
    }

    func execute() async throws -> Outcome {
        var outcome = Outcome()
        guard miners >= 3 else { throw ValidationError("--miners must be at least 3 (consensus needs two evaluators besides an author)") }
        var logger = Logger(label: "evalnet.demo")
        logger.logLevel = .warning
        let stamp = Int(Date().timeIntervalSince1970)
        let data = URL(fileURLWithPath: dataDir, isDirectory: true).standardizedFileURL
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let operatorKey = SR25519Keypair.generate()
        var config = PoolConfig()
        config.port = port
        config.database = database ?? "sqlite:" + data.appendingPathComponent("demo-\(stamp)-pool.db").path
        config.rules.consensusThreshold = 2
        config.rules.windowSeconds = max(20, Int(duration / 3))
        config.rules.leaseTTLSeconds = 120
        config.operatorHotkeys = [operatorKey.publicKey.ss58Address]
        config.sweepIntervalSeconds = 2

        print("evalnet demo: pool + \(miners) miners for \(Int(duration)) s (database \(config.database)), "
            + "then platform API + local VMM + validator")
        let stopper = ServiceStopper()
        let (pool, boundPort) = try await launchServer { [config, logger] ready in
            try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: logger, stopper: stopper, onReady: ready)
        }
        let base = "http://127.0.0.1:\(boundPort)"
        print("pool: \(base)  (docs \(base)/docs, dashboard \(base)\(PoolDashboard.path))")

        let stop = StopSignal()
        let minerTasks = (0..<miners).map { i in
            Task {
                let client = PoolClient(baseURL: base, keypair: .generate())
                var options = MinerOptions()
                options.taskType = taskType
                options.generations = 40
                options.durationSeconds = duration
                options.randomSeed = UInt64(i + 1)
                let loop = MinerLoop(client: client, options: options) { _ in }
                let summary = try? await loop.run(stop: stop)
                await client.shutdown()
                return summary
            }
        }
        let observer = PoolClient(baseURL: base, keypair: operatorKey)
        let started = Date()
        while Date().timeIntervalSince(started) < duration {
            try await Task.sleep(for: .seconds(3))
            if let s = try? await observer.monitorSummary() {
                outcome.candidatesWithConsensus = s.candidates.withConsensus
                let sota = s.sota[taskType].map { String(format: "%.4f", $0) } ?? "-"
                print(String(format: "[%3.0fs] window %lld (%lld s left) | leases %lld issued, %lld done | candidates %lld waiting, %lld with consensus | SOTA %@",
                             Date().timeIntervalSince(started), s.window.number, s.window.timeRemainingS,
                             s.leases.issued15m, s.leases.completed15m, s.candidates.inEvaluation,
                             s.candidates.withConsensus, sota))
            }
        }
        stop.request()
        var summaries: [MinerSummary] = []
        for t in minerTasks { if let s = await t.value { summaries.append(s) } }

        // Operator step: verify the best completed result.
        let completed = (try? await observer.results(status: "completed", taskType: taskType, limit: 1))?.results ?? []
        if let best = completed.first, let verified = try? await observer.verify(resultId: best.id) {
            outcome.verifiedResults += 1
            print("verified result \(verified.id) (algorithm \(verified.algorithmId), score \(String(format: "%.4f", verified.score)))")
        }
        print("\nLeaderboard")
        if let board = try? await observer.leaderboard() {
            for m in board.miners {
                print(String(format: "  %d. %@  reputation %.2f  evaluations %lld  evolutions %lld", m.rank, m.hotkey,
                             m.reputation, m.evaluations, m.evolutions))
            }
        }
        print("\nSOTA per task")
        for t in ["scalar_linear", "cifar10_binary"] {
            let s = try? await observer.sota(taskType: t)
            if t == taskType { outcome.sota = s?.sotaThreshold }
            print("  \(t): " + (s?.sotaThreshold.map { String(format: "%.4f (result %lld)", $0, s?.resultId ?? 0) } ?? "none yet"))
        }
        let leases = summaries.reduce(0) { $0 + $1.leasesCompleted }
        print("\nminers completed \(leases) leases; pool docs: \(base)/docs\n")
        let verifiedBest = (try? await observer.results(status: "verified", taskType: taskType, limit: 1))?.results.first
        await observer.shutdown()

        // The platform side: the best verified algorithm goes to a challenge and a validator scores it.
        if keep { print("pool dashboard: \(base)\(PoolDashboard.path)") }
        var platformKept = false
        if let best = verifiedBest {
            let network = DemoNetwork(
                root: data.appendingPathComponent("demo-\(stamp)", isDirectory: true),
                taskType: taskType, logger: logger, platformPort: platformPort, vmmPort: vmmPort, keep: keep)
            do {
                let jobs = try await network.run(submitter: operatorKey, algorithm: best.algorithmDsl)
                outcome.platformJobsCompleted = jobs.filter { $0.status == "completed" }.count
                outcome.platformScore = jobs.first?.score
                platformKept = keep
            } catch {
                print("platform demo failed: \(error)")
            }
        } else {
            print("no verified result to submit to the platform")
        }
        if keep {
            if !platformKept { print("services keep running (Ctrl-C to stop)") }
            _ = await pool.result
        } else {
            await stopper.stop()
            if case let .failure(error) = await pool.result { throw error }
        }
        return outcome
    }
}
