import TestSupport
import Testing
@testable import PoolCore

private func sum(_ values: some Sequence<UInt64>) -> UInt64 { values.reduce(0, +) }

/// Σ payouts + Σ new carry − Σ old carry + fee + unallocated == budget, and per hotkey
/// payout + new carry == old carry + allocation.
private func checkAccounting(_ p: EpochPayout, carried: [String: UInt64]) {
    let lhs = sum(p.payouts.values) + sum(p.carryOver.values) + p.feeRao + p.unallocatedRao
    #expect(lhs == p.budgetRao + sum(carried.values))
    #expect(sum(p.allocations.values) + p.feeRao + p.unallocatedRao == p.budgetRao)
    for hotkey in Set(p.payouts.keys).union(p.carryOver.keys).union(carried.keys).union(p.allocations.keys) {
        #expect((p.payouts[hotkey] ?? 0) + (p.carryOver[hotkey] ?? 0)
            == (carried[hotkey] ?? 0) + (p.allocations[hotkey] ?? 0), "hotkey \(hotkey)")
    }
    #expect(Set(p.payouts.keys).isDisjoint(with: p.carryOver.keys))
}

@Suite struct PayoutExampleTests {
    @Test func everyoneCappedLeavesRestUnallocated() {
        let p = PayoutCalculator.computeEpoch(reputation: ["a": 1, "b": 2, "c": 3], carried: [:], rules: PoolRules())
        #expect(p.feeRao == 50_000_000)
        #expect(p.capRao == 50_000_000)
        #expect(p.allocations == ["a": 50_000_000, "b": 50_000_000, "c": 50_000_000])
        #expect(p.payouts == p.allocations)
        #expect(p.unallocatedRao == 800_000_000)
        #expect(p.cappedHotkeys == ["a", "b", "c"])
        checkAccounting(p, carried: [:])
    }

    @Test func equalSharesWithoutDust() {
        let rep = Dictionary(uniqueKeysWithValues: (0..<40).map { ("m\($0)", 1.0) })
        let p = PayoutCalculator.computeEpoch(reputation: rep, carried: [:], rules: PoolRules())
        #expect(p.allocations.count == 40)
        #expect(p.allocations.values.allSatisfy { $0 == 23_750_000 })
        #expect(p.unallocatedRao == 0)
        checkAccounting(p, carried: [:])
    }

    @Test func dustGoesOneRaoEachByLargestRemainderThenHotkey() {
        let names = (0..<30).map { String(format: "m%02d", $0) }
        let rep = Dictionary(uniqueKeysWithValues: names.map { ($0, 1.0) })
        let p = PayoutCalculator.computeEpoch(reputation: rep, carried: [:], rules: PoolRules())
        // 950_000_000 / 30 = 31_666_666 rest 20 → the first 20 hotkeys get one extra RAO.
        for (i, name) in names.enumerated() {
            #expect(p.allocations[name] == (i < 20 ? 31_666_667 : 31_666_666))
        }
        #expect(p.unallocatedRao == 0)
        checkAccounting(p, carried: [:])
    }

    @Test func capExcessIsRedistributedToOthers() {
        var rep = Dictionary(uniqueKeysWithValues: (0..<99).map { ("m\($0)", 1.0) })
        rep["whale"] = 100
        let p = PayoutCalculator.computeEpoch(reputation: rep, carried: [:], rules: PoolRules())
        #expect(p.allocations["whale"] == 50_000_000)
        #expect(p.cappedHotkeys == ["whale"])
        let others = sum(p.allocations.filter { $0.key != "whale" }.values)
        #expect(others == 900_000_000)
        #expect(p.unallocatedRao == 0)
        checkAccounting(p, carried: [:])
    }

