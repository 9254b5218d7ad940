import Foundation
import Synchronization

/// Why a signed request was refused. `code` is the machine code of the JSON error.
public enum AuthFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case missingHeader(String)
    case malformedKey(String)
    case malformedTimestamp(String)
    case timestampOutOfWindow(skewSeconds: Int64, windowSeconds: Int64)
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
        case let .malformedTimestamp(v): return "Invalid X-Timestamp '\(v.prefix(40))': expected unix seconds"
        case let .timestampOutOfWindow(skew, window):
            return "X-Timestamp is \(skew) s from server time; allowed window is \(window) s"
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

    /// Headers for a request signed now by `keypair` (the client side).
    public static func headers(for keypair: SR25519Keypair, now: Date = Date()) -> [(name: String, value: String)] {
        let ts = String(Int64(now.timeIntervalSince1970))
        let sig = keypair.sign(message(timestamp: ts))
        return [
            (keyHeader, keypair.publicKey.ss58Address),
            (timestampHeader, ts),
            (signatureHeader, "0x" + Hex.encode(sig)),
        ]
    }
}

/// Server side of `SignedRequest`: checks headers, the time window and the signature, and
/// refuses a (hotkey, timestamp, signature) triple seen before within the window.
public final class RequestAuthenticator: Sendable {
    public let windowSeconds: Int64
    private struct Seen: Hashable { let key: String; let timestamp: Int64; let signature: [UInt8] }
    private let seen = Mutex<(entries: Set<Seen>, byTime: [(Int64, Seen)])>(([], []))
    private let parsedKeys = Mutex<[String: SR25519PublicKey]>([:])

    public init(windowSeconds: Int64 = 300) {
        self.windowSeconds = windowSeconds
    }

    /// Verifies the three headers; `header` looks one up by name (case-insensitively,
    /// as HTTP does). Returns the caller's public key.
    public func authenticate(
        header: (String) -> String?, now: Date = Date()
    ) throws(AuthFailure) -> SR25519PublicKey {
        guard let key = header(SignedRequest.keyHeader)?.trimmingCharacters(in: .whitespaces), !key.isEmpty else {
            throw .missingHeader(SignedRequest.keyHeader)
        }
        guard let tsText = header(SignedRequest.timestampHeader)?.trimmingCharacters(in: .whitespaces),
            !tsText.isEmpty
        else { throw .missingHeader(SignedRequest.timestampHeader) }
        guard let sigText = header(SignedRequest.signatureHeader)?.trimmingCharacters(in: .whitespaces),
            !sigText.isEmpty
        else { throw .missingHeader(SignedRequest.signatureHeader) }

        guard let ts = Int64(tsText) else { throw .malformedTimestamp(tsText) }
        let nowSeconds = Int64(now.timeIntervalSince1970)
        let skew = ts - nowSeconds
        guard abs(skew) <= windowSeconds else {
            throw .timestampOutOfWindow(skewSeconds: skew, windowSeconds: windowSeconds)
        }
        let signature: [UInt8]
        do { signature = try Hex.decode(sigText) } catch { throw .malformedSignature("not hex") }
        guard signature.count == 64 else {
            throw .malformedSignature("expected 64 bytes, got \(signature.count)")
        }
        let publicKey = try parseKey(key)
        guard publicKey.verify(signature: signature, message: SignedRequest.message(timestamp: tsText)) else {
            throw .badSignature
        }
        try remember(Seen(key: key, timestamp: ts, signature: signature), now: nowSeconds)
        return publicKey
    }

    private func parseKey(_ key: String) throws(AuthFailure) -> SR25519PublicKey {
        if let cached = parsedKeys.withLock({ $0[key] }) { return cached }
        let pk: SR25519PublicKey
        do { pk = try SR25519PublicKey(ss58: key) } catch { throw .malformedKey("\(error)") }
        parsedKeys.withLock { cache in
            if cache.count > 100_000 { cache.removeAll() }
            cache[key] = pk
        }
        return pk
    }

    private func remember(_ entry: Seen, now: Int64) throws(AuthFailure) {
        let fresh = seen.withLock { state -> Bool in
            // Forget entries whose timestamp can no longer pass the window check.
            var drop = 0
            while drop < state.byTime.count, state.byTime[drop].0 < now - windowSeconds {
                state.entries.remove(state.byTime[drop].1)
                drop += 1
            }
            if drop > 0 { state.byTime.removeFirst(drop) }
            guard state.entries.insert(entry).inserted else { return false }
            // Keep byTime sorted by timestamp (entries mostly arrive in order).
            var i = state.byTime.count
            while i > 0, state.byTime[i - 1].0 > entry.timestamp { i -= 1 }
            state.byTime.insert((entry.timestamp, entry), at: i)
            return true
        }
        guard fresh else { throw .replayed }
    }
}
