import Foundation
import Hotkeys
import Logging
import PlatformAPI
import TestSupport
import Testing
@testable import Validator

@Suite("Job loop: claims of the oldest pending job of each challenge")
struct JobLoopClaimTests {
    /// A job manager against the fake platform at `url`: local executor without sandbox or
    /// network, work under `tmp`, room for 8 CPUs, `configure` applied to its config.
    func makeManager(url: String, tmp: TempDir, configure: (inout ValidatorConfig) -> Void = { _ in }) throws -> JobManager {
        var config = try ValidatorConfig.parse(toml: "platform_api_url = \"\(url)\"\n[sandbox]\nmode = \"off\"\n")
        config.workDir = tmp.sub("work").path
        config.network = .off
        configure(&config)
        try FileManager.default.createDirectory(at: config.jobsDirectory, withIntermediateDirectories: true)
        return JobManager(client: PlatformClient(baseURL: url, keypair: .generate(), logger: compatLogger),
                          challenges: ChallengeManager(cacheDirectory: config.challengeCacheDirectory),
                          quota: CVMQuotaManager(capacity: ResourceLimits(cpuCores: 8, memoryMb: 8192, diskMb: 8192)),
                          executor: config.makeExecutor(logger: compatLogger), config: config, logger: compatLogger)
    }

    /// Two challenges with three long jobs each, four job slots and two per challenge: one pass
    /// claims round-robin (a, b, a, b), oldest first in each challenge, and stops at the slots;
    /// the next pass claims nothing more while those run. Shutdown returns only once all four
    /// are reported (it once returned while reports of jobs that had just ended were in flight).
    @Test func onePassClaimsRoundRobinOldestFirstUpToCapacity() async throws {
        let tmp = try TempDir("jobloop-claims")
        defer { tmp.cleanup() }
        let a = try ScriptChallenge(in: tmp, id: "a", pidFile: tmp.sub("a.pid"))
        let b = try ScriptChallenge(in: tmp, id: "b", pidFile: tmp.sub("b.pid"))
        try await withFakePlatform { url, platform in
            await platform.addChallenge(a.spec)
            await platform.addChallenge(b.spec)
            for i in 1...3 {
                await platform.addJob("a\(i)", challenge: "a", code: "sleep")
                await platform.addJob("b\(i)", challenge: "b", code: "sleep")
            }
            let manager = try makeManager(url: url, tmp: tmp) {
                $0.maxConcurrentJobs = 4
                $0.perChallengeConcurrency = 2
                $0.claimBatch = 4
            }
            // The first pass reads the active challenges itself.
            await manager.pollOnce()
            #expect(await platform.claimed == ["a1", "b1", "a2", "b2"])
            #expect(Set(await manager.runningJobs) == ["a1", "b1", "a2", "b2"])
            await manager.pollOnce()
            #expect(await platform.pending.map(\.id).sorted() == ["a3", "b3"])
            let stats = await manager.statistics
            #expect(stats.claimed == 4 && stats.lostClaims == 0)
            await manager.shutdown()
            let results = await platform.results
            #expect(results.count == 4, "\(results)")
        }
    }

    /// A `new_job` of a challenge created after the validator last read the active challenges:
    /// it reads them again and claims the job at once (not at the next periodic sync).
    @Test func aNewJobOfAChallengeCreatedSinceTheLastSyncIsClaimedAtOnce() async throws {
        let tmp = try TempDir("jobloop-newchallenge")
        defer { tmp.cleanup() }
        let a = try ScriptChallenge(in: tmp, id: "a", pidFile: tmp.sub("a.pid"))
        let b = try ScriptChallenge(in: tmp, id: "b", pidFile: tmp.sub("b.pid"))
        try await withFakePlatform { url, platform in
            await platform.addChallenge(a.spec)
            let manager = try makeManager(url: url, tmp: tmp)
            await manager.pollOnce()
            #expect(await platform.claimed.isEmpty)
            await platform.addChallenge(b.spec)
            await platform.addJob("b1", challenge: "b", code: "anything")
            await manager.handle(.newJob(NewJobMessage(jobId: "b1", challengeId: "b")))
            await manager.drain()
            #expect(await platform.claimed == ["b1"])
            #expect(await platform.results["b1"]?.score == 0.5)
        }
    }
}
