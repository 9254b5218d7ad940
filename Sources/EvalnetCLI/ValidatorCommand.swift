import ArgumentParser
import Foundation
import Logging
import Validator

struct ValidatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validator", abstract: "The validator daemon.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Claim and evaluate Platform API jobs (config.toml + EVALNET_VALIDATOR_* overrides).")

        @Option(help: "Configuration file (default: $EVALNET_VALIDATOR_CONFIG, else built-in defaults).")
        var config: String?
        @Option(help: "Log level.") var logLevel = "info"

        func run() async throws {
            let cfg: ValidatorConfig
            do { cfg = try ValidatorConfig.load(path: config) } catch { throw ValidationError("\(error)") }
            var logger = Logger(label: "evalnet.validator")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            let keypair = try cfg.loadKeypair()
            // Which isolation evaluators get, before anything else happens (runValidator stops
            // here when the local executor's sandbox is required but unavailable).
            FileHandle.standardOutput.write(Data("evalnet validator: \(cfg.isolationReport().summary)\n".utf8))
            try await runValidator(config: cfg, keypair: keypair, logger: logger)
        }
    }
}
