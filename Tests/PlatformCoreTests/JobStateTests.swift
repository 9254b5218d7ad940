import PlatformCore
import TestSupport
import Testing

@Suite struct JobStateTests {
    let v1 = "validator-1", v2 = "validator-2"

    @Test func happyPathClaimStartComplete() throws {
        let s0 = JobState(maxRetries: 3)
        let s1 = try s0.applying(.claim(validator: v1, now: 100, leaseSeconds: 60))
        #expect(s1.status == .claimed && s1.claimer == v1 && s1.leaseExpiresAt == 160 && s1.attempt == 1)
        let s2 = try s1.applying(.start(validator: v1))
        #expect(s2.status == .running)
        #expect(try s2.applying(.start(validator: v1)) == s2, "starting twice is a no-op")
        let s3 = try s2.applying(.complete(validator: v1))
        #expect(s3.status == .completed && s3.claimer == v1 && s3.leaseExpiresAt == nil)
    }

    @Test func resultsWithErrorFail() throws {
        let s = try JobState(maxRetries: 0).applying(.claim(validator: v1, now: 0, leaseSeconds: 10))
            .applying(.fail(validator: v1, reason: "boom"))
        #expect(s.status == .failed && s.failureReason == "boom")
    }

    @Test func onlyPendingJobsCanBeClaimed() throws {
        let claimed = try JobState(maxRetries: 1).applying(.claim(validator: v1, now: 0, leaseSeconds: 10))
        #expect(throws: JobTransitionError.notPending(.claimed)) { try claimed.applying(.claim(validator: v2, now: 1, leaseSeconds: 10)) }
        let done = try claimed.applying(.complete(validator: v1))
        #expect(throws: JobTransitionError.notPending(.completed)) { try done.applying(.claim(validator: v2, now: 1, leaseSeconds: 10)) }
    }

    @Test func onlyTheClaimerMayStartOrPostResults() throws {
        let claimed = try JobState(maxRetries: 1).applying(.claim(validator: v1, now: 0, leaseSeconds: 10))
        #expect(throws: JobTransitionError.notClaimer(claimer: v1)) { try claimed.applying(.complete(validator: v2)) }
        #expect(throws: JobTransitionError.notClaimer(claimer: v1)) { try claimed.applying(.start(validator: v2)) }
        #expect(throws: JobTransitionError.notClaimer(claimer: v1)) { try claimed.applying(.fail(validator: v2, reason: "x")) }
        // Not in flight: pending → 409-style error, finished by another → claimer error.
        #expect(throws: JobTransitionError.notInFlight(.pending)) { try JobState(maxRetries: 1).applying(.complete(validator: v1)) }
        let done = try claimed.applying(.complete(validator: v1))
        #expect(throws: JobTransitionError.notInFlight(.completed)) { try done.applying(.complete(validator: v1)) }
        #expect(throws: JobTransitionError.notClaimer(claimer: v1)) { try done.applying(.complete(validator: v2)) }
    }

    @Test func expiryRequeuesUntilMaxRetriesThenFails() throws {
        var s = JobState(maxRetries: 2)
        var requeues = 0
        for round in 0..<3 {
            s = try s.applying(.claim(validator: "v\(round)", now: Double(round) * 100, leaseSeconds: 30))
            #expect(throws: JobTransitionError.leaseNotExpired(expiresAt: Double(round) * 100 + 30)) {
                try s.applying(.expire(now: Double(round) * 100 + 29))
            }
            s = try s.applying(.expire(now: Double(round) * 100 + 30))
            if s.status == .pending { requeues += 1 }
        }
        #expect(requeues == 2 && s.status == .failed && s.failureReason == "timeout" && s.retryCount == 2)
        let once = try JobState(maxRetries: 0).applying(.claim(validator: v1, now: 0, leaseSeconds: 1)).applying(.expire(now: 5))
        #expect(once.status == .failed, "max_retries 0: the first expiry fails the job")
    }

    @Test func expiryNeedsAJobInFlight() {
        #expect(throws: JobTransitionError.notInFlight(.pending)) { try JobState(maxRetries: 1).applying(.expire(now: 1e9)) }
    }

    @Test func cancelFromAnyOpenStateOnly() throws {
        #expect(try JobState(maxRetries: 1).applying(.cancel(reason: "x")).status == .cancelled)
        let claimed = try JobState(maxRetries: 1).applying(.claim(validator: v1, now: 0, leaseSeconds: 10))
        #expect(try claimed.applying(.cancel(reason: "x")).status == .cancelled)
        let done = try claimed.applying(.complete(validator: v1))
        #expect(throws: JobTransitionError.alreadyFinished(.completed)) { try done.applying(.cancel(reason: "x")) }
    }

    /// Random event sequences keep the invariants: a claimer exactly while in flight (or
    /// after finishing from flight), retry_count ≤ max_retries, terminal states absorb.
    @Test(arguments: propertySeeds)
    func randomSequencesKeepInvariants(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let maxRetries = g.below(4)
        var s = JobState(maxRetries: maxRetries)
        var now = 0.0
        let validators = ["a", "b", "c"]
        for _ in 0..<40 {
            now += Double(g.below(50))
            let v = validators[g.below(validators.count)]
            let event: JobEvent
            switch g.below(6) {
            case 0: event = .claim(validator: v, now: now, leaseSeconds: 30)
            case 1: event = .start(validator: v)
            case 2: event = .complete(validator: v)
            case 3: event = .fail(validator: v, reason: "e")
            case 4: event = .expire(now: now)
            default: event = g.chance(0.2) ? .cancel(reason: "c") : .expire(now: now)
            }
            let before = s
            guard let next = try? s.applying(event) else { continue }
            s = next
            if before.status.isTerminal { Issue.record("terminal state \(before.status) changed") }
            #expect(s.retryCount <= maxRetries)
            #expect(s.retryCount >= before.retryCount)
            switch s.status {
            case .pending: #expect(s.claimer == nil && s.leaseExpiresAt == nil)
            case .claimed, .running: #expect(s.claimer != nil && s.leaseExpiresAt != nil)
            case .completed: #expect(s.claimer != nil)
            case .failed, .cancelled: #expect(s.leaseExpiresAt == nil)
            }
        }
    }
}
