import Foundation
import Synchronization

/// Why a signed request was refused. `code` is the machine code of the JSON error.
public enum AuthFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case missingHeader(String)
    case malformedKey(String)
    case malformedTimestamp(String)
    case timestampOutOfWindow(skewSeconds: Int64?, windowSeconds: Int64)
    case malformedSignature(String)
    case badSignature
    case replayed
    case notAllowed(String)

    public var code: String {
        switch self {
        case .missingHeader: return "auth_missing_header"
        case .malformedKey: return "auth_bad_key"
        case .malformedTimestamp: return "auth_bad_timestamp"
        case .timestampOutOfWindow: return "auth_timestamp_skew"
        case .malformedSignature: return "auth_bad_signature_format"
        case .badSignature: return "auth_bad_signature"
        case .replayed: return "auth_replayed"
        case .notAllowed: return "auth_not_allowed"
        }
    }

    public var description: String {
        switch self {
        case let .missingHeader(h): return "Missing header \(h)"
        case let .malformedKey(why): return "Invalid X-Key: \(why)"
        case let .malformedTimestamp(v):
            return "Invalid X-Timestamp '\(String(v.unicodeScalars.prefix(40).filter { $0.value >= 0x20 && $0.value < 0x7F }))': expected unix seconds"
        case let .timestampOutOfWindow(skew?, window):
            return "X-Timestamp is \(skew) s from server time; allowed window is \(window) s"
        case let .timestampOutOfWindow(nil, window):
            return "X-Timestamp is far from server time; allowed window is \(window) s"
        case let .malformedSignature(why): return "Invalid X-Signature: \(why)"
        case .badSignature: return "Signature does not verify for this key and timestamp"
        case .replayed: return "Replayed request signature"
        case let .notAllowed(key): return "Hotkey \(key) is not allowed here"
        }
    }
}

/// The signed-request scheme every service shares: `X-Key` (SS58 hotkey), `X-Timestamp`
/// (unix seconds) and `X-Signature` (hex SR25519 signature over `auth:{X-Timestamp}`).
public enum SignedRequest {
    public static let keyHeader = "X-Key"
    public static let timestampHeader = "X-Timestamp"
    public static let signatureHeader = "X-Signature"

    public static func message(timestamp: String) -> [UInt8] { Array("auth:\(timestamp)".utf8) }

    /// The message a payout-recipient update signs (pool-api.md §2.2):
    /// `recipient_coldkey:update:{X-Timestamp}:{recipient_coldkey}`, the address trimmed.
    public static func recipientColdkeyMessage(timestamp: String, recipientColdkey: String) -> [UInt8] {
        Array("recipient_coldkey:update:\(timestamp):\(recipientColdkey)".utf8)
    }

    /// Headers for a request signed now by `keypair` (the client side); `message` builds the
    /// signed bytes from the timestamp text (default `auth:{X-Timestamp}`).
    public static func headers(for keypair: SR25519Keypair, now: Date = Date(),
                               message: (String) -> [UInt8] = SignedRequest.message(timestamp:)) -> [(name: String, value: String)] {
        let ts = String(Int64(now.timeIntervalSince1970))
        let sig = keypair.sign(message(ts))
        return [
            (keyHeader, keypair.publicKey.ss58Address),
            (timestampHeader, ts),
            (signatureHeader, "0x" + Hex.encode(sig)),
        ]
    }
}

/// A request signature that verified: who signed, the signature, and the signed timestamp.
public struct VerifiedSignature: Sendable, Equatable {
    public let publicKey: SR25519PublicKey
    public let signature: [UInt8]
    public let timestamp: Int64
}

/// Remembers which signatures were used, so each is accepted once. One ledger serves every
/// way a service takes credentials (HTTP headers, WebSocket upgrade, query parameters); a
/// ledger in the service's database also holds across restarts and replicas.
public protocol ReplayLedger: Sendable {
    /// Marks `signature` by `publicKey` as used until `expiresAt` (unix seconds); returns
    /// false when it was already used. `now` lets the ledger forget expired entries.
    func claim(publicKey: [UInt8], signature: [UInt8], expiresAt: Int64, now: Int64) async throws -> Bool
}

/// A ledger in this process's memory (tools and tests; services use their database's).
/// Entries wait in expiry order behind a read position, so forgetting expired ones costs
/// each entry one step (the list is compacted once the forgotten part is at least half of it),
/// not a shift of every entry kept on each claim.
public final class MemoryReplayLedger: ReplayLedger {
    private struct Entry: Hashable { let key: [UInt8]; let signature: [UInt8] }
    private struct State {
        var entries: Set<Entry> = []
        /// Every entry with its expiry, ascending from `head`; what lies before `head` is forgotten.
        var byExpiry: [(expiresAt: Int64, entry: Entry)] = []
        var head = 0
    }
    private let state = Mutex(State())

    /// Forgotten entries at the front of the expiry list before it is compacted (at least).
    static let compactAfter = 1024

    public init() {}

    /// How many entries are remembered (tests).
    public var count: Int { state.withLock { $0.entries.count } }

    public func claim(publicKey: [UInt8], signature: [UInt8], expiresAt: Int64, now: Int64) -> Bool {
        let entry = Entry(key: publicKey, signature: signature)
        return state.withLock { s -> Bool in
            while s.head < s.byExpiry.count, s.byExpiry[s.head].expiresAt < now {
                s.entries.remove(s.byExpiry[s.head].entry)
                s.head += 1
            }
            if s.head >= Self.compactAfter, s.head * 2 >= s.byExpiry.count {
                s.byExpiry.removeFirst(s.head)
                s.head = 0
            }
            guard s.entries.insert(entry).inserted else { return false }
            // Keep the list sorted from `head` (entries mostly arrive in order).
            var i = s.byExpiry.count
            while i > s.head, s.byExpiry[i - 1].expiresAt > expiresAt { i -= 1 }
            s.byExpiry.insert((expiresAt, entry), at: i)
            return true
        }
    }
}

