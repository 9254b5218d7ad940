import CSodium
import Foundation
import Testing

@testable import Hotkeys

/// The libdecaf verification paths (per-key tables, stateless, batch) against the libsodium
/// reference they replaced.
@Suite struct FastVerifyTests {
    /// A key, a message and a signature, plus variants that must fail.
    static func signed(_ i: Int) -> (SR25519Keypair, [UInt8], [UInt8]) {
        let key = SR25519Keypair.generate()
        let message = (0..<(i * 29 % 300)).map { UInt8(($0 * 5 + i) & 0xFF) }
        return (key, message, key.sign(message))
    }

    /// Every path's answer for one (key bytes, signature, message); all must agree.
    static func answers(_ pk: [UInt8], _ signature: [UInt8], _ message: [UInt8]) -> [Bool] {
        var out = [
            SR25519.verifyReference(signature: signature, message: message, publicKeyBytes: pk),
            SR25519.verify(signature: signature, message: message, publicKeyBytes: pk),
        ]
        if let key = try? SR25519PublicKey(bytes: pk) {
            out.append(key.verify(signature: signature, message: message))
            out.append(SR25519PublicKey.verifyBatch([(key, signature, message)]).allValid)
        }
        return out
    }

    /// Signature variants: untouched, each byte region flipped, marker cleared, s + l
    /// (non-canonical), s replaced by l, and R with bit 255 set.
    static func variants(_ sig: [UInt8]) -> [[UInt8]] {
        var out = [sig]
        for position in [0, 17, 31, 32, 50, 62] {
            var v = sig
            v[position] ^= 0x04
            out.append(v)
        }
        var noMarker = sig
        noMarker[63] &= 0x7F
        out.append(noMarker)
        // s + l: the same scalar mod l, refused as non-canonical.
        var plusL = sig
        var carry = 0
        for i in 0..<32 {
            let byte = i == 31 ? Int(sig[63] & 0x7F) : Int(sig[32 + i])
            let sum = byte + Int(Sodium.groupOrder[i]) + carry
            plusL[32 + i] = UInt8(sum & 0xFF)
            carry = sum >> 8
        }
        if plusL[63] & 0x80 == 0 {
            plusL[63] |= 0x80
            out.append(plusL)
        }
        var sIsL = sig
        for i in 0..<32 { sIsL[32 + i] = Sodium.groupOrder[i] }
        sIsL[63] |= 0x80
        out.append(sIsL)
        var highR = sig
        highR[31] |= 0x80
        out.append(highR)
        return out
    }

    @Test func decafPathsAgreeWithLibsodiumOnRandomKeysAndTampering() {
        var accepted = 0
        for i in 0..<40 {
            let (key, message, sig) = Self.signed(i)
            for (n, v) in Self.variants(sig).enumerated() {
                let a = Self.answers(key.publicKey.bytes, v, message)
                #expect(Set(a).count == 1, "paths disagree: \(a) variant \(n)")
                #expect(a[0] == (n == 0), "variant \(n)")
                if a[0] { accepted += 1 }
            }
            let other = Self.answers(key.publicKey.bytes, sig, message + [7])
            #expect(other.allSatisfy { !$0 })
        }
        #expect(accepted == 40)
    }

    @Test func decafPathsAgreeWithLibsodiumOnVectors() {
        Self.checkVectors(paths: 4, Self.answers)
    }

    /// Walks the shared vectors through `answers` (one answer per verification path): every
    /// signature of every vector key (and its bittensor-wallet spelling) is accepted by all
    /// `paths` paths, every negative and every identity-key edge case refused by all.
    static func checkVectors(paths: Int, _ answers: ([UInt8], [UInt8], [UInt8]) -> [Bool]) {
        var checked = 0
        for kp in Vectors.keypairs {
            let pk = hex(kp["public_key_hex"])
            for sig in kp["signatures"] as! [[String: Any]] {
                for field in ["signature_hex", "signature_hex_alt_bittensor_wallet"] {
                    guard let s = sig[field] as? String else { continue }
                    let a = answers(pk, hex(s), hex(sig["message_hex"]))
                    #expect(a.count == paths && a.allSatisfy { $0 })
                    checked += 1
                }
            }
        }
        for n in Vectors.negatives {
            let a = answers(hex(n["public_key_hex"]), hex(n["signature_hex"]), hex(n["message_hex"]))
            #expect(a.allSatisfy { !$0 }, "\(n["name"]!)")
            checked += 1
        }
        for e in Vectors.json["edge_cases_identity_public_key"] as! [[String: Any]] {
            let a = answers(hex(e["public_key_hex"]), hex(e["signature_hex"]), hex(e["message_hex"]))
            #expect(a.allSatisfy { !$0 })
        }
        #expect(checked == 64 + 19)
    }

    /// libsodium (the rules being kept) decides whether a key encoding with bit 255 set is
    /// a key; every path must then answer as the reference does, whichever way it decides.
    @Test func keyEncodingWithBit255AnswersAsTheReference() {
        for i in 0..<6 {
            let (key, message, _) = Self.signed(i)
            var high = key.publicKey.bytes
            high[31] |= 0x80
            #expect(((try? SR25519PublicKey(bytes: high)) != nil) == SR25519.sodiumIgnoresBit255)
            // A signature made with the high-bit bytes in the transcript (what a signer of
            // that spelling would produce) and one made for the canonical spelling.
            let forHigh = Self.signWithTranscriptKey(key, high, message)
            for sig in [forHigh, key.sign(message)] {
                let a = Self.answers(high, sig, message)
                #expect(Set(a).count == 1, "\(a)")
            }
            #expect(Self.answers(high, forHigh, message)[0] == SR25519.sodiumIgnoresBit255)
        }
        // Bit 255 over the identity: never a verifying key on any path.
        var identityHigh = [UInt8](repeating: 0, count: 32)
        identityHigh[31] = 0x80
        let (key, message, sig) = Self.signed(1)
        _ = key
        #expect(Self.answers(identityHigh, sig, message).allSatisfy { !$0 })
    }

