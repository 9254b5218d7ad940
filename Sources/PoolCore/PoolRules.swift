/// Every tunable knob of the pool's domain rules, with the reference defaults
/// (pool-api.md §5.5, §5.7, §6).
///
/// Encodes/decodes with snake_case keys so it maps directly onto a config file section.
/// Keys missing from the input take their default value; numbers written as integers are
/// accepted for `Double` knobs. Call `validate()` after decoding.
public struct PoolRules: Codable, Sendable, Equatable {
    /// What an evolution's consensus score is compared against to measure improvement (§5.7).
    public enum BaselineMode: String, Codable, Sendable, CaseIterable {
        /// The task's global best consensus score before the window.
        case sota
        /// The best consensus score among the evolution's parents (0 if none is scored).
        case genealogy
        /// max(best scored algorithm in the author's lease population, best parent).
        case localEvolver = "local_evolver"
    }

    /// Which earlier occurrences of the same DSL hash make an evolution a repetition (§5.7).
    public enum RepetitionScope: String, Codable, Sendable, CaseIterable {
        /// The same author submitted this hash before.
        case miner
        /// A different author (or a seed) had this hash before.
        case global
        /// Either of the above.
        case both
    }

    // MARK: Consensus (§5.5)
    /// k: minimum number of agreeing evaluators for a consensus score.
    public var consensusThreshold: Int = 3
    /// Relative agreement tolerance around a cluster anchor.
    public var toleranceRatio: Double = 0.10
    /// Floor for |anchor| when computing the tolerance, so anchors near 0 keep a tiny band.
    public var toleranceEpsilon: Double = 1e-9

    // MARK: Points (§5.7)
    public var evaluatorWeight: Double = 1.0
    public var evolverWeight: Double = 10.0
    public var baselineMode: BaselineMode = .genealogy
    /// Points subtracted per repeated DSL hash within `repetitionScope`.
    public var repetitionPenalty: Double = 0
    public var repetitionScope: RepetitionScope = .miner
    /// evaluations considered + evolutions considered needed in a window to be paid.
    public var minRewardActivity: Int = 1

    // MARK: Payouts (§5.7 "Epoch conversion")
    public var epochBudgetRao: UInt64 = 1_000_000_000
    /// Pool fee in basis points of the epoch budget (500 = 5 %).
    public var poolFeeBps: Int = 500
    /// Per-miner cap in basis points of the epoch budget (500 = 5 %).
    public var perMinerCapBps: Int = 500
    /// Amounts below this are carried over to later epochs instead of being paid.
    public var minPayoutRao: UInt64 = 5_000_000

    // MARK: Leases and windows (§4.3, §5.2, §5.3)
    public var leaseTTLSeconds: Int = 600
    public var windowSeconds: Int = 3600
    /// Leases a miner may take per window; `nil` = unlimited. Default 1 matches the
    /// reference's enforced-window mode ("Lease already issued for this window").
    /// In JSON, an explicit `null` means unlimited; a missing key means the default.
    public var leasesPerWindow: Int? = 1
    public var evalBatchDefault: Int = 8
    public var seedBatchDefault: Int = 2
    public var evalBatchMax: Int = 64
    public var seedBatchMax: Int = 32
    public var gossipMax: Int = 50
    /// Extra evaluation slots per candidate beyond `consensusThreshold` (covers invalid or
    /// disagreeing votes and leases that expire unsubmitted).
    public var evalSlotMargin: Int = 2
    /// Minimum `iterations` on a lease submission.
    public var minLeaseIterations: Int = 0

    // MARK: Generalisation (held-out check, suite rotation)
    /// Tasks in the pool's secret held-out suite; a new SOTA must beat the current one on it
    /// as well as on consensus (`HeldOutGate`). 0 turns the check off.
    public var heldOutTasks: Int = 32
    /// Samples per held-out task.
    public var heldOutSamples: Int = 200
    /// When true, each lease carries the window's `eval_suite` (seed from the window number and
    /// `rotation_salt`), so no fixed suite can be memorised. Off by default: upstream miners
    /// always evaluate the fixed public suite.
    public var suiteRotation: Bool = false
    public var rotationTaskCount: Int = 8
    public var rotationSamples: Int = 200
    /// Public salt of the rotation seeds (not a secret: miners must be able to agree).
    public var rotationSalt: Int = 0

