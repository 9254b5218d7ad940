import AlgorithmDSL
import Testing

@Suite struct ParserTests {
    static let specExample = """
    # meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=7 predict_max_ops=11 learn_max_ops=23
    # setup
    s3 = 0.01
    m1 = gaussian(0.0, 0.1)
    # predict
    v2 = matmul(m1, v0)
    s0 = mean(v2)
    # learn
    s2 = s1 - s0
    s4 = s2 * s3
    """

    @Test func parsesTheSpecExample() throws {
        let p = try DSLParser.parse(Self.specExample)
        #expect(p.meta == ProgramMeta(scalarCount: 5, vectorCount: 9, matrixCount: 2, vectorDim: 16,
                                      setupMaxOps: 7, predictMaxOps: 11, learnMaxOps: 23))
        #expect(p.setup == [.const(.s(3), 0.01), .gaussian(.m(1), mean: 0, std: 0.1)])
        #expect(p.predict == [.make(.matmul, .v(2), .m(1), .v(0)), .make(.mean, .s(0), .v(2))])
        #expect(p.learn == [.make(.sub, .s(2), .s(1), .s(0)), .make(.mul, .s(4), .s(2), .s(3))])
    }

    @Test func acceptsBothSyntaxesAndLegacyDecorations() throws {
        let text = """
        s0 = s1   # before any header: predict
        def Setup():
          CONST 0.5 -> s2
          GAUSSIAN 0 2 -> v1
          NoOp()
          v3[2] = -1.5e3
        def Predict():
          ADD s2, s0 -> s4
          V5 = DOT(m0, V1)
          s6 = heaviside(s4, 1.0)
          s7 = min(s4, s6)
          v4 = max(v1, s6)
        # learn
          s8 = uniform()
          m2 = outer(v1, v3)  # trailing comment
        """
        let p = try DSLParser.parse(text)
        #expect(p.setup == [.const(.s(2), 0.5), .gaussian(.v(1), mean: 0, std: 2), .constVec(.v(3), element: 2, -1500)])
        #expect(p.predict == [
            .make(.copy, .s(0), .s(1)), .make(.add, .s(4), .s(2), .s(0)), .make(.matmul, .v(5), .m(0), .v(1)),
            .make(.heaviside, .s(6), .s(4)), .make(.minimum, .s(7), .s(4), .s(6)), .make(.maximum, .v(4), .v(1), .s(6)),
        ])
        #expect(p.learn == [.uniform(.s(8), low: 0, high: 1), .make(.outer, .m(2), .v(1), .v(3))])
        // `dot(m, v)` means MATMUL, whose result is a vector.
        #expect(error("S5 = DOT(m0, V1)")?.kind == .typeMismatch)
    }

    @Test func dotOfMatrixAndVectorIsMatmul() throws {
        let p = try DSLParser.parse("v5 = dot(m0, v1)\nCONST_VEC -> v2\nUNIFORM -1 1 -> m1")
        #expect(p.predict == [.make(.matmul, .v(5), .m(0), .v(1)), .constVec(.v(2), element: 0, 0),
                              .uniform(.m(1), low: -1, high: 1)])
    }

    @Test func defaultsWithoutMeta() throws {
        let p = try DSLParser.parse("# predict\ns0 = s1 + s2")
        #expect(p.meta == ProgramMeta(scalarCount: 20, vectorCount: 10, matrixCount: 5, vectorDim: 16,
                                      setupMaxOps: 30, predictMaxOps: 30, learnMaxOps: 30))
        let aliases = try DSLParser.parse("# META: Predict_Max=3, setup_max_size=2 learn_max_instructions=1 vector_dim=4\ns0 = s1")
        #expect(aliases.meta.predictMaxOps == 3)
        #expect(aliases.meta.setupMaxOps == 2)
        #expect(aliases.meta.learnMaxOps == 1)
        #expect(aliases.meta.vectorDim == 4)
    }

    /// Parses `text` strictly and returns the error (nil when it parsed).
    func error(_ text: String) -> DSLError? {
        do {
            _ = try DSLParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func errorsCarryKindAndLineNumber() throws {
        let meta = "# meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=2 predict_max_ops=2 learn_max_ops=2\n"
        let cases: [(String, DSLError.Kind, Int?)] = [
            (meta + "# setup\ns0 = 1\ns1 = frobnicate(s0)", .unknownOp, 4),
            (meta + "s0 = s1\nFOO s1 s2 -> s3", .unknownOp, 3),
            (meta + "s0 = s1\ns0 = s25", .badRegister, 3),
            (meta + "s7 = s1 + s2", .badRegister, 2),
            (meta + "# learn\nv0 = m2 * v1", .badRegister, 3),
            (meta + "s0 = matmul(v1, v2)", .typeMismatch, 2),
            (meta + "s0 = v1 + v2", .typeMismatch, 2),
            (meta + "v1 = 0.5", .typeMismatch, 2),
            (meta + "\n\nm0 = outer(v1, s2)", .typeMismatch, 4),
            (meta + "s0 = 1e999", .nonFiniteConstant, 2),
            (meta + "# setup\ns0 = nan", .nonFiniteConstant, 3),
            (meta + "# setup\nm0 = gaussian(0.0, inf)", .nonFiniteConstant, 3),
            (meta + "v1[16] = 1.0", .badRegister, 2),
            (meta + "s0 = s1 +", .syntax, 2),
            (meta + "s0 = s1 % s2", .syntax, 2),
            (meta + "s0 = s1 + 0.5", .syntax, 2),
            (meta + "s0 = abs(s1, s2)", .syntax, 2),
            (meta + "= s1", .syntax, 2),
            (meta + "12 monkeys", .syntax, 2),
            (meta + "just words", .unknownOp, 2),
            (meta + "# predict\ns0 = s1\ns0 = s2\ns0 = s3", .oversized, 5),
            ("# meta: scalar_count=25\ns0 = s1", .badMeta, 1),
            ("s0 = s1\n# meta: vector_dim=abc", .badMeta, 2),
            ("# meta: scalar_count=4\n# meta: scalar_count=5\ns0 = s1", .badMeta, 2),
        ]
        for (text, kind, line) in cases {
            let e = error(text)
            #expect(e?.kind == kind, "\(text)")
            #expect(e?.line == line, "\(text)")
            if let e, let line {
                #expect(e.description.hasPrefix("line \(line): "))
            }
        }
    }

    @Test func sizeLimits() throws {
        let tooMany = (0..<257).map { _ in "s0 = s1 + s2" }.joined(separator: "\n")
        let e = error(tooMany)
        #expect(e?.kind == .oversized)
        #expect(e?.line == 257)
        let exactlyMax = (0..<256).map { _ in "s0 = s1 + s2" }.joined(separator: "\n")
        #expect(try DSLParser.parse(exactlyMax).predict.count == 256)

        let huge = "s0 = s1\n" + String(repeating: "# padding comment\n", count: 4000)
        #expect(huge.utf8.count > 65_536)
        #expect(error(huge)?.kind == .oversized)
    }

    @Test func lenientModeSkipsBadLinesWithWarnings() throws {
        let text = """
        # meta: scalar_count=5 vector_count=9 matrix_count=2 vector_dim=16 setup_max_ops=7 predict_max_ops=1 learn_max_ops=23
        s0 = s1
        s9 = s1
        12 wibble
        s0 = s2
        """
        let (program, warnings) = try DSLParser.parseReportingWarnings(text, strict: false)
        #expect(program.predict == [.make(.copy, .s(0), .s(1))])
        #expect(warnings.map(\.line) == [3, 4, 5])
        #expect(warnings.map(\.kind) == [.badRegister, .syntax, .oversized])
        #expect(throws: DSLError.self) { try DSLParser.parse(text, strict: true) }
    }

    @Test func validateCatchesHandBuiltMistakes() {
        var p = Program(meta: ProgramMeta(scalarCount: 3, vectorCount: 2, matrixCount: 0, vectorDim: 4))
        p.predict = [.make(.dot, .s(0), .v(0), .v(1))]
        #expect(throws: Never.self) { try p.validate() }
        p.predict = [.make(.outer, .m(0), .v(0), .v(1))]
        #expect(throws: DSLError.self) { try p.validate() }
        p.predict = [.const(.s(0), .infinity)]
        #expect(throws: DSLError.self) { try p.validate() }
        p.predict = [.make(.add, .s(0), .s(1))]
        #expect(throws: DSLError.self) { try p.validate() }
    }

    @Test func registerAddressEncoding() {
        #expect(Register.s(3).address == 3)
        #expect(Register.v(2).address == 22)
        #expect(Register.m(4).address == 34)
        #expect(Register(address: 29) == .v(9))
        #expect(Register(address: 30) == .m(0))
        #expect(Register(address: 35) == nil)
        #expect(Register(address: -1) == nil)
    }
}
