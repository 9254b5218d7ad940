/// One epoch's conversion of reputation into RAO (pool-api.md §5.7 "Epoch conversion").
///
/// Accounting identity (checked by tests):
/// `Σ payouts + Σ carryOver − Σ carriedIn + feeRao + unallocatedRao == budgetRao`,
/// and per hotkey `payout + carryOver == carriedIn + allocation`.
public struct EpochPayout: Sendable, Codable, Equatable {
    public var budgetRao: UInt64
    public var feeRao: UInt64
    /// budget − fee.
    public var distributableRao: UInt64
    /// Per-miner cap on this epoch's allocation: floor(budget × capBps / 10000).
    public var capRao: UInt64
    /// This epoch's earned share per hotkey (only non-zero entries); each ≤ capRao.
    public var allocations: [String: UInt64]
    /// Paid now: carried-in balance + allocation, when that reaches minPayoutRao (non-zero only).
    public var payouts: [String: UInt64]
    /// New carried balances below minPayoutRao (non-zero only); pass back in next epoch.
    public var carryOver: [String: UInt64]
    /// Part of the distributable amount nobody could take (everyone capped, or zero
    /// reputation); returns to the pool.
    public var unallocatedRao: UInt64
    /// Hotkeys whose allocation was limited by the cap, sorted.
    public var cappedHotkeys: [String]
}

/// Integer-exact payout computation.
///
/// 1. fee = floor(budget × feeBps / 10000); distributable = budget − fee. With zero total
///    reputation nothing is earned: the fee is 0 and the whole budget is unallocated.
/// 2. Reputations become integer weights: w = floor(r / r_max × 2^b) (b ≤ 52, chosen so
///    Σw ≤ 2^62), r_max being the largest reputation not yet capped. Non-finite or
///    non-positive reputations are ignored; reputations below r_max × 2^−b get weight 0 and
///    earn nothing (their exact share would be below 2^−52 of the amount).
/// 3. Water-filling: every miner whose exact proportional share of the remaining amount
///    reaches the cap gets exactly the cap and leaves the pool of uncapped miners; repeat until
///    nobody new is capped. If everyone is capped, the rest is unallocated.
/// 4. Uncapped miners get floor shares; the leftover (< number of uncapped miners) is dealt one
///    RAO each by largest remainder (ties: higher reputation, then hotkey), never above the cap.
/// 5. Carried-in balance + allocation is paid when ≥ minPayoutRao, otherwise carried over.
public enum PayoutCalculator {
    public static func computeEpoch(reputation: [String: Double], carried: [String: UInt64],
                                    rules: PoolRules) -> EpochPayout {
        let budget = rules.epochBudgetRao
        let feeBps = UInt64(min(max(rules.poolFeeBps, 0), 10_000))
        let capBps = UInt64(min(max(rules.perMinerCapBps, 0), 10_000))
        let cap = mulDiv(budget, capBps, 10_000)

        let positive = reputation.filter { $0.value.isFinite && $0.value > 0 }

        var fee: UInt64 = 0
        var allocations: [String: UInt64] = [:]
        var capped: [String] = []
        var unallocated: UInt64 = budget
        if !positive.isEmpty {
            fee = mulDiv(budget, feeBps, 10_000)
            let distributable = budget - fee
            (allocations, capped, unallocated) = waterFill(amount: distributable, cap: cap, reputation: positive)
        }

        var payouts: [String: UInt64] = [:]
        var carryOver: [String: UInt64] = [:]
        for hotkey in Set(allocations.keys).union(carried.keys) {
            let (due, overflow) = (carried[hotkey] ?? 0).addingReportingOverflow(allocations[hotkey] ?? 0)
            if overflow {
                // Cannot be represented in one payment: pay the maximum, carry the rest.
                payouts[hotkey] = UInt64.max
                carryOver[hotkey] = due &+ 1
                continue
            }
            guard due > 0 else { continue }
            if due >= rules.minPayoutRao { payouts[hotkey] = due } else { carryOver[hotkey] = due }
        }

        return EpochPayout(budgetRao: budget, feeRao: fee, distributableRao: budget - fee, capRao: cap,
                           allocations: allocations.filter { $0.value > 0 }, payouts: payouts,
                           carryOver: carryOver, unallocatedRao: unallocated,
                           cappedHotkeys: capped.sorted())
    }

