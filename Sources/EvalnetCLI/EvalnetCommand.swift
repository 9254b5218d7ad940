/// # EvalnetCLI
///
/// Owns the `evalnet` command line: one root command whose subcommands start each part
/// of the network (pool, platform, validator, vmm, miner, demo) and manage hotkeys.
/// Commands only parse options and hand over to the library that owns the work.
import ArgumentParser

@available(macOS 14, *)
public struct EvalnetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evalnet",
        abstract: "A decentralized evaluation network for Bittensor subnets.",
        subcommands: [KeysCommand.self, PoolCommand.self, PlatformCommand.self]
    )

    public init() {}
}
