/// One gathering of a page's data shared by every viewer for `maxAge`: concurrent requests
/// wait for the gathering in flight instead of starting their own, so the database cost of a
/// dashboard does not grow with the number of pages open (each re-fetches every few seconds).
public actor DashboardSnapshots<Value: Sendable> {
    private var latest: (at: ContinuousClock.Instant, value: Value)?
    private var inFlight: Task<Value, any Error>?
    public let maxAge: Duration

    public init(maxAge: Duration) { self.maxAge = maxAge }

    public func value(_ gather: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let latest, ContinuousClock.now - latest.at < maxAge { return latest.value }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await gather() }
        inFlight = task
        defer { inFlight = nil }
        let value = try await task.value
        latest = (ContinuousClock.now, value)
        return value
    }
}