    public init() {}

    /// The reference defaults.
    public static let defaults = PoolRules()

    /// Per-candidate cap N on (evaluations + active lease slots) used by candidate selection.
    public var candidateSlotCap: Int { consensusThreshold + evalSlotMargin }

    /// Window clock with `windowSeconds` and the given origin.
    public func windowClock(origin: Double = 0) -> WindowClock {
        WindowClock(lengthSeconds: Double(max(1, windowSeconds)), origin: origin)
    }

    /// Whether a miner that already took `issuedThisWindow` leases in the current window
    /// may take another one.
    public func allowsAnotherLease(issuedThisWindow: Int) -> Bool {
        guard let quota = leasesPerWindow else { return true }
        return issuedThisWindow < quota
    }

    /// Whether a lease submission's `iterations` counter is acceptable.
    public func acceptsIterations(_ iterations: Int) -> Bool {
        iterations >= 0 && iterations >= minLeaseIterations
    }

    /// Lease expiry for a lease issued at `issuedAt` (seconds, same scale as the clock).
    public func leaseTimeout(issuedAt: Double) -> Double {
        issuedAt + Double(leaseTTLSeconds)
    }

    // MARK: Validation

    /// Checks every knob's range. Throws `PoolRulesError` listing all problems found.
    public func validate() throws(PoolRulesError) {
        var problems: [String] = []
        func require(_ ok: Bool, _ key: CodingKeys, _ message: String) {
            if !ok { problems.append("\(key.rawValue): \(message)") }
        }
        func nonNegativeFinite(_ value: Double, _ key: CodingKeys) {
            require(value.isFinite && value >= 0, key, "must be a finite number >= 0 (got \(value))")
        }
        require(consensusThreshold >= 1, .consensusThreshold, "must be >= 1 (got \(consensusThreshold))")
        require(toleranceRatio.isFinite && toleranceRatio >= 0 && toleranceRatio <= 1,
                .toleranceRatio, "must be within 0...1 (got \(toleranceRatio))")
        require(toleranceEpsilon.isFinite && toleranceEpsilon > 0,
                .toleranceEpsilon, "must be a finite number > 0 (got \(toleranceEpsilon))")
        nonNegativeFinite(evaluatorWeight, .evaluatorWeight)
        nonNegativeFinite(evolverWeight, .evolverWeight)
        nonNegativeFinite(repetitionPenalty, .repetitionPenalty)
        require(minRewardActivity >= 0, .minRewardActivity, "must be >= 0 (got \(minRewardActivity))")
        require((0...10_000).contains(poolFeeBps), .poolFeeBps,
                "must be within 0...10000 basis points (got \(poolFeeBps))")
        require((1...10_000).contains(perMinerCapBps), .perMinerCapBps,
                "must be within 1...10000 basis points (got \(perMinerCapBps))")
        require(leaseTTLSeconds >= 1, .leaseTTLSeconds, "must be >= 1 second (got \(leaseTTLSeconds))")
        require(windowSeconds >= 1, .windowSeconds, "must be >= 1 second (got \(windowSeconds))")
        if let quota = leasesPerWindow {
            require(quota >= 1, .leasesPerWindow, "must be >= 1 or null for unlimited (got \(quota))")
        }
        require(evalBatchMax >= LeaseRequestValidation.minimumBatchSize, .evalBatchMax,
                "must be >= \(LeaseRequestValidation.minimumBatchSize) (got \(evalBatchMax))")
        require(seedBatchMax >= LeaseRequestValidation.minimumBatchSize, .seedBatchMax,
                "must be >= \(LeaseRequestValidation.minimumBatchSize) (got \(seedBatchMax))")
        require(evalBatchDefault >= LeaseRequestValidation.minimumBatchSize && evalBatchDefault <= evalBatchMax,
                .evalBatchDefault,
                "must be within \(LeaseRequestValidation.minimumBatchSize)...eval_batch_max=\(evalBatchMax) (got \(evalBatchDefault))")
        require(seedBatchDefault >= LeaseRequestValidation.minimumBatchSize && seedBatchDefault <= seedBatchMax,
                .seedBatchDefault,
                "must be within \(LeaseRequestValidation.minimumBatchSize)...seed_batch_max=\(seedBatchMax) (got \(seedBatchDefault))")
        require(gossipMax >= 0, .gossipMax, "must be >= 0 (got \(gossipMax))")
        require(evalSlotMargin >= 0, .evalSlotMargin, "must be >= 0 (got \(evalSlotMargin))")
        require(minLeaseIterations >= 0, .minLeaseIterations, "must be >= 0 (got \(minLeaseIterations))")
        require((0...256).contains(heldOutTasks), .heldOutTasks, "must be within 0...256 (got \(heldOutTasks))")
        require((4...10_000).contains(heldOutSamples), .heldOutSamples, "must be within 4...10000 (got \(heldOutSamples))")
        require((1...256).contains(rotationTaskCount), .rotationTaskCount, "must be within 1...256 (got \(rotationTaskCount))")
        require((4...10_000).contains(rotationSamples), .rotationSamples, "must be within 4...10000 (got \(rotationSamples))")
        if !problems.isEmpty { throw PoolRulesError(problems: problems) }
    }

