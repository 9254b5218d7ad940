import Foundation
import TestSupport
import Testing
@testable import Validator

func res(_ cpu: Int, _ mem: Int = 0, _ disk: Int = 0, _ gpu: Int = 0) -> ResourceLimits {
    ResourceLimits(cpuCores: cpu, memoryMb: mem, diskMb: disk, gpuCount: gpu)
}

@Suite("CVMQuotaManager")
struct QuotaTests {
    @Test("reference example: 10 CPUs, shares 0.7/0.3, no demand → 7 and 3, nothing idle")
    func referenceExample() async throws {
        let q = CVMQuotaManager(capacity: res(10, 1000, 100))
        await q.setActiveChallenges(["a": 0.7, "b": 0.3])
        let u = await q.getUsage()
        #expect(u.challenges["a"]?.reserved == res(7, 700, 70))
        #expect(u.challenges["b"]?.reserved == res(3, 300, 30))
    }

    @Test("weights sum to 1 and respect the floor")
    func weightsFloor() {
        let p = QuotaParameters()
        let w = CVMQuotaManager.weights(shares: [0.98, 0.01, 0.01], demands: [0, 0, 0], parameters: p)
        #expect(abs(w.reduce(0, +) - 1) < 1e-9)
        #expect(w.allSatisfy { $0 >= p.minFloor - 1e-12 })
        #expect(w[0] > w[1])
        // 25 challenges × 0.05 ≥ 1: equal split.
        let many = CVMQuotaManager.weights(shares: Array(repeating: 1, count: 25), demands: Array(repeating: 0, count: 25),
                                           parameters: p)
        #expect(many.allSatisfy { abs($0 - 0.04) < 1e-12 })
        // All shares zero: equal split.
        #expect(CVMQuotaManager.weights(shares: [0, 0], demands: [0, 0], parameters: p) == [0.5, 0.5])
    }

    @Test("apportion splits exactly, by largest remainder")
    func apportion() {
        #expect(CVMQuotaManager.apportion(10, weights: [0.635, 0.365]) == [6, 4])
        #expect(CVMQuotaManager.apportion(1, weights: [0.5, 0.5]) == [1, 0])
        #expect(CVMQuotaManager.apportion(0, weights: [0.5, 0.5]) == [0, 0])
        #expect(CVMQuotaManager.apportion(7, weights: [1.0 / 3, 1.0 / 3, 1.0 / 3]).reduce(0, +) == 7)
    }

    @Test("demand shifts reservations toward the busy challenge, and decays")
    func demandShift() async throws {
        let q = CVMQuotaManager(capacity: res(100, 10000, 10000))
        await q.setActiveChallenges(["a": 0.5, "b": 0.5])
        var u = await q.getUsage()
        #expect(u.challenges["a"]?.reserved.cpuCores == 50)
        for _ in 0..<5 {
            let a = try await q.allocate(res(1, 10, 10), for: "a")
            await q.release(a)
        }
        await q.tick()
        u = await q.getUsage()
        let a = try #require(u.challenges["a"]?.reserved.cpuCores)
        let b = try #require(u.challenges["b"]?.reserved.cpuCores)
        #expect(a > b)
        #expect(a + b == 100)
        let before = try #require(u.challenges["a"]?.demand)
        await q.tick()
        #expect(try #require(await q.getUsage().challenges["a"]?.demand) < before)
    }

