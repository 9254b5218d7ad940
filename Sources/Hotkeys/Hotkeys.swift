/// # Hotkeys
///
/// Owns the identity layer of the network: Substrate SR25519 (schnorrkel, signing context
/// `substrate`) keypairs, signing and strict verification — a Merlin transcript over
/// STROBE-128/Keccak-f[1600] written here, constant-time Ristretto255 arithmetic from libsodium
/// for secret keys, variable-time arithmetic from libdecaf (C target `CDecaf`) for single and
/// batch verification — plus
/// SS58 addresses, the on-disk key file, and the signed-request scheme (`X-Key`,
/// `X-Timestamp`, `X-Signature`) that every server checks and every client produces.
import Foundation

/// A hotkey stored on disk as JSON, readable only by its owner (mode 0600).
public struct KeyFile: Codable, Sendable {
    public var ss58Address: String
    public var publicKey: String
    public var secretSeed: String

    enum CodingKeys: String, CodingKey {
        case ss58Address = "ss58_address"
        case publicKey = "public_key"
        case secretSeed = "secret_seed"
    }

    public init(keypair: SR25519Keypair) {
        ss58Address = keypair.publicKey.ss58Address
        publicKey = Hex.encode(keypair.publicKey.bytes)
        secretSeed = Hex.encode(keypair.seed)
    }

    /// `$EVALNET_HOME/hotkey.json`, else `~/.evalnet/hotkey.json`.
    public static var defaultPath: String {
        if let home = ProcessInfo.processInfo.environment["EVALNET_HOME"], !home.isEmpty {
            return home + "/hotkey.json"
        }
        return NSHomeDirectory() + "/.evalnet/hotkey.json"
    }

    /// Why a key file could not be written or read.
    public enum Failure: Error, CustomStringConvertible {
        case exists(String)
        case unreadable(String, String)
        case mismatch(String)

        public var description: String {
            switch self {
            case let .exists(p): return "\(p) already exists; refusing to overwrite a key (use another --output)"
            case let .unreadable(p, why): return "cannot read key file \(p): \(why)"
            case let .mismatch(p): return "key file \(p) is inconsistent: its seed does not give its public key"
            }
        }
    }

    /// Writes the file with mode 0600, creating parent directories (0700). Never overwrites.
    public func write(to path: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { throw Failure.exists(path) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !fm.fileExists(atPath: dir) {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        guard fm.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw Failure.unreadable(path, "could not create file")
        }
    }

    /// Loads and checks a key file, returning the keypair.
    public static func load(from path: String) throws -> SR25519Keypair {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw Failure.unreadable(path, error.localizedDescription)
        }
        let file: KeyFile
        do { file = try JSONDecoder().decode(KeyFile.self, from: data) } catch {
            throw Failure.unreadable(path, "not a key file (\(error))")
        }
        let keypair = try SR25519Keypair(seed: try Hex.decode(file.secretSeed))
        guard keypair.publicKey.ss58Address == file.ss58Address else { throw Failure.mismatch(path) }
        return keypair
    }
}

extension SR25519Keypair {
    /// A fresh keypair from 32 bytes of OS randomness.
    public static func generate() -> SR25519Keypair {
        while true {
            if let kp = try? SR25519Keypair(seed: Sodium.randomBytes(32)) { return kp }
        }
    }
}