    /// A schnorrkel signature under `key`'s secret whose transcript names `pkBytes`.
    static func signWithTranscriptKey(_ key: SR25519Keypair, _ pkBytes: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let r = Sodium.reduceWide(Sodium.randomBytes(64))
        let rEnc = Sodium.baseMultiply(r)
        let k = Sodium.reduceWide(SR25519.challengeBytes(message: message, publicKey: pkBytes, r: rEnc))
        var kx = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_mul(&kx, k, key.secretScalar)
        var s = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_add(&s, kx, r)
        var sig = rEnc + s
        sig[63] |= 0x80
        return sig
    }

    @Test func libdecafDecodesExactlyTheEncodingsLibsodiumAccepts() {
        var valid = 0
        for i in 0..<20_000 {
            var p = Sodium.randomBytes(32)
            p[31] &= 0x7F
            if i % 2 == 0 { p[0] &= 0xFE }  // even s: the half where valid encodings live
            if i % 50 == 0 { p = SR25519Keypair.generate().publicKey.bytes }
            let sodium = crypto_core_ristretto255_is_valid_point(p) == 1
            #expect(sodium == SR25519.decafDecodes(p), "\(Hex.encode(p))")
            if sodium { valid += 1 }
        }
        // Field elements p...2^255-1 (non-canonical s) and the identity.
        for t in 0..<19 {
            var p = [UInt8](repeating: 0xFF, count: 32)
            p[31] = 0x7F
            p[0] = UInt8(0xED + t)
            #expect(!SR25519.decafDecodes(p) && crypto_core_ristretto255_is_valid_point(p) == 0)
        }
        #expect(SR25519.decafDecodes([UInt8](repeating: 0, count: 32)))
        #expect(valid > 100)
    }

    @Test func batchOfValidSignaturesAccepts() {
        // 300 spans three slices of the multiscalar check.
        let items = (0..<300).map { i -> (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8]) in
            let (key, message, sig) = Self.signed(i % 40)
            return (key.publicKey, sig, message)
        }
        let result = SR25519PublicKey.verifyBatch(items)
        #expect(result.allValid && result.invalidIndices.isEmpty)
        #expect(SR25519PublicKey.verifyBatch([]).allValid)
    }

    @Test func batchWithBadSignaturesNamesThem() {
        let key = SR25519Keypair.generate()
        var items = (0..<64).map { i -> (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8]) in
            // One key signing many messages too, so equal keys share the batch.
            let k = i % 4 == 0 ? key : SR25519Keypair.generate()
            let m = Array("request \(i)".utf8)
            return (k.publicKey, k.sign(m), m)
        }
        #expect(SR25519PublicKey.verifyBatch(items).allValid)
        var one = items
        one[37].message = Array("request 38".utf8)
        #expect(SR25519PublicKey.verifyBatch(one).invalidIndices == [37])

        items[3].signature[40] ^= 1          // s changed: equation fails
        items[10].signature[63] &= 0x7F      // no schnorrkel marker
        items[20].signature[5] ^= 0x10       // R changed (may not even decode)
        items[63].publicKey = SR25519Keypair.generate().publicKey  // wrong key
        let result = SR25519PublicKey.verifyBatch(items)
        #expect(result.invalidIndices == [3, 10, 20, 63])
        #expect(!result.allValid)
        // The answer is the one-by-one answer.
        let single = items.indices.filter { !items[$0].publicKey.verify(signature: items[$0].signature, message: items[$0].message) }
        #expect(single == result.invalidIndices)
    }

    @Test func batchOfOnlyBadSignaturesNamesEveryOne() {
        let items = (0..<5).map { i -> (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8]) in
            let (key, message, sig) = Self.signed(i)
            return (key.publicKey, sig, message + [1])
        }
        #expect(SR25519PublicKey.verifyBatch(items).invalidIndices == [0, 1, 2, 3, 4])
        let short = [(publicKey: items[0].publicKey, signature: [UInt8](repeating: 0x80, count: 63), message: [UInt8]())]
        #expect(SR25519PublicKey.verifyBatch(short).invalidIndices == [0])
    }
}

@Suite struct HeaderTrimTests {
    /// The fast path of header trimming answers exactly as Foundation's `.whitespaces` trim.
    @Test func trimmingMatchesFoundation() {
        let samples = [
            "", " ", "\t", "abc", " abc", "abc ", "\tabc\t", "a b", "\u{00A0}abc", "abc\u{3000}", "\u{2003}x\u{2003}",
            "\nabc\n", "\u{0B}abc", "é", " é ", "0x12ab", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "🔑", "x\u{200A}",
        ]
        for s in samples {
            #expect(RequestAuthenticator.trimmedWhitespace(s) == s.trimmingCharacters(in: .whitespaces), "\(s.unicodeScalars.map(\.value))")
        }
    }
}
