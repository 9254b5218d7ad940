/// # EvalnetCLI
///
/// Owns the `evalnet` command line: one root command whose subcommands start each part
/// of the network (pool, platform, validator, vmm, miner, demo) and manage hotkeys.
/// Commands only parse options and hand over to the library that owns the work.
import ArgumentParser
import CStdio

/// The `evalnet` root command.
@available(macOS 14, *)
public struct EvalnetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evalnet",
        abstract: "A decentralized evaluation network for Bittensor subnets.",
        subcommands: [KeysCommand.self, PoolCommand.self, PlatformCommand.self, MinerCommand.self, DemoCommand.self,
                      VMMCommand.self, ValidatorCommand.self, ScoreCommand.self]
    )

    public init() {}

    /// Line-buffered stdout, so progress lines appear at once even through a pipe.
    public static func prepareOutput() {
        evalnet_stdout_line_buffered()
    }
}
