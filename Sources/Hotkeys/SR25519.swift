import CSodium

/// Errors from key handling. Verification never throws: it answers `false`.
public enum HotkeyError: Error, Equatable, CustomStringConvertible, Sendable {
    case badLength(what: String, expected: Int, got: Int)
    case badHex(String)
    case invalidPublicKey(String)
    case invalidSecretKey(String)
    case libsodiumUnavailable

    public var description: String {
        switch self {
        case let .badLength(what, expected, got): return "\(what) must be \(expected) bytes, got \(got)"
        case let .badHex(s): return "not valid hex: \(s.prefix(80))"
        case let .invalidPublicKey(why): return "invalid SR25519 public key: \(why)"
        case let .invalidSecretKey(why): return "invalid SR25519 secret key: \(why)"
        case .libsodiumUnavailable: return "libsodium failed to initialise"
        }
    }
}

enum Sodium {
    /// `sodium_init` is idempotent and thread-safe; calling it from a static `let`
    /// makes it run once per process before any other libsodium call.
    static let ready: Bool = sodium_init() >= 0

    /// Group order l, 32 bytes little-endian.
    static let groupOrder: [UInt8] = [
        0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9, 0xDE, 0x14,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ]

    /// True when the 32-byte little-endian scalar is `< l`.
    static func isCanonicalScalar(_ s: UnsafePointer<UInt8>) -> Bool {
        var i = 31
        while i >= 0 {
            if s[i] < groupOrder[i] { return true }
            if s[i] > groupOrder[i] { return false }
            i -= 1
        }
        return false  // equal to l
    }

    static func reduceWide(_ wide: [UInt8]) -> [UInt8] {
        precondition(wide.count == 64)
        var out = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_reduce(&out, wide)
        return out
    }

    /// `scalar·B`; the identity (all zeros) when libsodium reports an identity result.
    static func baseMultiply(_ scalar: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        if crypto_scalarmult_ristretto255_base(&out, scalar) != 0 {
            return [UInt8](repeating: 0, count: 32)
        }
        return out
    }

    static func randomBytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        randombytes_buf(&out, n)
        return out
    }
}

/// An SR25519 public key: a canonical Ristretto255 encoding that is not the identity.
public struct SR25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(HotkeyError) {
        guard Sodium.ready else { throw .libsodiumUnavailable }
        guard bytes.count == 32 else { throw .badLength(what: "public key", expected: 32, got: bytes.count) }
        // Deliberate divergence from schnorrkel: the identity key (secret 0) is refused,
        // because any signature of the form (B, 1) verifies under it.
        guard bytes.contains(where: { $0 != 0 }) else { throw .invalidPublicKey("identity point") }
        guard crypto_core_ristretto255_is_valid_point(bytes) == 1 else {
            throw .invalidPublicKey("not a canonical Ristretto255 encoding")
        }
        self.bytes = bytes
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// schnorrkel `verify_simple` with signing context `substrate`.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        SR25519.verify(signature: signature, message: message, publicKeyBytes: bytes)
    }
}

/// A Substrate SR25519 keypair expanded from a 32-byte mini secret (ExpansionMode::Ed25519).
public struct SR25519Keypair: Sendable {
    /// The mini secret ("seed") it was made from.
    public let seed: [UInt8]
    /// Secret scalar x, 32 bytes little-endian, canonical.
    public let secretScalar: [UInt8]
    /// Nonce seed z, used only as the witness of the signing RNG.
    public let nonce: [UInt8]
    public let publicKey: SR25519PublicKey

