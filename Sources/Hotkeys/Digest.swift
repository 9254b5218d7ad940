import CSodium

/// Lowercase hex SHA-256 of `bytes` (libsodium), for content hashes on the wire: compose
/// files, submission payloads, result fingerprints.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    _ = Sodium.ready
    var out = [UInt8](repeating: 0, count: 32)
    _ = bytes.withUnsafeBufferPointer { b in crypto_hash_sha256(&out, b.baseAddress, UInt64(b.count)) }
    return Hex.encode(out)
}
