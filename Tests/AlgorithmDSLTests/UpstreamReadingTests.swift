import AlgorithmDSL
import Testing

@Suite struct UpstreamReadingTests {
    @Test func immediateOperandLinesAreDroppedAndTheRestNormalised() throws {
        let submitted = """
            # meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=7 predict_max_ops=11 learn_max_ops=23
            # setup
            s3 = 0.01
            # predict
            s0 = dot(v0, v1)
            s2 = s0 * 0.5
            # learn
            s4 = s1 - s0
            s4 = frobnicate(s4)
            """
        let reading = try normalizeLikeUpstream(dsl: submitted, taskType: "cifar10_binary", inputDim: 16)
        #expect(reading.dropped.map(\.line) == [6, 9])
        let expected = """
            # meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=7 predict_max_ops=11 learn_max_ops=23
            # setup
            s3 = 0.01
            # predict
            s0 = dot(v0, v1)
            # learn
            s4 = s1 - s0
            """
        #expect(reading.dsl == (try normalizeForPool(dsl: expected, taskType: "cifar10_binary", inputDim: 16)))
        // The strict reading still refuses the submitted text.
        #expect(throws: DSLError.self) { try normalizeForPool(dsl: submitted, taskType: "cifar10_binary", inputDim: 16) }
        // Normalised text reads back unchanged, strictly.
        #expect(try normalizeLikeUpstream(dsl: reading.dsl, taskType: "cifar10_binary", inputDim: 16).dsl == reading.dsl)
        #expect(try DSLParser.parse(reading.dsl, strict: true).render() == reading.dsl)
    }

    @Test func registersBeyondTheDeclaredCountsWrapLikeTheUpstreamCompatLayer() throws {
        let submitted = """
            # meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=7 predict_max_ops=1 learn_max_ops=23
            # predict
            s0 = dot(v0, v1)
            s7 = s0 + s1
            s0 = s25 + s1
            """
        // Strictly, s7 is beyond scalar_count=5 and predict has more than 1 instruction.
        #expect(throws: DSLError.self) { try normalizeForPool(dsl: submitted, taskType: "cifar10_binary", inputDim: 16) }
        let reading = try normalizeLikeUpstream(dsl: submitted, taskType: "cifar10_binary", inputDim: 16)
        // s25 is outside the address space: that line alone is dropped; s7 wraps to s2.
        #expect(reading.dropped.map(\.line) == [5])
        let program = try DSLParser.parse(reading.dsl, strict: true)
        #expect(program.predict == [.make(.dot, .s(0), .v(0), .v(1)), .make(.add, .s(2), .s(0), .s(1))])
    }

    @Test func aProgramWithoutPredictIsKept() throws {
        let reading = try normalizeLikeUpstream(dsl: "# setup\ns2 = 0.5\n# learn\ns3 = s1 - s0", taskType: "scalar_linear", inputDim: 4)
        #expect(reading.dropped.isEmpty && reading.instructionCount == 2)
        let program = try DSLParser.parse(reading.dsl, strict: true)
        #expect(program.predict.isEmpty && program.setup.count == 1 && program.learn.count == 1)
    }

    @Test func nothingLeftToRunIsRefused() throws {
        for text in ["", "# predict\ns0 = s1 * 0.5", "# setup\nfoo bar\n# learn\ns0 = frobnicate(v0)", "# only comments"] {
            do {
                _ = try normalizeLikeUpstream(dsl: text, taskType: "scalar_linear", inputDim: 4)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.kind == .emptyProgram, "\(text): \(error)")
            }
        }
        // Everything the profile disallows is normalised away, which also leaves nothing.
        #expect(throws: DSLError.self) {
            try normalizeLikeUpstream(dsl: "# predict\ns0 = sin(s1)", taskType: "scalar_linear", inputDim: 4)
        }
        #expect(throws: DSLError.self) {
            try normalizeLikeUpstream(dsl: "# predict\ns0 = dot(v0, v1)", taskType: "nope", inputDim: 4)
        }
    }
}
