import Foundation
import Hotkeys
import Hummingbird
import PoolAPI
import PoolCore
import ServiceKit
import Store

/// Payout recipients (pool-api.md §2.2, §4.2) and the Merkle publication of epoch payouts
/// (§4.7, §5.9; hashing rules in `PoolCore.ClaimTree`).
extension PoolStore {
    // MARK: Recipient coldkeys

    /// The 32-byte account id of a canonical SS58 address (any network prefix), or a 422
    /// naming `field`.
    static func accountId(ofAddress text: String, field: String) throws -> [UInt8] {
        guard !text.isEmpty else {
            throw APIError.unprocessable(PoolErrorCode.invalidColdkey, "\(field) is required: an SS58 address")
        }
        do { return try SS58.decode(text).publicKey } catch {
            let shown = String(text.unicodeScalars.prefix(64).filter { $0.value >= 0x20 && $0.value < 0x7F })
            throw APIError.unprocessable(PoolErrorCode.invalidColdkey, "\(field) '\(shown)' is not a canonical SS58 address: \(error)")
        }
    }

    /// A hotkey named in a path: a canonical SS58 address, else 422.
    static func checkHotkey(_ text: String) throws {
        do { _ = try SS58.decode(text) } catch {
            let shown = String(text.unicodeScalars.prefix(64).filter { $0.value >= 0x20 && $0.value < 0x7F })
            throw APIError.unprocessable(PoolErrorCode.invalidHotkey, "'\(shown)' is not an SS58 hotkey address: \(error)")
        }
    }

    /// Stores (or replaces) `hotkey`'s payout recipient. `coldkey` is already trimmed and
    /// validated (`accountId(ofAddress:field:)`).
    public func setRecipientColdkey(hotkey: String, coldkey: String, now: Double) async throws -> RecipientColdkeyUpdated {
        _ = try Self.accountId(ofAddress: coldkey, field: "recipient_coldkey")
        try await db.fetch(
            """
            INSERT INTO recipient_coldkeys (hotkey, recipient_coldkey, updated_at) VALUES (\(hotkey),
              \(coldkey), \(now))
            ON CONFLICT (hotkey) DO UPDATE SET recipient_coldkey = excluded.recipient_coldkey, updated_at = excluded.updated_at
            """)
        return RecipientColdkeyUpdated(hotkey: hotkey, recipientColdkey: coldkey, updatedAt: WireTime.string(now))
    }

    /// `hotkey`'s mapping; `recipient_coldkey`/`updated_at` are nil when none is set.
    public func recipientColdkey(hotkey: String) async throws -> RecipientColdkeyMapping {
        guard let r = try await db.fetchOne(
            "SELECT recipient_coldkey, updated_at FROM recipient_coldkeys WHERE hotkey = \(hotkey)")
        else { return RecipientColdkeyMapping(hotkey: hotkey, recipientColdkey: nil, updatedAt: nil) }
        return RecipientColdkeyMapping(
            hotkey: hotkey, recipientColdkey: try r.string("recipient_coldkey"),
            updatedAt: WireTime.string(try r.double("updated_at")))
    }

    // MARK: Claim epochs

    /// Leaves of `epoch` from the payouts: every hotkey whose cumulative paid RAO up to and
    /// including `epoch` is positive, paying its mapped coldkey from `recipients` or else
    /// the hotkey's own account.
    func claimEntries(_ ex: any SQLExecutor, epoch: Int64, recipients: [String: String]) async throws
        -> [(entry: ClaimEntry, recipient: String)]
    {
        let rows = try await ex.fetch(
            """
            SELECT miner, CAST(SUM(paid_rao) AS BIGINT) AS amount FROM payouts WHERE epoch <= \(epoch)
            GROUP BY miner HAVING SUM(paid_rao) > 0
            """)
        var out: [(entry: ClaimEntry, recipient: String)] = []
        for r in rows {
            let hotkey = try r.string("miner")
            let recipient = recipients[hotkey] ?? hotkey
            let account = try Self.accountId(ofAddress: recipient, field: "recipient of \(hotkey)")
            out.append((ClaimEntry(hotkey: hotkey, recipient: account, amountRao: UInt64(max(0, try r.int("amount")))),
                        recipient))
        }
        return out
    }

