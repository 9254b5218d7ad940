import Foundation
import Synchronization

/// SplitMix64: a small deterministic generator so property tests replay identically.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

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
