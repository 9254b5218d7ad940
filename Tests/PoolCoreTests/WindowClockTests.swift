import TestSupport
import Testing
@testable import PoolCore

@Suite struct WindowClockTests {
    @Test func basicArithmetic() {
        let clock = WindowClock(lengthSeconds: 3600, origin: 1_000)
        #expect(clock.number(at: 1_000) == 0)
        #expect(clock.number(at: 4_599.999) == 0)
        #expect(clock.number(at: 4_600) == 1)
        #expect(clock.number(at: 999) == -1)
        #expect(clock.start(of: 2) == 8_200)
        #expect(clock.end(of: 2) == 11_800)
        #expect(clock.secondsRemaining(at: 1_000) == 3_600)
        #expect(clock.secondsRemaining(at: 4_000) == 600)
        #expect(clock.number(at: .nan) == 0)
        #expect(clock.secondsRemaining(at: .infinity) == 0)
    }

    @Test func rulesClockUsesWindowSeconds() {
        var rules = PoolRules()
        rules.windowSeconds = 60
        #expect(rules.windowClock().number(at: 125) == 2)
    }

    @Test(arguments: propertySeeds)
    func everyTimeLiesInsideItsWindow(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let length = [0.1, 1, 12, 3600, 4320, 1e-3 + rng.unit() * 1e4][rng.below(6)]
        let origin = [0, 1.7e9, rng.unit() * 1e9 - 5e8][rng.below(3)]
        let clock = WindowClock(lengthSeconds: length, origin: origin)
        for _ in 0..<50 {
            // Include exact boundaries, which are where floating-point rounding bites.
            let t = rng.chance(0.3)
                ? clock.start(of: rng.below(2_000_000) - 1_000_000)
                : origin + (rng.unit() - 0.5) * 2e9
            let n = clock.number(at: t)
            #expect(clock.start(of: n) <= t && t < clock.end(of: n), "t=\(t) n=\(n)")
            let remaining = clock.secondsRemaining(at: t)
            #expect(remaining > 0 && remaining <= length * (1 + 1e-9) + 1e-6)
        }
    }

    @Test(arguments: propertySeeds)
    func windowNumbersAreMonotoneInTime(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let clock = WindowClock(lengthSeconds: 1 + rng.unit() * 7200, origin: rng.unit() * 1e9)
        let times = (0..<40).map { _ in rng.unit() * 2e9 }.sorted()
        let numbers = times.map { clock.number(at: $0) }
        #expect(numbers == numbers.sorted())
    }
}
