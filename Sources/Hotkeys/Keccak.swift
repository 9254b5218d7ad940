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

    /// 24 rounds of θ ρ π χ ι on lanes indexed `x + 5y`, kept in locals for the whole
    /// permutation (one load and one store per lane).
    private static func keccakF(_ a: UnsafeMutablePointer<UInt64>) {
        var a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4]
        var a5 = a[5], a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9]
        var a10 = a[10], a11 = a[11], a12 = a[12], a13 = a[13], a14 = a[14]
        var a15 = a[15], a16 = a[16], a17 = a[17], a18 = a[18], a19 = a[19]
        var a20 = a[20], a21 = a[21], a22 = a[22], a23 = a[23], a24 = a[24]
        roundConstants.withUnsafeBufferPointer { rc in
            for round in 0..<24 {
                // θ
                let c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
                let c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
                let c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
                let c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
                let c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
                let d0 = c4 ^ rotl(c1, 1)
                let d1 = c0 ^ rotl(c2, 1)
                let d2 = c1 ^ rotl(c3, 1)
                let d3 = c2 ^ rotl(c4, 1)
                let d4 = c3 ^ rotl(c0, 1)
                // θ applied, then ρ and π: B[y, 2x+3y] = rot(A[x, y] ^ D[x], r[x, y])
                let b0 = a0 ^ d0
                let b10 = rotl(a1 ^ d1, 1)
                let b7 = rotl(a10 ^ d0, 3)
                let b11 = rotl(a7 ^ d2, 6)
                let b17 = rotl(a11 ^ d1, 10)
                let b18 = rotl(a17 ^ d2, 15)
                let b3 = rotl(a18 ^ d3, 21)
                let b5 = rotl(a3 ^ d3, 28)
                let b16 = rotl(a5 ^ d0, 36)
                let b8 = rotl(a16 ^ d1, 45)
                let b21 = rotl(a8 ^ d3, 55)
                let b24 = rotl(a21 ^ d1, 2)
                let b4 = rotl(a24 ^ d4, 14)
                let b15 = rotl(a4 ^ d4, 27)
                let b23 = rotl(a15 ^ d0, 41)
                let b19 = rotl(a23 ^ d3, 56)
                let b13 = rotl(a19 ^ d4, 8)
                let b12 = rotl(a13 ^ d3, 25)
                let b2 = rotl(a12 ^ d2, 43)
                let b20 = rotl(a2 ^ d2, 62)
                let b14 = rotl(a20 ^ d0, 18)
                let b22 = rotl(a14 ^ d4, 39)
                let b9 = rotl(a22 ^ d2, 61)
                let b6 = rotl(a9 ^ d4, 20)
                let b1 = rotl(a6 ^ d1, 44)
                // χ and ι
                a0 = b0 ^ (~b1 & b2) ^ rc[round]; a1 = b1 ^ (~b2 & b3); a2 = b2 ^ (~b3 & b4)
                a3 = b3 ^ (~b4 & b0); a4 = b4 ^ (~b0 & b1)
                a5 = b5 ^ (~b6 & b7); a6 = b6 ^ (~b7 & b8); a7 = b7 ^ (~b8 & b9)
                a8 = b8 ^ (~b9 & b5); a9 = b9 ^ (~b5 & b6)
                a10 = b10 ^ (~b11 & b12); a11 = b11 ^ (~b12 & b13); a12 = b12 ^ (~b13 & b14)
                a13 = b13 ^ (~b14 & b10); a14 = b14 ^ (~b10 & b11)
                a15 = b15 ^ (~b16 & b17); a16 = b16 ^ (~b17 & b18); a17 = b17 ^ (~b18 & b19)
                a18 = b18 ^ (~b19 & b15); a19 = b19 ^ (~b15 & b16)
                a20 = b20 ^ (~b21 & b22); a21 = b21 ^ (~b22 & b23); a22 = b22 ^ (~b23 & b24)
                a23 = b23 ^ (~b24 & b20); a24 = b24 ^ (~b20 & b21)
            }
        }
        a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4
        a[5] = a5; a[6] = a6; a[7] = a7; a[8] = a8; a[9] = a9
        a[10] = a10; a[11] = a11; a[12] = a12; a[13] = a13; a[14] = a14
        a[15] = a15; a[16] = a16; a[17] = a17; a[18] = a18; a[19] = a19
        a[20] = a20; a[21] = a21; a[22] = a22; a[23] = a23; a[24] = a24
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
