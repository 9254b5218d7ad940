/// A candidate algorithm in evaluation, as seen by the lease issuer.
public struct CandidateSlot: Sendable, Codable, Equatable {
    public var id: Int
    /// Submitted evaluations so far.
    public var evalCount: Int
    /// Author hotkey; nil for seeds.
    public var author: String?
    /// Hotkeys that already submitted an evaluation of this candidate.
    public var alreadyEvaluatedBy: Set<String>
    /// Active (unsubmitted, unexpired) leases that include this candidate.
    public var activeSlots: Int

    public init(id: Int, evalCount: Int, author: String?, alreadyEvaluatedBy: Set<String> = [],
                activeSlots: Int = 0) {
        self.id = id
        self.evalCount = evalCount
        self.author = author
        self.alreadyEvaluatedBy = alreadyEvaluatedBy
        self.activeSlots = activeSlots
    }
}

/// The reference rule for choosing which candidates go into a lease (§5.3 step 3). The
/// pool store selects in SQL (one indexed query that locks what it picks);
/// `CandidateSelectionSQLTests` holds that query to this function on random pool states,
/// on both backends.
public enum CandidateSelection {
    /// Returns up to `batchSize` candidate ids for `hotkey`:
    /// never the caller's own evolutions, never one the caller already evaluated, never one
    /// whose `evalCount + activeSlots ≥ slotCap`; fewest evaluations done or under way
    /// (`evalCount + activeSlots`) first, ties by lower id. Counting the slots of leases in
    /// flight spreads concurrent leases over different candidates, so the submits that
    /// follow rarely wait for each other's row locks, and candidates nearest consensus are
    /// finished first.
    /// Duplicate ids in the input are considered once (first occurrence).
    public static func select(_ candidates: [CandidateSlot], for hotkey: String, batchSize: Int,
                              slotCap: Int) -> [Int] {
        guard batchSize > 0 else { return [] }
        var seen: Set<Int> = []
        let eligible = candidates.filter { candidate in
            guard seen.insert(candidate.id).inserted else { return false }
            return candidate.author != hotkey
                && !candidate.alreadyEvaluatedBy.contains(hotkey)
                && candidate.evalCount + candidate.activeSlots < slotCap
        }
        return eligible
            .sorted {
                let a = $0.evalCount + $0.activeSlots, b = $1.evalCount + $1.activeSlots
                return a != b ? a < b : $0.id < $1.id
            }
            .prefix(batchSize)
            .map(\.id)
    }

    /// `select` with the slot cap from the rules (`consensusThreshold + evalSlotMargin`).
    public static func select(_ candidates: [CandidateSlot], for hotkey: String, batchSize: Int,
                              rules: PoolRules) -> [Int] {
        select(candidates, for: hotkey, batchSize: batchSize, slotCap: rules.candidateSlotCap)
    }
}
