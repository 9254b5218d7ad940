import AlgorithmDSL
import Foundation
import Testing

@Suite struct InterpreterTests {
    func interpreter(_ text: String, inputDim: Int, vectorDim: Int? = nil) throws -> Interpreter {
        let dim = vectorDim ?? inputDim
        let meta = "# meta: scalar_count=10 vector_count=6 matrix_count=3 vector_dim=\(dim) setup_max_ops=20 predict_max_ops=20 learn_max_ops=20\n"
        var interpreter = try Interpreter(program: try DSLParser.parse(meta + text), inputDim: inputDim)
        interpreter.reset()
        interpreter.runSetup(rng: DeterministicRNG(seed: 7))
        return interpreter
    }

    @Test func dotAndProtectedDivision() throws {
        var i = try interpreter("""
        # setup
        s3 = 2
        # predict
        s2 = dot(v0, v0)
        s0 = s2 / s3
        s4 = s2 / s5
        """, inputDim: 3)
        let p = i.predict(x: [1, 2, 3])
        #expect(p == 14.0 / (2.0 + 1e-8))
        #expect(i.scalar(4) == 14.0 / 1e-8)  // s5 is 0: divisor becomes 1e-8
    }

    @Test func matrixOps() throws {
        // m0 = outer([1, 2], [3, -1]) = [[3, -1], [6, -2]]; matmul(m0, [1, 1]) = [2, 4].
        var i = try interpreter("""
        # setup
        v1[0] = 1
        v1[1] = 2
        v2[0] = 3
        v2[1] = -1
        m0 = outer(v1, v2)
        # predict
        v3 = matmul(m0, v0)
        s0 = dot(v3, v3)
        s2 = norm(m0)
        s3 = mean(v3)
        s4 = std(v3)
        s5 = mean(m0)
        s6 = v3
        v0 = matmul(m0, v0)
        """, inputDim: 2)
        #expect(i.matrix(0) == [3, -1, 6, -2])
        #expect(i.predict(x: [1, 1]) == 20)
        #expect(i.vector(3) == [2, 4])
        #expect(i.scalar(2) == 50.0.squareRoot())
        #expect(i.scalar(3) == 3)
        #expect(i.scalar(4) == 1)
        #expect(i.scalar(5) == 1.5)
        #expect(i.scalar(6) == 20.0.squareRoot())  // COPY scalar <- vector is its norm
        #expect(i.vector(0) == [2, 4])  // in-place matmul reads the old v0
    }

    @Test func elementwiseFunctions() throws {
        var i = try interpreter("""
        # setup
        s1 = 50
        s2 = -2
        s3 = 0.5
        # predict
        s4 = exp(s1)
        s5 = log(s2)
        s6 = abs(s2)
        s7 = heaviside(s3)
        s8 = heaviside(s9)
        s0 = exp(s2)
        v1 = sin(v0)
        v2 = cos(v0)
        v3 = tan(v0)
        v4 = heaviside(v0)
        v5 = log(v0)
        """, inputDim: 3)
        let p = i.predict(x: [0, -1, 2])
        #expect(i.scalar(4) == Foundation.exp(10.0))  // input clipped to 10
        #expect(i.scalar(5) == Foundation.log(2.0 + 1e-8))
        #expect(i.scalar(6) == 2)
        #expect(i.scalar(7) == 1)
        #expect(i.scalar(8) == 0)  // heaviside(0) = 0
        #expect(p == Foundation.exp(-2.0))
        #expect(i.vector(1) == [0, Foundation.sin(-1.0), Foundation.sin(2.0)])
        #expect(i.vector(2) == [1, Foundation.cos(-1.0), Foundation.cos(2.0)])
        #expect(i.vector(3) == [0, Foundation.tan(-1.0), Foundation.tan(2.0)])
        #expect(i.vector(4) == [0, 0, 1])
        #expect(i.vector(5) == [Foundation.log(1e-8), Foundation.log(1 + 1e-8), Foundation.log(2 + 1e-8)])
    }