    // MARK: Codable

    /// The snake_case config key of every knob (also the names `validate()` reports).
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case consensusThreshold = "consensus_threshold"
        case toleranceRatio = "tolerance_ratio"
        case toleranceEpsilon = "tolerance_epsilon"
        case evaluatorWeight = "evaluator_weight"
        case evolverWeight = "evolver_weight"
        case baselineMode = "baseline_mode"
        case repetitionPenalty = "repetition_penalty"
        case repetitionScope = "repetition_scope"
        case minRewardActivity = "min_reward_activity"
        case epochBudgetRao = "epoch_budget_rao"
        case poolFeeBps = "pool_fee_bps"
        case perMinerCapBps = "per_miner_cap_bps"
        case minPayoutRao = "min_payout_rao"
        case leaseTTLSeconds = "lease_ttl_seconds"
        case windowSeconds = "window_seconds"
        case leasesPerWindow = "leases_per_window"
        case evalBatchDefault = "eval_batch_default"
        case seedBatchDefault = "seed_batch_default"
        case evalBatchMax = "eval_batch_max"
        case seedBatchMax = "seed_batch_max"
        case gossipMax = "gossip_max"
        case evalSlotMargin = "eval_slot_margin"
        case minLeaseIterations = "min_lease_iterations"
        case heldOutTasks = "held_out_tasks"
        case heldOutSamples = "held_out_samples"
        case suiteRotation = "suite_rotation"
        case rotationTaskCount = "rotation_task_count"
        case rotationSamples = "rotation_samples"
        case rotationSalt = "rotation_salt"
    }

    /// All config-file keys, e.g. for rejecting unknown keys in a config section.
    public static let configKeys: [String] = CodingKeys.allCases.map(\.rawValue)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PoolRules.defaults
        func int(_ key: CodingKeys, _ fallback: Int) throws -> Int {
            try c.decodeIfPresent(Int.self, forKey: key) ?? fallback
        }
        func uint64(_ key: CodingKeys, _ fallback: UInt64) throws -> UInt64 {
            try c.decodeIfPresent(UInt64.self, forKey: key) ?? fallback
        }
        func double(_ key: CodingKeys, _ fallback: Double) throws -> Double {
            do {
                return try c.decodeIfPresent(Double.self, forKey: key) ?? fallback
            } catch DecodingError.typeMismatch {
                // Some config decoders refuse to widen an integer literal to Double.
                return Double(try c.decode(Int.self, forKey: key))
            }
        }
        consensusThreshold = try int(.consensusThreshold, d.consensusThreshold)
        toleranceRatio = try double(.toleranceRatio, d.toleranceRatio)
        toleranceEpsilon = try double(.toleranceEpsilon, d.toleranceEpsilon)
        evaluatorWeight = try double(.evaluatorWeight, d.evaluatorWeight)
        evolverWeight = try double(.evolverWeight, d.evolverWeight)
        baselineMode = try c.decodeIfPresent(BaselineMode.self, forKey: .baselineMode) ?? d.baselineMode
        repetitionPenalty = try double(.repetitionPenalty, d.repetitionPenalty)
        repetitionScope = try c.decodeIfPresent(RepetitionScope.self, forKey: .repetitionScope) ?? d.repetitionScope
        minRewardActivity = try int(.minRewardActivity, d.minRewardActivity)
        epochBudgetRao = try uint64(.epochBudgetRao, d.epochBudgetRao)
        poolFeeBps = try int(.poolFeeBps, d.poolFeeBps)
        perMinerCapBps = try int(.perMinerCapBps, d.perMinerCapBps)
        minPayoutRao = try uint64(.minPayoutRao, d.minPayoutRao)
        leaseTTLSeconds = try int(.leaseTTLSeconds, d.leaseTTLSeconds)
        windowSeconds = try int(.windowSeconds, d.windowSeconds)
        if c.contains(.leasesPerWindow) {
            leasesPerWindow = try c.decodeNil(forKey: .leasesPerWindow)
                ? nil : try c.decode(Int.self, forKey: .leasesPerWindow)
        } else {
            leasesPerWindow = d.leasesPerWindow
        }
        evalBatchDefault = try int(.evalBatchDefault, d.evalBatchDefault)
        seedBatchDefault = try int(.seedBatchDefault, d.seedBatchDefault)
        evalBatchMax = try int(.evalBatchMax, d.evalBatchMax)
        seedBatchMax = try int(.seedBatchMax, d.seedBatchMax)
        gossipMax = try int(.gossipMax, d.gossipMax)
        evalSlotMargin = try int(.evalSlotMargin, d.evalSlotMargin)
        minLeaseIterations = try int(.minLeaseIterations, d.minLeaseIterations)
        heldOutTasks = try int(.heldOutTasks, d.heldOutTasks)
        heldOutSamples = try int(.heldOutSamples, d.heldOutSamples)
        suiteRotation = try c.decodeIfPresent(Bool.self, forKey: .suiteRotation) ?? d.suiteRotation
        rotationTaskCount = try int(.rotationTaskCount, d.rotationTaskCount)
        rotationSamples = try int(.rotationSamples, d.rotationSamples)
        rotationSalt = try int(.rotationSalt, d.rotationSalt)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(consensusThreshold, forKey: .consensusThreshold)
        try c.encode(toleranceRatio, forKey: .toleranceRatio)
        try c.encode(toleranceEpsilon, forKey: .toleranceEpsilon)
        try c.encode(evaluatorWeight, forKey: .evaluatorWeight)
        try c.encode(evolverWeight, forKey: .evolverWeight)
        try c.encode(baselineMode, forKey: .baselineMode)
        try c.encode(repetitionPenalty, forKey: .repetitionPenalty)
        try c.encode(repetitionScope, forKey: .repetitionScope)
        try c.encode(minRewardActivity, forKey: .minRewardActivity)
        try c.encode(epochBudgetRao, forKey: .epochBudgetRao)
        try c.encode(poolFeeBps, forKey: .poolFeeBps)
        try c.encode(perMinerCapBps, forKey: .perMinerCapBps)
        try c.encode(minPayoutRao, forKey: .minPayoutRao)
        try c.encode(leaseTTLSeconds, forKey: .leaseTTLSeconds)
        try c.encode(windowSeconds, forKey: .windowSeconds)
        if let quota = leasesPerWindow {
            try c.encode(quota, forKey: .leasesPerWindow)
        } else {
            try c.encodeNil(forKey: .leasesPerWindow)
        }
        try c.encode(evalBatchDefault, forKey: .evalBatchDefault)
        try c.encode(seedBatchDefault, forKey: .seedBatchDefault)
        try c.encode(evalBatchMax, forKey: .evalBatchMax)
        try c.encode(seedBatchMax, forKey: .seedBatchMax)
        try c.encode(gossipMax, forKey: .gossipMax)
        try c.encode(evalSlotMargin, forKey: .evalSlotMargin)
        try c.encode(minLeaseIterations, forKey: .minLeaseIterations)
        try c.encode(heldOutTasks, forKey: .heldOutTasks)
        try c.encode(heldOutSamples, forKey: .heldOutSamples)
        try c.encode(suiteRotation, forKey: .suiteRotation)
        try c.encode(rotationTaskCount, forKey: .rotationTaskCount)
        try c.encode(rotationSamples, forKey: .rotationSamples)
        try c.encode(rotationSalt, forKey: .rotationSalt)
    }
}

/// Out-of-range configuration values, one human-readable line per problem.
public struct PoolRulesError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String {
        "invalid pool rules: " + problems.joined(separator: "; ")
    }
}
