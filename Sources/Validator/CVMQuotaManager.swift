import Foundation
import Logging
import ServiceKit

/// Tuning of the quota algorithm (defaults from the reference implementation).
public struct QuotaParameters: Sendable, Equatable {
    /// Weight of a new allocation attempt in the demand moving average.
    public var alpha: Double = 0.3
    /// How much relative demand boosts a challenge's emission share (k).
    public var demandWeight: Double = 0.5
    /// Minimum fraction of capacity reserved for every active challenge.
    public var minFloor: Double = 0.05
    /// Demand multiplier applied on every `tick` (decay).
    public var decay: Double = 0.95

    public init(alpha: Double = 0.3, demandWeight: Double = 0.5, minFloor: Double = 0.05, decay: Double = 0.95) {
        self.alpha = alpha
        self.demandWeight = demandWeight
        self.minFloor = minFloor
        self.decay = decay
    }
}

/// Proof of a granted allocation; hand it back to `release`.
public struct QuotaAllocation: Sendable, Hashable, CustomStringConvertible {
    public let id: UInt64
    public let challengeId: String
    public let resources: ResourceLimits

    public var description: String { "allocation #\(id) for \(challengeId) (\(resources))" }
}

/// Why the quota manager refused an allocation.
public enum QuotaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The challenge was never registered (or was removed).
    case unknownChallenge(String)
    /// A negative amount was requested.
    case invalidRequest(String)
    /// Larger than the whole validator: can never be granted.
    case exceedsCapacity(requested: ResourceLimits, capacity: ResourceLimits)
    /// Not now: the challenge's reservation (or the machine) has too little left; retry
    /// after a release or the next recompute.
    case insufficient(challengeId: String, requested: ResourceLimits, available: ResourceLimits)

    public var description: String {
        switch self {
        case let .unknownChallenge(id): return "quota: challenge \(id) is not registered"
        case let .invalidRequest(why): return "quota: invalid request: \(why)"
        case let .exceedsCapacity(req, cap): return "quota: request (\(req)) exceeds the validator's total capacity (\(cap))"
        case let .insufficient(id, req, avail):
            return "quota: insufficient resources for \(id): requested \(req), available \(avail)"
        }
    }

    /// Whether waiting can help.
    public var isRetryable: Bool {
        if case .insufficient = self { return true }
        return false
    }
}

/// One challenge's quota state.
public struct ChallengeQuota: Sendable, Equatable, Codable {
    public var emissionShare: Double
    /// Moving average of allocation attempts (0…1 per attempt, decayed on every tick).
    public var demand: Double
    public var reserved: ResourceLimits
    public var inUse: ResourceLimits
    public var allocations: Int

    enum CodingKeys: String, CodingKey {
        case reserved, allocations, demand
        case emissionShare = "emission_share"
        case inUse = "in_use"
    }
}

/// A snapshot from `getUsage`.
public struct QuotaUsage: Sendable, Equatable, Codable {
    public var capacity: ResourceLimits
    public var inUse: ResourceLimits
    public var available: ResourceLimits
    public var challenges: [String: ChallengeQuota]

    enum CodingKeys: String, CodingKey {
        case capacity, available, challenges
        case inUse = "in_use"
    }
}

