import ArgumentParser
import Dispatch
import Foundation
import Hotkeys
import Miner
import MinerEngine

struct MinerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "miner", abstract: "Mine for a pool: evaluate and evolve algorithms.",
        subcommands: [Run.self, Stats.self])

    struct Common: ParsableArguments {
        @Option(help: "Pool base URL.") var pool = "http://127.0.0.1:8434"
        @Option(help: "Hotkey file (see `evalnet keys new`).") var key = KeyFile.defaultPath
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lease, evaluate, evolve and submit until stopped (Ctrl-C).")
        @OptionGroup var common: Common
        @Option(help: "Parallel evaluation/evolution jobs, one interpreter each (default: the machine's cores).")
        var jobs: Int?
        @Option(help: "Old name of --jobs.") var workers: Int?
        @Flag(help: "Score every evolved program in full (no functional-equivalence cache, no hurdles).")
        var plainSearch = false
        @Option(help: "Extra tasks (beside the public suite) the search scores programs on.") var searchExtraTasks = 8
        @Option(help: "Tasks of the selection suite the best programs are checked on before submitting (0 = off).")
        var selectionTasks = 16
        @Option(help: "Task type to mine.") var taskType = "scalar_linear"
        @Option(help: "Generations of evolution per lease.") var generations = 160
        @Option(help: "Algorithms to evaluate per lease.") var evalBatchSize = 8
        @Option(help: "Stop after this many leases.") var leases: Int?
        @Option(help: "Stop after this many seconds.") var duration: Double?
        @Option(help: "Directory with real CIFAR-10 binary batches (data_batch_*.bin); synthetic data otherwise.")
        var cifarDir: String?

        func run() async throws {
            let keypair = try KeyFile.load(from: common.key)
            var options = MinerOptions()
            options.workers = max(1, jobs ?? workers ?? ProcessInfo.processInfo.activeProcessorCount)
            options.search = plainSearch ? .plain : .fast
            options.searchExtraTasks = max(0, searchExtraTasks)
            options.selectionTasks = max(0, selectionTasks)
            options.taskType = taskType
            options.generations = generations
            options.evalBatchSize = evalBatchSize
            options.maxLeases = leases
            options.durationSeconds = duration
            options.suite.cifarDirectory = cifarDir
            let client = PoolClient(baseURL: common.pool, keypair: keypair)
            let stop = StopSignal()
            signal(SIGINT, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            source.setEventHandler {
                if stop.request() == 1 {
                    print("\nstopping after the current lease (Ctrl-C again to abandon it and quit)")
                } else {
                    Task {
                        try? await client.abandonActive()
                        print("abandoned the current lease")
                        Foundation.exit(130)
                    }
                }
            }
            source.resume()
            let loop = MinerLoop(client: client, options: options) { print($0) }
            do {
                let summary = try await loop.run(stop: stop)
                print("done: \(summary.leasesCompleted) leases, \(summary.evaluations) evaluations, "
                    + "\(summary.evolutionsSubmitted) evolutions, reputation \(summary.reputation)")
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print this miner's stats and the leaderboard.")
        @OptionGroup var common: Common

        func run() async throws {
            let keypair = try KeyFile.load(from: common.key)
            let client = PoolClient(baseURL: common.pool, keypair: keypair)
            defer { Task { await client.shutdown() } }
            let s = try await client.stats()
            print("hotkey       \(s.hotkey)")
            print("reputation   \(s.reputation) (this window \(s.windowReputation), window \(s.windowNumber))")
            print("evaluations  \(s.evaluationsSubmitted) submitted, \(s.evaluationsInConsensus) in consensus, \(s.evaluationsOutOfConsensus) out")
            print("evolutions   \(s.evolutionsSubmitted) submitted, \(s.evolutionsAccepted) accepted")
            print("rao          \(s.paidRao) paid, \(s.pendingRao) pending")
            print("pool         \(s.pool.minersTotal) miners, \(s.pool.candidatesInEvaluation) candidates, SOTA \(s.pool.sotaByTask)")
            let board = try await client.leaderboard()
            print("\nrank  reputation  hotkey")
            for m in board.miners {
                print(String(format: "%4d  %10.3f  %@", m.rank, m.reputation, m.hotkey))
            }
        }
    }
}
