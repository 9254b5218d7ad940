import AlgorithmDSL
import Foundation
import Testing

@testable import MinerEngine

/// A temporary directory removed when the value is released.
final class TempDir {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cifar-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: (path as NSString).appendingPathComponent(name)))
    }
}

/// CIFAR-10 binary records: label byte + 3072 pixel bytes; pixel f of record r is (r·7 + f + 40·label) mod 256.
func cifarRecords(labels: [UInt8], firstRecord: Int = 0) -> [UInt8] {
    var bytes: [UInt8] = []
    for (i, label) in labels.enumerated() {
        let r = firstRecord + i
        bytes.append(label)
        for f in 0..<3072 { bytes.append(UInt8((r * 7 + f + 40 * Int(label)) % 256)) }
    }
    return bytes
}

@Suite struct DatasetTests {
    @Test func cifarLoaderReadsBinaryBatches() throws {
        let dir = try TempDir()
        // Batch 1 holds classes 0–4 only, batch 2 classes 5–9: loading must continue into batch 2.
        let first = (0..<30).map { UInt8($0 % 5) }
        let second = (0..<30).map { UInt8(5 + $0 % 5) }
        try dir.write("data_batch_1.bin", cifarRecords(labels: first))
        try dir.write("data_batch_2.bin", cifarRecords(labels: second, firstRecord: 30))
        let set = try #require(try CIFARLoader.load(directory: dir.path, minimumPerClass: 2))
        // Stops at the first record where every class has two rows: all of batch 1, 10 of batch 2.
        #expect(set.count == 40)
        #expect(set.rawDim == 3072)
        #expect(set.labels == first + second.prefix(10))
        #expect(set.classCounts == [6, 6, 6, 6, 6, 2, 2, 2, 2, 2])
        #expect(set.feature(row: 0, col: 5) == 5.0 / 255)
        #expect(set.feature(row: 31, col: 0) == Double((31 * 7 + 40 * 6) % 256) / 255)
        #expect(set.feature(row: 3, col: 3071) == Double((3 * 7 + 3071 + 40 * 3) % 256) / 255)
    }

    @Test func cifarLoaderRejectsMalformedFilesAndReportsAbsence() throws {
        let missing = try TempDir()
        #expect(try CIFARLoader.load(directory: missing.path, minimumPerClass: 1) == nil)
        let truncated = try TempDir()
        try truncated.write("data_batch_1.bin", Array(cifarRecords(labels: [1, 2]).dropLast()))
        #expect(throws: EngineError.self) { try CIFARLoader.load(directory: truncated.path, minimumPerClass: 1) }
        let badLabel = try TempDir()
        try badLabel.write("data_batch_1.bin", cifarRecords(labels: [1, 12]))
        #expect(throws: EngineError.self) { try CIFARLoader.load(directory: badLabel.path, minimumPerClass: 5) }
    }

    @Test func evaluatorUsesRealDataWhenPresent() throws {
        let dir = try TempDir()
        var labels: [UInt8] = []
        for i in 0..<200 { labels.append(UInt8(i % 10)) }
        try dir.write("data_batch_1.bin", cifarRecords(labels: labels))
        let config = SuiteConfig(taskCount: 4, nSamples: 20, cifarDirectory: dir.path)
        let real = try Evaluator(taskType: "cifar10_binary", config: config)
        #expect(real.dataSource == .real(path: dir.path))
        for task in real.suite.tasks {
            #expect(task.trainCount == 10)
            #expect(task.validCount == 10)
            #expect(Set(task.trainY + task.validY).isSubset(of: [0, 1]))
        }
        let again = try Evaluator(taskType: "cifar10_binary", config: config)
        for dsl in seedAlgorithms(taskType: "cifar10_binary") {
            let score = real.score(dsl: dsl)
            #expect((0...1).contains(score))
            #expect(score.bitPattern == again.score(dsl: dsl).bitPattern)
        }
        // A configured directory without batches falls back to the synthetic set.
        let empty = try TempDir()
        let fallback = try Evaluator(taskType: "cifar10_binary",
                                     config: SuiteConfig(taskCount: 2, nSamples: 20, cifarDirectory: empty.path))
        #expect(fallback.dataSource == .synthetic(seed: 40926))
    }

