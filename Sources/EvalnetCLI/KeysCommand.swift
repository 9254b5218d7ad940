import ArgumentParser
import Foundation
import Hotkeys

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, use and check SR25519 hotkeys.",
        subcommands: [New.self, Sign.self, Verify.self]
    )

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a hotkey and write its key file (mode 0600).")

        @Option(help: "32-byte mini secret as hex (default: random).")
        var seed: String?

        @Option(help: "Key file to write (default: $EVALNET_HOME/hotkey.json or ~/.evalnet/hotkey.json).")
        var output: String?

        func run() throws {
            let keypair: SR25519Keypair
            if let seed {
                do { keypair = try SR25519Keypair(seed: Hex.decode(seed)) } catch {
                    throw ValidationError("--seed: \(error)")
                }
            } else {
                keypair = .generate()
            }
            let path = output ?? KeyFile.defaultPath
            try KeyFile(keypair: keypair).write(to: path)
            print("ss58_address: \(keypair.publicKey.ss58Address)")
            print("public_key:   0x\(keypair.publicKey.hex)")
            print("key_file:     \(path)")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a message; prints the hex signature.")

        @Option(help: "Key file.")
        var key: String = KeyFile.defaultPath

        @Argument(help: "The message (UTF-8; a 0x-prefixed argument is taken as hex bytes).")
        var message: String

        func run() throws {
            let keypair = try KeyFile.load(from: key)
            print("0x" + Hex.encode(keypair.sign(try messageBytes(message))))
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a signature; exits 0 when valid and 1 when not.")

        @Option(help: "Signer's SS58 address.")
        var address: String

        @Option(help: "Signature, hex (0x optional).")
        var signature: String

        @Argument(help: "The message (UTF-8; a 0x-prefixed argument is taken as hex bytes).")
        var message: String

        func run() throws {
            let pk: SR25519PublicKey
            do { pk = try SR25519PublicKey(ss58: address) } catch {
                throw ValidationError("--address: \(error)")
            }
            let sig: [UInt8]
            do { sig = try Hex.decode(signature) } catch { throw ValidationError("--signature: \(error)") }
            if pk.verify(signature: sig, message: try messageBytes(message)) {
                print("valid")
            } else {
                print("invalid")
                throw ExitCode(1)
            }
        }
    }
}

/// Message arguments follow bittensor-wallet: `0x…` is hex bytes, anything else UTF-8.
func messageBytes(_ text: String) throws -> [UInt8] {
    if text.hasPrefix("0x") {
        do { return try Hex.decode(text) } catch { throw ValidationError("message: \(error)") }
    }
    return Array(text.utf8)
}
