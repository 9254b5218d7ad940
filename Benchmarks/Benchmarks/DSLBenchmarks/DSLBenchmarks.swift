// Micro-benchmarks of the AlgorithmDSL parser/interpreter and the MinerEngine evaluator on
// the scalar_linear suite (synthetic, deterministic data).

import AlgorithmDSL
import Benchmark
import MinerEngine

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // cpuTotal is left out: its 10 ms resolution says nothing about microsecond operations.
        // instructions needs perf_events, which some machines refuse (then it is not printed).
        metrics: [.wallClock, .throughput, .mallocCountTotal, .mallocBytesCount, .instructions],
        maxDuration: .seconds(2),
        maxIterations: 100_000,
        thresholds: [
            .wallClock: .init(relative: BenchmarkThresholds.Relative.relaxed),
            .throughput: .init(relative: BenchmarkThresholds.Relative.relaxed),
            .instructions: .init(relative: BenchmarkThresholds.Relative.default),
            .mallocCountTotal: .init(absolute: BenchmarkThresholds.Absolute.strict),
        ]
    )

    let taskType = "scalar_linear"
    let seeds = namedSeedAlgorithms(taskType: taskType)
    guard let lms = seeds.first(where: { $0.name == "lms_sgd" })?.dsl else {
        fatalError("scalar_linear has no lms_sgd seed")
    }
    let program: Program
    let evaluator: Evaluator
    do {
        program = try DSLParser.parse(lms)
        evaluator = try Evaluator(taskType: taskType)
    } catch {
        fatalError("cannot set up the scalar_linear fixtures: \(error)")
    }
    guard let task = evaluator.suite.tasks.first else { fatalError("scalar_linear suite has no task") }
    let inputDim = evaluator.config.inputDim
    precondition(evaluator.score(program: program).isFinite, "lms_sgd must score on scalar_linear")

    // Nothing but the measurement itself: what the harness adds to every row (its own
    // allocations included), to subtract from the rows below.
    Benchmark("Measurement overhead (empty)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(0)
        }
    }

    Benchmark("DSL parse (lms_sgd)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? DSLParser.parse(lms))
        }
    }

    Benchmark("DSL parse (all \(seeds.count) scalar_linear seeds)") { benchmark in
        for _ in benchmark.scaledIterations {
            for seed in seeds { blackHole(try? DSLParser.parse(seed.dsl)) }
        }
    }

    Benchmark("DSL render (lms_sgd)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(program.render())
        }
    }

    // The interpreter alone: one pass of train steps (predict + learn) over one task's rows.
    Benchmark("Interpreter train pass (lms_sgd, \(task.trainCount) rows)") { benchmark in
        guard var interpreter = try? Interpreter(program: program, inputDim: inputDim) else {
            benchmark.error("lms_sgd does not compile")
            return
        }
        interpreter.runSetup(rng: DeterministicRNG(seed: 1))
        benchmark.startMeasurement()
        task.trainX.withUnsafeBufferPointer { xs in
            for _ in benchmark.scaledIterations {
                var sum = 0.0
                for i in 0..<task.trainCount {
                    let row = UnsafeBufferPointer(rebasing: xs[(i * inputDim)..<((i + 1) * inputDim)])
                    sum += interpreter.train(x: row, y: task.trainY[i])
                }
                blackHole(sum)
            }
        }
    }

    // What a miner or the pool pays per candidate: normalise, compile, train and score on
    // every task of the suite.
    Benchmark("Evaluator.evaluate program (lms_sgd, scalar_linear suite)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(evaluator.evaluate(program: program).score)
        }
    }

    Benchmark("Evaluator.score DSL text (lms_sgd, scalar_linear suite)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(evaluator.score(dsl: lms))
        }
    }

    Benchmark("Evaluator build (scalar_linear suite)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? Evaluator(taskType: taskType))
        }
    }
}