    /// Publishes every closed epoch that has no claim root yet, in epoch order, each in one
    /// transaction; the recipients are the coldkey mappings at this moment. Returns the
    /// epochs published.
    @discardableResult
    public func publishClaimEpochs(now: Double) async throws -> [Int64] {
        let pending = try await db.fetch(
            "SELECT epoch FROM epochs WHERE epoch NOT IN (SELECT epoch FROM claim_epochs) ORDER BY epoch")
        var published: [Int64] = []
        for row in pending {
            let epoch = try row.int("epoch")
            let done = try await db.transaction { tx -> Bool in
                // Claim the epoch first: a concurrent publisher conflicts on the primary key.
                let claimed = try await tx.fetch(
                    """
                    INSERT INTO claim_epochs (epoch, root, num_leaves, total_rao, epoch_paid_rao, published_at)
                    VALUES (\(epoch), '', 0, 0, 0, \(now)) ON CONFLICT (epoch) DO NOTHING RETURNING epoch
                    """)
                guard !claimed.isEmpty else { return false }
                var recipients: [String: String] = [:]
                for r in try await tx.fetch("SELECT hotkey, recipient_coldkey FROM recipient_coldkeys") {
                    recipients[try r.string("hotkey")] = try r.string("recipient_coldkey")
                }
                let entries = try await claimEntries(tx, epoch: epoch, recipients: recipients)
                let recipientOf = Dictionary(entries.map { ($0.entry.hotkey, $0.recipient) }) { a, _ in a }
                let tree = try ClaimTree(epoch: UInt64(epoch), entries: entries.map { $0.entry })
                guard let total = tree.totalRao, total <= UInt64(Int64.max) else {
                    throw APIError(.internalServerError, PoolErrorCode.claimOverflow, "Epoch \(epoch): leaf amounts overflow 63 bits")
                }
                let batch = 200
                var start = 0
                while start < tree.entries.count {
                    let slice = start..<min(start + batch, tree.entries.count)
                    try await tx.fetch(
                        """
                        INSERT INTO claim_leaves (epoch, leaf_index, hotkey, recipient_coldkey, amount_rao, leaf)
                        VALUES \(rows: slice.map { i -> [SQLValue] in
                            let e = tree.entries[i]
                            return [.int(epoch), .int(Int64(i)), .text(e.hotkey), .text(recipientOf[e.hotkey] ?? e.hotkey),
                                    .int(Int64(e.amountRao)), .text(ClaimMerkle.hex(tree.leaves[i]))]
                        })
                        """)
                    start += batch
                }
                let paid = try await tx.fetchOne("SELECT paid_rao FROM epochs WHERE epoch = \(epoch)")?.int("paid_rao") ?? 0
                try await tx.fetch(
                    """
                    UPDATE claim_epochs SET root = \(ClaimMerkle.hex(tree.root)), num_leaves = \(tree.entries.count),
                      total_rao = \(Int64(total)), epoch_paid_rao = \(paid) WHERE epoch = \(epoch)
                    """)
                return true
            }
            if done { published.append(epoch) }
        }
        return published
    }

    public func claimEpochList() async throws -> ClaimEpochList {
        let epochs = try await db.fetch("SELECT epoch FROM claim_epochs ORDER BY epoch").map { try $0.int("epoch") }
        return ClaimEpochList(epochs: epochs, defaultEpoch: epochs.last)
    }

    public func claimsHealth() async throws -> ClaimsHealth {
        let r = try await db.fetchOne("SELECT COUNT(*) AS n, MAX(epoch) AS latest FROM claim_epochs")
        return ClaimsHealth(status: "healthy", epochsPublished: Int(try r?.int("n") ?? 0),
                            latestEpoch: try r?.optionalInt("latest"), leafHash: ClaimMerkle.scheme)
    }

    /// The epoch row asked for, or the latest published one when `epoch` is nil; 404 otherwise.
    func claimEpochRow(_ epoch: Int64?) async throws -> SQLRow {
        if let epoch {
            guard let r = try await db.fetchOne("SELECT * FROM claim_epochs WHERE epoch = \(epoch)") else {
                throw APIError.notFound(PoolErrorCode.epochNotFound, "Epoch \(epoch) has not been published")
            }
            return r
        }
        guard let r = try await db.fetchOne("SELECT * FROM claim_epochs ORDER BY epoch DESC LIMIT 1") else {
            throw APIError.notFound(PoolErrorCode.epochNotFound, "No epoch has been published yet")
        }
        return r
    }

    func claimEpochInfo(_ r: SQLRow) throws -> ClaimEpochInfo {
        ClaimEpochInfo(
            epoch: try r.int("epoch"), root: try r.string("root"), numOfLeaves: Int(try r.int("num_leaves")),
            totalRao: UInt64(max(0, try r.int("total_rao"))), epochPaidRao: UInt64(max(0, try r.int("epoch_paid_rao"))),
            publishedAt: WireTime.string(try r.double("published_at")))
    }

    /// `GET /claims/epoch[/{epoch_id}]`.
    public func claimEpoch(_ epoch: Int64?) async throws -> ClaimEpochInfo {
        try claimEpochInfo(try await claimEpochRow(epoch))
    }

