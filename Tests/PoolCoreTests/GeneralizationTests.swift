import Testing

@testable import PoolCore

@Suite struct HeldOutGateTests {
    @Test func firstSOTANeedsOnlyAFiniteHeldOutScore() {
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.5, heldOut: 0.4), sota: nil, checked: true) == .replaces)
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.5, heldOut: nil), sota: nil, checked: true) == .failedHeldOut)
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.5, heldOut: -.infinity), sota: nil, checked: true)
            == .failedHeldOut)
        // Check off: the old rule.
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.5, heldOut: nil), sota: nil, checked: false) == .replaces)
    }

    @Test func overfitCandidateIsRefusedAndGenuineOneAccepted() {
        let sota = GateScores(consensus: 0.85, heldOut: 0.86)
        // Higher on the public suite, lower held out: it fits the public tasks.
        let overfit = GateScores(consensus: 0.92, heldOut: 0.81)
        #expect(HeldOutGate.judge(candidate: overfit, sota: sota, checked: true) == .notHigherHeldOut)
        // Equal held-out is not better.
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.9, heldOut: 0.86), sota: sota, checked: true)
            == .notHigherHeldOut)
        let genuine = GateScores(consensus: 0.88, heldOut: 0.89)
        #expect(HeldOutGate.judge(candidate: genuine, sota: sota, checked: true) == .replaces)
        // Better held out but not on consensus: the consensus rule still applies.
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.85, heldOut: 0.95), sota: sota, checked: true)
            == .notHigherOnConsensus)
        // Without the check the overfit one would have replaced the SOTA.
        #expect(HeldOutGate.judge(candidate: overfit, sota: sota, checked: false) == .replaces)
    }

    @Test func legacySOTAWithoutHeldOutScoreIsJudgedOnConsensus() {
        let legacy = GateScores(consensus: 0.8, heldOut: nil)
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.81, heldOut: 0.1), sota: legacy, checked: true) == .replaces)
        #expect(HeldOutGate.judge(candidate: GateScores(consensus: 0.79, heldOut: 0.9), sota: legacy, checked: true)
            == .notHigherOnConsensus)
    }

    /// Where the held-out score does not matter, the candidate does not replace the SOTA
    /// whatever its held-out score, checked or not; where it matters, the held-out score decides.
    @Test func heldOutMattersExactlyWhereItCanChangeTheVerdict() {
        let values = [0.1, 0.5, 0.8, 0.85, 0.9]
        for c1 in values { for c2 in values { for h2 in values + [nil] as [Double?] {
            let sota = GateScores(consensus: c2, heldOut: h2)
            let replaces = Set((values + [1.0, .nan]).map { h1 in
                HeldOutGate.judge(candidate: GateScores(consensus: c1, heldOut: h1), sota: sota, checked: true) == .replaces
            })
            if HeldOutGate.heldOutMatters(consensusBound: c1, sotaConsensus: c2) {
                #expect(replaces == [true, false])
            } else {
                #expect(replaces == [false])
                #expect(HeldOutGate.judge(candidate: GateScores(consensus: c1, heldOut: nil), sota: sota, checked: false)
                    == .notHigherOnConsensus)
            }
        } } }
        #expect(HeldOutGate.heldOutMatters(consensusBound: 0.1, sotaConsensus: nil))
    }

    /// The gate agrees with the old rule whenever the held-out order agrees with the consensus order.
    @Test func gateNeverAcceptsWhatTheConsensusRuleRefuses() {
        let values = [0.1, 0.5, 0.8, 0.85, 0.9]
        for c1 in values { for h1 in values { for c2 in values { for h2 in values {
            let v = HeldOutGate.judge(candidate: GateScores(consensus: c1, heldOut: h1),
                                      sota: GateScores(consensus: c2, heldOut: h2), checked: true)
            if v == .replaces {
                #expect(Settlement.replacesSOTA(c1, current: c2))
                #expect(h1 > h2)
            } else {
                #expect(!(c1 > c2 && h1 > h2))
            }
        } } } }
    }
}

@Suite struct SuiteRotationTests {
    @Test func sameWindowSameSuiteNextWindowAnother() {
        let a = SuiteRotation.suite(window: 12_345, salt: 7, taskCount: 8, samples: 200)
        let b = SuiteRotation.suite(window: 12_345, salt: 7, taskCount: 8, samples: 200)
        #expect(a == b)
        #expect(a.taskCount == 8 && a.samples == 200)
        let seeds = Set((0..<200).map { SuiteRotation.suite(window: Int64($0), salt: 7, taskCount: 8, samples: 200).seed })
        #expect(seeds.count == 200, "consecutive windows get distinct seeds")
        #expect(seeds.allSatisfy { (1...999_999_937).contains($0) })
        #expect(SuiteRotation.suite(window: 12_345, salt: 8, taskCount: 8, samples: 200).seed != a.seed)
    }
}
