import ArgumentParser
import Foundation
import Logging
import PlatformAPI
import PlatformServer

struct PlatformCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "platform", abstract: "The Platform API: challenges, evaluation jobs, validators.",
        subcommands: [Serve.self])

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the Platform API (HTTP + validator WebSocket).")

        @Option(help: "Address to bind.") var host = PlatformDefaults.host
        @Option(help: "Port to bind (the validator's default platform_api_url uses it).") var port = PlatformDefaults.port
        @Option(help: "sqlite:PATH or postgres://user:pass@host:port/db") var database = "sqlite:data/platform.db"
        @Option(help: "Bearer token of the admin API (env EVALNET_ADMIN_TOKEN); without one the admin API is disabled.")
        var adminToken: String?
        @Option(parsing: .upToNextOption, help: "SS58 hotkeys of registered validators (more can be added via the admin API).")
        var validator: [String] = []
        @Option(help: "Seconds between claim-expiry sweeps; replicas on one PostgreSQL sweep once per interval between them.")
        var sweepInterval = 5.0
        @Option(help: "Seconds between safety polls of the event table (on PostgreSQL events are pushed by LISTEN/NOTIFY).")
        var eventPoll = 5.0
        @Option(help: "On SIGTERM, seconds /health/ready answers 503 before validators are told to reconnect and the server stops accepting.")
        var drainSeconds = 3.0
        @Option(help: "This replica's name (periodic_runs.holder, logs); default host-pid-random.") var replicaId: String?
        @Option(help: "Largest inline submission in bytes.") var maxSubmissionBytes = 256 * 1024
        @Option(help: "Statement timeout of the read-only query endpoint, milliseconds.") var queryTimeoutMs = 2000
        @Option(help: "Row cap of the read-only query endpoint.") var queryRowCap = 1000
        @Option(help: "Log level.") var logLevel = "info"

        func validate() throws {
            guard (1...65535).contains(port) else { throw ValidationError("--port must be in 1...65535") }
            guard sweepInterval > 0 else { throw ValidationError("--sweep-interval must be positive") }
            guard eventPoll > 0 else { throw ValidationError("--event-poll must be positive") }
            guard drainSeconds >= 0 else { throw ValidationError("--drain-seconds must not be negative") }
            guard maxSubmissionBytes > 0, queryTimeoutMs > 0, queryRowCap > 0 else {
                throw ValidationError("limits must be positive")
            }
        }

        func run() async throws {
            var config = PlatformConfig()
            config.host = host
            config.port = port
            config.database = database
            config.adminToken = adminToken ?? ProcessInfo.processInfo.environment["EVALNET_ADMIN_TOKEN"]
            config.validators = validator
            config.sweepIntervalSeconds = sweepInterval
            config.eventPollSeconds = eventPoll
            config.drainSeconds = drainSeconds
            if let replicaId { config.replicaId = replicaId }
            config.limits.maxSubmissionBytes = maxSubmissionBytes
            config.limits.queryTimeoutMs = queryTimeoutMs
            config.limits.queryRowCap = queryRowCap
            var logger = Logger(label: "evalnet.platform")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            if config.adminToken == nil { logger.warning("no admin token: the admin API is disabled") }
            try await runPlatform(config: config, logger: logger)
        }
    }
}
