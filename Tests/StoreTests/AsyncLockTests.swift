import Foundation
import Synchronization
import Testing

@testable import Store

/// The SQLite writer's lock: one holder at a time, and every waiter gets it in the end.
@Suite struct AsyncLockTests {
    /// Many tasks each take the lock, read a shared value, suspend, and write it back plus
    /// one: with two holders at once an increment would be lost, and a lost wake-up would
    /// hang the group.
    @Test func oneHolderAtATimeAndNoWaiterIsLost() async {
        final class Shared: Sendable {
            let value = Mutex(0)
            let holders = Mutex(0)
            let maxHolders = Mutex(0)
        }
        let lock = AsyncLock()
        let shared = Shared()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    for _ in 0..<20 {
                        await lock.withLock {
                            let now = shared.holders.withLock { h in h += 1; return h }
                            shared.maxHolders.withLock { $0 = max($0, now) }
                            let seen = shared.value.withLock { $0 }
                            await Task.yield()
                            shared.value.withLock { $0 = seen + 1 }
                            shared.holders.withLock { $0 -= 1 }
                        }
                    }
                }
            }
        }
        #expect(shared.value.withLock { $0 } == 200 * 20)
        #expect(shared.maxHolders.withLock { $0 } == 1)
    }

    /// A body that throws releases the lock.
    @Test func aThrowingBodyReleasesTheLock() async throws {
        struct Boom: Error {}
        let lock = AsyncLock()
        await #expect(throws: Boom.self) { try await lock.withLock { throw Boom() } }
        let got = await lock.withLock { 7 }
        #expect(got == 7)
    }
}
