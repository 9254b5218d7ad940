// Recipient coldkeys and the published claim epochs with their Merkle proofs.
import Foundation

/// Body of the recipient-coldkey update routes: `recipient_coldkey`, or the legacy
/// `coldkey_address` the BitSota GUI sends. Either is an SS58 address (whitespace-trimmed).
public struct RecipientColdkeyUpdate: Codable, Sendable, Equatable {
    public var recipientColdkey: String?
    public var coldkeyAddress: String?

    enum CodingKeys: String, CodingKey {
        case recipientColdkey = "recipient_coldkey"
        case coldkeyAddress = "coldkey_address"
    }

    public init(recipientColdkey: String? = nil, coldkeyAddress: String? = nil) {
        self.recipientColdkey = recipientColdkey
        self.coldkeyAddress = coldkeyAddress
    }

    /// The address to store: `recipient_coldkey` when given, else `coldkey_address`, trimmed.
    public var address: String? {
        (recipientColdkey ?? coldkeyAddress)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Answer of a recipient-coldkey update.
public struct RecipientColdkeyUpdated: Codable, Sendable, Equatable {
    public var status: String
    public var hotkey: String
    public var recipientColdkey: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case status, hotkey
        case recipientColdkey = "recipient_coldkey"
        case updatedAt = "updated_at"
    }

    public init(status: String = "success", hotkey: String, recipientColdkey: String, updatedAt: String) {
        self.status = status
        self.hotkey = hotkey
        self.recipientColdkey = recipientColdkey
        self.updatedAt = updatedAt
    }
}

/// A hotkey's payout mapping; `recipient_coldkey` and `updated_at` are `null` when unset.
public struct RecipientColdkeyMapping: Codable, Sendable, Equatable {
    public var hotkey: String
    public var recipientColdkey: String?
    public var updatedAt: String?

    enum CodingKeys: String, CodingKey {
        case hotkey
        case recipientColdkey = "recipient_coldkey"
        case updatedAt = "updated_at"
    }

    public init(hotkey: String, recipientColdkey: String?, updatedAt: String?) {
        self.hotkey = hotkey
        self.recipientColdkey = recipientColdkey
        self.updatedAt = updatedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hotkey, forKey: .hotkey)
        if let recipientColdkey { try c.encode(recipientColdkey, forKey: .recipientColdkey) } else {
            try c.encodeNil(forKey: .recipientColdkey)
        }
        if let updatedAt { try c.encode(updatedAt, forKey: .updatedAt) } else { try c.encodeNil(forKey: .updatedAt) }
    }
}

/// `GET /claims/health`.
public struct ClaimsHealth: Codable, Sendable, Equatable {
    public var status: String
    public var epochsPublished: Int
    public var latestEpoch: Int64?
    public var leafHash: String

    enum CodingKeys: String, CodingKey {
        case status
        case epochsPublished = "epochs_published"
        case latestEpoch = "latest_epoch"
        case leafHash = "leaf_hash"
    }

    public init(status: String, epochsPublished: Int, latestEpoch: Int64?, leafHash: String) {
        self.status = status
        self.epochsPublished = epochsPublished
        self.latestEpoch = latestEpoch
        self.leafHash = leafHash
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(epochsPublished, forKey: .epochsPublished)
        if let latestEpoch { try c.encode(latestEpoch, forKey: .latestEpoch) } else { try c.encodeNil(forKey: .latestEpoch) }
        try c.encode(leafHash, forKey: .leafHash)
    }
}

/// `GET /claims/epochs`: published epochs, ascending; the default is the latest.
public struct ClaimEpochList: Codable, Sendable, Equatable {
    public var epochs: [Int64]
    public var defaultEpoch: Int64?

    enum CodingKeys: String, CodingKey {
        case epochs
        case defaultEpoch = "default_epoch"
    }

    public init(epochs: [Int64], defaultEpoch: Int64?) {
        self.epochs = epochs
        self.defaultEpoch = defaultEpoch
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochs, forKey: .epochs)
        if let defaultEpoch { try c.encode(defaultEpoch, forKey: .defaultEpoch) } else { try c.encodeNil(forKey: .defaultEpoch) }
    }
}

/// A published claim epoch: the Merkle root over its leaves and what they add up to.
public struct ClaimEpochInfo: Codable, Sendable, Equatable {
    public var epoch: Int64
    /// `0x`-prefixed hex BLAKE2b-256 root.
    public var root: String
    public var numOfLeaves: Int
    /// Σ leaf amounts: the cumulative RAO every leaf may claim up to this epoch.
    public var totalRao: UInt64
    /// RAO paid by this epoch alone.
    public var epochPaidRao: UInt64
    public var publishedAt: String

    enum CodingKeys: String, CodingKey {
        case epoch, root
        case numOfLeaves = "num_of_leaves"
        case totalRao = "total_rao"
        case epochPaidRao = "epoch_paid_rao"
        case publishedAt = "published_at"
    }

    public init(epoch: Int64, root: String, numOfLeaves: Int, totalRao: UInt64, epochPaidRao: UInt64, publishedAt: String) {
        self.epoch = epoch
        self.root = root
        self.numOfLeaves = numOfLeaves
        self.totalRao = totalRao
        self.epochPaidRao = epochPaidRao
        self.publishedAt = publishedAt
    }
}

/// A hotkey's claim in one epoch: its leaf and the sibling hashes up to the root.
public struct ClaimProof: Codable, Sendable, Equatable {
    public var epoch: Int64
    public var index: Int
    public var hotkey: String
    /// SS58 address the claim pays (the mapped coldkey at publication, else the hotkey itself).
    public var recipientColdkey: String
    /// Cumulative RAO earned by the hotkey up to and including this epoch.
    public var amountRao: UInt64
    /// Sibling hashes from the leaf up, `0x`-prefixed hex.
    public var proof: [String]
    public var proofCount: Int
    public var root: String
    /// `0x`-prefixed hex of the leaf hash.
    public var leaf: String

    enum CodingKeys: String, CodingKey {
        case epoch, index, hotkey, proof, root, leaf
        case recipientColdkey = "recipient_coldkey"
        case amountRao = "amount_rao"
        case proofCount = "proof_count"
    }

    public init(epoch: Int64, index: Int, hotkey: String, recipientColdkey: String, amountRao: UInt64, proof: [String],
                root: String, leaf: String) {
        self.epoch = epoch
        self.index = index
        self.hotkey = hotkey
        self.recipientColdkey = recipientColdkey
        self.amountRao = amountRao
        self.proof = proof
        self.proofCount = proof.count
        self.root = root
        self.leaf = leaf
    }
}