    @Test func cifarTaskPipeline() throws {
        let raw = SyntheticImages.make(seed: 3, rawDim: 64, rowsPerClass: 50, separation: 0.25)
        #expect(raw.classCounts == [Int](repeating: 50, count: 10))
        let config = SuiteConfig(nSamples: 60)
        let task = try Cifar10BinaryTasks.buildTask(id: 1234, raw: raw, config: config, suiteSeed: 99)
        // id 1234 → pair index 12 → (1, 5) in (i < j) lexicographic order.
        #expect(Cifar10BinaryTasks.pairs[12].0 == 1 && Cifar10BinaryTasks.pairs[12].1 == 5)
        #expect(Cifar10BinaryTasks.pairs.count == 45)
        #expect(task.label == "pair 1v5 id=1234")
        #expect(task.trainCount == 30)
        #expect(task.validCount == 30)
        // Labels: 1 for the higher class; the first 60 pair rows are selected.
        let pairRows = raw.labels.filter { $0 == 1 || $0 == 5 }.prefix(60)
        #expect((task.trainY + task.validY).filter { $0 == 1 }.count == pairRows.filter { $0 == 5 }.count)
        // Each projected column is standardised over all 60 rows.
        let all = task.trainX + task.validX
        for k in 0..<16 {
            let column = stride(from: k, to: all.count, by: 16).map { all[$0] }
            let mean = column.reduce(0, +) / 60
            let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 60
            #expect(abs(mean) < 1e-9)
            #expect(abs(variance.squareRoot() - 1) < 1e-5)
        }
        #expect(task.evalSeed == TaskSeeds.evalSeed(suiteSeed: 99, taskID: 1234, projectionSeed: 17345 + 1234,
                                                    splitSeed: 97531 + 1234))
    }

    @Test func seedArithmetic() {
        #expect(TaskSeeds.suiteSeed(taskSeed: 1337, inputDim: 16) == 128_041)
        #expect(TaskSeeds.suiteSeed(taskSeed: 1337, inputDim: 0) == 1337 + 7919)
        // Values computed independently from the formula in pool-api.md §8.4.
        #expect(TaskSeeds.evalSeed(suiteSeed: 128_041, taskID: 1106, projectionSeed: 18451, splitSeed: 98637) == 1_749_616_866)
        #expect(TaskSeeds.evalSeed(suiteSeed: 128_041, taskID: 106, paramSeed: 1106, dataSeed: 11106) == 495_190_985)
        #expect(TaskSeeds.evalSeed(suiteSeed: 128_041, taskID: 0) == 15_613_904)
        #expect(TaskSeeds.evalSeed(suiteSeed: 2_147_483_647 - 15_485_863, taskID: 0) == 1)  // 0 → 1

        let ids = TaskSeeds.sampleTaskIDs(count: 50, poolSize: 4500, taskSeed: 1337, inputDim: 16)
        #expect(ids.count == 50)
        #expect(Set(ids).count == 50)
        #expect(ids.allSatisfy { (0..<4500).contains($0) })
        #expect(ids == TaskSeeds.sampleTaskIDs(count: 50, poolSize: 4500, taskSeed: 1337, inputDim: 16))
        #expect(TaskSeeds.sampleTaskIDs(count: 10, poolSize: 10, taskSeed: 1, inputDim: 1).sorted() == Array(0..<10))
    }

    @Test func scalarLinearData() throws {
        let suite = try TaskRegistry.buildSuite(taskType: "scalar_linear", config: SuiteConfig(taskCount: 3, nSamples: 40))
        #expect(suite.scoring == .squashedRMSE)
        for task in suite.tasks {
            #expect(task.trainCount == 20 && task.validCount == 20)
            #expect(task.trainX.count == 20 * 16)
            // Rebuild w from the param seed (1000 + id) and check y = X·w on every row.
            var paramRNG = DeterministicRNG(seed: UInt64(1000 + task.taskID))
            let w = (0..<16).map { _ in paramRNG.nextGaussian() }
            for (xs, ys) in [(task.trainX, task.trainY), (task.validX, task.validY)] {
                for r in 0..<ys.count {
                    var dot = 0.0
                    for k in 0..<16 { dot += xs[r * 16 + k] * w[k] }
                    #expect(dot == ys[r])
                }
            }
            // Rows differ between tasks (data seed 11000 + id).
            #expect(task.trainX != suite.tasks.first { $0.taskID != task.taskID }?.trainX)
        }
        #expect(TaskRegistry.supportedTaskTypes == ["cifar10_binary", "scalar_linear"])
    }
}
