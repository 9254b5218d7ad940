import AlgorithmDSL
import Testing

@Suite struct RoundTripTests {
    @Test func renderThenParseIsIdentityOnRandomPrograms() throws {
        var generator = ProgramGenerator(seed: 0x5EED)
        for _ in 0..<600 {
            let program = generator.program()
            try program.validate()
            let text = program.render()
            let parsed = try DSLParser.parse(text)
            #expect(parsed == program)
            #expect(parsed.render() == text)
            // Bit-exact constants (== would also accept 0.0 for -0.0).
            for phase in Phase.allCases {
                for (a, b) in zip(parsed[phase], program[phase]) {
                    #expect(a.constants.map(\.bitPattern) == b.constants.map(\.bitPattern))
                }
            }
        }
    }

    @Test func arrowFormParsesToTheSameProgram() throws {
        var generator = ProgramGenerator(seed: 42)
        for _ in 0..<200 {
            let program = generator.program(maxPerPhase: 12)
            var lines = [program.render().split(separator: "\n")[0].description]
            for phase in Phase.allCases {
                lines.append("# \(phase):")
                lines.append(contentsOf: program[phase].map(arrowLine))
            }
            #expect(try DSLParser.parse(lines.joined(separator: "\n")) == program)
        }
    }

    @Test func canonicalTextShape() throws {
        let program = Program(
            meta: ProgramMeta(scalarCount: 5, vectorCount: 9, matrixCount: 2, vectorDim: 16,
                              setupMaxOps: 7, predictMaxOps: 11, learnMaxOps: 23),
            setup: [.const(.s(3), 0.01), .gaussian(.m(1), mean: 0, std: 0.1)],
            predict: [.make(.matmul, .v(2), .m(1), .v(0)), .make(.mean, .s(0), .v(2))],
            learn: [.make(.sub, .s(2), .s(1), .s(0)), .constVec(.v(3), element: 4, -1e-08)])
        #expect(program.render() == """
        # meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=7 predict_max_ops=11 learn_max_ops=23
        # setup
        s3 = 0.01
        m1 = gaussian(0.0, 0.1)
        # predict
        v2 = matmul(m1, v0)
        s0 = mean(v2)
        # learn
        s2 = s1 - s0
        v3[4] = -1e-08
        """)
    }

    @Test func emptyProgramStillEmitsMetaAndHeaders() throws {
        let text = Program().render()
        #expect(text.hasPrefix("# meta: scalar_count=20 vector_count=10 matrix_count=5 vector_dim=16"))
        #expect(try DSLParser.parse(text) == Program())
    }
}
