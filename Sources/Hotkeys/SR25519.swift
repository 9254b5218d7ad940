import CDecaf
import CSodium
import Synchronization

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

/// A public key's verification state. Its first verification builds nothing: it runs the
/// table-free check (`evalnet_r255_verify_once`, as fast as a table build alone would be). From
/// its second verification on, the key is decoded by libdecaf with the multiples its checks use
/// precomputed (4 KiB of libdecaf points for single checks; 7.5 KiB of affine multiples for batch
/// checks, built on the first batch that includes the key after it was seen once), so a key
/// parsed only to be checked once or printed costs neither the time nor the memory of tables.
/// The C side only reads built tables, and they are freed on `deinit`.
final class PreparedKey: Sendable {
    private enum State {
        /// Never verified against.
        case fresh
        /// Verified against once, without tables.
        case seenOnce
        /// Decoded, with its single-check tables; `batch` when the batch tables are built too.
        case ready(OpaquePointer, batch: Bool)
        case unusable
    }

    /// How a verification uses the key.
    enum Use {
        /// No signature verifies under the key.
        case unusable
        /// The table-free check against `encoding` (the key's first use, or a check that
        /// should not count as a use).
        case onTheFly
        /// The key's single-check tables (valid while this object lives).
        case tables(OpaquePointer)
    }

    /// The encoding libdecaf decodes (bit 255 handled as libsodium does); nil when no
    /// signature can verify under the key.
    let encoding: [UInt8]?
    /// The key as decoded when it was parsed (`evalnet_r255_decode_point`, 160 bytes), which
    /// the table-free checks start from.
    let point: [UInt8]
    private let state = Mutex<State>(.fresh)
    /// The key's SS58 address (prefix 42) once known: given when the key was parsed from it,
    /// else worked out on first use. Services name a caller by it on every request, and its
    /// base58 encoding was 1–2 % of a service's CPU under load.
    private let address = Mutex<String?>(nil)

    init(encoding: [UInt8]?, point: [UInt8]) {
        self.encoding = encoding
        self.point = point
    }

    /// The address, worked out by `make` the first time.
    func address(_ make: () -> String) -> String {
        if let known = address.withLock({ $0 }) { return known }
        let made = make()
        address.withLock { $0 = made }
        return made
    }

    /// Records the address the key was parsed from (the canonical spelling: `SS58.decode`
    /// accepts no other).
    func remember(address parsed: String) {
        address.withLock { if $0 == nil { $0 = parsed } }
    }

    /// Records one verification and says how to run it: table-free the first time, against
    /// tables (built now, under the lock) from the second time on.
    func nextUse() -> Use {
        guard encoding != nil else { return .unusable }
        return state.withLock { state -> Use in
            switch state {
            case .fresh:
                state = .seenOnce
                return .onTheFly
            case .seenOnce:
                guard let handle = Self.built(&state, encoding) else { return .unusable }
                return .tables(handle)
            case let .ready(handle, _): return .tables(handle)
            case .unusable: return .unusable
            }
        }
    }

    /// How to check without counting a use: the tables when they are built, else table-free.
    var currentUse: Use {
        guard encoding != nil else { return .unusable }
        return state.withLock { state -> Use in
            switch state {
            case .fresh, .seenOnce: return .onTheFly
            case let .ready(handle, _): return .tables(handle)
            case .unusable: return .unusable
            }
        }
    }

    /// For a batch: the handle with its batch tables built (on the key's second use or later,
    /// under the lock); nil on the key's first use, which is recorded and then checked in the
    /// batch from `encoding` without tables, and nil (with `usable` false) when no signature
    /// verifies under the key or its batch tables cannot be built (its signatures are then
    /// checked one by one).
    func batchUse() -> (handle: OpaquePointer?, onTheFly: Bool) {
        guard encoding != nil else { return (nil, false) }
        return state.withLock { state -> (handle: OpaquePointer?, onTheFly: Bool) in
            if case .fresh = state {
                state = .seenOnce
                return (nil, true)
            }
            guard let handle = Self.built(&state, encoding) else { return (nil, false) }
            if case .ready(_, batch: true) = state { return (handle, false) }
            guard evalnet_r255_key_prepare_batch(handle) == 1 else { return (nil, false) }
            state = .ready(handle, batch: true)
            return (handle, false)
        }
    }

    private static func built(_ state: inout State, _ encoding: [UInt8]?) -> OpaquePointer? {
        switch state {
        case let .ready(handle, _): return handle
        case .unusable: return nil
        case .fresh, .seenOnce:
            let built = encoding?.withUnsafeBufferPointer { evalnet_r255_key_new($0.baseAddress.unsafelyUnwrapped) }
            state = built.map { .ready($0, batch: false) } ?? .unusable
            return built
        }
    }

