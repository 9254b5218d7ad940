import Synchronization
import Testing

@testable import Dashboards

@Suite("Dashboard snapshots")
struct SnapshotTests {
    final class Counter: Sendable {
        let n = Mutex(0)
        func next() -> Int { n.withLock { $0 += 1; return $0 } }
        var value: Int { n.withLock { $0 } }
    }

    @Test func viewersShareOneGatheringUntilItIsOld() async throws {
        let counter = Counter()
        let shared = DashboardSnapshots<Int>(maxAge: .seconds(3600))
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await shared.value { counter.next() } } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counter.value == 1 && values == Array(repeating: 1, count: 20))

        let fresh = DashboardSnapshots<Int>(maxAge: .zero)
        for expected in 1...3 { #expect(try await fresh.value { counter.next() } == expected + 1) }
    }

    @Test func aFailedGatheringIsNotKept() async throws {
        struct Boom: Error {}
        let shared = DashboardSnapshots<Int>(maxAge: .seconds(3600))
        await #expect(throws: Boom.self) { try await shared.value { throw Boom() } }
        #expect(try await shared.value { 7 } == 7)
    }
}
