import AlgorithmDSL
import Foundation
import Testing

@Suite struct ComplianceTests {
    @Test func profilesMatchTheSpec() {
        let cifar = ComplianceProfile.for(taskType: "cifar10_binary")
        #expect([cifar.scalarCount, cifar.vectorCount, cifar.matrixCount] as [Int] == [5, 9, 2])
        #expect([cifar.setupMaxOps, cifar.predictMaxOps, cifar.learnMaxOps] as [Int] == [7, 11, 23])
        #expect(cifar.vectorDim == 16)
        #expect(cifar.setupOps == Set<Op>([.const, .gaussian, .uniform]))
        #expect(cifar.predictOps == Set<Op>([.add, .sub, .mul, .abs, .matmul, .dot, .norm, .mean, .std, .heaviside]))
        #expect(cifar.learnOps == Set<Op>([.add, .sub, .mul, .heaviside, .outer]))
        #expect(ComplianceProfile.for(taskType: "cifar10_binary", inputDim: 40).vectorDim == 40)

        let linear = ComplianceProfile.for(taskType: "scalar_linear")
        #expect([linear.scalarCount, linear.vectorCount, linear.matrixCount] as [Int] == [4, 3, 1])
        #expect([linear.setupMaxOps, linear.predictMaxOps, linear.learnMaxOps] as [Int] == [10, 2, 8])
        #expect(linear.predictOps == [.const, .add, .sub, .mul, .dot])
        #expect(ComplianceProfile.for(taskType: "scalar_linear", inputDim: 2).vectorDim == 4)
        #expect(ComplianceProfile.for(taskType: "something_else").matrixCount == 2)
    }

    @Test func normalizationWrapsDropsLowersAndTruncates() throws {
        let p = try DSLParser.parse("""
        # setup
        s7 = 0.5
        v2[3] = 1.0
        m4 = gaussian(0.0, 1.0)
        s1 = 1
        s2 = 2
        s3 = 3
        s4 = 4
        s5 = 5
        # predict
        s0 = exp(s1)
        s2 = s3
        v1 = v2
        s3 = v1
        v9 = v0 + v1
        s0 = dot(v1, v0)
        # learn
        s2 = v1
        m1 = outer(v1, v0)
        """)
        let n = normalize(p, profile: .for(taskType: "cifar10_binary"))
        #expect(n.meta == ComplianceProfile.for(taskType: "cifar10_binary").meta)
        // Zero register (s4) first, then the allowed setup ops, truncated to 7.
        #expect(n.setup == [.const(.s(4), 0), .const(.s(2), 0.5), .gaussian(.m(0), mean: 0, std: 1),
                            .const(.s(1), 1), .const(.s(2), 2), .const(.s(3), 3), .const(.s(4), 4)])
        #expect(n.predict == [.make(.add, .s(2), .s(3), .s(4)), .make(.add, .v(1), .v(2), .s(4)),
                              .make(.norm, .s(3), .v(1)), .make(.add, .v(0), .v(0), .v(1)),
                              .make(.dot, .s(0), .v(1), .v(0))])
        // NORM is not allowed in learn, so the lowered COPY is dropped.
        #expect(n.learn == [.make(.outer, .m(1), .v(1), .v(0))])
        #expect(normalize(n, profile: .for(taskType: "cifar10_binary")) == n)

        let linear = normalize(p, profile: .for(taskType: "scalar_linear"))
        #expect(linear.setup.first == .const(.s(3), 0))
        #expect(linear.predict == [.make(.add, .s(2), .s(3), .s(3)), .make(.add, .v(1), .v(2), .s(3))])
        #expect(linear.learn.isEmpty)
    }

    @Test func normalizationIsIdempotentAndAlwaysCompliant() throws {
        var generator = ProgramGenerator(seed: 99)
        for taskType in ComplianceProfile.supportedTaskTypes {
            let profile = ComplianceProfile.for(taskType: taskType)
            for _ in 0..<150 {
                let n = normalize(generator.program(), profile: profile)
                try n.validate()
                #expect(normalize(n, profile: profile) == n)
                #expect(profile.accepts(n))
                for phase in Phase.allCases {
                    #expect(n[phase].count <= profile.maxOps(phase))
                    #expect(n[phase].allSatisfy { profile.allowedOps(phase).contains($0.op) })
                }
            }
        }
    }

    @Test func poolNormalization() throws {
        let text = try normalizeForPool(dsl: ParserTests.specExample, taskType: "cifar10_binary", inputDim: 16)
        let expected = normalize(try DSLParser.parse(ParserTests.specExample), profile: .for(taskType: "cifar10_binary"))
        #expect(text == expected.render())
        // MEAN is allowed in predict, so the spec example survives unchanged.
        #expect(try DSLParser.parse(text) == DSLParser.parse(ParserTests.specExample))

        let wide = try normalizeForPool(dsl: "s0 = dot(v1, v0)", taskType: "scalar_linear", inputDim: 32)
        #expect(wide.contains("vector_dim=32"))

        func kind(_ dsl: String, _ task: String, _ dim: Int = 16) -> DSLError.Kind? {
            do {
                _ = try normalizeForPool(dsl: dsl, taskType: task, inputDim: dim)
                return nil
            } catch { return error.kind }
        }
        #expect(kind("# setup\ns0 = 1", "cifar10_binary") == .emptyProgram)
        #expect(kind("s0 = exp(s1)", "cifar10_binary") == .emptyProgram)
        #expect(kind("s0 = s1 + s2", "mnist_binary") == .unknownTaskType)
        #expect(kind("s0 = s1 + s2", "cifar10_binary", 0) == .badInputDim)
        #expect(kind("s0 = s1 +", "cifar10_binary") == .syntax)
    }

    @Test func seedAlgorithmsAreValidCompliantAndCanonical() throws {
        for taskType in ComplianceProfile.supportedTaskTypes {
            let seeds = seedAlgorithms(taskType: taskType)
            #expect(seeds.count >= 3)
            #expect(Set(seeds).count == seeds.count)
            let profile = ComplianceProfile.for(taskType: taskType)
            for dsl in seeds {
                let p = try DSLParser.parse(dsl)
                #expect(!p.predict.isEmpty)
                #expect(profile.accepts(p))
                #expect(p.render() == dsl)
                #expect(try normalizeForPool(dsl: dsl, taskType: taskType, inputDim: 16) == dsl)
            }
        }
        #expect(seedAlgorithms(taskType: "unknown").isEmpty)
    }
}

