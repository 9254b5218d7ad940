import ArgumentParser
import Foundation
import Logging
import PoolCore
import PoolServer

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool", abstract: "The pool-mining coordinator.", subcommands: [Serve.self])

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
            do { try config.rules.validate() } catch { throw ValidationError("\(error)") }
            var logger = Logger(label: "evalnet.pool")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: logger)
        }
    }
}