    public init(seed: [UInt8]) throws(HotkeyError) {
        guard Sodium.ready else { throw .libsodiumUnavailable }
        guard seed.count == 32 else { throw .badLength(what: "mini secret", expected: 32, got: seed.count) }
        var h = [UInt8](repeating: 0, count: 64)
        crypto_hash_sha512(&h, seed, UInt64(seed.count))
        var a = Array(h[0..<32])
        a[0] &= 0xF8
        a[31] &= 0x3F
        a[31] |= 0x40
        // Divide by the cofactor: a 3-bit right shift of the little-endian integer.
        var x = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            let high: UInt8 = i < 31 ? a[i + 1] : 0
            x[i] = (a[i] >> 3) | (high << 5)
        }
        let pk = Sodium.baseMultiply(x)
        self.seed = seed
        self.secretScalar = x
        self.nonce = Array(h[32..<64])
        self.publicKey = try SR25519PublicKey(bytes: pk)
        sodium_memzero(&h, h.count)
        sodium_memzero(&a, a.count)
    }

    /// The 64-byte secret key in schnorrkel's native form (`x ‖ z`), as py-sr25519-bindings returns it.
    public var secretKey64: [UInt8] { secretScalar + nonce }

    /// Signs `message` under context `substrate`; randomised (hedged) like schnorrkel.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var t = SR25519.transcript(message: message, publicKey: publicKey.bytes)
        var draw = t.witnessBytes(
            label: Array("signing".utf8), witness: nonce, randomness: Sodium.randomBytes(32), count: 64)
        var r = Sodium.reduceWide(draw)
        let rEnc = Sodium.baseMultiply(r)
        t.appendMessage(label: Array("sign:R".utf8), message: rEnc)
        let k = Sodium.reduceWide(t.challengeBytes(label: Array("sign:c".utf8), count: 64))
        var kx = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_mul(&kx, k, secretScalar)
        var s = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_add(&s, kx, r)
        var signature = rEnc + s
        signature[63] |= 0x80
        sodium_memzero(&draw, draw.count)
        sodium_memzero(&r, r.count)
        sodium_memzero(&kx, kx.count)
        return signature
    }
}

public enum SR25519 {
    /// The transcript after "SigningContext" + context `substrate`, computed once.
    private static let contextTranscript: MerlinTranscript = {
        var t = MerlinTranscript(label: Array("SigningContext".utf8))
        t.appendMessage(label: [], message: Array("substrate".utf8))
        return t
    }()

    static func transcript(message: [UInt8], publicKey: [UInt8]) -> MerlinTranscript {
        var t = contextTranscript
        t.appendMessage(label: Array("sign-bytes".utf8), message: message)
        t.appendMessage(label: Array("proto-name".utf8), message: Array("Schnorr-sig".utf8))
        t.appendMessage(label: Array("sign:pk".utf8), message: publicKey)
        return t
    }

    /// The 64 challenge bytes for a signature's `R` (exposed for known-answer tests).
    public static func challengeBytes(message: [UInt8], publicKey: [UInt8], r: [UInt8]) -> [UInt8] {
        var t = transcript(message: message, publicKey: publicKey)
        t.appendMessage(label: Array("sign:R".utf8), message: r)
        return t.challengeBytes(label: Array("sign:c".utf8), count: 64)
    }

    /// The challenge scalar k = challenge bytes mod l.
    public static func challengeScalar(message: [UInt8], publicKey: [UInt8], r: [UInt8]) -> [UInt8] {
        Sodium.reduceWide(challengeBytes(message: message, publicKey: publicKey, r: r))
    }

    /// Strict schnorrkel verification: marker bit required, canonical s, decodable
    /// non-identity public key, and encode(s·B − k·A) must equal R byte for byte.
    public static func verify(signature: [UInt8], message: [UInt8], publicKeyBytes pk: [UInt8]) -> Bool {
        guard Sodium.ready, signature.count == 64, pk.count == 32 else { return false }
        guard signature[63] & 0x80 != 0 else { return false }
        guard pk.contains(where: { $0 != 0 }) else { return false }
        let rEnc = Array(signature[0..<32])
        var s = Array(signature[32..<64])
        s[31] &= 0x7F
        guard s.withUnsafeBufferPointer({ Sodium.isCanonicalScalar($0.baseAddress.unsafelyUnwrapped) }) else {
            return false
        }
        let k = challengeScalar(message: message, publicKey: pk, r: rEnc)
        var kA = [UInt8](repeating: 0, count: 32)
        // -1 means the key did not decode (the identity was refused above), or k ≡ 0,
        // which happens with negligible probability; both are refused here.
        guard crypto_scalarmult_ristretto255(&kA, k, pk) == 0 else { return false }
        let sB = Sodium.baseMultiply(s)
        var rPrime = [UInt8](repeating: 0, count: 32)
        guard crypto_core_ristretto255_sub(&rPrime, sB, kA) == 0 else { return false }
        return rPrime == rEnc
    }
}

/// Lower-case hex without prefix; decoding accepts an optional `0x`.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) throws(HotkeyError) -> [UInt8] {
        var s = Substring(text)
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { throw .badHex(text) }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { throw .badHex(text) }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
