import Foundation
import Testing

@testable import Hotkeys

/// The shared SR25519 vectors (`../shared/vectors/sr25519-vectors.json` beside the package).
struct Vectors {
    nonisolated(unsafe) static let json: [String: Any] = {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = ProcessInfo.processInfo.environment["EVALNET_VECTORS"]
            ?? root.deletingLastPathComponent().appendingPathComponent("shared/vectors/sr25519-vectors.json").path
        let data = try! Data(contentsOf: URL(fileURLWithPath: path))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static var keypairs: [[String: Any]] { json["keypairs"] as! [[String: Any]] }
    static var negatives: [[String: Any]] { json["negative_cases"] as! [[String: Any]] }
}

func hex(_ s: Any?) -> [UInt8] { try! Hex.decode(s as! String) }

@Suite struct KeccakMerlinTests {
    @Test func sha3MatchesPublishedDigests() {
        #expect(Hex.encode(SHA3_256.hash(Array("abc".utf8)))
            == "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
        // Multi-block input (more than one 136-byte rate block).
        #expect(Hex.encode(SHA3_256.hash([UInt8](repeating: 0x61, count: 200)))
            == "cce34485baf2bf2aca99b94833892a4f52896d3d153f7b840cc4f9fe695f1387")
    }

    @Test func merlinSimpleVector() {
        var t = MerlinTranscript(label: Array("test protocol".utf8))
        t.appendMessage(label: Array("some label".utf8), message: Array("some data".utf8))
        let c = t.challengeBytes(label: Array("challenge".utf8), count: 32)
        #expect(Hex.encode(c) == "d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615")
    }

    @Test func merlinComplexVector() {
        var t = MerlinTranscript(label: Array("test protocol".utf8))
        t.appendMessage(label: Array("step1".utf8), message: Array("some data".utf8))
        var c: [UInt8] = []
        let big = [UInt8](repeating: 0x63, count: 1024)
        for _ in 0..<32 {
            c = t.challengeBytes(label: Array("challenge".utf8), count: 32)
            t.appendMessage(label: Array("bigdata".utf8), message: big)
            t.appendMessage(label: Array("challengedata".utf8), message: c)
        }
        #expect(Hex.encode(c) == "a8c933f54fae76e3f9bea93648c1308e7dfa2152dd51674ff3ca438351cf003c")
    }
}

@Suite struct SR25519VectorTests {
    @Test func keypairsFromSeedsMatch() throws {
        for kp in Vectors.keypairs {
            let pair = try SR25519Keypair(seed: hex(kp["mini_secret_seed_hex"]))
            #expect(pair.publicKey.hex == kp["public_key_hex"] as! String)
            #expect(Hex.encode(pair.secretScalar) == kp["secret_scalar_hex_le"] as! String)
            #expect(Hex.encode(pair.nonce) == kp["secret_nonce_hex"] as! String)
            #expect(Hex.encode(pair.secretKey64) == kp["secret_key_64_hex_schnorrkel_native"] as! String)
            #expect(pair.publicKey.ss58Address == kp["ss58_address"] as! String)
        }
    }

    @Test func everyPositiveSignatureVerifiesWithMatchingChallenge() throws {
        var count = 0
        for kp in Vectors.keypairs {
            let pk = hex(kp["public_key_hex"])
            for sig in kp["signatures"] as! [[String: Any]] {
                let msg = hex(sig["message_hex"])
                for (sigKey, cKey, kKey) in [
                    ("signature_hex", "challenge_bytes_64_hex", "challenge_scalar_k_hex"),
                    ("signature_hex_alt_bittensor_wallet", "challenge_bytes_64_hex_alt_bittensor_wallet",
                     "challenge_scalar_k_hex_alt_bittensor_wallet"),
                ] {
                    guard let s = sig[sigKey] as? String else { continue }
                    let sb = try Hex.decode(s)
                    #expect(SR25519.verify(signature: sb, message: msg, publicKeyBytes: pk), "\(s)")
                    let r = Array(sb[0..<32])
                    if let c = sig[cKey] as? String {
                        #expect(Hex.encode(SR25519.challengeBytes(message: msg, publicKey: pk, r: r)) == c)
                    }
                    if let k = sig[kKey] as? String {
                        #expect(Hex.encode(SR25519.challengeScalar(message: msg, publicKey: pk, r: r)) == k)
                    }
                    count += 1
                }
            }
        }
        #expect(count == 64)
    }

