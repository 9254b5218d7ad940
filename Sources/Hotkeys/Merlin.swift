/// STROBE-128, only the operations a Merlin transcript uses (meta-AD, AD, PRF, KEY).
///
/// Inputs are taken as buffers (or bytes one at a time) so the verification path runs
/// without allocating; the `[UInt8]` entry points of `MerlinTranscript` wrap them.
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

    init(protocolLabel: UnsafeBufferPointer<UInt8>) {
        let header: StaticString = "STROBEv1.0.2"
        state.withBytes { st in
            st[0] = 1
            st[1] = UInt8(Self.rate + 2)
            st[2] = 1
            st[3] = 0
            st[4] = 1
            st[5] = 96
            header.withUTF8Buffer { h in
                for (i, b) in h.enumerated() { st[6 + i] = b }
            }
        }
        state.permute()
        metaAD(protocolLabel, more: false)
    }

    mutating func metaAD(_ data: UnsafeBufferPointer<UInt8>, more: Bool) {
        beginOp(Self.flagM | Self.flagA, more: more)
        absorb(data)
    }

    /// Meta-AD of a 32-bit little-endian length, as Merlin frames every message.
    mutating func metaADLength(_ n: Int, more: Bool) {
        beginOp(Self.flagM | Self.flagA, more: more)
        let v = UInt32(truncatingIfNeeded: n)
        absorbByte(UInt8(truncatingIfNeeded: v))
        absorbByte(UInt8(truncatingIfNeeded: v >> 8))
        absorbByte(UInt8(truncatingIfNeeded: v >> 16))
        absorbByte(UInt8(truncatingIfNeeded: v >> 24))
    }

    mutating func ad(_ data: UnsafeBufferPointer<UInt8>, more: Bool) {
        beginOp(Self.flagA, more: more)
        absorb(data)
    }

    mutating func prf(into out: UnsafeMutableBufferPointer<UInt8>, more: Bool) {
        beginOp(Self.flagI | Self.flagA | Self.flagC, more: more)
        squeeze(into: out)
    }

    mutating func key(_ data: UnsafeBufferPointer<UInt8>, more: Bool) {
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

    @inline(__always)
    private mutating func absorbByte(_ b: UInt8) {
        let p = pos
        state.withBytes { $0[p] ^= b }
        pos += 1
        if pos == Self.rate { runF() }
    }

    private mutating func absorb(_ data: UnsafeBufferPointer<UInt8>) {
        var i = 0
        let count = data.count
        while i < count {
            let n = Swift.min(Self.rate - pos, count - i)
            let start = pos, from = i
            state.withBytes { st in
                for j in 0..<n { st[start + j] ^= data[from + j] }
            }
            pos += n
            i += n
            if pos == Self.rate { runF() }
        }
    }

    private mutating func overwrite(_ data: UnsafeBufferPointer<UInt8>) {
        for b in data {
            let p = pos
            state.withBytes { $0[p] = b }
            pos += 1
            if pos == Self.rate { runF() }
        }
    }

    private mutating func squeeze(into out: UnsafeMutableBufferPointer<UInt8>) {
        var i = 0
        let count = out.count
        while i < count {
            let n = Swift.min(Self.rate - pos, count - i)
            let start = pos, to = i
            state.withBytes { st in
                for j in 0..<n {
                    out[to + j] = st[start + j]
                    st[start + j] = 0
                }
            }
            pos += n
            i += n
            if pos == Self.rate { runF() }
        }
    }

    private mutating func beginOp(_ flags: UInt8, more: Bool) {
        if more {
            precondition(flags == curFlags, "STROBE: continued operation with different flags")
            return
        }
        let old = UInt8(posBegin)
        posBegin = pos + 1
        curFlags = flags
        absorbByte(old)
        absorbByte(flags)
        if flags & (Self.flagC | Self.flagK) != 0 && pos != 0 {
            runF()
        }
    }
}

/// A Merlin transcript ("Merlin v1.0" over STROBE-128), as used by schnorrkel.
public struct MerlinTranscript: Sendable {
    private var strobe: Strobe128

    public init(label: [UInt8]) {
        let merlin: StaticString = "Merlin v1.0"
        strobe = merlin.withUTF8Buffer { Strobe128(protocolLabel: $0) }
        appendMessage(label: Array("dom-sep".utf8), message: label)
    }

    public mutating func appendMessage(label: [UInt8], message: [UInt8]) {
        label.withUnsafeBufferPointer { l in
            message.withUnsafeBufferPointer { m in appendMessage(label: l, message: m) }
        }
    }

    public mutating func challengeBytes(label: [UInt8], count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            label.withUnsafeBufferPointer { l in challengeBytes(label: l, into: out) }
            initialized = count
        }
    }

    mutating func appendMessage(label: UnsafeBufferPointer<UInt8>, message: UnsafeBufferPointer<UInt8>) {
        strobe.metaAD(label, more: false)
        strobe.metaADLength(message.count, more: true)
        strobe.ad(message, more: false)
    }

    mutating func appendMessage(label: StaticString, message: UnsafeBufferPointer<UInt8>) {
        label.withUTF8Buffer { appendMessage(label: $0, message: message) }
    }

    /// Fills `out` with challenge bytes (its count is the requested length).
    mutating func challengeBytes(label: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) {
        strobe.metaAD(label, more: false)
        strobe.metaADLength(out.count, more: true)
        strobe.prf(into: out, more: false)
    }

    mutating func challengeBytes(label: StaticString, into out: UnsafeMutableBufferPointer<UInt8>) {
        label.withUTF8Buffer { challengeBytes(label: $0, into: out) }
    }

    /// Merlin's transcript RNG: rekeyed with a secret witness and fresh randomness, on a
    /// copy of the transcript (this transcript is not changed). Returns `count` bytes.
    func witnessBytes(label: [UInt8], witness: [UInt8], randomness: [UInt8], count: Int) -> [UInt8] {
        var rng = strobe
        label.withUnsafeBufferPointer { rng.metaAD($0, more: false) }
        rng.metaADLength(witness.count, more: true)
        witness.withUnsafeBufferPointer { rng.key($0, more: false) }
        let rngLabel: StaticString = "rng"
        rngLabel.withUTF8Buffer { rng.metaAD($0, more: false) }
        randomness.withUnsafeBufferPointer { rng.key($0, more: false) }
        rng.metaADLength(count, more: false)
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            rng.prf(into: out, more: false)
            initialized = count
        }
    }
}
