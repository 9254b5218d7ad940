/// Deterministic randomness and math for scoring. Everything here uses only IEEE-754 basic
/// operations (+, −, ×, ÷, sqrt), which are correctly rounded on every platform, so datasets and
/// scores reproduce bit-for-bit across machines and C libraries.

/// SplitMix64 generator (Steele, Lea, Flood 2014) with uniform and Gaussian draws.
public struct DeterministicRNG: Sendable, Hashable, RandomNumberGenerator {
    public private(set) var state: UInt64
    private var spareGaussian: Double?

    public init(seed: UInt64) {
        state = seed
        spareGaussian = nil
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high).
    public mutating func nextDouble(in low: Double, _ high: Double) -> Double {
        low + (high - low) * nextDouble()
    }

    /// Uniform integer in 0..<bound (bound > 0), without modulo bias.
    public mutating func nextInt(below bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        let n = UInt64(bound)
        let threshold = (0 &- n) % n
        while true {
            let r = next()
            if r >= threshold { return Int(r % n) }
        }
    }

    /// Standard normal draw (Marsaglia polar method with `DetMath.log`).
    public mutating func nextGaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        while true {
            let u = 2 * nextDouble() - 1
            let v = 2 * nextDouble() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let factor = (-2 * DetMath.log(s) / s).squareRoot()
            spareGaussian = v * factor
            return u * factor
        }
    }

    /// Normal draw with the given mean and standard deviation.
    public mutating func nextGaussian(mean: Double, std: Double) -> Double {
        mean + std * nextGaussian()
    }

    /// Deterministic Fisher–Yates shuffle (independent of the standard library's algorithm).
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
            i -= 1
        }
    }
}

/// Platform-independent log and atan built from basic IEEE operations (≤ 2 ulp error).
public enum DetMath {
    private static let ln2Hi = 6.931_471_803_691_238_164_90e-01
    private static let ln2Lo = 1.908_214_929_270_587_700_02e-10

    /// Natural logarithm. `log(0) = -inf`, negative or NaN input gives NaN.
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return .infinity }
        var m = x.significand  // [1, 2), exact
        var e = Double(x.exponent)
        if m > 1.414_213_562_373_095_1 {
            m *= 0.5
            e += 1
        }
        // ln m = 2 atanh(z), z = (m-1)/(m+1), |z| <= 0.1716
        let z = (m - 1) / (m + 1)
        let z2 = z * z
        var series = 1.0 / 25.0
        var k = 23.0
        while k >= 1 {
            series = 1.0 / k + z2 * series
            k -= 2
        }
        let lnM = 2 * z * series
        return (e * ln2Hi + (e * ln2Lo + lnM))
    }

    /// Arc tangent in (−π/2, π/2).
    public static func atan(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        if x < 0 { return -atan(-x) }
        if x == .infinity { return .pi / 2 }
        if x > 1 { return .pi / 2 - atan(1 / x) }
        let tan15 = 0.267_949_192_431_122_7
        if x > tan15 {
            let sqrt3 = 1.732_050_807_568_877_2
            let reduced = (x * sqrt3 - 1) / (x + sqrt3)
            return .pi / 6 + atanSeries(reduced)
        }
        return atanSeries(x)
    }

    private static func atanSeries(_ t: Double) -> Double {
        // t − t³/3 + t⁵/5 − …, |t| <= tan(15°), 16 terms.
        let y = -(t * t)
        var series = 1.0 / 31.0
        var k = 29.0
        while k >= 1 {
            series = 1.0 / k + y * series
            k -= 2
        }
        return t * series
    }
}
