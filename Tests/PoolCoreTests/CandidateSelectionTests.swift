import TestSupport
import Testing
@testable import PoolCore

@Suite struct CandidateSelectionTests {
    @Test func appliesEveryExclusionAndOrdersByEvaluationsDoneOrUnderWayThenId() {
        let candidates = [
            CandidateSlot(id: 7, evalCount: 2, author: "x"),
            CandidateSlot(id: 3, evalCount: 0, author: "me"),                           // own
            CandidateSlot(id: 4, evalCount: 1, author: "x", alreadyEvaluatedBy: ["me"]), // done
            CandidateSlot(id: 5, evalCount: 3, author: "y", activeSlots: 2),            // full (5 ≥ 5)
            CandidateSlot(id: 9, evalCount: 0, author: nil),
            CandidateSlot(id: 8, evalCount: 0, author: "y", activeSlots: 4),            // 4 < 5 ok, but 4 under way
            CandidateSlot(id: 6, evalCount: 2, author: "z"),
            CandidateSlot(id: 2, evalCount: 1, author: "z", activeSlots: 1),            // 2 done or under way
        ]
        // Keys (evaluations + slots in flight, id): 9 (0), 2 (2), 6 (2), 7 (2), 8 (4).
        let ids = CandidateSelection.select(candidates, for: "me", batchSize: 10, rules: PoolRules())
        #expect(ids == [9, 2, 6, 7, 8])
        #expect(CandidateSelection.select(candidates, for: "me", batchSize: 2, slotCap: 5) == [9, 2])
        #expect(CandidateSelection.select(candidates, for: "me", batchSize: 0, slotCap: 5).isEmpty)
    }

    @Test(arguments: propertySeeds)
    func matchesTheRuleOnRandomInputs(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let miners = ["a", "b", "c", "d"]
        let candidates = (0..<rng.below(30)).map { _ in
            CandidateSlot(id: rng.below(40), evalCount: rng.below(6),
                          author: rng.chance(0.2) ? nil : miners[rng.below(4)],
                          alreadyEvaluatedBy: Set(miners.filter { _ in rng.chance(0.2) }),
                          activeSlots: rng.below(3))
        }
        let me = miners[rng.below(4)]
        let batch = rng.below(10)
        let cap = 1 + rng.below(6)
        let ids = CandidateSelection.select(candidates, for: me, batchSize: batch, slotCap: cap)
        #expect(ids.count <= batch)
        #expect(Set(ids).count == ids.count)
        var firstById: [Int: CandidateSlot] = [:]
        for c in candidates where firstById[c.id] == nil { firstById[c.id] = c }
        let eligible = firstById.values.filter {
            $0.author != me && !$0.alreadyEvaluatedBy.contains(me) && $0.evalCount + $0.activeSlots < cap
        }
        #expect(ids.count == min(batch, eligible.count))
        for id in ids {
            guard let c = firstById[id] else { Issue.record("unknown id \(id)"); continue }
            #expect(c.author != me)
            #expect(!c.alreadyEvaluatedBy.contains(me))
            #expect(c.evalCount + c.activeSlots < cap)
        }
        // Nothing left out has fewer evaluations done or under way (or as many with a lower id)
        // than something chosen.
        let key = { (c: CandidateSlot) in (c.evalCount + c.activeSlots, c.id) }
        if let worstChosen = ids.compactMap({ firstById[$0] }).map(key).max(by: { $0 < $1 }) {
            for c in eligible where !ids.contains(c.id) { #expect(key(c) > worstChosen) }
        }
        let chosenKeys = ids.compactMap { firstById[$0] }.map(key)
        #expect(zip(chosenKeys, chosenKeys.dropFirst()).allSatisfy { $0 < $1 })
    }
}
