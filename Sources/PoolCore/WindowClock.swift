/// Fixed-length windows on a continuous time axis (seconds, e.g. Unix time):
/// window n covers [origin + n × length, origin + (n + 1) × length).
///
/// Times before `origin` give negative window numbers. Non-finite times map to window 0.
public struct WindowClock: Sendable, Codable, Equatable {
    public let lengthSeconds: Double
    public let origin: Double

    /// `lengthSeconds` must be finite and > 0 and `origin` finite (checked by precondition;
    /// `PoolRules.validate()` guarantees it for `PoolRules.windowClock`).
    public init(lengthSeconds: Double, origin: Double = 0) {
        precondition(lengthSeconds.isFinite && lengthSeconds > 0,
                     "WindowClock length must be finite and > 0 (got \(lengthSeconds))")
        precondition(origin.isFinite, "WindowClock origin must be finite (got \(origin))")
        self.lengthSeconds = lengthSeconds
        self.origin = origin
    }

    public func number(at time: Double) -> Int {
        let quotient = ((time - origin) / lengthSeconds).rounded(.down)
        guard quotient.isFinite else { return 0 }
        if quotient >= 9.0e18 { return Int.max }
        if quotient <= -9.0e18 { return Int.min }
        var n = Int(quotient)
        // Correct floating-point rounding at window boundaries so that
        // start(of: n) ≤ time < end(of: n) always holds.
        if time < start(of: n) { n -= 1 } else if time >= end(of: n) { n += 1 }
        return n
    }

    public func start(of window: Int) -> Double {
        origin + Double(window) * lengthSeconds
    }

    /// Exclusive end of the window (= start of the next one).
    public func end(of window: Int) -> Double {
        start(of: window &+ 1)
    }

    /// Seconds until the current window ends (in (0, length] for finite times).
    public func secondsRemaining(at time: Double) -> Double {
        guard time.isFinite else { return 0 }
        return max(0, end(of: number(at: time)) - time)
    }
}
