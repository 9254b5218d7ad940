import CSodium
import Testing

@testable import Hotkeys

/// The table-free check a key's first use runs (and `SR25519.verify` on key bytes), against the
/// tables a key gets from its second use on, libdecaf's double-scalar check and the libsodium
/// reference; and batches whose keys are used for the first time.
@Suite struct FirstUseVerifyTests {
    typealias Item = (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8])

    /// Every answer for one (key bytes, signature, message): reference, libdecaf, key bytes
    /// (table-free), a fresh key's first use (table-free), the same key's second and third
    /// use (tables), and a one-item batch of a fresh key.
    static func answers(_ pk: [UInt8], _ signature: [UInt8], _ message: [UInt8]) -> [Bool] {
        var out = [
            SR25519.verifyReference(signature: signature, message: message, publicKeyBytes: pk),
            SR25519.verifyLibdecaf(signature: signature, message: message, publicKeyBytes: pk),
            SR25519.verify(signature: signature, message: message, publicKeyBytes: pk),
        ]
        if let key = try? SR25519PublicKey(bytes: pk) {
            #expect(!key.prepared.hasTables)
            out.append(key.verify(signature: signature, message: message))
            #expect(!key.prepared.hasTables, "the first use builds no tables")
            out.append(key.verify(signature: signature, message: message))
            #expect(key.prepared.hasTables, "the second use builds them")
            out.append(key.verify(signature: signature, message: message))
        }
        if let key = try? SR25519PublicKey(bytes: pk) {
            out.append(SR25519PublicKey.verifyBatch([(key, signature, message)]).allValid)
        }
        return out
    }

    @Test func firstUseAndTablesAgreeOnRandomKeysMessagesAndTampering() {
        var accepted = 0
        for i in 0..<60 {
            let (key, message, sig) = FastVerifyTests.signed(i)
            for (n, v) in FastVerifyTests.variants(sig).enumerated() {
                let a = Self.answers(key.publicKey.bytes, v, message)
                #expect(a.count == 7)
                #expect(Set(a).count == 1, "paths disagree: \(a) variant \(n)")
                #expect(a[0] == (n == 0), "variant \(n)")
                if a[0] { accepted += 1 }
            }
            let other = Self.answers(key.publicKey.bytes, sig, message + [9])
            #expect(other.allSatisfy { !$0 })
            // Another key's signature of the same message.
            let stranger = SR25519Keypair.generate()
            #expect(Self.answers(stranger.publicKey.bytes, sig, message).allSatisfy { !$0 })
        }
        #expect(accepted == 60)
    }

    @Test func firstUseAndTablesAgreeOnVectors() {
        FastVerifyTests.checkVectors(paths: 7, Self.answers)
    }

    /// A failed first use still counts as a use: the second builds the tables, and a valid
    /// signature then verifies through them.
    @Test func invalidFirstUseThenValidThroughTables() {
        for i in 0..<8 {
            let (kp, message, sig) = FastVerifyTests.signed(i)
            let key = kp.publicKey
            var bad = sig
            bad[i % 2 == 0 ? 2 : 40] ^= 0x01
            #expect(!key.verify(signature: bad, message: message))
            #expect(!key.prepared.hasTables)
            #expect(key.verify(signature: sig, message: message))
            #expect(key.prepared.hasTables)
            #expect(!key.verify(signature: bad, message: message))
            #expect(key.verify(signature: sig, message: message))
        }
    }

    /// 32-byte little-endian x·y + z mod l (libsodium).
    static func mulAdd(_ x: [UInt8], _ y: [UInt8], _ z: [UInt8]) -> [UInt8] {
        var xy = [UInt8](repeating: 0, count: 32), out = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_mul(&xy, x, y)
        crypto_core_ristretto255_scalar_add(&out, xy, z)
        return out
    }

    /// The split of k (k ≡ k1/k2 mod l) at its edges: challenges chosen directly, reduced to
    /// tiny k, k near 2^127 (where the split starts), k near l, k ≡ 0 (refused), and wide
    /// random values; each with the matching s and with s, R and the key tampered.
    @Test func challengeEdgesAgreeWithLibdecaf() {
        var challenges: [[UInt8]] = []
        func wide(_ low: [UInt8]) -> [UInt8] { low + [UInt8](repeating: 0, count: 64 - low.count) }
        challenges.append(wide([1]))
        challenges.append(wide([2]))
        challenges.append(wide([0xFF, 0xFF]))
        for top in [0x3F, 0x7F, 0x80, 0xFF] as [UInt8] {  // around 2^126 ... 2^128
            var c = [UInt8](repeating: 0xFF, count: 15) + [top]
            challenges.append(wide(c))
            c = [UInt8](repeating: 0, count: 15) + [top]
            challenges.append(wide(c))
        }
        var lMinus1 = Sodium.groupOrder
        lMinus1[0] -= 1
        challenges.append(wide(lMinus1))
        var lMinus2 = Sodium.groupOrder
        lMinus2[0] -= 2
        challenges.append(wide(lMinus2))
        challenges.append(wide(Sodium.groupOrder))                 // k ≡ 0: refused
        challenges.append(wide([0]))                               // k = 0: refused
        for _ in 0..<40 { challenges.append(Sodium.randomBytes(64)) }
        for _ in 0..<10 { challenges.append(wide(Sodium.randomBytes(16))) }  // below 2^128
        for (n, c) in challenges.enumerated() {
            let kp = SR25519Keypair.generate()
            let a = kp.publicKey.bytes
            let k = Sodium.reduceWide(c)
            let r = Sodium.reduceWide(Sodium.randomBytes(64))
            let rEnc = Sodium.baseMultiply(r)
            let s = Self.mulAdd(k, kp.secretScalar, r)
            let kIsZero = k.allSatisfy { $0 == 0 }
            let good = SR25519.equations(r: rEnc, s: s, a: a, challenge: c)
            #expect(good.once == good.libdecaf && good.once == !kIsZero, "challenge \(n)")
            var badS = s
            badS[0] ^= 1
            var badR = rEnc
            badR[3] ^= 0x40
            let other = SR25519Keypair.generate().publicKey.bytes
            for (rr, ss, aa) in [(rEnc, badS, a), (badR, s, a), (rEnc, s, other)] {
                let e = SR25519.equations(r: rr, s: ss, a: aa, challenge: c)
                #expect(e.once == e.libdecaf && !e.once, "challenge \(n)")
            }
        }
    }

    /// Batches of keys used for the first time (checked from their encodings), keys seen once
    /// before (their batch tables are built) and keys with tables, mixed, with one key
    /// repeated: every answer is the one-by-one answer, the combined check passes when all are
    /// valid, and spoiled items are named.
    @Test func batchesOfFirstUseKeysAgreeWithOneByOne() {
        let shared = SR25519Keypair.generate()
        func items(_ count: Int) -> [Item] {
            (0..<count).map { i -> Item in
                let key = i % 9 == 4 ? shared : SR25519Keypair.generate()
                let message = Array("first use \(i) \(String(repeating: "y", count: i % 23))".utf8)
                return (key.publicKey, key.sign(message), message)
            }
        }
        // Fresh keys only (each key object new, so every key is on its first use).
        let fresh = items(64)
        #expect(BatchVerifyTests.combinedAnswers(fresh) == [1])
        // Keys seen once before (now they get batch tables), then with tables.
        #expect(BatchVerifyTests.combinedAnswers(fresh) == [1])
        #expect(fresh.allSatisfy { $0.publicKey.prepared.hasTables })
        #expect(SR25519PublicKey.verifyBatch(fresh).allValid)
        // Mixed: half the keys fresh copies of the same bytes.
        var mixed = fresh
        for i in stride(from: 0, to: mixed.count, by: 2) {
            mixed[i].publicKey = (try? SR25519PublicKey(bytes: mixed[i].publicKey.bytes)) ?? mixed[i].publicKey
        }
        #expect(BatchVerifyTests.combinedAnswers(mixed) == [1])
        for position in [0, 1, 4, 13, 31, 63] {
            for kind in 0..<6 {
                var batch = items(64)
                BatchVerifyTests.spoil(&batch, at: position, kind: kind)
                // Fresh key objects for the one-by-one answer, so both run first uses.
                let copies = batch.map { item -> Item in
                    ((try? SR25519PublicKey(bytes: item.publicKey.bytes)) ?? item.publicKey, item.signature, item.message)
                }
                let result = SR25519PublicKey.verifyBatch(batch)
                #expect(result.invalidIndices == [position], "position \(position) kind \(kind)")
                #expect(BatchVerifyTests.oneByOne(copies) == [position])
            }
        }
    }
}