@Suite struct RandomTests {
    @Test func splitMix64KnownAnswers() {
        var rng = DeterministicRNG(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(rng.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func drawsAreInRangeAndReproducible() {
        var a = DeterministicRNG(seed: 123)
        var b = DeterministicRNG(seed: 123)
        for _ in 0..<1000 {
            let n = a.nextInt(below: 7)
            #expect(n == b.nextInt(below: 7))
            #expect((0..<7).contains(n))
            let u = a.nextDouble()
            #expect(u == b.nextDouble())
            #expect(u >= 0 && u < 1)
            #expect(a.nextGaussian().bitPattern == b.nextGaussian().bitPattern)
        }
        var values = Array(0..<50)
        a.shuffle(&values)
        #expect(values.sorted() == Array(0..<50))
        #expect(values != Array(0..<50))
    }

    @Test func detMathMatchesTheSystemLibrary() {
        var rng = DeterministicRNG(seed: 5)
        for _ in 0..<5000 {
            let x = Foundation.exp(40 * rng.nextDouble() - 20)
            let ours = DetMath.log(x), system = Foundation.log(x)
            #expect(abs(ours - system) <= 4e-16 * max(1, abs(system)))
            let t = (rng.nextDouble() - 0.5) * 200
            #expect(abs(DetMath.atan(t) - Foundation.atan(t)) <= 4e-16 * max(1, abs(Foundation.atan(t))))
        }
        #expect(DetMath.log(1) == 0)
        #expect(DetMath.log(0) == -.infinity)
        #expect(DetMath.log(-1).isNaN)
        #expect(abs(DetMath.log(Double.leastNonzeroMagnitude) - Foundation.log(Double.leastNonzeroMagnitude)) < 1e-12)
        #expect(DetMath.atan(.infinity) == .pi / 2)
        #expect(DetMath.atan(0) == 0)
    }
}
