import CSodium
import Testing

@testable import Hotkeys

/// Batch verification (the multiscalar check over this package's own field arithmetic) against
/// one-by-one verification and the libsodium reference.
@Suite struct BatchVerifyTests {
    typealias Item = (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8])

    /// `count` signed items; every `repeatEvery`-th item is signed by one shared key (0: all
    /// keys distinct).
    static func items(_ count: Int, repeatEvery: Int = 0) -> [Item] {
        let shared = SR25519Keypair.generate()
        return (0..<count).map { i -> Item in
            let key = repeatEvery > 0 && i % repeatEvery == 0 ? shared : SR25519Keypair.generate()
            let message = Array("batch item \(i) \(String(repeating: "x", count: i % 37))".utf8)
            return (key.publicKey, key.sign(message), message)
        }
    }

    static func oneByOne(_ items: [Item]) -> [Int] {
        items.indices.filter { !items[$0].publicKey.verify(signature: items[$0].signature, message: items[$0].message) }
    }

    /// Item `index` spoiled in one of several ways, chosen by `kind`.
    static func spoil(_ items: inout [Item], at index: Int, kind: Int) {
        switch kind % 6 {
        case 0: items[index].signature[33] ^= 0x01                 // s changed (still canonical)
        case 1: items[index].message += [0x21]                     // another message
        case 2: items[index].signature[7] ^= 0x20                  // R changed (may not decode)
        case 3: items[index].publicKey = SR25519Keypair.generate().publicKey  // another key
        case 4: items[index].signature[63] &= 0x7F                 // no schnorrkel marker
        default:                                                   // R and s of another signature
            let other = SR25519Keypair.generate()
            items[index].signature = other.sign(items[index].message)
        }
    }

    /// Every slice's combined answer for `items` (1 when the multiscalar check passed).
    static func combinedAnswers(_ items: [Item]) -> [Int32?] {
        stride(from: 0, to: items.count, by: SR25519.batchSlice).map { start in
            SR25519.verifySlice(items, start..<min(start + SR25519.batchSlice, items.count)).combined
        }
    }

    @Test func oneBadSignatureAtAnyPositionIsRefusedAndNamed() {
        let good = Self.items(64)
        #expect(SR25519PublicKey.verifyBatch(good).allValid)
        for position in 0..<64 {
            var batch = good
            Self.spoil(&batch, at: position, kind: position)
            let result = SR25519PublicKey.verifyBatch(batch)
            #expect(!result.allValid)
            #expect(result.invalidIndices == [position], "kind \(position % 6)")
            #expect(Self.oneByOne(batch) == [position])
        }
    }

    @Test func oneBadSignatureAmongRepeatedKeysIsNamed() {
        let good = Self.items(64, repeatEvery: 3)
        #expect(SR25519PublicKey.verifyBatch(good).allValid)
        for position in [0, 1, 3, 31, 62, 63] {
            var batch = good
            Self.spoil(&batch, at: position, kind: 0)
            #expect(SR25519PublicKey.verifyBatch(batch).invalidIndices == [position])
        }
    }

    @Test(arguments: [1, 2, 63, 64, 65, 129])
    func batchesOfEverySizeAgreeWithSingleVerification(size: Int) {
        let good = Self.items(size, repeatEvery: size > 2 ? 5 : 0)
        #expect(Self.oneByOne(good).isEmpty)
        let result = SR25519PublicKey.verifyBatch(good)
        #expect(result.allValid && result.invalidIndices.isEmpty)
        // Accepted by the combined check itself, not by the one-by-one fall-back.
        #expect(Self.combinedAnswers(good).allSatisfy { $0 == 1 })
        for (n, position) in Set([0, size / 2, size - 1]).sorted().enumerated() {
            var batch = good
            Self.spoil(&batch, at: position, kind: n + size)
            #expect(SR25519PublicKey.verifyBatch(batch).invalidIndices == Self.oneByOne(batch))
            #expect(SR25519PublicKey.verifyBatch(batch).invalidIndices == [position])
        }
    }

    /// Two signatures whose s values are moved by +d and -d keep the unweighted sum of the
    /// equations at the identity; the random weights must still refuse both.
    @Test func errorsThatCancelWithoutWeightsAreRefused() {
        var batch = Self.items(16)
        let d = Sodium.reduceWide(Sodium.randomBytes(64))
        func shift(_ index: Int, by delta: [UInt8], add: Bool) {
            var s = Array(batch[index].signature[32..<64])
            s[31] &= 0x7F
            var out = [UInt8](repeating: 0, count: 32)
            if add { crypto_core_ristretto255_scalar_add(&out, s, delta) } else { crypto_core_ristretto255_scalar_sub(&out, s, delta) }
            out[31] |= 0x80
            batch[index].signature.replaceSubrange(32..<64, with: out)
        }
        shift(4, by: d, add: true)
        shift(11, by: d, add: false)
        #expect(SR25519PublicKey.verifyBatch(batch).invalidIndices == [4, 11])
        #expect(Self.combinedAnswers(batch) == [0])
    }

    /// A signature whose R is the identity (s = k·x): whatever the reference answers, the
    /// batch answers the same, alone and among others.
    @Test func identityNonceAnswersAsTheReference() {
        let key = SR25519Keypair.generate()
        let message = Array("identity nonce".utf8)
        let r = [UInt8](repeating: 0, count: 32)
        let k = SR25519.challengeScalar(message: message, publicKey: key.publicKey.bytes, r: r)
        var s = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_mul(&s, k, key.secretScalar)
        var signature = r + s
        signature[63] |= 0x80
        let reference = SR25519.verifyReference(signature: signature, message: message, publicKeyBytes: key.publicKey.bytes)
        #expect(key.publicKey.verify(signature: signature, message: message) == reference)
        var batch = Self.items(8)
        batch.insert((key.publicKey, signature, message), at: 3)
        #expect(SR25519PublicKey.verifyBatch(batch).invalidIndices == (reference ? [] : [3]))
        #expect(SR25519PublicKey.verifyBatch([(key.publicKey, signature, message)]).allValid == reference)
    }

    @Test func batchDecoderAcceptsExactlyWhatLibdecafAccepts() {
        var valid = 0
        for i in 0..<20_000 {
            var p = Sodium.randomBytes(32)
            if i % 3 != 0 { p[31] &= 0x7F }
            if i % 2 == 0 { p[0] &= 0xFE }
            if i % 25 == 0 { p = SR25519Keypair.generate().publicKey.bytes }
            let decaf = SR25519.decafDecodes(p)
            #expect(SR25519.batchDecodes(p) == decaf, "\(Hex.encode(p))")
            if decaf { valid += 1 }
        }
        for t in 0..<19 {
            var p = [UInt8](repeating: 0xFF, count: 32)
            p[31] = 0x7F
            p[0] = UInt8(0xED + t)
            #expect(!SR25519.batchDecodes(p))
        }
        #expect(SR25519.batchDecodes([UInt8](repeating: 0, count: 32)))
        #expect(valid > 100)
    }
}