/// The validator's resource ledger (seed: CVMQuotaManager; algorithm: reference §6.6
/// with its fixes).
///
/// Capacity is split into per-challenge reservations, recomputed on every `tick` and on
/// every (un)registration: weight `w = share · (1 + k · demand/Σdemand)`, normalised;
/// then every active challenge gets at least `minFloor` of the machine
/// (`w' = floor + (max(w, floor) − floor) · (1 − n·floor) / (S − n·floor)` with
/// `S = Σ max(w, floor)`, which sums to 1; equal split when `n·floor ≥ 1`); each resource
/// is apportioned by largest remainder, so reservations sum to exactly the capacity.
/// An allocation for challenge c is granted when it fits both c's unused reservation and
/// the machine's unused capacity, so usage never exceeds capacity even right after a
/// recompute shrank a reservation below what is in use. Every attempt (granted or not)
/// raises c's demand average; `tick` decays all demand by `decay`.
///
/// Releasing is by token and idempotent: releasing an unknown or already released token
/// returns false and changes nothing, so usage never goes negative.
public actor CVMQuotaManager {
    public let capacity: ResourceLimits
    public let parameters: QuotaParameters
    private var challenges: [String: ChallengeQuota] = [:]
    private var allocations: [UInt64: QuotaAllocation] = [:]
    private var inUseTotal = ResourceLimits.zero
    private var nextId: UInt64 = 1

    public init(capacity: ResourceLimits, parameters: QuotaParameters = QuotaParameters()) {
        self.capacity = ResourceLimits(components: capacity.components.map { max(0, $0) })
        self.parameters = parameters
    }

    // MARK: Challenges

    /// Adds a challenge or updates its emission share; reservations are recomputed at once.
    public func registerChallenge(_ id: String, emissionShare: Double) {
        let share = emissionShare.isFinite ? max(0, emissionShare) : 0
        if challenges[id] == nil {
            challenges[id] = newEntry(id, share: share)
        } else {
            challenges[id]?.emissionShare = share
        }
        recompute()
    }

    /// Makes the active set exactly `shares` (challenge id → emission share): new ones are
    /// added, missing ones removed (their live allocations stay counted until released).
    public func setActiveChallenges(_ shares: [String: Double]) {
        for id in challenges.keys where shares[id] == nil { removeEntry(id) }
        for (id, share) in shares {
            let s = share.isFinite ? max(0, share) : 0
            if challenges[id] == nil {
                challenges[id] = newEntry(id, share: s)
            } else {
                challenges[id]?.emissionShare = s
            }
        }
        recompute()
    }

    public func removeChallenge(_ id: String) {
        removeEntry(id)
        recompute()
    }

    private func removeEntry(_ id: String) {
        challenges[id] = nil
    }

    /// A fresh entry; allocations still live from an earlier registration count as in use.
    private func newEntry(_ id: String, share: Double) -> ChallengeQuota {
        let live = allocations.values.filter { $0.challengeId == id }
        return ChallengeQuota(emissionShare: share, demand: 0, reserved: .zero,
                              inUse: live.reduce(ResourceLimits.zero) { $0 + $1.resources }, allocations: live.count)
    }

    // MARK: Seed API

    /// Whether `resources` could be allocated for `challengeId` now (does not count as demand).
    public func checkCapacity(_ resources: ResourceLimits, for challengeId: String) -> Bool {
        (try? admissible(resources, for: challengeId)) != nil
    }

    /// Grants `resources` to `challengeId` or throws `QuotaError`.
    public func allocate(_ resources: ResourceLimits, for challengeId: String) throws -> QuotaAllocation {
        guard var entry = challenges[challengeId] else { throw QuotaError.unknownChallenge(challengeId) }
        let a = parameters.alpha
        entry.demand = a + (1 - a) * entry.demand
        challenges[challengeId] = entry
        try admissible(resources, for: challengeId)
        let allocation = QuotaAllocation(id: nextId, challengeId: challengeId, resources: resources)
        nextId += 1
        allocations[allocation.id] = allocation
        inUseTotal = inUseTotal + resources
        entry.inUse = entry.inUse + resources
        entry.allocations += 1
        challenges[challengeId] = entry
        return allocation
    }

    /// Returns an allocation's resources. Unknown or already released: returns false, no effect.
    @discardableResult
    public func release(_ allocation: QuotaAllocation) -> Bool {
        guard let held = allocations.removeValue(forKey: allocation.id) else { return false }
        inUseTotal = inUseTotal.saturatingSubtract(held.resources)
        if var c = challenges[held.challengeId] {
            c.inUse = c.inUse.saturatingSubtract(held.resources)
            c.allocations = max(0, c.allocations - 1)
            challenges[held.challengeId] = c
        }
        return true
    }

    public func getUsage() -> QuotaUsage {
        QuotaUsage(capacity: capacity, inUse: inUseTotal, available: capacity.saturatingSubtract(inUseTotal),
                   challenges: challenges)
    }

    /// Periodic step: recompute reservations from shares and demand, then decay demand.
    public func tick() {
        recompute()
        for id in challenges.keys { challenges[id]?.demand *= parameters.decay }
    }

    /// Live allocations (for diagnostics and tests).
    public var liveAllocations: [QuotaAllocation] { allocations.values.sorted { $0.id < $1.id } }

    // MARK: Algorithm

    @discardableResult
    private func admissible(_ r: ResourceLimits, for id: String) throws -> ResourceLimits {
        guard let c = challenges[id] else { throw QuotaError.unknownChallenge(id) }
        guard r.isNonNegative else { throw QuotaError.invalidRequest("negative amount in \(r)") }
        guard r.fits(in: capacity) else { throw QuotaError.exceedsCapacity(requested: r, capacity: capacity) }
        let available = c.reserved.saturatingSubtract(c.inUse).min(capacity.saturatingSubtract(inUseTotal))
        guard r.fits(in: available) else {
            throw QuotaError.insufficient(challengeId: id, requested: r, available: available)
        }
        return available
    }

    private func recompute() {
        let ids = challenges.keys.sorted()
        let weights = Self.weights(shares: ids.map { challenges[$0]?.emissionShare ?? 0 },
                                   demands: ids.map { challenges[$0]?.demand ?? 0 }, parameters: parameters)
        var reserved = Array(repeating: [Int](), count: ids.count)
        for total in capacity.components {
            let parts = Self.apportion(total, weights: weights)
            for i in ids.indices { reserved[i].append(parts[i]) }
        }
        for (i, id) in ids.enumerated() { challenges[id]?.reserved = ResourceLimits(components: reserved[i]) }
    }

    /// Normalised weights (sum 1 when non-empty) with the demand boost and the floor.
    static func weights(shares: [Double], demands: [Double], parameters p: QuotaParameters) -> [Double] {
        let n = shares.count
        guard n > 0 else { return [] }
        let totalDemand = demands.reduce(0, +)
        var w = zip(shares, demands).map { share, d in
            max(0, share) * (1 + p.demandWeight * (totalDemand > 0 ? d / totalDemand : 0))
        }
        let sum = w.reduce(0, +)
        w = sum > 0 ? w.map { $0 / sum } : Array(repeating: 1 / Double(n), count: n)
        let floorTotal = p.minFloor * Double(n)
        if floorTotal >= 1 { return Array(repeating: 1 / Double(n), count: n) }
        if p.minFloor > 0 {
            let lifted = w.map { max($0, p.minFloor) }
            let s = lifted.reduce(0, +)
            let excess = s - floorTotal
            if excess > 0 {
                w = lifted.map { p.minFloor + ($0 - p.minFloor) * (1 - floorTotal) / excess }
            } else {
                w = Array(repeating: 1 / Double(n), count: n)
            }
        }
        return w
    }

    /// Splits `total` units by `weights` (sum 1): floors, then the remaining units to the
    /// largest fractional parts (ties to the lower index). Sums to exactly `total`.
    static func apportion(_ total: Int, weights: [Double]) -> [Int] {
        guard !weights.isEmpty, total > 0 else { return Array(repeating: 0, count: weights.count) }
        let exact = weights.map { $0 * Double(total) }
        var parts = exact.map { Int($0.rounded(.down)) }
        var left = total - parts.reduce(0, +)
        let order = exact.indices.sorted { a, b in
            let fa = exact[a] - exact[a].rounded(.down)
            let fb = exact[b] - exact[b].rounded(.down)
            return fa != fb ? fa > fb : a < b
        }
        var i = 0
        while left > 0 {
            parts[order[i % order.count]] += 1
            left -= 1
            i += 1
        }
        while left < 0 {
            // Only reachable through rounding error; take back from the largest.
            if let j = parts.indices.max(by: { parts[$0] < parts[$1] }), parts[j] > 0 { parts[j] -= 1 }
            left += 1
        }
        return parts
    }
}

extension CVMQuotaManager {
    /// A service that calls `tick()` every `interval` seconds (reference: 5 s).
    public nonisolated func periodicTask(interval: Double = 5, logger: Logger) -> PeriodicTask {
        PeriodicTask(name: "quota-recompute", interval: interval, logger: logger) { [self] in await self.tick() }
    }
}
