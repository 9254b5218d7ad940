/// # EvalnetCLI
///
/// Owns the `evalnet` command line: one root command whose subcommands start each part
/// of the network (pool, platform, validator, vmm, miner, demo) and manage hotkeys.
/// Commands only parse options and hand over to the library that owns the work.
import ArgumentParser

public struct EvalnetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evalnet",
        abstract: "A decentralized evaluation network for Bittensor subnets.",
        subcommands: [KeysCommand.self]
    )

    public init() {}
}
