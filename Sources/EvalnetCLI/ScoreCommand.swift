import ArgumentParser
import Foundation
import MinerEngine

/// `evalnet score`: scores one algorithm on a task's evaluation suite and prints the result
/// in the evaluator contract's JSON shape (`{score, metrics, logs}`), so a challenge can use
/// this build of evalnet as its evaluator.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score a DSL algorithm on a task's suite; prints {score, metrics, logs} JSON.")

    @Option(help: "Task type.") var taskType = "scalar_linear"
    @Option(help: "Tasks in the suite.") var taskCount = 8
    @Option(help: "Examples per task.") var samples = 200
    @Option(help: "Directory with real CIFAR-10 binary batches.") var cifarDir: String?
    @Argument(help: "File with the algorithm's DSL text.") var file: String

    func run() throws {
        let dsl: String
        do { dsl = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        var config = SuiteConfig(taskCount: taskCount, nSamples: samples)
        config.cifarDirectory = cifarDir
        let evaluator = try Evaluator(taskType: taskType, config: config)
        let result = evaluator.evaluate(dsl: dsl)
        var out: [String: Any] = [
            "metrics": [
                "task_type": taskType, "tasks": taskCount, "samples": samples,
                "data_source": evaluator.dataSource.description,
                "task_scores": result.taskScores.map { $0.isFinite ? $0 : -1 },
            ] as [String: Any],
            "logs": ["scored \(taskType) on \(evaluator.dataSource)"],
        ]
        if result.score.isFinite {
            out["score"] = max(0, result.score)
        } else {
            out["score"] = 0
            out["error"] = "algorithm failed: \(result.failure.map { "\($0)" } ?? "non-finite score")"
        }
        let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        if !result.score.isFinite { throw ExitCode(2) }
    }
}