    /// True once the single-check tables are built (for tests).
    var hasTables: Bool {
        state.withLock { state in
            if case .ready = state { return true }
            return false
        }
    }

    deinit {
        state.withLock { state in
            if case let .ready(handle, _) = state { evalnet_r255_key_free(handle) }
            state = .unusable
        }
    }
}

/// An SR25519 public key: a canonical Ristretto255 encoding that is not the identity.
public struct SR25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// The decoded point and its tables (built on first use); they are absent only for an
    /// encoding accepted as a key that decodes to the identity (bit 255 set over zeros, see
    /// `SR25519.withPointBytes`), under which nothing verifies — as before.
    let prepared: PreparedKey

    public init(bytes: [UInt8]) throws(HotkeyError) {
        guard Sodium.ready else { throw .libsodiumUnavailable }
        guard bytes.count == 32 else { throw .badLength(what: "public key", expected: 32, got: bytes.count) }
        // Deliberate divergence from schnorrkel: the identity key (secret 0) is refused,
        // because any signature of the form (B, 1) verifies under it.
        guard bytes.contains(where: { $0 != 0 }) else { throw .invalidPublicKey("identity point") }
        // libsodium's `crypto_core_ristretto255_is_valid_point` rule, answered by this package's
        // variable-time decoder (a public key is public), which accepts exactly the encodings
        // libsodium does once bit 255 is handled as libsodium does (`withPointBytes`); a tenth
        // of a first-use verification cheaper than libsodium's constant-time decode.
        let encoding = SR25519.withPointBytes(bytes) { point in
            point.map { Array(UnsafeBufferPointer(start: $0, count: 32)) }
        }
        var point = [UInt8](repeating: 0, count: Int(EVALNET_R255_POINT_BYTES))
        guard let encoding, evalnet_r255_decode_point(&point, encoding) == 1 else {
            throw .invalidPublicKey("not a canonical Ristretto255 encoding")
        }
        self.bytes = bytes
        self.prepared = PreparedKey(encoding: encoding, point: point)
    }

    public static func == (a: SR25519PublicKey, b: SR25519PublicKey) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// schnorrkel `verify_simple` with signing context `substrate` (variable-time arithmetic;
    /// the rules are those of `SR25519.verify`). A key's first verification builds no tables;
    /// from its second on, it runs against this key's precomputed tables (built then).
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        verify(signature: signature, message: message, use: prepared.nextUse())
    }

    /// `verify` run as `use` says (see `PreparedKey`).
    func verify(signature: [UInt8], message: [UInt8], use: PreparedKey.Use) -> Bool {
        switch use {
        case .unusable:
            return false
        case .onTheFly:
            guard let encoding = prepared.encoding else { return false }
            let point = prepared.point
            return SR25519.verifyPrepared(signature: signature, message: message, publicKey: bytes) {
                r, s, challenge in evalnet_r255_verify_once_point(r, s, point, encoding, challenge) == 1
            }
        case let .tables(handle):
            return withExtendedLifetime(prepared) {
                SR25519.verifyPrepared(signature: signature, message: message, publicKey: bytes) {
                    r, s, challenge in evalnet_r255_verify_key(handle, r, s, challenge) == 1
                }
            }
        }
    }

    /// Outcome of `verifyBatch`: the indices (into the items given) of the signatures that do
    /// not verify, in ascending order; empty when every signature verifies.
    public struct BatchResult: Sendable, Equatable {
        public let invalidIndices: [Int]
        public var allValid: Bool { invalidIndices.isEmpty }
    }

    /// Checks many signatures at once, with schnorrkel `verify_batch` semantics: each equation
    /// `s·B = R + k·A` is weighted by a fresh random 128-bit scalar from the OS RNG and the sum
    /// is checked with one multiscalar multiplication; a forged signature passes with
    /// probability about 2^-128. When the combined check fails, the signatures are checked one
    /// by one so the result names the bad ones. Every rule of `verify` applies to each item.
    /// Signatures by the same key share that key's term; keys are cheapest when reused across
    /// batches (their tables are built on first use).
    public static func verifyBatch(
        _ items: [(publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8])]
    ) -> BatchResult {
        SR25519.verifyBatch(items)
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

/// SR25519 verification over raw key bytes (strict schnorrkel rules, context `substrate`) and its transcript.
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
    /// Variable-time arithmetic without per-key tables (`evalnet_r255_verify_once`): every
    /// input is public.
    public static func verify(signature: [UInt8], message: [UInt8], publicKeyBytes pk: [UInt8]) -> Bool {
        guard pk.count == 32 else { return false }
        return verifyPrepared(signature: signature, message: message, publicKey: pk) { r, s, challenge in
            withPointBytes(pk) { point in
                guard let point else { return false }
                return evalnet_r255_verify_once(r, s, point, challenge) == 1
            }
        }
    }

    /// The libdecaf check `verify` used before (libdecaf's double-scalar multiplication), kept
    /// for tests: the same rules and answers.
    static func verifyLibdecaf(signature: [UInt8], message: [UInt8], publicKeyBytes pk: [UInt8]) -> Bool {
        guard pk.count == 32 else { return false }
        return verifyPrepared(signature: signature, message: message, publicKey: pk) { r, s, challenge in
            withPointBytes(pk) { point in
                guard let point else { return false }
                return evalnet_r255_verify(r, s, point, challenge) == 1
            }
        }
    }

    /// The checks every verification path shares, then `equation(R, s, challenge)` on buffers
    /// without allocating: `s` has the marker bit cleared and is canonical; `challenge` is the 64
    /// transcript bytes (reduced mod l by the equation, which refuses k ≡ 0 as libsodium did).
    @inline(__always)
    static func verifyPrepared(
        signature: [UInt8], message: [UInt8], publicKey pk: [UInt8],
        equation: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>) -> Bool
    ) -> Bool {
        guard Sodium.ready, signature.count == 64, pk.count == 32 else { return false }
        guard signature[63] & 0x80 != 0 else { return false }
        guard pk.contains(where: { $0 != 0 }) else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 96) { scratch -> Bool in
            // scratch[0..<32]: s without the marker; scratch[32..<96]: challenge bytes.
            let base = scratch.baseAddress.unsafelyUnwrapped
            signature.withUnsafeBufferPointer { sig in
                for i in 0..<32 { base[i] = sig[32 + i] }
            }
            base[31] &= 0x7F
            guard Sodium.isCanonicalScalar(UnsafePointer(base)) else { return false }
            return signature.withUnsafeBufferPointer { sig -> Bool in
                let r = UnsafeBufferPointer(rebasing: sig[0..<32])
                message.withUnsafeBufferPointer { m in
                    pk.withUnsafeBufferPointer { p in
                        challenge(message: m, publicKey: p, r: r,
                                  into: UnsafeMutableBufferPointer(rebasing: scratch[32..<96]))
                    }
                }
                return equation(r.baseAddress.unsafelyUnwrapped, UnsafePointer(base), UnsafePointer(base + 32))
            }
        }
    }

    /// The transcript challenge (64 bytes) into `out`, without allocating.
    static func challenge(
        message: UnsafeBufferPointer<UInt8>, publicKey: UnsafeBufferPointer<UInt8>, r: UnsafeBufferPointer<UInt8>,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) {
        var t = contextTranscript
        t.appendMessage(label: "sign-bytes", message: message)
        let proto: StaticString = "Schnorr-sig"
        proto.withUTF8Buffer { t.appendMessage(label: "proto-name", message: $0) }
        t.appendMessage(label: "sign:pk", message: publicKey)
        t.appendMessage(label: "sign:R", message: r)
        t.challengeBytes(label: "sign:c", into: out)
    }

    /// libsodium 1.0.18 decodes a point ignoring bit 255 of its encoding (later releases refuse
    /// it); the existing rules are libsodium's, so this is asked of libsodium once.
    static let sodiumIgnoresBit255: Bool = {
        guard Sodium.ready else { return false }
        var base = [UInt8](repeating: 0, count: 32)
        base[0] = 1
        var point = [UInt8](repeating: 0, count: 32)
        guard crypto_scalarmult_ristretto255_base(&point, base) == 0 else { return false }
        point[31] |= 0x80
        return crypto_core_ristretto255_is_valid_point(point) == 1
    }()

    /// Calls `body` with the encoding libdecaf should decode for `pk` (32 bytes): `pk` itself,
    /// or `pk` with bit 255 cleared where libsodium ignores that bit; nil where libsodium would
    /// refuse the encoding for that bit alone.
    @inline(__always)
    static func withPointBytes<R>(_ pk: [UInt8], _ body: (UnsafePointer<UInt8>?) -> R) -> R {
        pk.withUnsafeBufferPointer { p -> R in
            let base = p.baseAddress.unsafelyUnwrapped
            guard base[31] & 0x80 != 0 else { return body(base) }
            guard sodiumIgnoresBit255 else { return body(nil) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { copy -> R in
                let c = copy.baseAddress.unsafelyUnwrapped
                for i in 0..<32 { c[i] = base[i] }
                c[31] &= 0x7F
                return body(UnsafePointer(c))
            }
        }
    }

    /// The bare equations (for tests): `evalnet_r255_verify_once` and libdecaf's
    /// `evalnet_r255_verify` on R (32 bytes), s (32), the key encoding A (32) and the 64
    /// challenge bytes, chosen freely (k need not come from a transcript).
    static func equations(r: [UInt8], s: [UInt8], a: [UInt8], challenge: [UInt8]) -> (once: Bool, libdecaf: Bool) {
        precondition(r.count == 32 && s.count == 32 && a.count == 32 && challenge.count == 64)
        return (evalnet_r255_verify_once(r, s, a, challenge) == 1, evalnet_r255_verify(r, s, a, challenge) == 1)
    }

    /// True when libdecaf decodes `encoding` (32 bytes) as a canonical point, identity included.
    static func decafDecodes(_ encoding: [UInt8]) -> Bool {
        encoding.count == 32 && evalnet_r255_is_valid_point(encoding) == 1
    }

    /// True when the batch check's own decoder accepts `encoding` (32 bytes); it must answer
    /// as `decafDecodes` does.
    static func batchDecodes(_ encoding: [UInt8]) -> Bool {
        encoding.count == 32 && evalnet_r255_batch_decodes(encoding) == 1
    }

    /// The libsodium verification this module used before libdecaf: two constant-time scalar
    /// multiplications. Kept as the reference the fast paths are tested against.
    static func verifyReference(signature: [UInt8], message: [UInt8], publicKeyBytes pk: [UInt8]) -> Bool {
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

    /// Largest number of signatures combined in one multiscalar multiplication; longer batches
    /// are checked in slices of this size (bounding the scratch memory at about 300 KiB).
    static let batchSlice = 128

    static func verifyBatch(
        _ items: [(publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8])]
    ) -> SR25519PublicKey.BatchResult {
        var invalid: [Int] = []
        var start = 0
        while start < items.count {
            let end = min(start + batchSlice, items.count)
            invalid += verifySlice(items, start..<end).invalid
            start = end
        }
        return SR25519PublicKey.BatchResult(invalidIndices: invalid)
    }

    /// The indices in `range` that fail: items that break a rule before any arithmetic are
    /// set aside; the rest are checked together, then one by one if the combined check fails.
    /// `combined` is the multiscalar check's answer (1 passed, 0 failed, -1 out of memory; nil
    /// when no item reached it), so tests can tell the combined path from the fall-back.
    static func verifySlice(
        _ items: [(publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8])], _ range: Range<Int>
    ) -> (invalid: [Int], combined: Int32?) {
        var invalid: [Int] = []
        var members: [Int] = []
        var keys: [OpaquePointer?] = []
        var rs: [UInt8] = [], ss: [UInt8] = [], challenges: [UInt8] = [], points: [UInt8] = []
        members.reserveCapacity(range.count)
        keys.reserveCapacity(range.count)
        points.reserveCapacity(Int(EVALNET_R255_POINT_BYTES) * range.count)
        rs.reserveCapacity(32 * range.count)
        ss.reserveCapacity(32 * range.count)
        challenges.reserveCapacity(64 * range.count)
        for i in range {
            let (key, signature, message) = items[i]
            var accepted = false
            let use = key.prepared.batchUse()
            // A key's first use joins the batch as its decoded point (no tables built); later
            // uses join with its batch tables.
            if use.handle != nil || use.onTheFly {
                accepted = verifyPrepared(signature: signature, message: message, publicKey: key.bytes) {
                    r, s, challenge in
                    rs.append(contentsOf: UnsafeBufferPointer(start: r, count: 32))
                    ss.append(contentsOf: UnsafeBufferPointer(start: s, count: 32))
                    challenges.append(contentsOf: UnsafeBufferPointer(start: challenge, count: 64))
                    return true
                }
                if accepted {
                    members.append(i)
                    keys.append(use.handle)
                    points.append(contentsOf: key.prepared.point)
                }
            } else {
                // No signature verifies under the key, or a usable key without batch tables
                // (memory exhausted): checked on its own.
                accepted = key.verify(signature: signature, message: message, use: key.prepared.currentUse)
            }
            if !accepted { invalid.append(i) }
        }
        guard !members.isEmpty else { return (invalid, nil) }
        let weights = Sodium.randomBytes(16 * members.count)
        let combined = withExtendedLifetime(items) {
            keys.withUnsafeBufferPointer { k in
                evalnet_r255_verify_batch(members.count, k.baseAddress, points, rs, ss, challenges, weights)
            }
        }
        if combined != 1 {
            // One by one, without counting these checks as further uses of the keys.
            for i in members {
                let key = items[i].publicKey
                if !key.verify(signature: items[i].signature, message: items[i].message, use: key.prepared.currentUse) {
                    invalid.append(i)
                }
            }
            invalid.sort()
        }
        return (invalid, combined)
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