    /// floor(r / r_max × 2^bits) with bits ≤ 52 and n × 2^bits ≤ 2^62, so the sum fits.
    static func integerWeights(_ reputation: [String: Double]) -> [String: UInt64] {
        guard let maxRep = reputation.values.max(), maxRep > 0 else { return [:] }
        var bits = 52
        while bits > 0 && UInt64(reputation.count) > (UInt64(1) << UInt64(62 - bits)) { bits -= 1 }
        let scale = Double(UInt64(1) << UInt64(bits))
        return reputation.mapValues { rep in
            let scaled = (rep / maxRep * scale).rounded(.down)
            return scaled >= scale ? UInt64(1) << UInt64(bits) : UInt64(max(0, scaled))
        }
    }

    /// `reputation` must hold only finite, positive values.
    static func waterFill(amount: UInt64, cap: UInt64, reputation: [String: Double])
        -> (allocations: [String: UInt64], capped: [String], unallocated: UInt64)
    {
        var allocations: [String: UInt64] = [:]
        var capped: [String] = []
        var remaining = amount
        var uncapped = reputation
        // Weights are recomputed relative to the largest *uncapped* reputation each round, so
        // small reputations keep full precision once the large ones are capped.
        var open: [String: UInt64] = [:]
        while true {
            open = integerWeights(uncapped).filter { $0.value > 0 }
            if open.isEmpty { break }
            // Cap everyone whose exact share remaining × w / W reaches the cap; repeat.
            let total = open.values.reduce(UInt64(0), +)
            let newlyCapped = open.keys.filter { hotkey in
                !lessThan(mulFull(remaining, open[hotkey] ?? 0), mulFull(cap, total))
            }
            if newlyCapped.isEmpty { break }
            for hotkey in newlyCapped {
                allocations[hotkey] = cap
                capped.append(hotkey)
                uncapped[hotkey] = nil
                remaining -= cap  // safe: cap × |newly| ≤ remaining × Σw_newly / W ≤ remaining
            }
        }
        guard !open.isEmpty else { return (allocations, capped, remaining) }

        let total = open.values.reduce(UInt64(0), +)
        var shares: [(hotkey: String, floor: UInt64, remainder: UInt64)] = []
        var handed: UInt64 = 0
        for (hotkey, weight) in open {
            let product = mulFull(remaining, weight)
            let (q, r) = total.dividingFullWidth((product.high, product.low))
            shares.append((hotkey, q, r))
            handed += q
        }
        var leftover = remaining - handed  // < open.count
        shares.sort { a, b in
            if a.remainder != b.remainder { return a.remainder > b.remainder }
            let ra = reputation[a.hotkey] ?? 0, rb = reputation[b.hotkey] ?? 0
            if ra != rb { return ra > rb }
            return a.hotkey < b.hotkey
        }
        for share in shares {
            var value = share.floor
            if leftover > 0 && value < cap {
                value += 1
                leftover -= 1
            }
            allocations[share.hotkey] = value
        }
        return (allocations, capped, leftover)
    }

    /// floor(a × b / c) for b ≤ c (so the quotient fits in 64 bits); 0 when c == 0.
    static func mulDiv(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        guard c > 0 else { return 0 }
        let p = mulFull(a, min(b, c))
        return c.dividingFullWidth((p.high, p.low)).quotient
    }

    static func mulFull(_ a: UInt64, _ b: UInt64) -> (high: UInt64, low: UInt64) {
        let (high, low) = a.multipliedFullWidth(by: b)
        return (high, low)
    }

    static func lessThan(_ x: (high: UInt64, low: UInt64), _ y: (high: UInt64, low: UInt64)) -> Bool {
        x.high != y.high ? x.high < y.high : x.low < y.low
    }
}
