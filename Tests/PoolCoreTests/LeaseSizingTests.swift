import Testing
@testable import PoolCore

@Suite struct LeaseSizingTests {
    let rules = PoolRules()

    @Test func defaultsWhenOmitted() throws {
        let sizes = try LeaseRequestValidation.validate(evalBatchSize: nil, seedBatchSize: nil, gossipLimit: nil,
                                                        rules: rules)
        #expect(sizes == LeaseSizes(evalBatchSize: 8, seedBatchSize: 2, gossipLimit: 0))
    }

    @Test(arguments: [0, 1, 2, 3])
    func smallBatchesAreClampedUpToTwo(requested: Int) throws {
        let sizes = try LeaseRequestValidation.validate(evalBatchSize: requested, seedBatchSize: requested,
                                                        gossipLimit: 0, rules: rules)
        #expect(sizes.evalBatchSize == max(2, requested))
        #expect(sizes.seedBatchSize == max(2, requested))
    }

    @Test func capsAreInclusive() throws {
        let sizes = try LeaseRequestValidation.validate(evalBatchSize: 64, seedBatchSize: 32, gossipLimit: 50,
                                                        rules: rules)
        #expect(sizes == LeaseSizes(evalBatchSize: 64, seedBatchSize: 32, gossipLimit: 50))
    }

    @Test func outOfRangeValuesAreRefusedWithTypedErrors() {
        let cases: [(Int?, Int?, Int?, LeaseRequestError)] = [
            (65, nil, nil, .evalBatchSizeTooLarge(requested: 65, max: 64)),
            (-1, nil, nil, .evalBatchSizeNegative(-1)),
            (nil, 33, nil, .seedBatchSizeTooLarge(requested: 33, max: 32)),
            (nil, -4, nil, .seedBatchSizeNegative(-4)),
            (nil, nil, 51, .gossipLimitOutOfRange(requested: 51, max: 50)),
            (nil, nil, -1, .gossipLimitOutOfRange(requested: -1, max: 50)),
        ]
        for (eval, seed, gossip, expected) in cases {
            let result = LeaseRequestValidation.result(evalBatchSize: eval, seedBatchSize: seed,
                                                       gossipLimit: gossip, rules: rules)
            #expect(result == .failure(expected))
        }
    }

    @Test func messagesNameTheFieldAndLimit() {
        #expect(LeaseRequestError.evalBatchSizeTooLarge(requested: 65, max: 64).message
            == "eval_batch_size must be <= 64 (got 65)")
        #expect(LeaseRequestError.gossipLimitOutOfRange(requested: 99, max: 50).message.contains("0...50"))
        #expect(LeaseRequestError.seedBatchSizeNegative(-1).code == "INVALID_SEED_BATCH_SIZE")
    }
}