    @Test("allocation fits the reservation; errors say why")
    func allocationErrors() async throws {
        let q = CVMQuotaManager(capacity: res(4, 4096, 1000))
        await q.registerChallenge("a", emissionShare: 1)
        await #expect(throws: QuotaError.unknownChallenge("zz")) { try await q.allocate(res(1), for: "zz") }
        await #expect(throws: QuotaError.self) { try await q.allocate(res(-1), for: "a") }
        await #expect(throws: QuotaError.exceedsCapacity(requested: res(5), capacity: res(4, 4096, 1000))) {
            try await q.allocate(res(5), for: "a")
        }
        await #expect(throws: QuotaError.self) { try await q.allocate(res(0, 0, 0, 1), for: "a") }  // no GPUs
        let x = try await q.allocate(res(3, 3000, 500), for: "a")
        #expect(await q.checkCapacity(res(1, 1000, 500), for: "a"))
        #expect(!(await q.checkCapacity(res(2), for: "a")))
        do {
            _ = try await q.allocate(res(2), for: "a")
            Issue.record("expected insufficient")
        } catch let e as QuotaError {
            #expect(e.isRetryable)
            #expect(e == .insufficient(challengeId: "a", requested: res(2), available: res(1, 1096, 500)))
        }
        #expect(await q.release(x))
        #expect(!(await q.release(x)))
        #expect(await q.getUsage().inUse == .zero)
    }

    @Test("a shrunk reservation never lets usage exceed capacity")
    func shrinkKeepsCapacity() async throws {
        let q = CVMQuotaManager(capacity: res(10))
        await q.registerChallenge("a", emissionShare: 1)
        let big = try await q.allocate(res(10), for: "a")
        await q.registerChallenge("b", emissionShare: 9)  // b now reserves most of the machine
        #expect(!(await q.checkCapacity(res(1), for: "b")))
        await #expect(throws: QuotaError.self) { try await q.allocate(res(1), for: "b") }
        await q.release(big)
        _ = try await q.allocate(res(5), for: "b")
    }

    @Test("removing a challenge keeps its live allocations counted until released")
    func removeWithLiveAllocations() async throws {
        let q = CVMQuotaManager(capacity: res(10))
        await q.setActiveChallenges(["a": 1, "b": 1])
        let x = try await q.allocate(res(5), for: "a")
        await q.setActiveChallenges(["b": 1])
        #expect(await q.getUsage().inUse == res(5))
        #expect(!(await q.checkCapacity(res(6), for: "b")))
        await q.registerChallenge("a", emissionShare: 1)
        #expect(await q.getUsage().challenges["a"]?.inUse == res(5))
        #expect(await q.release(x))
        #expect(await q.getUsage().inUse == .zero)
        #expect(await q.getUsage().challenges["a"]?.inUse == .zero)
    }

    @Test("property: random sequences keep 0 ≤ usage ≤ capacity, reservations exact, release restores",
          arguments: Array(UInt64(1)...UInt64(120)))
    func property(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let capacity = res(1 + rng.below(32), 64 + rng.below(65536), 1 + rng.below(100_000), rng.below(4))
        let q = CVMQuotaManager(capacity: capacity, parameters: QuotaParameters(
            alpha: 0.1 + rng.unit() * 0.8, demandWeight: rng.unit() * 2, minFloor: rng.unit() * 0.3, decay: 0.5 + rng.unit() * 0.5))
        let ids = (0..<(1 + rng.below(6))).map { "c\($0)" }
        var live: [QuotaAllocation] = []
        var registered = Set<String>()
        for _ in 0..<400 {
            switch rng.below(10) {
            case 0:
                let id = ids[rng.below(ids.count)]
                await q.registerChallenge(id, emissionShare: rng.unit())
                registered.insert(id)
            case 1:
                if rng.below(4) == 0, let id = registered.sorted().randomElement(using: &rng) {
                    await q.removeChallenge(id)
                    registered.remove(id)
                }
            case 2:
                await q.tick()
            case 3, 4:
                if !live.isEmpty {
                    let i = rng.below(live.count)
                    #expect(await q.release(live.remove(at: i)))
                }
            default:
                let id = ids[rng.below(ids.count)]
                let req = res(rng.below(capacity.cpuCores + 1), rng.below(capacity.memoryMb / 2 + 1),
                              rng.below(capacity.diskMb / 2 + 1), rng.below(capacity.gpuCount + 1))
                let fits = await q.checkCapacity(req, for: id)
                do {
                    live.append(try await q.allocate(req, for: id))
                    #expect(fits)
                } catch let e as QuotaError {
                    #expect(!fits, "\(e)")
                }
            }
            let u = await q.getUsage()
            #expect(u.inUse.isNonNegative)
            #expect(u.inUse.fits(in: capacity), "usage \(u.inUse) exceeds capacity \(capacity)")
            #expect(u.inUse == live.reduce(ResourceLimits.zero) { $0 + $1.resources })
            if !u.challenges.isEmpty {
                #expect(u.challenges.values.reduce(ResourceLimits.zero) { $0 + $1.reserved } == capacity)
            }
            for (id, c) in u.challenges {
                #expect(c.inUse == live.filter { $0.challengeId == id }.reduce(ResourceLimits.zero) { $0 + $1.resources })
            }
        }
        for a in live { #expect(await q.release(a)) }
        for a in live { #expect(!(await q.release(a))) }
        let end = await q.getUsage()
        #expect(end.inUse == .zero)
        #expect(end.available == capacity)
        #expect(end.challenges.values.allSatisfy { $0.inUse == .zero })
    }
}
