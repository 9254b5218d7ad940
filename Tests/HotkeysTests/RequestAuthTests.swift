import Foundation
import TestSupport
import Testing

@testable import Hotkeys

@Suite struct RequestAuthTests {
    let key = SR25519Keypair.generate()

    func lookup(_ headers: [(name: String, value: String)]) -> (String) -> String? {
        { name in headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    /// The error `body` throws, as an `AuthFailure` (nil when it succeeded or threw another).
    func failure(_ body: () async throws -> Void) async -> AuthFailure? {
        do { try await body() } catch { return error as? AuthFailure }
        return nil
    }

    @Test func acceptsAFreshSignedRequestOnceAndRefusesTheReplay() async throws {
        let auth = RequestAuthenticator()
        let headers = SignedRequest.headers(for: key)
        let pk = try await auth.authenticate(header: lookup(headers))
        #expect(pk == key.publicKey)
        #expect(await failure { _ = try await auth.authenticate(header: lookup(headers)) } == .replayed)
        // A new signature at the same second is a different request.
        #expect(try await auth.authenticate(header: lookup(SignedRequest.headers(for: key))) == key.publicKey)
    }

    @Test func timeWindowIsSymmetricAndBounded() async throws {
        let auth = RequestAuthenticator(windowSeconds: 300)
        let now = Date()
        _ = try await auth.authenticate(header: lookup(SignedRequest.headers(for: key, now: now.addingTimeInterval(-299))), now: now)
        _ = try await auth.authenticate(header: lookup(SignedRequest.headers(for: key, now: now.addingTimeInterval(299))), now: now)
        let late = await failure {
            _ = try await auth.authenticate(header: lookup(SignedRequest.headers(for: key, now: now.addingTimeInterval(-301))), now: now)
        }
        #expect(late == .timestampOutOfWindow(skewSeconds: -301, windowSeconds: 300))
    }

    @Test func extremeTimestampsAreRefusedWithoutTrapping() async throws {
        let auth = RequestAuthenticator()
        for ts in ["-9223372036854775808", "9223372036854775807", "-9223372036854775807", "9223372036854775808",
                   "-9223372036854775809", "99999999999999999999999", "0", "-1", "+1700000000", "1e9", "0x10", "１２３",
                   String(repeating: "9", count: 100_000)] {
            var h = SignedRequest.headers(for: key)
            h[1].value = ts
            let f = await failure { _ = try await auth.authenticate(header: lookup(h)) }
            #expect(f != nil, "timestamp \(ts.prefix(30)) must be refused")
            if case .timestampOutOfWindow = f {} else if case .malformedTimestamp = f {} else {
                Issue.record("timestamp \(ts.prefix(30)) refused as \(String(describing: f))")
            }
        }
        // Extreme clocks on the server side cannot trap either.
        for now in [Date.distantPast, Date.distantFuture, Date(timeIntervalSince1970: -1e300), Date(timeIntervalSince1970: .nan)] {
            let f = await failure { _ = try await auth.authenticate(header: lookup(SignedRequest.headers(for: key)), now: now) }
            #expect(f != nil)
        }
    }

    @Test func malformedHeadersAreNamed() async throws {
        let auth = RequestAuthenticator()
        var h = SignedRequest.headers(for: key)
        #expect(await failure { _ = try await auth.authenticate(header: lookup(Array(h.prefix(2)))) } == .missingHeader("X-Signature"))
        h[1].value = "soon"
        #expect(await failure { _ = try await auth.authenticate(header: lookup(h)) } == .malformedTimestamp("soon"))
        h = SignedRequest.headers(for: key)
        h[2].value = "0x1234"
        #expect(await failure { _ = try await auth.authenticate(header: lookup(h)) } == .malformedSignature("expected 64 bytes, got 2"))
        h = SignedRequest.headers(for: key)
        h[0].value = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzW"
        #expect(await failure { _ = try await auth.authenticate(header: lookup(h)) } != nil)
        // A signature without the 0x prefix is accepted too (the BitSota client sends bare hex).
        h = SignedRequest.headers(for: key)
        h[2].value = String(h[2].value.dropFirst(2))
        #expect(try await auth.authenticate(header: lookup(h)) == key.publicKey)
        // Signed by another key.
        h = SignedRequest.headers(for: key)
        h[2] = SignedRequest.headers(for: SR25519Keypair.generate())[2]
        #expect(await failure { _ = try await auth.authenticate(header: lookup(h)) } == .badSignature)
    }

    /// The same key written in SS58's two-byte-prefix form for prefix 42.
    func twoByteForm(_ pk: SR25519PublicKey) -> String {
        (try? SS58.twoByteSpelling(publicKey: pk.bytes)) ?? ""
    }

    @Test func theTwoByteSpellingOfAPrefixBelow64IsRefused() async throws {
        let alias = twoByteForm(key.publicKey)
        #expect(alias != key.publicKey.ss58Address)
        // It really is the same key under prefix 42, written the long way.
        #expect(throws: SS58Error.nonCanonicalPrefix(42)) { _ = try SS58.decode(alias) }
        let auth = RequestAuthenticator()
        var h = SignedRequest.headers(for: key)
        _ = try await auth.authenticate(header: lookup(h))
        h[0].value = alias
        let f = await failure { _ = try await auth.authenticate(header: lookup(h)) }
        #expect(f?.code == "auth_bad_key")
    }

    @Test func theLedgerIsKeyedOnThePublicKeyAndSignature() async throws {
        let ledger = MemoryReplayLedger()
        let sig = [UInt8](repeating: 7, count: 64)
        #expect(ledger.claim(publicKey: key.publicKey.bytes, signature: sig, expiresAt: 100, now: 0))
        #expect(!ledger.claim(publicKey: key.publicKey.bytes, signature: sig, expiresAt: 100, now: 50))
        // Another key with the same signature bytes is another entry.
        #expect(ledger.claim(publicKey: SR25519Keypair.generate().publicKey.bytes, signature: sig, expiresAt: 100, now: 50))
        // Past its expiry an entry is forgotten (its timestamp can no longer pass the window).
        #expect(ledger.claim(publicKey: key.publicKey.bytes, signature: sig, expiresAt: 300, now: 101))
    }

    /// The ledger against a plain model (entry → expiry) over 20,000 claims with repeats,
    /// expiries out of order and time moving on, past many compactions of its expiry list:
    /// a claim is refused exactly when the same pair was claimed and has not expired, and
    /// what it remembers is exactly what has not expired.
    @Test func theLedgerForgetsExactlyWhatExpired() {
        var rng = SeededGenerator(seed: 0x1ED6E5)
        let ledger = MemoryReplayLedger()
        var model: [[UInt8]: Int64] = [:]
        let publicKey = key.publicKey.bytes
        var now: Int64 = 0
        for step in 0..<20_000 {
            if rng.below(4) == 0 {
                now += Int64(rng.below(3))
                model = model.filter { $0.value >= now }
            }
            // Few distinct signatures, so repeats (live and expired) are common.
            let sig = [UInt8](repeating: UInt8(rng.below(200)), count: 1) + [UInt8(truncatingIfNeeded: step % 7)]
            let expiresAt = now + Int64(rng.below(300))
            let live = model[sig].map { $0 >= now } ?? false
            #expect(ledger.claim(publicKey: publicKey, signature: sig, expiresAt: expiresAt, now: now) == !live)
            if !live { model[sig] = expiresAt }
            #expect(ledger.count == model.count)
        }
        // Time moved far past the longest expiry: most entries were forgotten, many times the
        // compaction threshold.
        #expect(now > 2_000)
    }

    /// Thousands of random header triples, built from pieces that are valid, nearly valid and
    /// hostile: the authenticator answers (a key or an `AuthFailure`) and never traps.
    @Test func randomHeaderTriplesNeverTrap() async throws {
        var rng = SeededGenerator(seed: 0x5EED)
        let auth = RequestAuthenticator()
        let good = SignedRequest.headers(for: key)
        let keys = [good[0].value, twoByteForm(key.publicKey), "", " ", "5", String(repeating: "1", count: 60),
                    String(repeating: "z", count: 49), "0x" + key.publicKey.hex, "5Ö", "\u{0}", String(repeating: "5", count: 100_000)]
        let stamps = [good[1].value, "-9223372036854775808", "9223372036854775807", "", "1.5", "-0", "00000000001700000000",
                      "\u{0}", "NaN", String(repeating: "1", count: 21)]
        let sigs = [good[2].value, "0x", "0x0", "zz", String(repeating: "f", count: 128), String(repeating: "0", count: 130),
                    "0X" + String(good[2].value.dropFirst(2)).uppercased(), String(repeating: "a", count: 100_000), "0x\u{0}"]
        var accepted = 0
        for _ in 0..<3000 {
            func mutate(_ s: String) -> String {
                var bytes = Array(s.utf8)
                switch rng.below(5) {
                case 0 where !bytes.isEmpty: bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
                case 1 where !bytes.isEmpty: bytes.removeLast(rng.below(bytes.count))
                case 2: bytes.append(UInt8(truncatingIfNeeded: rng.next()))
                default: break
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            let h = [(name: "X-Key", value: mutate(keys[rng.below(keys.count)])),
                     (name: "X-Timestamp", value: mutate(stamps[rng.below(stamps.count)])),
                     (name: "X-Signature", value: mutate(sigs[rng.below(sigs.count)]))]
            do {
                _ = try await auth.authenticate(header: lookup(h))
                accepted += 1
            } catch {
                #expect(error is AuthFailure)
            }
            // The SS58 decoder on its own, on the same hostile text.
            _ = try? SS58.decode(h[0].value)
        }
        // At most the one unmodified triple is accepted, once.
        #expect(accepted <= 1)
    }

    @Test func keyFileRoundTripsWithOwnerOnlyPermissions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        let path = dir.appendingPathComponent("k/hotkey.json").path
        try KeyFile(keypair: key).write(to: path)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try KeyFile.load(from: path).publicKey == key.publicKey)
        #expect(throws: (any Error).self) { try KeyFile(keypair: key).write(to: path) }
        try? FileManager.default.removeItem(at: dir)
    }
}
