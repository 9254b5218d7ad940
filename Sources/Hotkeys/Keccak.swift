/// Keccak-f[1600] over a 200-byte state held as 25 little-endian 64-bit lanes.
///
/// The state is a plain value (a tuple of lanes) so that copying a transcript is a
/// cheap memberwise copy and the round loop runs on raw pointers without bounds checks.
struct KeccakState: Sendable {
    typealias Lanes = (
        UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64
    )

    var lanes: Lanes = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// Byte view of the state; lane `i` occupies bytes `8i ..< 8i+8`, little-endian.
    /// (Every platform Swift targets for this project is little-endian; `permute`
    /// converts explicitly so the code stays correct elsewhere too.)
    @inline(__always)
    mutating func withBytes<R>(_ body: (UnsafeMutablePointer<UInt8>) -> R) -> R {
        withUnsafeMutableBytes(of: &lanes) { raw in
            // The tuple is 200 contiguous bytes; baseAddress is never nil for it.
            body(raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self))
        }
    }

    mutating func permute() {
        withUnsafeMutableBytes(of: &lanes) { raw in
            let a = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt64.self)
            for i in 0..<25 { a[i] = UInt64(littleEndian: a[i]) }
            KeccakState.keccakF(a)
            for i in 0..<25 { a[i] = a[i].littleEndian }
        }
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 {
        (x &<< n) | (x &>> (64 &- n))
    }

    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]

    /// 24 rounds of θ ρ π χ ι on lanes indexed `x + 5y`.
    private static func keccakF(_ a: UnsafeMutablePointer<UInt64>) {
        roundConstants.withUnsafeBufferPointer { rc in
            for round in 0..<24 {
                // θ
                let c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
                let c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
                let c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
                let c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
                let c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
                let d0 = c4 ^ rotl(c1, 1)
                let d1 = c0 ^ rotl(c2, 1)
                let d2 = c1 ^ rotl(c3, 1)
                let d3 = c2 ^ rotl(c4, 1)
                let d4 = c3 ^ rotl(c0, 1)
                for y in stride(from: 0, to: 25, by: 5) {
                    a[y] ^= d0; a[y + 1] ^= d1; a[y + 2] ^= d2; a[y + 3] ^= d3; a[y + 4] ^= d4
                }
                // ρ and π: B[y, 2x+3y] = rot(A[x, y], r[x, y])
                let b0 = a[0]
                let b10 = rotl(a[1], 1)
                let b7 = rotl(a[10], 3)
                let b11 = rotl(a[7], 6)
                let b17 = rotl(a[11], 10)
                let b18 = rotl(a[17], 15)
                let b3 = rotl(a[18], 21)
                let b5 = rotl(a[3], 28)
                let b16 = rotl(a[5], 36)
                let b8 = rotl(a[16], 45)
                let b21 = rotl(a[8], 55)
                let b24 = rotl(a[21], 2)
                let b4 = rotl(a[24], 14)
                let b15 = rotl(a[4], 27)
                let b23 = rotl(a[15], 41)
                let b19 = rotl(a[23], 56)
                let b13 = rotl(a[19], 8)
                let b12 = rotl(a[13], 25)
                let b2 = rotl(a[12], 43)
                let b20 = rotl(a[2], 62)
                let b14 = rotl(a[20], 18)
                let b22 = rotl(a[14], 39)
                let b9 = rotl(a[22], 61)
                let b6 = rotl(a[9], 20)
                let b1 = rotl(a[6], 44)
                // χ
                a[0] = b0 ^ (~b1 & b2); a[1] = b1 ^ (~b2 & b3); a[2] = b2 ^ (~b3 & b4)
                a[3] = b3 ^ (~b4 & b0); a[4] = b4 ^ (~b0 & b1)
                a[5] = b5 ^ (~b6 & b7); a[6] = b6 ^ (~b7 & b8); a[7] = b7 ^ (~b8 & b9)
                a[8] = b8 ^ (~b9 & b5); a[9] = b9 ^ (~b5 & b6)
                a[10] = b10 ^ (~b11 & b12); a[11] = b11 ^ (~b12 & b13); a[12] = b12 ^ (~b13 & b14)
                a[13] = b13 ^ (~b14 & b10); a[14] = b14 ^ (~b10 & b11)
                a[15] = b15 ^ (~b16 & b17); a[16] = b16 ^ (~b17 & b18); a[17] = b17 ^ (~b18 & b19)
                a[18] = b18 ^ (~b19 & b15); a[19] = b19 ^ (~b15 & b16)
                a[20] = b20 ^ (~b21 & b22); a[21] = b21 ^ (~b22 & b23); a[22] = b22 ^ (~b23 & b24)
                a[23] = b23 ^ (~b24 & b20); a[24] = b24 ^ (~b20 & b21)
                // ι
                a[0] ^= rc[round]
            }
        }
    }
}

/// SHA3-256 built on `KeccakState`; it exists to self-check the permutation against
/// published digests and is not used by the signature scheme itself.
public enum SHA3_256 {
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        let rate = 136
        var state = KeccakState()
        var offset = 0
        var padded = message
        padded.append(0x06)
        while padded.count % rate != 0 { padded.append(0) }
        padded[padded.count - 1] |= 0x80
        while offset < padded.count {
            state.withBytes { st in
                for i in 0..<rate { st[i] ^= padded[offset + i] }
            }
            state.permute()
            offset += rate
        }
        return state.withBytes { st in (0..<32).map { st[$0] } }
    }
}