/// Server side of `SignedRequest`: checks headers, the time window and the signature, and
/// refuses a signature its `ledger` has seen before. Every header is parsed into a bounded
/// range before any arithmetic, so no header value can trap.
public final class RequestAuthenticator: Sendable {
    public let windowSeconds: Int64
    public let ledger: any ReplayLedger
    private let parsedKeys = Mutex<[String: SR25519PublicKey]>([:])

    /// Longest accepted header values: an SS58 address of a 32-byte key is at most 50
    /// characters, a timestamp 20, a hex signature 130. Longer values are refused unparsed.
    static let maxKeyLength = 64
    static let maxTimestampLength = 20
    static let maxSignatureLength = 130
    /// Parsed keys kept (then the cache starts over).
    static let maxCachedKeys = 10_000

    public init(windowSeconds: Int64 = 300, ledger: any ReplayLedger = MemoryReplayLedger()) {
        self.windowSeconds = max(0, min(windowSeconds, 86_400))
        self.ledger = ledger
    }

    /// Checks the three headers and the signature without using it up; `header` looks one up
    /// by name (case-insensitively, as HTTP does). `message` builds the signed bytes from the
    /// `X-Timestamp` text (default `auth:{X-Timestamp}`; see `SignedRequest.recipientColdkeyMessage`).
    public func verify(header: (String) -> String?, now: Date = Date(),
                       message: (String) -> [UInt8] = SignedRequest.message(timestamp:)) throws(AuthFailure) -> VerifiedSignature {
        let key = try Self.value(header, SignedRequest.keyHeader)
        let tsText = try Self.value(header, SignedRequest.timestampHeader)
        let sigText = try Self.value(header, SignedRequest.signatureHeader)

        guard tsText.utf8.count <= Self.maxTimestampLength, let ts = Int64(tsText) else {
            throw .malformedTimestamp(tsText)
        }
        let nowSeconds = Self.unixSeconds(now)
        let (skew, overflow) = ts.subtractingReportingOverflow(nowSeconds)
        guard !overflow, skew.magnitude <= UInt64(windowSeconds) else {
            throw .timestampOutOfWindow(skewSeconds: overflow ? nil : skew, windowSeconds: windowSeconds)
        }
        guard sigText.utf8.count <= Self.maxSignatureLength else {
            throw .malformedSignature("expected 64 bytes (128 hex digits)")
        }
        let signature: [UInt8]
        do { signature = try Hex.decode(sigText) } catch { throw .malformedSignature("not hex") }
        guard signature.count == 64 else {
            throw .malformedSignature("expected 64 bytes, got \(signature.count)")
        }
        let publicKey = try parseKey(key)
        guard publicKey.verify(signature: signature, message: message(tsText)) else {
            throw .badSignature
        }
        return VerifiedSignature(publicKey: publicKey, signature: signature, timestamp: ts)
    }

    /// Uses up a verified signature: throws `AuthFailure.replayed` when it was used before,
    /// or the ledger's own error when the ledger cannot be reached.
    public func consume(_ verified: VerifiedSignature, now: Date = Date()) async throws {
        // The signature stays acceptable while its timestamp is within the window of now.
        let fresh = try await ledger.claim(
            publicKey: verified.publicKey.bytes, signature: verified.signature,
            expiresAt: verified.timestamp + windowSeconds, now: Self.unixSeconds(now))
        guard fresh else { throw AuthFailure.replayed }
    }

    /// `verify` then `consume`: the caller's public key, once per signature.
    public func authenticate(header: (String) -> String?, now: Date = Date()) async throws -> SR25519PublicKey {
        let verified = try verify(header: header, now: now)
        try await consume(verified, now: now)
        return verified.publicKey
    }

    private static func value(_ header: (String) -> String?, _ name: String) throws(AuthFailure) -> String {
        guard let raw = header(name) else { throw .missingHeader(name) }
        let text = trimmedWhitespace(raw)
        guard !text.isEmpty else { throw .missingHeader(name) }
        return text
    }

    /// `text.trimmingCharacters(in: .whitespaces)`, without Foundation's cost when both ends are
    /// ASCII other than space and tab (then there is nothing to trim; every header that verifies
    /// is such a value). Public for the other headers that name a hotkey.
    public static func trimmedWhitespace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        if let first = scalars.first, let last = scalars.last,
           first.isASCII, last.isASCII, first != " ", first != "\t", last != " ", last != "\t" {
            return text
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// Whole seconds since 1970 for any date, clamped so it always fits an Int64.
    static func unixSeconds(_ date: Date) -> Int64 {
        let t = date.timeIntervalSince1970
        guard t.isFinite else { return 0 }
        return Int64(max(-1e15, min(1e15, t)))
    }

    private func parseKey(_ key: String) throws(AuthFailure) -> SR25519PublicKey {
        guard key.utf8.count <= Self.maxKeyLength else { throw .malformedKey("longer than an SS58 address") }
        if let cached = parsedKeys.withLock({ $0[key] }) { return cached }
        let pk: SR25519PublicKey
        do { pk = try SR25519PublicKey(ss58: key) } catch { throw .malformedKey("\(error)") }
        parsedKeys.withLock { cache in
            // A parsed key holds ~2.5 KiB of verification tables: bound the cache to ~25 MiB.
            if cache.count >= Self.maxCachedKeys { cache.removeAll() }
            cache[key] = pk
        }
        return pk
    }
}
