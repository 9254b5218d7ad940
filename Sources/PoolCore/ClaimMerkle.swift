import CSodium

/// Merkle publication of an epoch's claimable payouts (pool-api.md §4.7, §5.9).
///
/// - Leaves are the hotkeys with a positive cumulative payout, sorted by the UTF-8 bytes of
///   the hotkey; a leaf's `index` is its position in that order.
/// - A leaf's amount is the hotkey's *cumulative* paid RAO up to and including the epoch (a
///   claim contract pays the difference to what was already claimed).
/// - Leaf hash: `blake2b-256(SCALE(epoch: u64, index: u32, recipient: AccountId, amount: u64))`,
///   i.e. `epoch` as 8 bytes little-endian, `index` as 4 bytes little-endian, the recipient's
///   32-byte account id, `amount` as 8 bytes little-endian (52 bytes in all).
/// - Tree: pairwise sorted hashing, `parent = blake2b-256(min(a, b) ‖ max(a, b))` (bytewise
///   order), built level by level from the leaves in index order; an unpaired last node is
///   carried up unchanged. A proof lists the sibling of each level where there is one, from
///   the leaf up; verification folds `h = parent(h, sibling)` and compares with the root.
/// - The root of an empty epoch is 32 zero bytes; the root of a single leaf is that leaf.
public struct ClaimEntry: Sendable, Equatable {
    public var hotkey: String
    /// The 32-byte account id the claim pays.
    public var recipient: [UInt8]
    public var amountRao: UInt64

    public init(hotkey: String, recipient: [UInt8], amountRao: UInt64) {
        self.hotkey = hotkey
        self.recipient = recipient
        self.amountRao = amountRao
    }
}

/// Why `ClaimTree` refused an epoch's entries.
public enum ClaimMerkleError: Error, Equatable, Sendable, CustomStringConvertible {
    case badRecipientLength(hotkey: String, length: Int)
    case duplicateHotkey(String)
    case tooManyLeaves(Int)

    public var description: String {
        switch self {
        case let .badRecipientLength(hotkey, length): return "recipient of \(hotkey) is \(length) bytes, not 32"
        case let .duplicateHotkey(hotkey): return "hotkey \(hotkey) has more than one leaf"
        case let .tooManyLeaves(n): return "\(n) leaves do not fit a u32 index"
        }
    }
}

/// One epoch's tree: the leaves in index order and every level up to the root.
public struct ClaimTree: Sendable, Equatable {
    public let epoch: UInt64
    /// Entries in leaf (index) order.
    public let entries: [ClaimEntry]
    /// Leaf hashes in index order.
    public let leaves: [[UInt8]]
    /// `levels[0]` are the leaves, the last level holds the root (empty for no leaves).
    let levels: [[[UInt8]]]

    /// Sorts `entries` by hotkey and builds the tree. Entries with a zero amount are kept
    /// (callers leave them out when they have nothing to claim).
    public init(epoch: UInt64, entries: [ClaimEntry]) throws(ClaimMerkleError) {
        let sorted = entries.sorted { ClaimMerkle.bytesLess(Array($0.hotkey.utf8), Array($1.hotkey.utf8)) }
        for (i, e) in sorted.enumerated() {
            if e.recipient.count != 32 { throw .badRecipientLength(hotkey: e.hotkey, length: e.recipient.count) }
            if i > 0, sorted[i - 1].hotkey == e.hotkey { throw .duplicateHotkey(e.hotkey) }
        }
        guard sorted.count <= Int(UInt32.max) else { throw .tooManyLeaves(sorted.count) }
        self.epoch = epoch
        self.entries = sorted
        let leaves = sorted.enumerated().map { i, e in
            ClaimMerkle.leafHash(epoch: epoch, index: UInt32(i), recipient: e.recipient, amount: e.amountRao)
        }
        self.leaves = leaves
        var levels = [leaves]
        while let top = levels.last, top.count > 1 {
            var next: [[UInt8]] = []
            next.reserveCapacity((top.count + 1) / 2)
            var i = 0
            while i < top.count {
                next.append(i + 1 < top.count ? ClaimMerkle.parent(top[i], top[i + 1]) : top[i])
                i += 2
            }
            levels.append(next)
        }
        self.levels = levels
    }

    /// The root (32 zero bytes when there are no leaves).
    public var root: [UInt8] { levels.last?.first ?? [UInt8](repeating: 0, count: 32) }

    /// Σ amounts, or nil if it does not fit 64 bits.
    public var totalRao: UInt64? {
        var total: UInt64 = 0
        for e in entries {
            let (sum, overflow) = total.addingReportingOverflow(e.amountRao)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// The leaf index of `hotkey`, if it has a leaf.
    public func index(of hotkey: String) -> Int? { entries.firstIndex { $0.hotkey == hotkey } }

    /// Sibling hashes from leaf `index` up to the root (levels where the node is carried up
    /// unpaired contribute nothing).
    public func proof(at index: Int) -> [[UInt8]] {
        guard leaves.indices.contains(index) else { return [] }
        var out: [[UInt8]] = []
        var i = index
        for level in levels.dropLast() {
            let sibling = i ^ 1
            if sibling < level.count { out.append(level[sibling]) }
            i /= 2
        }
        return out
    }
}

/// The hashing rules of claim trees.
public enum ClaimMerkle {
    /// Name of the leaf/tree scheme, published by `/claims/health`.
    public static let scheme =
        "blake2b-256(SCALE(epoch u64, index u32, recipient AccountId32, amount u64)); parent = blake2b-256(min(a,b) || max(a,b)); odd node carried up"

    private static let sodiumReady: Bool = sodium_init() >= 0

    /// BLAKE2b with a 32-byte digest (libsodium's `crypto_generichash`, no key).
    public static func blake2b256(_ data: [UInt8]) -> [UInt8] {
        _ = sodiumReady
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&out, 32, data, UInt64(data.count), nil, 0)
        return out
    }

    /// The SCALE encoding of a leaf: epoch u64 LE ‖ index u32 LE ‖ recipient (32 bytes) ‖ amount u64 LE.
    public static func leafEncoding(epoch: UInt64, index: UInt32, recipient: [UInt8], amount: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(52)
        out += withUnsafeBytes(of: epoch.littleEndian) { Array($0) }
        out += withUnsafeBytes(of: index.littleEndian) { Array($0) }
        out += recipient
        out += withUnsafeBytes(of: amount.littleEndian) { Array($0) }
        return out
    }

    public static func leafHash(epoch: UInt64, index: UInt32, recipient: [UInt8], amount: UInt64) -> [UInt8] {
        blake2b256(leafEncoding(epoch: epoch, index: index, recipient: recipient, amount: amount))
    }

    /// `blake2b-256(min(a, b) ‖ max(a, b))`, bytewise order.
    public static func parent(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        bytesLess(b, a) ? blake2b256(b + a) : blake2b256(a + b)
    }

    /// Folds `proof` onto `leaf` and compares with `root`.
    public static func verify(leaf: [UInt8], proof: [[UInt8]], root: [UInt8]) -> Bool {
        var h = leaf
        for sibling in proof { h = parent(h, sibling) }
        return h == root
    }

    static func bytesLess(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

    /// `0x` + lowercase hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("0x".utf8)
        out.reserveCapacity(2 + bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses hex with an optional `0x`; nil when not hex.
    public static func unhex(_ text: String) -> [UInt8]? {
        var s = Substring(text)
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
