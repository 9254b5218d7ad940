/// Raw image data for `cifar10_binary`: the real CIFAR-10 binary-batch loader and the seeded
/// synthetic stand-in (pool-api.md §8.5). Both produce a `RawImageSet` that goes through the same
/// pair / projection / standardise / split pipeline.
import AlgorithmDSL
import Foundation

/// Labelled raw feature rows (10 classes).
public struct RawImageSet: Sendable {
    enum Storage: Sendable {
        /// Pixel bytes, feature = byte / 255 (real CIFAR-10).
        case bytes([UInt8])
        /// Ready-made features (synthetic).
        case doubles([Double])
    }

    public let rawDim: Int
    public let labels: [UInt8]
    let storage: Storage

    public var count: Int { labels.count }

    /// Feature `col` of row `row` (pixels scaled to [0, 1] for real data).
    public func feature(row: Int, col: Int) -> Double {
        switch storage {
        case .bytes(let bytes): Double(bytes[row * rawDim + col]) / 255
        case .doubles(let values): values[row * rawDim + col]
        }
    }

    /// Number of rows per class 0...9.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: 10)
        for label in labels where label < 10 { counts[Int(label)] += 1 }
        return counts
    }

    /// `out[r*outDim + k] = Σ_f row(rows[r])[f] · projection[f*outDim + k]`, summed in feature order.
    func project(rows: [Int], projection: [Double], outDim: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows.count * outDim)
        out.withUnsafeMutableBufferPointer { o in
            projection.withUnsafeBufferPointer { p in
                switch storage {
                case .bytes(let bytes):
                    bytes.withUnsafeBufferPointer { raw in
                        for (r, row) in rows.enumerated() {
                            let base = row * rawDim
                            let dst = r * outDim
                            for f in 0..<rawDim {
                                let x = Double(raw[base + f]) / 255
                                let pf = f * outDim
                                for k in 0..<outDim { o[dst + k] += x * p[pf + k] }
                            }
                        }
                    }
                case .doubles(let values):
                    values.withUnsafeBufferPointer { raw in
                        for (r, row) in rows.enumerated() {
                            let base = row * rawDim
                            let dst = r * outDim
                            for f in 0..<rawDim {
                                let x = raw[base + f]
                                let pf = f * outDim
                                for k in 0..<outDim { o[dst + k] += x * p[pf + k] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Reads CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`): records of one label
/// byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue).
public enum CIFARLoader {
    public static let pixelCount = 3072
    public static let recordSize = 1 + pixelCount
    public static let batchFileNames = (1...5).map { "data_batch_\($0).bin" }

    /// True when `directory` holds `data_batch_1.bin`.
    public static func isPresent(directory: String) -> Bool {
        FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(batchFileNames[0]))
    }

    /// Reads records in file order until every class has `minimumPerClass` rows or the batches run
    /// out. Returns nil when the directory holds no `data_batch_1.bin`; throws on malformed files.
    public static func load(directory: String, minimumPerClass: Int) throws(EngineError) -> RawImageSet? {
        guard isPresent(directory: directory) else { return nil }
        var labels: [UInt8] = []
        var pixels: [UInt8] = []
        var counts = [Int](repeating: 0, count: 10)
        func satisfied() -> Bool { counts.allSatisfy { $0 >= minimumPerClass } }
        for name in batchFileNames {
            if satisfied() { break }
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { break }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw EngineError.dataLoad("cannot read \(path)")
            }
            if data.isEmpty || data.count % recordSize != 0 {
                throw EngineError.dataLoad("\(path) is \(data.count) bytes, not a multiple of the \(recordSize)-byte record")
            }
            let bytes = [UInt8](data)
            var offset = 0
            while offset < bytes.count, !satisfied() {
                let label = bytes[offset]
                guard label < 10 else {
                    throw EngineError.dataLoad("\(path) record \(offset / recordSize) has label \(label) (expected 0...9)")
                }
                labels.append(label)
                counts[Int(label)] += 1
                pixels.append(contentsOf: bytes[(offset + 1)..<(offset + recordSize)])
                offset += recordSize
            }
        }
        return RawImageSet(rawDim: pixelCount, labels: labels, storage: .bytes(pixels))
    }
}

/// Seeded synthetic stand-in: 10 Gaussian class clusters (class means N(0, separation²) per raw
/// feature, unit noise), `rowsPerClass` rows per class in a seeded shuffled order.
public enum SyntheticImages {
    public static func make(seed: UInt64, rawDim: Int, rowsPerClass: Int, separation: Double) -> RawImageSet {
        var rng = DeterministicRNG(seed: seed)
        var means = [Double](repeating: 0, count: 10 * rawDim)
        for i in means.indices { means[i] = separation * rng.nextGaussian() }
        var labels: [UInt8] = []
        labels.reserveCapacity(10 * rowsPerClass)
        for c in 0..<10 {
            for _ in 0..<rowsPerClass { labels.append(UInt8(c)) }
        }
        rng.shuffle(&labels)
        var values = [Double](repeating: 0, count: labels.count * rawDim)
        for (r, label) in labels.enumerated() {
            let meanBase = Int(label) * rawDim
            for f in 0..<rawDim {
                values[r * rawDim + f] = means[meanBase + f] + rng.nextGaussian()
            }
        }
        return RawImageSet(rawDim: rawDim, labels: labels, storage: .doubles(values))
    }
}
