/// Effective sizes for a lease after applying defaults, clamps and caps.
public struct LeaseSizes: Sendable, Codable, Equatable {
    public var evalBatchSize: Int
    public var seedBatchSize: Int
    public var gossipLimit: Int

    public init(evalBatchSize: Int, seedBatchSize: Int, gossipLimit: Int) {
        self.evalBatchSize = evalBatchSize
        self.seedBatchSize = seedBatchSize
        self.gossipLimit = gossipLimit
    }
}

/// Why a lease request's sizes were refused. `message` is meant for the HTTP `detail`.
public enum LeaseRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    case evalBatchSizeNegative(Int)
    case evalBatchSizeTooLarge(requested: Int, max: Int)
    case seedBatchSizeNegative(Int)
    case seedBatchSizeTooLarge(requested: Int, max: Int)
    case gossipLimitOutOfRange(requested: Int, max: Int)

    /// Stable machine-readable code for clients (pool-api.md §10.2).
    public var code: String {
        switch self {
        case .evalBatchSizeNegative, .evalBatchSizeTooLarge: "INVALID_EVAL_BATCH_SIZE"
        case .seedBatchSizeNegative, .seedBatchSizeTooLarge: "INVALID_SEED_BATCH_SIZE"
        case .gossipLimitOutOfRange: "INVALID_GOSSIP_LIMIT"
        }
    }

    public var message: String {
        switch self {
        case .evalBatchSizeNegative(let n):
            "eval_batch_size must be >= 0 (got \(n)); values 0 and 1 are raised to 2"
        case .evalBatchSizeTooLarge(let n, let max):
            "eval_batch_size must be <= \(max) (got \(n))"
        case .seedBatchSizeNegative(let n):
            "seed_batch_size must be >= 0 (got \(n)); values 0 and 1 are raised to 2"
        case .seedBatchSizeTooLarge(let n, let max):
            "seed_batch_size must be <= \(max) (got \(n))"
        case .gossipLimitOutOfRange(let n, let max):
            "gossip_limit must be within 0...\(max) (got \(n))"
        }
    }

    public var description: String { message }
}

/// Lease request sizing (pool-api.md §4.3).
///
/// - Omitted sizes take the rules' defaults; omitted `gossip_limit` is 0.
/// - The reference requires eval/seed batch sizes ≥ 2 when given, but common clients send
///   0 or 1 (§10.8). Such values are **clamped up to 2** instead of refused; negative values
///   and values above the max caps are refused.
/// - `gossip_limit` must be within 0...gossipMax.
public enum LeaseRequestValidation {
    public static let minimumBatchSize = 2

    public static func validate(evalBatchSize: Int?, seedBatchSize: Int?, gossipLimit: Int?,
                                rules: PoolRules) throws(LeaseRequestError) -> LeaseSizes {
        let eval = evalBatchSize ?? rules.evalBatchDefault
        if eval < 0 { throw .evalBatchSizeNegative(eval) }
        if eval > rules.evalBatchMax { throw .evalBatchSizeTooLarge(requested: eval, max: rules.evalBatchMax) }

        let seed = seedBatchSize ?? rules.seedBatchDefault
        if seed < 0 { throw .seedBatchSizeNegative(seed) }
        if seed > rules.seedBatchMax { throw .seedBatchSizeTooLarge(requested: seed, max: rules.seedBatchMax) }

        let gossip = gossipLimit ?? 0
        if gossip < 0 || gossip > rules.gossipMax {
            throw .gossipLimitOutOfRange(requested: gossip, max: rules.gossipMax)
        }
        return LeaseSizes(evalBatchSize: max(eval, minimumBatchSize),
                          seedBatchSize: max(seed, minimumBatchSize),
                          gossipLimit: gossip)
    }

    /// Same as `validate` but as a `Result`, convenient for HTTP handlers.
    public static func result(evalBatchSize: Int?, seedBatchSize: Int?, gossipLimit: Int?,
                              rules: PoolRules) -> Result<LeaseSizes, LeaseRequestError> {
        Result { () throws(LeaseRequestError) in
            try validate(evalBatchSize: evalBatchSize, seedBatchSize: seedBatchSize,
                         gossipLimit: gossipLimit, rules: rules)
        }
    }
}
