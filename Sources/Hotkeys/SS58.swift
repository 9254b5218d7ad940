import CSodium

/// Why an SS58 address was refused.
public enum SS58Error: Error, Equatable, CustomStringConvertible, Sendable {
    case badCharacter(Character)
    case badLength(Int)
    case badChecksum
    case reservedPrefix
    case prefixOutOfRange(Int)
    case unexpectedPrefix(expected: Int, got: Int)
    case nonCanonicalPrefix(Int)
    case tooLong(Int)

    public var description: String {
        switch self {
        case let .badCharacter(c): return "SS58 address contains '\(c)', which is not in the base58 alphabet"
        case let .badLength(n):
            return "SS58 address decodes to \(n) bytes; a 32-byte account needs 35 (one-byte prefix) or 36 (two-byte prefix)"
        case .badChecksum: return "SS58 checksum mismatch"
        case .reservedPrefix: return "SS58 address uses a reserved prefix byte (>= 128)"
        case let .prefixOutOfRange(p): return "SS58 prefix \(p) is outside 0...16383"
        case let .unexpectedPrefix(e, g): return "SS58 prefix \(g), expected \(e)"
        case let .nonCanonicalPrefix(p):
            return "SS58 prefix \(p) is written in its two-byte form; use the one-byte form (the canonical address)"
        case let .tooLong(n): return "SS58 address has \(n) characters; an address of a 32-byte account has at most \(SS58.maxAddressLength)"
        }
    }
}

/// Bitcoin-alphabet Base58.
enum Base58 {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    private static let index: [Int8] = {
        var t = [Int8](repeating: -1, count: 128)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = Int8(i) }
        return t
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix(while: { $0 == 0 }).count
        var digits: [UInt8] = []  // base-58 digits, least significant first
        for b in bytes[zeros...] {
            var carry = Int(b)
            for j in 0..<digits.count {
                carry += Int(digits[j]) << 8
                digits[j] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        let out = [UInt8](repeating: alphabet[0], count: zeros) + digits.reversed().map { alphabet[Int($0)] }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) throws(SS58Error) -> [UInt8] {
        var ones = 0
        var counting = true
        var bytes: [UInt8] = []  // least significant first
        for ch in text {
            guard let a = ch.asciiValue, a < 128, index[Int(a)] >= 0 else { throw .badCharacter(ch) }
            let value = Int(index[Int(a)])
            if counting && value == 0 { ones += 1; continue }
            counting = false
            var carry = value
            for j in 0..<bytes.count {
                carry += Int(bytes[j]) * 58
                bytes[j] = UInt8(carry & 0xFF)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(carry & 0xFF))
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: ones) + bytes.reversed()
    }
}

/// SS58 addresses for 32-byte account ids (Substrate / Bittensor; generic prefix 42).
public enum SS58 {
    public static let defaultPrefix = 42
    private static let checksumPreimage = Array("SS58PRE".utf8)

    static func prefixBytes(_ prefix: Int) throws(SS58Error) -> [UInt8] {
        switch prefix {
        case 0...63: return [UInt8(prefix)]
        case 64...16383: return twoBytePrefix(prefix)
        default: throw .prefixOutOfRange(prefix)
        }
    }

    static func checksum(_ data: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: 64)
        let input = checksumPreimage + data
        crypto_generichash(&out, 64, input, UInt64(input.count), nil, 0)
        return Array(out[0..<2])
    }

    public static func encode(publicKey: [UInt8], prefix: Int = defaultPrefix) throws(SS58Error) -> String {
        guard publicKey.count == 32 else { throw .badLength(publicKey.count) }
        let body = try prefixBytes(prefix) + publicKey
        return Base58.encode(body + checksum(body))
    }

    /// The two-byte-prefix spelling of an address (`prefix` 0...16383), which for a prefix
    /// below 64 is not canonical and which `decode` refuses; for tests and tools that show
    /// one key has one accepted address.
    public static func twoByteSpelling(publicKey: [UInt8], prefix: Int = defaultPrefix) throws(SS58Error) -> String {
        guard publicKey.count == 32 else { throw .badLength(publicKey.count) }
        guard (0...16383).contains(prefix) else { throw .prefixOutOfRange(prefix) }
        let body = twoBytePrefix(prefix) + publicKey
        return Base58.encode(body + checksum(body))
    }

    /// SS58's two-byte prefix form (`prefix` in 0...16383).
    static func twoBytePrefix(_ prefix: Int) -> [UInt8] {
        let p = UInt16(prefix)
        return [UInt8(0x40 | ((p & 0xFC) >> 2)), UInt8((p >> 8) | ((p & 0x03) << 6))]
    }

    /// The longest address of a 32-byte account (36 bytes in base58).
    public static let maxAddressLength = 50

    /// Decodes an address; returns the prefix and the 32-byte account id. Only the canonical
    /// spelling is accepted: a prefix below 64 must use the one-byte form, so one key under
    /// one prefix has exactly one address.
    public static func decode(_ address: String) throws(SS58Error) -> (prefix: Int, publicKey: [UInt8]) {
        // Base58 decoding is quadratic in the length: refuse what cannot be an address first.
        guard address.utf8.count <= maxAddressLength else { throw .tooLong(address.utf8.count) }
        let raw = try Base58.decode(address)
        guard let first = raw.first else { throw .badLength(0) }
        let prefix: Int
        let prefixLength: Int
        switch first {
        case 0...63:
            prefix = Int(first)
            prefixLength = 1
        case 64...127:
            guard raw.count >= 2 else { throw .badLength(raw.count) }
            let b0 = Int(first), b1 = Int(raw[1])
            prefix = ((b0 & 0x3F) << 2) | (b1 >> 6) | ((b1 & 0x3F) << 8)
            prefixLength = 2
        default:
            throw .reservedPrefix
        }
        guard raw.count == prefixLength + 32 + 2 else { throw .badLength(raw.count) }
        let body = Array(raw[0..<(prefixLength + 32)])
        guard checksum(body) == Array(raw[(prefixLength + 32)...]) else { throw .badChecksum }
        guard prefixLength == (prefix < 64 ? 1 : 2) else { throw .nonCanonicalPrefix(prefix) }
        return (prefix, Array(raw[prefixLength..<(prefixLength + 32)]))
    }

    /// Decodes an address and requires the given prefix.
    public static func decode(_ address: String, expectedPrefix: Int) throws(SS58Error) -> [UInt8] {
        let (prefix, key) = try decode(address)
        guard prefix == expectedPrefix else { throw .unexpectedPrefix(expected: expectedPrefix, got: prefix) }
        return key
    }
}

extension SR25519PublicKey {
    /// The key's SS58 address under the generic prefix 42 (a valid key is always 32 bytes,
    /// so this cannot fail).
    public var ss58Address: String {
        prepared.address { (try? SS58.encode(publicKey: bytes, prefix: SS58.defaultPrefix)) ?? hex }
    }

    /// The key's SS58 address under another network prefix.
    public func ss58(prefix: Int) throws(SS58Error) -> String {
        try SS58.encode(publicKey: bytes, prefix: prefix)
    }

    /// Parses an SS58 address (prefix 42) into a verified SR25519 public key.
    public init(ss58 address: String) throws {
        let key = try SS58.decode(address, expectedPrefix: SS58.defaultPrefix)
        try self.init(bytes: key)
        prepared.remember(address: address)
    }
}
