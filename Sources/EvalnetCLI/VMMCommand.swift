import ArgumentParser
import Foundation
import Logging
import VMMServer

struct VMMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmm",
        abstract: "A local stand-in for the dstack VMM (no TDX: VMs are host processes).",
        subcommands: [Serve.self])

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the dstack VMM prpc API, running each VM's compose command as a local process group.")

        @Option(help: "Address to bind.") var host = "127.0.0.1"
        @Option(help: "Port to bind.") var port = 8090
        @Option(help: "Directory for VM files and console logs.") var stateDir = "data/vmm"
        @Option(help: "Log level.") var logLevel = "info"

        func run() async throws {
            var config = VMMServerConfig()
            config.host = host
            config.port = port
            config.stateDirectory = stateDir
            var logger = Logger(label: "evalnet.vmm")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            try await runVMM(config: config, logger: logger)
        }
    }
}