    @Test func prototypeSignaturesVerify() {
        let cases = (Vectors.json["signatures_made_by_prototype"] as! [String: Any])["cases"] as! [[String: Any]]
        #expect(!cases.isEmpty)
        for c in cases {
            let kp = Vectors.keypairs[c["keypair_index"] as! Int]
            #expect(SR25519.verify(signature: hex(c["signature_hex"]), message: hex(c["message_hex"]),
                                   publicKeyBytes: hex(kp["public_key_hex"])))
        }
    }

    @Test func everyNegativeCaseFails() {
        #expect(Vectors.negatives.count == 19)
        for n in Vectors.negatives {
            let ok = SR25519.verify(signature: hex(n["signature_hex"]), message: hex(n["message_hex"]),
                                    publicKeyBytes: hex(n["public_key_hex"]))
            #expect(!ok, "\(n["name"]!)")
        }
    }

    @Test func identityPublicKeyIsRefused() {
        for e in Vectors.json["edge_cases_identity_public_key"] as! [[String: Any]] {
            #expect(!SR25519.verify(signature: hex(e["signature_hex"]), message: hex(e["message_hex"]),
                                    publicKeyBytes: hex(e["public_key_hex"])))
        }
        #expect(throws: HotkeyError.self) { try SR25519PublicKey(bytes: [UInt8](repeating: 0, count: 32)) }
    }

    @Test func ourSignaturesVerifyAndTamperingFails() throws {
        let listed = (Vectors.json["message_list"] as! [[String: Any]]).compactMap { ($0["hex"] as? String).map { hex($0) } }
        let messages = listed + [Array(0..<200).map(UInt8.init), (0..<4).flatMap { _ in (0...255).map(UInt8.init) }]
        for kp in Vectors.keypairs {
            let pair = try SR25519Keypair(seed: hex(kp["mini_secret_seed_hex"]))
            for m in messages {
                let sig = pair.sign(m)
                #expect(sig.count == 64 && sig[63] & 0x80 != 0)
                #expect(pair.publicKey.verify(signature: sig, message: m))
                #expect(!pair.publicKey.verify(signature: sig, message: m + [0]))
                var flipped = sig
                flipped[5] ^= 1
                #expect(!pair.publicKey.verify(signature: flipped, message: m))
                #expect(pair.sign(m) != sig, "signatures are randomised")
            }
        }
    }

    @Test func mnemonicVectorPublicKey() throws {
        let m = Vectors.json["mnemonic_to_mini_secret"] as! [String: Any]
        let pair = try SR25519Keypair(seed: hex(m["mini_secret_hex"]))
        #expect(pair.publicKey.ss58Address == m["ss58_address"] as! String)
    }
}

@Suite struct SS58Tests {
    @Test func extraPrefixesEncodeAndDecode() throws {
        for e in Vectors.json["ss58_extra_prefixes"] as! [[String: Any]] {
            let pk = hex(e["public_key_hex"])
            let prefix = e["prefix"] as! Int
            #expect(try SS58.encode(publicKey: pk, prefix: prefix) == e["address"] as! String)
            let decoded = try SS58.decode(e["address"] as! String)
            #expect(decoded.prefix == prefix && decoded.publicKey == pk)
        }
    }

    @Test func badAddressesGiveClearErrors() throws {
        let neg = Vectors.json["ss58_decode_negative"] as! [[String: Any]]
        #expect(throws: SS58Error.badChecksum) { try SS58.decode(neg[0]["address"] as! String) }
        #expect(throws: SS58Error.self) { try SS58.decode(neg[1]["address"] as! String) }
        #expect(throws: SS58Error.badCharacter("0")) { try SS58.decode(neg[2]["address"] as! String) }
        #expect(throws: SS58Error.unexpectedPrefix(expected: 42, got: 0)) {
            try SS58.decode(neg[3]["address"] as! String, expectedPrefix: 42)
        }
        #expect(throws: SS58Error.prefixOutOfRange(16384)) {
            try SS58.encode(publicKey: [UInt8](repeating: 1, count: 32), prefix: 16384)
        }
        #expect(throws: SS58Error.self) { try SS58.decode("") }
    }

    /// A key remembers its address (given when parsed from it, else encoded once): whichever
    /// way it was made, the address is the encoding of its bytes, and an address that is not
    /// the canonical spelling never becomes a key to remember it.
    @Test func aKeysRememberedAddressIsItsEncoding() throws {
        for _ in 0..<32 {
            let pk = SR25519Keypair.generate().publicKey
            let encoded = try SS58.encode(publicKey: pk.bytes, prefix: 42)
            #expect(pk.ss58Address == encoded && pk.ss58Address == encoded)
            let parsed = try SR25519PublicKey(ss58: encoded)
            #expect(parsed.ss58Address == encoded && parsed == pk)
            let fromBytes = try SR25519PublicKey(bytes: pk.bytes)
            #expect(fromBytes.ss58Address == encoded)
            #expect(throws: SS58Error.nonCanonicalPrefix(42)) {
                _ = try SR25519PublicKey(ss58: try SS58.twoByteSpelling(publicKey: pk.bytes))
            }
            #expect(throws: (any Error).self) { _ = try SR25519PublicKey(ss58: "1" + encoded) }
        }
    }
}
