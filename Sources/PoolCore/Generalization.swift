/// Rules that keep the pool's SOTA honest about unseen tasks: the held-out gate a new SOTA must
/// pass, and the per-window evaluation suite of suite rotation.

/// Scores of one candidate or SOTA: the consensus score on the public suite and the pool's own
/// score on its secret held-out suite (nil when the check is off or was not run).
public struct GateScores: Sendable, Equatable {
    public var consensus: Double
    public var heldOut: Double?

    public init(consensus: Double, heldOut: Double?) {
        self.consensus = consensus
        self.heldOut = heldOut
    }
}

public enum HeldOutGate {
    /// Why a candidate does or does not become the SOTA.
    public enum Verdict: String, Sendable, Equatable {
        /// No SOTA yet, or better on consensus and (when checked) on the held-out suite.
        case replaces = "replaces"
        /// Not above the SOTA's consensus score.
        case notHigherOnConsensus = "not_higher_on_consensus"
        /// Higher on the public suite but not on the held-out tasks: it fits the public tasks.
        case notHigherHeldOut = "not_higher_held_out"
        /// The held-out check is on but the program failed on a held-out task (non-finite).
        case failedHeldOut = "failed_held_out"
    }

    /// The SOTA rule. `checked` says whether the pool runs the held-out check; when it does, a
    /// candidate must have a finite held-out score, and beat the SOTA's held-out score when the
    /// SOTA has one (a SOTA stored before the check existed has none: consensus alone decides).
    public static func judge(candidate: GateScores, sota: GateScores?, checked: Bool) -> Verdict {
        if checked {
            guard let h = candidate.heldOut, h.isFinite else { return .failedHeldOut }
            guard let sota else { return .replaces }
            guard candidate.consensus > sota.consensus else { return .notHigherOnConsensus }
            if let current = sota.heldOut, !(h > current) { return .notHigherHeldOut }
            return .replaces
        }
        guard let sota else { return .replaces }
        return candidate.consensus > sota.consensus ? .replaces : .notHigherOnConsensus
    }

    /// Whether a candidate's held-out score can change its verdict: only one above the SOTA on
    /// consensus (or with no SOTA yet) can replace it; any other is `notHigherOnConsensus`
    /// whatever its held-out score, so the pool does not run its held-out tasks for it.
    /// `consensusBound` may be an upper bound of the consensus score, such as the highest
    /// finite vote: a consensus score is the median of a cluster of votes, never above them.
    public static func heldOutMatters(consensusBound: Double, sotaConsensus: Double?) -> Bool {
        Settlement.replacesSOTA(consensusBound, current: sotaConsensus)
    }
}

/// The public evaluation suite of a window under suite rotation.
public struct RotatedSuite: Sendable, Hashable {
    public var seed: Int
    public var taskCount: Int
    public var samples: Int

    public init(seed: Int, taskCount: Int, samples: Int) {
        self.seed = seed
        self.taskCount = taskCount
        self.samples = samples
    }
}

public enum SuiteRotation {
    /// The suite of `window`: its `task_seed` is a 64-bit mix (SplitMix64 finaliser, twice) of
    /// the public salt and the window number, folded into 1...999_999_937 so every engine reads it
    /// as an ordinary seed. Same window and salt → same suite; the next window gets another one.
    public static func suite(window: Int64, salt: Int, taskCount: Int, samples: Int) -> RotatedSuite {
        let z = mix(mix(UInt64(bitPattern: Int64(salt))) ^ UInt64(bitPattern: window))
        return RotatedSuite(seed: Int(z % 999_999_937) + 1, taskCount: taskCount, samples: samples)
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