    /// The tree of a published epoch as stored (leaves in index order).
    func storedClaimTree(epoch: Int64) async throws -> (tree: ClaimTree, recipients: [String]) {
        let rows = try await db.fetch(
            "SELECT hotkey, recipient_coldkey, amount_rao FROM claim_leaves WHERE epoch = \(epoch) ORDER BY leaf_index")
        var entries: [ClaimEntry] = []
        var recipients: [String] = []
        for r in rows {
            let recipient = try r.string("recipient_coldkey")
            entries.append(ClaimEntry(
                hotkey: try r.string("hotkey"), recipient: try Self.accountId(ofAddress: recipient, field: "stored recipient"),
                amountRao: UInt64(max(0, try r.int("amount_rao")))))
            recipients.append(recipient)
        }
        return (try ClaimTree(epoch: UInt64(epoch), entries: entries), recipients)
    }

    /// `GET /claims/epoch[/{epoch_id}]/proof/{hotkey}`: 404 when the hotkey has no leaf.
    public func claimProof(epoch: Int64?, hotkey: String) async throws -> ClaimProof {
        let row = try await claimEpochRow(epoch)
        let info = try claimEpochInfo(row)
        let (tree, recipients) = try await storedClaimTree(epoch: info.epoch)
        guard let index = tree.index(of: hotkey) else {
            throw APIError.notFound(PoolErrorCode.claimNotFound, "Hotkey \(hotkey) has no claim in epoch \(info.epoch)")
        }
        guard ClaimMerkle.hex(tree.root) == info.root else {
            throw APIError(.internalServerError, PoolErrorCode.claimRootMismatch,
                           "Epoch \(info.epoch): stored leaves do not rebuild the published root")
        }
        return ClaimProof(
            epoch: info.epoch, index: index, hotkey: hotkey, recipientColdkey: recipients[index],
            amountRao: tree.entries[index].amountRao, proof: tree.proof(at: index).map(ClaimMerkle.hex), root: info.root,
            leaf: ClaimMerkle.hex(tree.leaves[index]))
    }

    /// One epoch's audit (`evalnet pool claims verify`).
    public struct ClaimAudit: Sendable, Equatable {
        public var epoch: Int64
        public var publishedRoot: String
        /// Root recomputed from the payouts table and the recipients frozen at publication.
        public var recomputedRoot: String
        public var publishedLeaves: Int
        public var recomputedLeaves: Int
        /// What disagrees (empty when the epoch checks out).
        public var problems: [String]
        public var ok: Bool { problems.isEmpty }
    }

    /// Recomputes each published epoch's tree (or only `epoch`) from the payouts and
    /// compares it with what was published.
    public func auditClaimEpochs(epoch: Int64? = nil) async throws -> [ClaimAudit] {
        let rows: [SQLRow]
        if let epoch {
            rows = try await db.fetch("SELECT * FROM claim_epochs WHERE epoch = \(epoch)")
        } else {
            rows = try await db.fetch("SELECT * FROM claim_epochs ORDER BY epoch")
        }
        var audits: [ClaimAudit] = []
        for row in rows {
            let info = try claimEpochInfo(row)
            var recipients: [String: String] = [:]
            for r in try await db.fetch("SELECT hotkey, recipient_coldkey FROM claim_leaves WHERE epoch = \(info.epoch)") {
                recipients[try r.string("hotkey")] = try r.string("recipient_coldkey")
            }
            var problems: [String] = []
            let entries = try await claimEntries(db, epoch: info.epoch, recipients: recipients)
            for e in entries where recipients[e.entry.hotkey] == nil {
                problems.append("hotkey \(e.entry.hotkey) is owed \(e.entry.amountRao) RAO but has no published leaf")
            }
            let tree = try ClaimTree(epoch: UInt64(info.epoch), entries: entries.map { $0.entry })
            let root = ClaimMerkle.hex(tree.root)
            if root != info.root { problems.append("root mismatch: published \(info.root), recomputed \(root)") }
            if tree.entries.count != info.numOfLeaves {
                problems.append("leaf count mismatch: published \(info.numOfLeaves), recomputed \(tree.entries.count)")
            }
            if let total = tree.totalRao, total != info.totalRao {
                problems.append("total_rao mismatch: published \(info.totalRao), recomputed \(total)")
            }
            audits.append(ClaimAudit(epoch: info.epoch, publishedRoot: info.root, recomputedRoot: root,
                                     publishedLeaves: info.numOfLeaves, recomputedLeaves: tree.entries.count,
                                     problems: problems))
        }
        return audits
    }
}