    @Test func broadcasting() throws {
        var i = try interpreter("""
        # setup
        s2 = 10
        v1[0] = 1
        v1[1] = 2
        m1 = outer(v1, v1)
        # predict
        v2 = v0 + s2
        v3 = s2 - v0
        m0 = m1 * v0
        m2 = v0 - m1
        v4 = minimum(v0, s2)
        v5 = maximum(s2, v0)
        s0 = s2 * s2
        """, inputDim: 2)
        #expect(i.matrix(1) == [1, 2, 2, 4])
        _ = i.predict(x: [3, 20])
        #expect(i.vector(2) == [13, 30])
        #expect(i.vector(3) == [7, -10])
        #expect(i.matrix(0) == [3, 40, 6, 80])  // row r, column c: m1[r][c] * v0[c]
        #expect(i.matrix(2) == [2, 18, 1, 16])  // v0[c] - m1[r][c]
        #expect(i.vector(4) == [3, 10])
        #expect(i.vector(5) == [10, 20])
    }

    @Test func learningPersistsAndLabelIsHiddenFromPredict() throws {
        // LMS with learning rate 0.5 on a 2-d input, worked by hand.
        var i = try interpreter("""
        # setup
        s2 = 0.5
        # predict
        s0 = dot(v1, v0)
        s5 = s1 + s9
        # learn
        s3 = s1 - s0
        s3 = s3 * s2
        v2 = s3 * v0
        v1 = v1 + v2
        """, inputDim: 2)
        // Predict sees 0 (weights zero); y=3 → error 3, step 1.5 → w = [1.5, 3].
        #expect(i.train(x: [1, 2], y: 3) == 0)
        #expect(i.scalar(5) == 0)  // s1 was still 0 during predict
        #expect(i.vector(1) == [1.5, 3])
        #expect(i.predict(x: [1, 1]) == 4.5)
        #expect(i.scalar(5) == 3)  // label persists in s1 after learn
        // learn(x:y:) loads x and y, runs learn only: s0 still 4.5 from the last predict.
        i.learn(x: [2, 0], y: 5.5)
        // error 1, step 0.5, v2 = [1, 0]
        #expect(i.vector(1) == [2.5, 3])
        i.reset()
        #expect(i.vector(1) == [0, 0])
        #expect(i.scalar(2) == 0)
    }

    @Test func vectorDimIsRaisedToInputDim() throws {
        var i = try interpreter("# predict\ns0 = dot(v0, v0)", inputDim: 5, vectorDim: 2)
        #expect(i.vectorDim == 5)
        #expect(i.predict(x: [1, 1, 1, 1, 2]) == 8)
    }

    @Test func randomOpsAreSeededAndDeterministic() throws {
        let text = """
        # setup
        m0 = gaussian(1.0, 2.0)
        v1 = uniform(-3.0, -1.0)
        # predict
        s0 = mean(m0)
        """
        let a = try interpreter(text, inputDim: 16)
        let b = try interpreter(text, inputDim: 16)
        #expect(a.matrix(0) == b.matrix(0))
        #expect(a.vector(1) == b.vector(1))
        var c = try interpreter(text, inputDim: 16)
        c.reset()
        c.runSetup(rng: DeterministicRNG(seed: 8))
        #expect(c.matrix(0) != a.matrix(0))
        #expect(a.vector(1).allSatisfy { $0 >= -3 && $0 < -1 })
        let m = a.matrix(0)
        let mean = m.reduce(0, +) / Double(m.count)
        let variance = m.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m.count)
        #expect(abs(mean - 1) < 0.3)
        #expect(abs(variance.squareRoot() - 2) < 0.3)
    }

    @Test func nonFinitePredictionIsReported() throws {
        var i = try interpreter("# setup\ns2 = 1e300\n# predict\ns0 = s2 * s2", inputDim: 1)
        #expect(!i.predict(x: [0]).isFinite)
    }

    @Test func rejectsInvalidProgramsAndDimensions() throws {
        let bad = Program(predict: [.make(.dot, .s(0), .v(0), .m(0))])
        #expect(throws: DSLError.self) { try Interpreter(program: bad, inputDim: 4) }
        #expect(throws: DSLError.self) { try Interpreter(program: Program(), inputDim: 0) }
        #expect(throws: DSLError.self) { try Interpreter(program: Program(), inputDim: DSLLimits.maxVectorDim + 1) }
    }
}
