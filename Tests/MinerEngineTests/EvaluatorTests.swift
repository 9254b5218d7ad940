import AlgorithmDSL
import Foundation
import Testing

@testable import MinerEngine

func seed(_ taskType: String, _ name: String) -> String {
    namedSeedAlgorithms(taskType: taskType).first { $0.name == name }?.dsl ?? ""
}

@Suite struct EvaluatorTests {
    @Test func scoresAreBitForBitDeterministicAcrossInstances() throws {
        for taskType in ["scalar_linear", "cifar10_binary"] {
            let a = try Evaluator(taskType: taskType)
            let b = try Evaluator(taskType: taskType)
            #expect(a.suite.tasks == b.suite.tasks)
            for dsl in seedAlgorithms(taskType: taskType) {
                let ra = a.evaluate(dsl: dsl)
                let rb = b.evaluate(dsl: dsl)
                #expect(ra.score.isFinite)
                #expect(ra.score.bitPattern == rb.score.bitPattern)
                #expect(ra.taskScores.map(\.bitPattern) == rb.taskScores.map(\.bitPattern))
                // Re-scoring with the same instance gives the same value too.
                #expect(a.score(dsl: dsl).bitPattern == ra.score.bitPattern)
            }
        }
    }

    @Test func defaultSuiteShape() throws {
        let e = try Evaluator(taskType: "cifar10_binary")
        #expect(e.suite.tasks.count == 8)
        #expect(Set(e.suite.tasks.map(\.taskID)).count == 8)
        #expect(e.dataSource == .synthetic(seed: 40926))
        for task in e.suite.tasks {
            #expect(task.trainCount == 100)
            #expect(task.validCount == 100)
            #expect(task.trainX.count == 100 * 16)
        }
        let other = try Evaluator(taskType: "cifar10_binary", config: SuiteConfig(seed: 7))
        #expect(other.suite.tasks.map(\.taskID) != e.suite.tasks.map(\.taskID))
    }

    @Test func zeroPredictorMatchesTheScoringFormula() throws {
        let e = try Evaluator(taskType: "scalar_linear")
        let result = e.evaluate(dsl: seed("scalar_linear", "zero_baseline"))
        // Predicting 0 gives RMSE = rms(y) on each task's validation rows.
        let expected = e.suite.tasks.map { task -> Double in
            let rmse = (task.validY.map { $0 * $0 }.reduce(0, +) / Double(task.validCount)).squareRoot()
            return 1 - 2 / Double.pi * Foundation.atan(rmse)
        }
        #expect(result.taskScores.count == expected.count)
        for (got, want) in zip(result.taskScores, expected) {
            #expect(abs(got - want) < 1e-12)
        }
        let sorted = expected.sorted()
        #expect(abs(result.score - (sorted[3] + sorted[4]) / 2) < 1e-12)
    }

    @Test func learnersBeatBaselines() throws {
        let linear = try Evaluator(taskType: "scalar_linear")
        let zero = linear.score(dsl: seed("scalar_linear", "zero_baseline"))
        #expect(linear.score(dsl: seed("scalar_linear", "lms_sgd")) > zero + 0.5)
        #expect(linear.score(dsl: seed("scalar_linear", "hebbian_correlation")) > zero + 0.1)

        let cifar = try Evaluator(taskType: "cifar10_binary")
        let lms = cifar.score(dsl: seed("cifar10_binary", "lms_with_bias"))
        let random = cifar.score(dsl: seed("cifar10_binary", "random_projection_threshold"))
        #expect(lms > 0.65)
        #expect(lms > random + 0.1)
        #expect((0.3...0.7).contains(random))
    }

    @Test func failuresScoreNegativeInfinity() throws {
        let e = try Evaluator(taskType: "scalar_linear")
        let unparseable = e.evaluate(dsl: "s0 = s1 +")
        #expect(unparseable.score == -.infinity)
        #expect(unparseable.failure?.contains("line 1") == true)
        let overflow = e.evaluate(dsl: "# setup\ns2 = 1e300\n# predict\ns0 = s2 * s2")
        #expect(overflow.score == -.infinity)
        #expect(overflow.failure?.contains("non-finite") == true)
        // Overflow inside learn only shows up in a later prediction: still caught.
        let diverging = e.score(dsl: "# setup\ns2 = 1e200\n# predict\ns0 = dot(v1, v0)\n# learn\nv1 = s2 * v0\ns3 = s2 * s2")
        #expect(diverging == -.infinity)
        #expect(e.score(dsl: "# setup\ns2 = 1.0") == -.infinity)
        // Ops the profile drops leave nothing to predict with.
        #expect(e.score(dsl: "s0 = exp(s1)") == -.infinity)
    }

    @Test func scoringNormalisesFirst() throws {
        let e = try Evaluator(taskType: "scalar_linear")
        // Out-of-profile registers wrap (s6 → s2, v5 → v2); the result equals the normalised program's score.
        let raw = "# setup\ns6 = 0.05\n# predict\ns0 = dot(v4, v0)\n# learn\ns3 = s1 - s0\ns3 = s3 * s6\nv5 = s3 * v0\nv4 = v4 + v5"
        let normalised = try normalizeForPool(dsl: raw, taskType: "scalar_linear", inputDim: 16)
        #expect(e.score(dsl: raw) == e.score(dsl: normalised))
        #expect(e.score(dsl: raw) == e.score(dsl: seed("scalar_linear", "lms_sgd")))
    }

    @Test func medianOfScores() {
        #expect(Evaluator.median([3, 1, 2]) == 2)
        #expect(Evaluator.median([4, 1, 3, 2]) == 2.5)
        #expect(Evaluator.median([-.infinity, 0.5]) == -.infinity)
        #expect(Evaluator.median([]) == -.infinity)
    }

    @Test func rejectsBadConfigs() {
        #expect(throws: EngineError.unknownTaskType("mnist_binary")) { try Evaluator(taskType: "mnist_binary") }
        #expect(throws: EngineError.self) { try Evaluator(taskType: "scalar_linear", config: SuiteConfig(taskCount: 0)) }
        #expect(throws: EngineError.self) { try Evaluator(taskType: "scalar_linear", config: SuiteConfig(nSamples: 2)) }
        #expect(throws: EngineError.self) { try Evaluator(taskType: "cifar10_binary", config: SuiteConfig(taskCount: 4501)) }
    }
}
