import Foundation
import Testing
@testable import PoolCore

@Suite struct PoolRulesTests {
    @Test func defaultsMatchReference() throws {
        let r = PoolRules()
        #expect(r.consensusThreshold == 3)
        #expect(r.toleranceRatio == 0.10)
        #expect(r.evaluatorWeight == 1.0)
        #expect(r.evolverWeight == 10.0)
        #expect(r.baselineMode == .genealogy)
        #expect(r.repetitionPenalty == 0)
        #expect(r.repetitionScope == .miner)
        #expect(r.minRewardActivity == 1)
        #expect(r.epochBudgetRao == 1_000_000_000)
        #expect(r.poolFeeBps == 500)
        #expect(r.perMinerCapBps == 500)
        #expect(r.minPayoutRao == 5_000_000)
        #expect(r.leaseTTLSeconds == 600)
        #expect(r.windowSeconds == 3600)
        #expect(r.leasesPerWindow == 1)
        #expect(r.evalBatchDefault == 8)
        #expect(r.seedBatchDefault == 2)
        #expect(r.evalBatchMax == 64)
        #expect(r.seedBatchMax == 32)
        #expect(r.gossipMax == 50)
        #expect(r.minLeaseIterations == 0)
        #expect(r.candidateSlotCap == 5)
        try r.validate()
    }

    @Test func jsonUsesSnakeCaseAndRoundTrips() throws {
        var r = PoolRules()
        r.baselineMode = .localEvolver
        r.repetitionScope = .both
        r.leasesPerWindow = nil
        let data = try JSONEncoder().encode(r)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == Set(PoolRules.configKeys))
        #expect(object["baseline_mode"] as? String == "local_evolver")
        #expect(object["leases_per_window"] is NSNull)
        let back = try JSONDecoder().decode(PoolRules.self, from: data)
        #expect(back == r)
        #expect(back.leasesPerWindow == nil)
    }

    @Test func missingKeysTakeDefaultsAndIntegersWidenToDouble() throws {
        let json = #"{"consensus_threshold": 1, "evolver_weight": 7, "pool_fee_bps": 1000}"#
        let r = try JSONDecoder().decode(PoolRules.self, from: Data(json.utf8))
        #expect(r.consensusThreshold == 1)
        #expect(r.evolverWeight == 7.0)
        #expect(r.poolFeeBps == 1000)
        #expect(r.leasesPerWindow == 1)
        #expect(r.toleranceRatio == 0.10)
    }

    @Test func unknownEnumValueFailsDecoding() {
        let json = #"{"baseline_mode": "best_guess"}"#
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(PoolRules.self, from: Data(json.utf8))
        }
    }

    @Test func validateReportsEveryProblemWithItsKey() {
        var r = PoolRules()
        r.consensusThreshold = 0
        r.toleranceRatio = .nan
        r.poolFeeBps = 10_001
        r.perMinerCapBps = 0
        r.leasesPerWindow = 0
        r.evalBatchDefault = 100
        r.evolverWeight = -1
        do {
            try r.validate()
            Issue.record("expected validation to fail")
        } catch {
            let text = error.description
            for key in ["consensus_threshold", "tolerance_ratio", "pool_fee_bps", "per_miner_cap_bps",
                        "leases_per_window", "eval_batch_default", "evolver_weight"] {
                #expect(text.contains(key), "missing \(key) in: \(text)")
            }
            #expect(error.problems.count == 7)
        }
    }

    @Test func leaseQuotaAndIterations() {
        var r = PoolRules()
        #expect(r.allowsAnotherLease(issuedThisWindow: 0))
        #expect(!r.allowsAnotherLease(issuedThisWindow: 1))
        r.leasesPerWindow = 3
        #expect(r.allowsAnotherLease(issuedThisWindow: 2))
        #expect(!r.allowsAnotherLease(issuedThisWindow: 3))
        r.leasesPerWindow = nil
        #expect(r.allowsAnotherLease(issuedThisWindow: 1_000))
        r.minLeaseIterations = 1
        #expect(!r.acceptsIterations(0))
        #expect(r.acceptsIterations(1))
        #expect(!PoolRules().acceptsIterations(-1))
        #expect(PoolRules().leaseTimeout(issuedAt: 100) == 700)
    }
}
