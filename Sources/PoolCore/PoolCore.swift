/// PoolCore owns the pool's domain rules — consensus over independent evaluations,
/// window points and reputation, epoch payout conversion, windows, lease sizing and
/// candidate selection — as pure, deterministic functions, independent of HTTP and storage.
///
/// Nothing in this module performs I/O or reads a clock: callers pass `now` and the
/// relevant records in, and get values back. The HTTP server and the SQL store are
/// expected to implement the same rules and can use these functions as the reference.
public enum PoolCore {
    /// Version of the rule set implemented here. Bump when a formula changes so that
    /// persisted results can record which rules produced them.
    public static let rulesVersion = "pool-rules/1"
}
