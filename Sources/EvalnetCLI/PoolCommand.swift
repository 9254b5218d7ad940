import ArgumentParser
import Foundation
import Logging
import PoolCore
import PoolServer

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool", abstract: "The pool-mining coordinator.", subcommands: [Serve.self, Claims.self])

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the Pool API.")

        @Option(help: "Address to bind.") var host = "127.0.0.1"
        @Option(help: "Port to bind.") var port = 8434
        @Option(help: "sqlite:PATH or postgres://user:pass@host:port/db") var database = "sqlite:data/pool.db"
        @Option(help: "Pool rules as JSON (snake_case keys of PoolRules; see README).") var rules: String?
        @Option(help: "Window length in seconds (overrides the rules file).") var windowSeconds: Int?
        @Option(help: "Lease TTL in seconds (overrides the rules file).") var leaseTtl: Int?
        @Option(help: "k: agreeing evaluators needed for consensus (overrides the rules file).") var consensusThreshold: Int?
        @Option(help: "Leases per miner per window; 0 = unlimited (default).") var leasesPerWindow: Int?
        @Option(help: "Token required in X-Monitor-Token (env EVALNET_MONITOR_TOKEN).") var monitorToken: String?
        @Option(parsing: .upToNextOption, help: "SS58 hotkeys allowed to verify results.") var operatorHotkey: [String] = []
        @Option(help: "Seconds between sweeps (lease expiry, epoch close); replicas on one PostgreSQL sweep once per interval between them.")
        var sweepInterval = 5.0
        @Option(help: "On SIGTERM, seconds /health/ready answers 503 before the server stops accepting (match the load balancer's health checks).")
        var drainSeconds = 3.0
        @Option(help: "This replica's name (periodic_runs.holder, logs); default host-pid-random.") var replicaId: String?
        @Option(help: "Secret seed of the held-out tasks (env EVALNET_POOL_HELD_OUT_SEED); default: generated on first start and kept in the database.")
        var heldOutSeed: Int?
        @Option(help: "Log level.") var logLevel = "info"

        func validate() throws {
            guard sweepInterval > 0 else { throw ValidationError("--sweep-interval must be positive") }
            guard drainSeconds >= 0 else { throw ValidationError("--drain-seconds must not be negative") }
        }

        func run() async throws {
            var config = PoolConfig()
            config.host = host
            config.port = port
            config.database = database
            config.sweepIntervalSeconds = sweepInterval
            config.drainSeconds = drainSeconds
            if let replicaId { config.replicaId = replicaId }
            if let rules {
                let data = try Data(contentsOf: URL(fileURLWithPath: rules))
                config.rules = try JSONDecoder().decode(PoolRules.self, from: data)
                config.rules.leasesPerWindow = config.rules.leasesPerWindow == 0 ? nil : config.rules.leasesPerWindow
            }
            if let windowSeconds { config.rules.windowSeconds = windowSeconds }
            if let leaseTtl { config.rules.leaseTTLSeconds = leaseTtl }
            if let consensusThreshold { config.rules.consensusThreshold = consensusThreshold }
            if let leasesPerWindow { config.rules.leasesPerWindow = leasesPerWindow == 0 ? nil : leasesPerWindow }
            config.monitorToken = monitorToken ?? ProcessInfo.processInfo.environment["EVALNET_MONITOR_TOKEN"]
            config.operatorHotkeys = Set(operatorHotkey)
            config.heldOutSeed = heldOutSeed ?? ProcessInfo.processInfo.environment["EVALNET_POOL_HELD_OUT_SEED"].flatMap { Int($0) }
            do { try config.rules.validate() } catch { throw ValidationError("\(error)") }
            var logger = Logger(label: "evalnet.pool")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: logger)
        }
    }

    struct Claims: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merkle claim epochs.", subcommands: [Verify.self])

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Recompute each published epoch's Merkle root from the stored payouts and compare.",
                discussion: """
                    Leaves: hotkeys with a positive cumulative payout up to the epoch, sorted by hotkey, paying the \
                    recipient frozen at publication; leaf = blake2b-256(SCALE(epoch u64, index u32, AccountId, amount u64)), \
                    parent = blake2b-256(min ‖ max). Exits 1 when an epoch does not match, 2 when nothing is published.
                    """)

            @Option(help: "Only this epoch (default: every published epoch).") var epoch: Int64?
            @Option(help: "sqlite:PATH or postgres://user:pass@host:port/db") var database: String

            func run() async throws {
                var logger = Logger(label: "evalnet.pool.claims")
                logger.logLevel = .warning
                let audits = try await auditPoolClaims(database: database, epoch: epoch, logger: logger)
                if audits.isEmpty {
                    print(epoch.map { "epoch \($0) is not published" } ?? "no published epochs")
                    throw ExitCode(2)
                }
                var bad = 0
                for a in audits {
                    if a.ok {
                        print("epoch \(a.epoch): OK root=\(a.publishedRoot) leaves=\(a.publishedLeaves)")
                    } else {
                        bad += 1
                        print("epoch \(a.epoch): MISMATCH")
                        for p in a.problems { print("  - \(p)") }
                    }
                }
                print("\(audits.count - bad) of \(audits.count) epoch(s) match their published root")
                if bad > 0 { throw ExitCode(1) }
            }
        }
    }
}
