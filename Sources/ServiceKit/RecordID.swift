import Foundation

/// Identifiers of rows created all the time (pool leases, platform jobs and submissions):
/// UUID version 7 text — 48 bits of Unix milliseconds, the version and variant bits, then
/// 74 random bits. A new row's key sorts after the older ones, so an index on it grows at its
/// right edge; with a random (version 4) key every insert lands on a different page of a
/// large index, and the pages a transaction dirties (and a commit writes) grow with history.
/// Clients treat the text as opaque; it is still a valid UUID.
public enum RecordID {
    public static func make(at time: Double = Date().timeIntervalSince1970) -> String {
        var generator = SystemRandomNumberGenerator()
        return make(at: time, using: &generator)
    }

    public static func make(at time: Double, using generator: inout some RandomNumberGenerator) -> String {
        // Times outside 0 ..< 2^48 ms (before 1970, past the year 10889) are clamped, never trapped on.
        let millis = time.isFinite ? UInt64(max(0, min(time * 1000, Double(1 << 48 - 1)))) : 0
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - UInt64(i)))) }
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        for i in 6..<16 { bytes[i] = UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> (8 * UInt64(i % 8))) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 9562 variant
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hex[Int(b >> 4)])
            text.append(hex[Int(b & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