    @Test func cascadingCapsIterate() {
        // After capping "a", "b" exceeds the cap on the redistributed amount too.
        var rules = PoolRules()
        rules.poolFeeBps = 0
        rules.perMinerCapBps = 3_000  // cap 300M
        let p = PayoutCalculator.computeEpoch(reputation: ["a": 10, "b": 4, "c": 1, "d": 1], carried: [:], rules: rules)
        #expect(p.allocations["a"] == 300_000_000)
        #expect(p.allocations["b"] == 300_000_000)
        #expect(p.allocations["c"] == 200_000_000)
        #expect(p.allocations["d"] == 200_000_000)
        #expect(p.unallocatedRao == 0)
        checkAccounting(p, carried: [:])
    }

    @Test func smallAmountsCarryOverUntilMinimum() {
        var rules = PoolRules()
        rules.poolFeeBps = 0
        rules.perMinerCapBps = 10_000
        rules.epochBudgetRao = 100_000_000
        // "tiny" earns 1/50 of 100M = 2M < 5M → carried.
        let rep: [String: Double] = ["big": 49, "tiny": 1]
        let first = PayoutCalculator.computeEpoch(reputation: rep, carried: [:], rules: rules)
        #expect(first.payouts["tiny"] == nil)
        #expect(first.carryOver["tiny"] == 2_000_000)
        #expect(first.payouts["big"] == 98_000_000)
        checkAccounting(first, carried: [:])
        let second = PayoutCalculator.computeEpoch(reputation: rep, carried: first.carryOver, rules: rules)
        #expect(second.carryOver["tiny"] == 4_000_000)
        let third = PayoutCalculator.computeEpoch(reputation: rep, carried: second.carryOver, rules: rules)
        #expect(third.payouts["tiny"] == 6_000_000)
        #expect(third.carryOver.isEmpty)
        checkAccounting(third, carried: second.carryOver)
    }

    @Test func carriedBalanceOfAbsentMinerIsKept() {
        let carried: [String: UInt64] = ["gone": 1_000]
        let p = PayoutCalculator.computeEpoch(reputation: ["a": 1], carried: carried, rules: PoolRules())
        #expect(p.carryOver["gone"] == 1_000)
        checkAccounting(p, carried: carried)
        var rules = PoolRules()
        rules.minPayoutRao = 500
        let paid = PayoutCalculator.computeEpoch(reputation: [:], carried: carried, rules: rules)
        #expect(paid.payouts["gone"] == 1_000)
    }

    @Test func zeroReputationLeavesEverythingUnallocated() {
        for rep in [[:], ["a": 0.0, "b": -3, "c": .nan, "d": .infinity]] as [[String: Double]] {
            let p = PayoutCalculator.computeEpoch(reputation: rep, carried: [:], rules: PoolRules())
            #expect(p.feeRao == 0)
            #expect(p.unallocatedRao == 1_000_000_000)
            #expect(p.allocations.isEmpty && p.payouts.isEmpty)
            checkAccounting(p, carried: [:])
        }
    }

    @Test func invalidReputationsAreIgnoredNotPropagated() {
        let p = PayoutCalculator.computeEpoch(reputation: ["a": 1, "nan": .nan, "neg": -5], carried: [:],
                                              rules: PoolRules())
        #expect(p.allocations.keys.sorted() == ["a"])
    }

    @Test func feeRoundsDown() {
        var rules = PoolRules()
        rules.epochBudgetRao = 999
        rules.minPayoutRao = 0
        let p = PayoutCalculator.computeEpoch(reputation: ["a": 1], carried: [:], rules: rules)
        #expect(p.feeRao == 49)  // floor(999 × 0.05)
        #expect(p.capRao == 49)
        #expect(p.allocations["a"] == 49)
        #expect(p.unallocatedRao == 999 - 49 - 49)
        checkAccounting(p, carried: [:])
    }

