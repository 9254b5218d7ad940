import Foundation
import PoolAPI
import Testing

@Suite struct WireTimeTests {
    static func reference(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    @Test func matchesFoundationsFormatter() {
        var rng = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -1.5, 951_782_400, 4_102_444_800.25, 1_764_520_594.9995, 1.9999, -86_400.001]
        // Random instants a little past a whole millisecond: away from the half-millisecond
        // ties, where the two round the same decimal through different doubles.
        for _ in 0..<2000 {
            samples.append(Double(Int64.random(in: -2_000_000_000_000...5_000_000_000_000, using: &rng)) / 1000 + 0.0001)
        }
        for t in samples {
            #expect(WireTime.string(t) == Self.reference(t), "t = \(t)")
        }
    }

    @Test func clampsWhatNoYearCanHold() {
        #expect(WireTime.string(.nan) == "1970-01-01T00:00:00.000Z")
        #expect(WireTime.string(.infinity) == "9999-12-31T23:59:59.999Z")
        #expect(WireTime.string(-.infinity) == "0001-01-01T00:00:00.000Z")
        #expect(WireTime.parse(WireTime.string(1_764_520_594.123)).map { ($0 * 1000).rounded() } == 1_764_520_594_123)
    }
}
