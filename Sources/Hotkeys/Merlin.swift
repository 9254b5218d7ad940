/// STROBE-128, only the operations a Merlin transcript uses (meta-AD, AD, PRF, KEY).
struct Strobe128: Sendable {
    private static let rate = 166
    private static let flagA: UInt8 = 0x02
    private static let flagC: UInt8 = 0x04
    private static let flagI: UInt8 = 0x01
    private static let flagM: UInt8 = 0x10
    private static let flagK: UInt8 = 0x20

    private var state = KeccakState()
    private var pos = 0
    private var posBegin = 0
    private var curFlags: UInt8 = 0

    init(protocolLabel: [UInt8]) {
        let header: [UInt8] = [1, UInt8(Self.rate + 2), 1, 0, 1, 96] + Array("STROBEv1.0.2".utf8)
        state.withBytes { st in
            for (i, b) in header.enumerated() { st[i] = b }
        }
        state.permute()
        metaAD(protocolLabel, more: false)
    }

    mutating func metaAD(_ data: [UInt8], more: Bool) {
        beginOp(Self.flagM | Self.flagA, more: more)
        absorb(data)
    }

    mutating func ad(_ data: [UInt8], more: Bool) {
        beginOp(Self.flagA, more: more)
        absorb(data)
    }

    mutating func prf(count: Int, more: Bool) -> [UInt8] {
        beginOp(Self.flagI | Self.flagA | Self.flagC, more: more)
        return squeeze(count)
    }

    mutating func key(_ data: [UInt8], more: Bool) {
        beginOp(Self.flagA | Self.flagC, more: more)
        overwrite(data)
    }

    private mutating func runF() {
        let p = pos, pb = UInt8(posBegin)
        state.withBytes { st in
            st[p] ^= pb
            st[p + 1] ^= 0x04
            st[Self.rate + 1] ^= 0x80
        }
        state.permute()
        pos = 0
        posBegin = 0
    }

    private mutating func absorb(_ data: [UInt8]) {
        var i = 0
        while i < data.count {
            let n = Swift.min(Self.rate - pos, data.count - i)
            let start = pos
            data.withUnsafeBufferPointer { src in
                state.withBytes { st in
                    for j in 0..<n { st[start + j] ^= src[i + j] }
                }
            }
            pos += n
            i += n
            if pos == Self.rate { runF() }
        }
    }

    private mutating func overwrite(_ data: [UInt8]) {
        for b in data {
            let p = pos
            state.withBytes { $0[p] = b }
            pos += 1
            if pos == Self.rate { runF() }
        }
    }

    private mutating func squeeze(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let p = pos
            out[i] = state.withBytes { st in
                let b = st[p]
                st[p] = 0
                return b
            }
            pos += 1
            if pos == Self.rate { runF() }
        }
        return out
    }

    private mutating func beginOp(_ flags: UInt8, more: Bool) {
        if more {
            precondition(flags == curFlags, "STROBE: continued operation with different flags")
            return
        }
        let old = UInt8(posBegin)
        posBegin = pos + 1
        curFlags = flags
        absorb([old, flags])
        if flags & (Self.flagC | Self.flagK) != 0 && pos != 0 {
            runF()
        }
    }
}

/// A Merlin transcript ("Merlin v1.0" over STROBE-128), as used by schnorrkel.
public struct MerlinTranscript: Sendable {
    private var strobe: Strobe128

    public init(label: [UInt8]) {
        strobe = Strobe128(protocolLabel: Array("Merlin v1.0".utf8))
        appendMessage(label: Array("dom-sep".utf8), message: label)
    }

    public mutating func appendMessage(label: [UInt8], message: [UInt8]) {
        strobe.metaAD(label, more: false)
        strobe.metaAD(Self.le32(message.count), more: true)
        strobe.ad(message, more: false)
    }

    public mutating func challengeBytes(label: [UInt8], count: Int) -> [UInt8] {
        strobe.metaAD(label, more: false)
        strobe.metaAD(Self.le32(count), more: true)
        return strobe.prf(count: count, more: false)
    }

    /// Merlin's transcript RNG: rekeyed with a secret witness and fresh randomness, on a
    /// copy of the transcript (this transcript is not changed). Returns `count` bytes.
    func witnessBytes(label: [UInt8], witness: [UInt8], randomness: [UInt8], count: Int) -> [UInt8] {
        var rng = strobe
        rng.metaAD(label, more: false)
        rng.metaAD(Self.le32(witness.count), more: true)
        rng.key(witness, more: false)
        rng.metaAD(Array("rng".utf8), more: false)
        rng.key(randomness, more: false)
        rng.metaAD(Self.le32(count), more: false)
        return rng.prf(count: count, more: false)
    }

    private static func le32(_ n: Int) -> [UInt8] {
        let v = UInt32(truncatingIfNeeded: n)
        return [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
}
