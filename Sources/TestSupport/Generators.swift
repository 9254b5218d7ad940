import AlgorithmDSL
import Foundation
import Synchronization

/// A small deterministic generator so property tests replay identically: the engine's
/// SplitMix64 (`DeterministicRNG`) with the draws tests use.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var source: DeterministicRNG

    public init(seed: UInt64) { source = DeterministicRNG(seed: seed) }

    public mutating func next() -> UInt64 { source.next() }

    /// Uniform in 0..<bound (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    public mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var copy = items
        guard copy.count > 1 else { return copy }
        for i in stride(from: copy.count - 1, to: 0, by: -1) { copy.swapAt(i, below(i + 1)) }
        return copy
    }
}

/// Seeds used by every property test (each seed is one reproducible case).
public let propertySeeds: [UInt64] = Array(1...200)

/// A controllable domain clock for service tests (request auth keeps using real time).
public final class TestClock: Sendable {
    private let value: Mutex<Double>
    public init(_ start: Double = Date().timeIntervalSince1970) { value = Mutex(start) }
    public var now: Double { value.withLock { $0 } }
    public func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}
