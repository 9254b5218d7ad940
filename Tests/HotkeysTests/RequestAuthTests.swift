import Foundation
import Testing

@testable import Hotkeys

@Suite struct RequestAuthTests {
    let key = SR25519Keypair.generate()

    func lookup(_ headers: [(name: String, value: String)]) -> (String) -> String? {
        { name in headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    @Test func acceptsAFreshSignedRequestOnceAndRefusesTheReplay() throws {
        let auth = RequestAuthenticator()
        let headers = SignedRequest.headers(for: key)
        let pk = try auth.authenticate(header: lookup(headers))
        #expect(pk == key.publicKey)
        #expect(throws: AuthFailure.replayed) { try auth.authenticate(header: lookup(headers)) }
        // A new signature at the same second is a different request.
        #expect(try auth.authenticate(header: lookup(SignedRequest.headers(for: key))) == key.publicKey)
    }

    @Test func timeWindowIsSymmetricAndBounded() throws {
        let auth = RequestAuthenticator(windowSeconds: 300)
        let now = Date()
        #expect(throws: Never.self) {
            try auth.authenticate(header: lookup(SignedRequest.headers(for: key, now: now.addingTimeInterval(-299))), now: now)
        }
        #expect(throws: Never.self) {
            try auth.authenticate(header: lookup(SignedRequest.headers(for: key, now: now.addingTimeInterval(299))), now: now)
        }
        #expect(throws: AuthFailure.timestampOutOfWindow(skewSeconds: -301, windowSeconds: 300)) {
            try auth.authenticate(header: lookup(SignedRequest.headers(for: key, now: now.addingTimeInterval(-301))), now: now)
        }
    }

    @Test func malformedHeadersAreNamed() throws {
        let auth = RequestAuthenticator()
        var h = SignedRequest.headers(for: key)
        #expect(throws: AuthFailure.missingHeader("X-Signature")) {
            try auth.authenticate(header: lookup(Array(h.prefix(2))))
        }
        h[1].value = "soon"
        #expect(throws: AuthFailure.malformedTimestamp("soon")) { try auth.authenticate(header: lookup(h)) }
        h = SignedRequest.headers(for: key)
        h[2].value = "0x1234"
        #expect(throws: AuthFailure.malformedSignature("expected 64 bytes, got 2")) { try auth.authenticate(header: lookup(h)) }
        h = SignedRequest.headers(for: key)
        h[0].value = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzW"
        #expect(throws: AuthFailure.self) { try auth.authenticate(header: lookup(h)) }
        // A signature without the 0x prefix is accepted too (the BitSota client sends bare hex).
        h = SignedRequest.headers(for: key)
        h[2].value = String(h[2].value.dropFirst(2))
        #expect(try auth.authenticate(header: lookup(h)) == key.publicKey)
        // Signed by another key.
        h = SignedRequest.headers(for: key)
        h[2] = SignedRequest.headers(for: SR25519Keypair.generate())[2]
        #expect(throws: AuthFailure.badSignature) { try auth.authenticate(header: lookup(h)) }
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
