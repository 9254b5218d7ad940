import ArgumentParser
import Foundation
import Hotkeys
import Logging
import PlatformAPI
import Validator

struct ValidatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validator", abstract: "The validator daemon.", subcommands: [Run.self, Query.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Claim and evaluate Platform API jobs (config.toml + EVALNET_VALIDATOR_* overrides).",
            discussion: """
                The secret comes from $EVALNET_VALIDATOR_SECRET_SEED (hex mini-secret) or the config's key_file; \
                when the config names validator_hotkey, the secret must belong to it.
                """)

        @Option(help: "Configuration file (default: $EVALNET_VALIDATOR_CONFIG, else ./config.toml, else built-in defaults).")
        var config: String?
        @Option(help: "Log level.") var logLevel = "info"

        func run() async throws {
            let cfg: ValidatorConfig
            do { cfg = try ValidatorConfig.load(path: config) } catch { throw ValidationError("\(error)") }
            var logger = Logger(label: "evalnet.validator")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            let keypair: SR25519Keypair
            do { keypair = try cfg.loadKeypair() } catch { throw ValidationError("\(error)") }
            // The secret is in memory now; keep it out of every process this one starts (git).
            unsetenv(ValidatorConfig.secretSeedVariable)
            // Which isolation evaluators get, before anything else happens (runValidator stops
            // here when the local executor's sandbox is required but unavailable).
            FileHandle.standardOutput.write(Data("evalnet validator: \(cfg.isolationReport().summary)\n".utf8))
            try await runValidator(config: cfg, keypair: keypair, logger: logger)
        }
    }

    /// The seed's `execute_orm_query`: a read-only query on a challenge's data, signed with
    /// the validator's key (the same config and secret as `run`).
    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a read-only query on a challenge's data (POST /challenges/{id}/orm/query) as this validator.")

        @Option(help: "Configuration file (as for `run`).") var config: String?
        @Option(help: "Challenge id.") var challenge: String
        @Option(parsing: .singleValue, help: "A positional parameter ($1, $2, … / ?); repeat for more.")
        var param: [String] = []
        @Argument(help: "One SELECT statement.") var sql: String

        func run() async throws {
            let cfg: ValidatorConfig
            do { cfg = try ValidatorConfig.load(path: config) } catch { throw ValidationError("\(error)") }
            let keypair: SR25519Keypair
            do { keypair = try cfg.loadKeypair() } catch { throw ValidationError("\(error)") }
            var logger = Logger(label: "evalnet.validator.query")
            logger.logLevel = .warning
            let client = PlatformClient(baseURL: cfg.platformAPIURL, keypair: keypair, logger: logger)
            let response = try await client.executeOrmQuery(
                challenge, OrmQueryRequest(query: sql, params: param.isEmpty ? nil : param.map { .string($0) }))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(response) + Data("\n".utf8))
        }
    }
}
