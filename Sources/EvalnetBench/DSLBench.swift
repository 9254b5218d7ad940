// DSL interpreter / evaluator / evolver throughput (cifar10_binary on synthetic data).
// Guarded so this file compiles before the EvalnetBench target depends on the two modules.

import AlgorithmDSL
import Foundation
import MinerEngine

private func dslSeconds(_ body: () -> Void) -> Double {
    ContinuousClock().measure(body).inSeconds
}

private func dslReport(_ name: String, _ value: Double) {
    print("\(name) \(String(format: "%.3e", value))")
}

func runDSLBenchmarks() {
    let config = SuiteConfig()
    var cifar: Evaluator?
    let buildTime = dslSeconds { cifar = try? Evaluator(taskType: "cifar10_binary", config: config) }
    guard let evaluator = cifar, let task = evaluator.suite.tasks.first else {
        print("dsl.error cannot build the cifar10_binary suite")
        return
    }
    dslReport("dsl.cifar10_binary.suite_build_seconds", buildTime)
    print("dsl.cifar10_binary.data_source \(evaluator.dataSource)")

    // Raw interpreter speed: train steps (predict + learn) of every cifar seed over one task's rows.
    var instructions = 0
    var steps = 0
    var sink = 0.0
    var interpreters: [Interpreter] = []
    for dsl in seedAlgorithms(taskType: "cifar10_binary") {
        if let program = try? DSLParser.parse(dsl), let interpreter = try? Interpreter(program: program, inputDim: 16) {
            interpreters.append(interpreter)
        }
    }
    let rounds = 400
    let interpretTime = dslSeconds {
        task.trainX.withUnsafeBufferPointer { xs in
            for index in interpreters.indices {
                var interpreter = interpreters[index]
                interpreter.reset()
                interpreter.runSetup(rng: DeterministicRNG(seed: 1))
                let perStep = interpreter.predictLength + interpreter.learnLength
                for _ in 0..<rounds {
                    for i in 0..<task.trainCount {
                        let row = UnsafeBufferPointer(rebasing: xs[(i * 16)..<((i + 1) * 16)])
                        sink += interpreter.train(x: row, y: task.trainY[i])
                    }
                }
                steps += rounds * task.trainCount
                instructions += rounds * task.trainCount * perStep
            }
        }
    }
    dslReport("dsl.instructions_per_second", Double(instructions) / interpretTime)
    dslReport("dsl.train_steps_per_second", Double(steps) / interpretTime)

    // Dispatch-bound rate: a predict phase of eight scalar instructions.
    let scalarText = """
    # meta: scalar_count=8 vector_count=1 matrix_count=0 vector_dim=16 setup_max_ops=1 predict_max_ops=8 learn_max_ops=0
    # setup
    s2 = 0.5
    # predict
    s3 = s2 * s2
    s4 = s3 + s2
    s5 = s4 - s3
    s6 = s5 * s2
    s7 = s6 + s5
    s0 = s7 * s2
    s3 = s0 - s2
    s4 = s3 * s3
    """
    if let program = try? DSLParser.parse(scalarText), var interpreter = try? Interpreter(program: program, inputDim: 16) {
        interpreter.runSetup(rng: DeterministicRNG(seed: 1))
        let calls = 1_000_000
        let time = task.trainX.withUnsafeBufferPointer { xs in
            let row = UnsafeBufferPointer(rebasing: xs[0..<16])
            return dslSeconds { for _ in 0..<calls { sink += interpreter.predict(x: row) } }
        }
        dslReport("dsl.scalar_instructions_per_second", Double(calls * interpreter.predictLength) / time)
    }

    // Full suite evaluations (parse + normalise + 8 tasks × 200 samples).
    let seeds = seedAlgorithms(taskType: "cifar10_binary")
    var evaluations = 0
    let evalTime = dslSeconds {
        for _ in 0..<50 {
            for dsl in seeds {
                sink += evaluator.score(dsl: dsl)
                evaluations += 1
            }
        }
    }
    dslReport("dsl.cifar10_binary.evaluations_per_second", Double(evaluations) / evalTime)

    if let linear = try? Evaluator(taskType: "scalar_linear", config: config) {
        let linearSeeds = seedAlgorithms(taskType: "scalar_linear")
        var count = 0
        let time = dslSeconds {
            for _ in 0..<100 {
                for dsl in linearSeeds {
                    sink += linear.score(dsl: dsl)
                    count += 1
                }
            }
        }
        dslReport("dsl.scalar_linear.evaluations_per_second", Double(count) / time)
    }

    // Evolution generations (each is a mutation plus, unless cached, one suite evaluation).
    if var evolver = try? Evolver(taskType: "cifar10_binary", evaluator: evaluator, seed: 7,
                                  populationSize: 16, tournamentSize: 4, seedDSLs: seeds) {
        var result: EvolutionResult?
        let time = dslSeconds { result = evolver.run(generations: 300) }
        if let result {
            dslReport("dsl.cifar10_binary.generations_per_second", Double(result.generations) / time)
            print("dsl.cifar10_binary.evolved_best_score \(result.bestScore) after \(result.generations) generations")
        }
    }

    // Parse + render round trips.
    var parsed = 0
    let parseTime = dslSeconds {
        for _ in 0..<2000 {
            for dsl in seeds {
                if let program = try? DSLParser.parse(dsl) { sink += Double(program.render().utf8.count) }
                parsed += 1
            }
        }
    }
    dslReport("dsl.parse_render_per_second", Double(parsed) / parseTime)
    if sink.isNaN { print("dsl.sink \(sink)") }
}
