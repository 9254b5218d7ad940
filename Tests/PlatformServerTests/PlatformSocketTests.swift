import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import Store
import TestSupport
import Testing

/// Real WebSocket clients against a live server on an ephemeral loopback port.
@Suite struct PlatformSocketTests {
    static func signed(_ v: SR25519Keypair) -> HTTPFields {
        var h: HTTPFields = [:]
        for (n, value) in SignedRequest.headers(for: v) { h[.init(n)!] = value }
        h[.init(PlatformHeaders.validatorHotkey)!] = v.publicKey.ss58Address
        return h
    }

    static func connect(_ port: Int, _ v: SR25519Keypair, since: Int64? = nil) -> SocketProbe {
        var headers = signed(v)
        if let since { headers[.init(PlatformHeaders.lastEventSeq)!] = String(since) }
        return SocketProbe(port: port, hotkey: v.publicKey.ss58Address, headers: headers)
    }

    @Test(arguments: TestDatabases.available)
    func validatorsReceiveNewJobsChallengeUpdatesAndCancellations(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let (a, b) = (h.validators[0], h.validators[1])
        try await h.runLive { c, port in
            let ch = try await c.createChallenge(PlatformClient.challengeRequest(retries: 2, timeout: 60))
            let sa = Self.connect(port, a)
            let sb = Self.connect(port, b)
            let welcome = try await sa.waitFor("welcome") { $0.isWelcome }
            guard case let .welcome(w) = welcome else { return }
            #expect(w.validatorHotkey == a.publicKey.ss58Address && w.mode == "snapshot" && w.replayed == 0)
            try await sb.waitFor("welcome") { $0.isWelcome }

            // A submission pushes new_job to every connected validator.
            let s = try await c.submit(SR25519Keypair.generate(), ch.id)
            let job = s.jobs[0].id
            for probe in [sa, sb] {
                let m = try await probe.waitFor("new_job") { $0.newJobId == job }
                guard case let .newJob(n) = m else { continue }
                #expect(n.challengeId == ch.id && n.type == "new_job" && (n.seq ?? 0) > 0)
            }

            // A new commit pushes challenge_updated.
            let patched = try await c.call(.patch, PlatformPaths.adminChallenge(ch.id), as: .admin,
                                           json: UpdateChallengeRequest(githubCommit: "abcdef0123456789"))
            #expect(patched.status == .ok)
            let updated = try await sb.waitFor("challenge_updated") {
                if case .challengeUpdated = $0 { return true } else { return false }
            }
            guard case let .challengeUpdated(u) = updated else { return }
            #expect(u.challengeId == ch.id && u.githubCommit == "abcdef0123456789")
            // Changing only the share does not.
            _ = try await c.call(.patch, PlatformPaths.adminChallenge(ch.id), as: .admin, json: UpdateChallengeRequest(emissionShare: 0.4))

            // A claims; its claim expires: job_cancelled to A only, then the job is announced again.
            #expect(try await c.claim(a, job).status == .ok)
            h.clock.advance(61)
            #expect(try await h.store.expireClaims(now: h.clock.now).requeued == [job])
            let cancelled = try await sa.waitFor("job_cancelled") {
                if case let .jobCancelled(m) = $0 { return m.jobId == job } else { return false }
            }
            guard case let .jobCancelled(jc) = cancelled else { return }
            #expect(jc.reason == "claim_expired")
            try await sb.waitFor("second new_job") { m in
                sb.messages.filter { $0.newJobId == job }.count == 2 && m.newJobId == job
            }
            #expect(!sb.messages.contains { if case .jobCancelled = $0 { return true } else { return false } })
            let updates = sa.messages.filter { if case .challengeUpdated = $0 { return true } else { return false } }
            #expect(updates.count == 1)
            // Sequence numbers only grow, and nothing arrived twice.
            let seqs = sa.messages.compactMap(\.seq)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)

            // Application-level ping.
            sa.send("{\"type\":\"ping\",\"ts\":12.5}")
            let pong = try await sa.waitFor("pong") { if case .pong = $0 { return true } else { return false } }
            #expect(pong == .pong(PongMessage(ts: 12.5)))
            #expect(try await c.call(.get, PlatformPaths.health).decode(PlatformHealth.self).validatorsConnected == 2)

            await sa.close()
            await sb.close()
        }
    }

    @Test(arguments: TestDatabases.available)
    func reconnectResumesWithoutDuplicatesOrGaps(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let (a, b) = (h.validators[0], h.validators[1])
        try await h.runLive { c, port in
            let ch = try await c.createChallenge(PlatformClient.challengeRequest(timeout: 60))
            let first = Self.connect(port, a)
            try await first.waitFor("welcome") { $0.isWelcome }
            let s1 = try await c.submit(SR25519Keypair.generate(), ch.id)
            let s2 = try await c.submit(SR25519Keypair.generate(), ch.id)
            try await first.waitFor("both jobs") { _ in first.messages.compactMap(\.newJobId).count == 2 }
            let lastSeen = try #require(first.messages.compactMap(\.seq).max())
            await first.close()

            // While A is away: a new job, a commit change, and B claims s1's job and lets it expire.
            let s3 = try await c.submit(SR25519Keypair.generate(), ch.id)
            _ = try await c.call(.patch, PlatformPaths.adminChallenge(ch.id), as: .admin,
                                 json: UpdateChallengeRequest(githubCommit: "1111111111111111"))
            _ = try await c.call(.patch, PlatformPaths.adminChallenge(ch.id), as: .admin,
                                 json: UpdateChallengeRequest(githubCommit: "2222222222222222"))
            #expect(try await c.claim(b, s2.jobs[0].id).status == .ok)

            // Resume with since: only what A missed and can still act on — s3's job and the latest
            // challenge_updated; not s1 (already delivered), not s2 (claimed by B now).
            let resumed = Self.connect(port, a, since: lastSeen)
            let welcome = try await resumed.waitFor("welcome") { $0.isWelcome }
            guard case let .welcome(w) = welcome else { return }
            #expect(w.mode == "since" && w.replayed == 2)
            try await resumed.waitFor("replay") { _ in resumed.messages.count >= 3 }
            #expect(resumed.messages.compactMap(\.newJobId) == [s3.jobs[0].id])
            let commits = resumed.messages.compactMap { m -> String? in
                if case let .challengeUpdated(u) = m { return u.githubCommit } else { return nil }
            }
            #expect(commits == ["2222222222222222"])
            // Live events continue after the replay.
            let s4 = try await c.submit(SR25519Keypair.generate(), ch.id)
            try await resumed.waitFor("live new_job") { $0.newJobId == s4.jobs[0].id }
            #expect(resumed.messages.compactMap(\.newJobId) == [s3.jobs[0].id, s4.jobs[0].id])
            await resumed.close()

            // Without since: a snapshot of every job A may claim now.
            let fresh = Self.connect(port, a)
            try await fresh.waitFor("snapshot") { _ in fresh.messages.compactMap(\.newJobId).count == 3 }
            #expect(Set(fresh.messages.compactMap(\.newJobId)) == [s1.jobs[0].id, s3.jobs[0].id, s4.jobs[0].id])
            guard case let .welcome(fw) = fresh.messages[0] else { Issue.record("welcome first"); return }
            #expect(fw.mode == "snapshot" && fw.replayed == 3)
            await fresh.close()
        }
    }

    @Test(arguments: TestDatabases.available)
    func upgradeIsAuthenticated(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[0]
        let stranger = SR25519Keypair.generate()
        try await h.runLive { c, port in
            // Query-parameter credentials for clients that cannot set upgrade headers.
            let sig = Dictionary(uniqueKeysWithValues: SignedRequest.headers(for: v).map { ($0.name, $0.value) })
            let query = "?key=\(v.publicKey.ss58Address)&timestamp=\(sig["X-Timestamp"]!)&signature=\(sig["X-Signature"]!)&since=0"
            let viaQuery = SocketProbe(port: port, hotkey: v.publicKey.ss58Address, headers: [:], query: query)
            try await viaQuery.waitFor("welcome via query auth") { $0.isWelcome }
            await viaQuery.close()

            // Refused upgrades: unregistered (403), unsigned or wrong key (401) — the client never connects.
            for (probe, expected) in [
                (Self.connect(port, stranger), HTTPResponse.Status.forbidden),
                (SocketProbe(port: port, hotkey: v.publicKey.ss58Address, headers: [:]), .unauthorized),
                (SocketProbe(port: port, hotkey: v.publicKey.ss58Address, headers: Self.signed(stranger)), .unauthorized),
            ] {
                #expect(await probe.waitClosed())
                #expect(probe.messages.isEmpty, "expected \(expected)")
                await probe.close()
            }
            // The same requests over plain HTTP show the reason.
            let plain = try await c.call(.get, PlatformPaths.validatorSocket(stranger.publicKey.ss58Address), as: .validator(stranger))
            #expect(plain.status == .forbidden)

            // Removing a validator closes its socket.
            let live = Self.connect(port, v)
            try await live.waitFor("welcome") { $0.isWelcome }
            #expect(try await c.call(.delete, PlatformPaths.adminValidator(v.publicKey.ss58Address), as: .admin).status == .noContent)
            #expect(await live.waitClosed())
            await live.close()
        }
    }
}