/// Key parsing answers with this package's decoder: it must accept exactly what libsodium's
/// `crypto_core_ristretto255_is_valid_point` accepts (non-zero bytes), bit 255 included.
@Suite struct KeyParsingTests {
    @Test func keysAreAcceptedExactlyAsLibsodiumAccepts() {
        var valid = 0
        for i in 0..<20_000 {
            var p = Sodium.randomBytes(32)
            if i % 4 != 3 { p[31] &= 0x7F }
            if i % 2 == 0 { p[0] &= 0xFE }  // even s: the half where valid encodings live
            if i % 50 == 0 { p = SR25519Keypair.generate().publicKey.bytes }
            if i % 100 == 0 { p[31] |= 0x80 }
            let sodium = crypto_core_ristretto255_is_valid_point(p) == 1
            #expect(((try? SR25519PublicKey(bytes: p)) != nil) == sodium, "\(Hex.encode(p))")
            if sodium { valid += 1 }
        }
        for t in 0..<19 {
            var p = [UInt8](repeating: 0xFF, count: 32)
            p[31] = 0x7F
            p[0] = UInt8(0xED + t)
            #expect((try? SR25519PublicKey(bytes: p)) == nil)
        }
        #expect((try? SR25519PublicKey(bytes: [UInt8](repeating: 0, count: 32))) == nil)
        var identityHigh = [UInt8](repeating: 0, count: 32)
        identityHigh[31] = 0x80
        #expect(((try? SR25519PublicKey(bytes: identityHigh)) != nil)
                == (crypto_core_ristretto255_is_valid_point(identityHigh) == 1))
        #expect(valid > 100)
    }
}