    @Test func hugeBudgetUsesFullWidthArithmetic() {
        var rules = PoolRules()
        rules.epochBudgetRao = UInt64.max
        rules.perMinerCapBps = 10_000
        let p = PayoutCalculator.computeEpoch(reputation: ["a": 3, "b": 1, "c": 1e-300], carried: [:], rules: rules)
        #expect(p.feeRao == UInt64.max / 20)  // 500 bps, floor
        checkAccounting(p, carried: [:])
        let a = Double(p.allocations["a"] ?? 0), b = Double(p.allocations["b"] ?? 0)
        #expect(abs(a / b - 3) < 1e-9)
    }
}

@Suite struct PayoutPropertyTests {
    @Test(arguments: propertySeeds)
    func accountingCapAndMonotonicity(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var rules = PoolRules()
        rules.epochBudgetRao = [UInt64(rng.below(1_000)), UInt64(1_000_000_000),
                                rng.next() >> 2][rng.below(3)]
        rules.poolFeeBps = rng.below(2_001)
        rules.perMinerCapBps = 1 + rng.below(10_000)
        rules.minPayoutRao = [0, UInt64(rng.below(10_000_000)), 5_000_000][rng.below(3)]

        var reputation: [String: Double] = [:]
        for i in 0..<rng.below(60) {
            let value: Double
            switch rng.below(8) {
            case 0: value = 0
            case 1: value = 1  // frequent exact ties
            case 2: value = rng.unit() * 1e-12
            case 3: value = rng.unit() * 1e6
            default: value = rng.unit() * 10
            }
            reputation["h\(i)"] = value
        }
        var carried: [String: UInt64] = [:]
        for i in 0..<rng.below(10) where rules.minPayoutRao > 0 {
            carried["h\(i * 7)"] = UInt64(rng.below(Int(min(rules.minPayoutRao, 1 << 40))))
        }

        let p = PayoutCalculator.computeEpoch(reputation: reputation, carried: carried, rules: rules)
        checkAccounting(p, carried: carried)
        #expect(p.capRao == rules.epochBudgetRao / 10_000 * UInt64(rules.perMinerCapBps)
            + rules.epochBudgetRao % 10_000 * UInt64(rules.perMinerCapBps) / 10_000)
        for value in p.allocations.values { #expect(value <= p.capRao) }
        for value in p.payouts.values { #expect(value >= rules.minPayoutRao) }
        for value in p.carryOver.values { #expect(value < rules.minPayoutRao) }

        // Monotone in reputation (equal reputations differ by at most the 1-RAO dust).
        let names = reputation.keys.sorted()
        for i in names {
            for j in names {
                let ri = reputation[i] ?? 0, rj = reputation[j] ?? 0
                let ai = p.allocations[i] ?? 0, aj = p.allocations[j] ?? 0
                if ri < rj { #expect(ai <= aj, "\(i)=\(ri)→\(ai) vs \(j)=\(rj)→\(aj)") }
                if ri == rj { #expect(max(ai, aj) - min(ai, aj) <= 1) }
            }
        }

        let anyPositive = reputation.values.contains { $0 > 0 }
        if !anyPositive {
            #expect(p.unallocatedRao == rules.epochBudgetRao && p.feeRao == 0)
        } else if p.unallocatedRao > 0 {
            // Only possible when everyone who earned anything is at the cap.
            #expect(p.allocations.values.allSatisfy { $0 == p.capRao })
        }

        // Uncapped miners are paid proportionally (up to 1 RAO of dust + rounding).
        let uncapped = p.allocations.keys.filter { !p.cappedHotkeys.contains($0) }
        let pool = Double(p.distributableRao - p.capRao * UInt64(p.cappedHotkeys.count))
        let uncappedRep = reputation.filter { !p.cappedHotkeys.contains($0.key) && $0.value > 0 }.values
            .reduce(0, +)
        if uncappedRep > 0 {
            for name in uncapped {
                let expected = pool * (reputation[name] ?? 0) / uncappedRep
                let actual = Double(p.allocations[name] ?? 0)
                #expect(abs(actual - expected) <= 2 + pool * 1e-9, "\(name): \(actual) vs \(expected)")
            }
        }
    }
}
