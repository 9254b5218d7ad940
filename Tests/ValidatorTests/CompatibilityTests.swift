import DstackAPI
import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import Logging
import PlatformAPI
import ServiceKit
import TestSupport
import Testing
@testable import Validator
@testable import VMMServer

/// Keypair 0 of the shared SR25519 vectors (schnorrkel / sp-core): the hotkey the seed
/// config example names, and its mini-secret.
enum VectorKey {
    static let seedHex = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
    static let address = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
}

enum SeedConfig {
    static let path = Example.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("validator/seed-config.toml").path
}

let compatLogger: Logger = {
    var l = Logger(label: "evalnet.test.validator")
    l.logLevel = .warning
    return l
}()

@Suite("Seed compatibility: config.toml and keys")
struct SeedConfigTests {
    @Test("the seed's config.toml starts the validator; the secret comes from the environment")
    func seedConfigStartsValidator() async throws {
        let tmp = try TempDir("seed-config")
        defer { tmp.cleanup() }
        try await withFakePlatform { url, platform in
            // Only the platform URL (a free port of this test) and the work directory are
            // overridden — through the environment, as an operator would.
            let env = [ValidatorConfig.secretSeedVariable: "0x" + VectorKey.seedHex,
                       "EVALNET_VALIDATOR_PLATFORM_API_URL": url, "EVALNET_VALIDATOR_WORK_DIR": tmp.path]
            let config = try ValidatorConfig.load(path: SeedConfig.path, environment: env)
            #expect(config.validatorHotkey == VectorKey.address)
            #expect(config.dstackVMMURL == "http://127.0.0.1:8090")
            #expect(config.resourceLimits == ResourceLimits(cpuCores: 4, memoryMb: 2048, diskMb: 10240, gpuCount: 0))
            #expect(config.makeExecutor(logger: compatLogger).name == "dstack")
            let keypair = try config.loadKeypair(environment: env)
            #expect(keypair.publicKey.ss58Address == VectorKey.address)
            let stopper = ServiceStopper()
            let validator = Task {
                try await runValidator(config: config, keypair: keypair, logger: compatLogger, stopper: stopper)
            }
            // The running validator talks to the platform as validator_hotkey.
            #expect(await eventually { await platform.hotkeys.contains(VectorKey.address) })
            await stopper.stop()
            try await validator.value
            #expect(await platform.hotkeys == [VectorKey.address])
        }
    }

    @Test("the seed file as written: its own platform_api_url is the platform's default address")
    func seedFileAsWritten() throws {
        let config = try ValidatorConfig.load(path: SeedConfig.path, environment: [:])
        #expect(config.platformAPIURL == PlatformDefaults.localURL)
    }

    @Test("a secret of another hotkey is refused with both hotkeys named")
    func hotkeyMismatch() throws {
        let tmp = try TempDir("seed-mismatch")
        defer { tmp.cleanup() }
        let config = try ValidatorConfig.load(path: SeedConfig.path, environment: [:])
        let other = SR25519Keypair.generate()
        let env = [ValidatorConfig.secretSeedVariable: Hex.encode(other.seed)]
        do {
            _ = try config.loadKeypair(environment: env)
            Issue.record("a mismatched secret was accepted")
        } catch let error as KeySourceError {
            #expect(error == .hotkeyMismatch(configured: VectorKey.address, actual: other.publicKey.ss58Address,
                                             source: "environment \(ValidatorConfig.secretSeedVariable)"))
            let text = error.description
            #expect(text.contains(VectorKey.address) && text.contains(other.publicKey.ss58Address))
            #expect(text.contains("validator_hotkey"))
        }
        // The same check for a key file.
        let keyPath = tmp.sub("other.json").path
        try KeyFile(keypair: other).write(to: keyPath)
        let fromFile = try ValidatorConfig.load(path: SeedConfig.path, environment: ["EVALNET_VALIDATOR_KEY_FILE": keyPath])
        #expect(throws: KeySourceError.hotkeyMismatch(configured: VectorKey.address, actual: other.publicKey.ss58Address,
                                                      source: "key file \(keyPath)")) {
            try fromFile.loadKeypair(environment: [:])
        }
        // The matching key file is accepted.
        let rightPath = tmp.sub("right.json").path
        try KeyFile(keypair: try SR25519Keypair(seed: try Hex.decode(VectorKey.seedHex))).write(to: rightPath)
        let right = try ValidatorConfig.load(path: SeedConfig.path, environment: ["EVALNET_VALIDATOR_KEY_FILE": rightPath])
        #expect(try right.loadKeypair(environment: [:]).publicKey.ss58Address == VectorKey.address)
    }

    @Test("no secret, a malformed secret and a malformed validator_hotkey are explained")
    func badKeys() throws {
        let missing = try ValidatorConfig.parse(toml: """
            validator_hotkey = "\(VectorKey.address)"
            key_file = "/nonexistent/evalnet/hotkey.json"
            """)
        do {
            _ = try missing.loadKeypair(environment: [:])
            Issue.record("started without a secret")
        } catch let error as KeySourceError {
            #expect(error == .noSecret(keyFile: "/nonexistent/evalnet/hotkey.json", hotkey: VectorKey.address))
            #expect(error.description.contains(ValidatorConfig.secretSeedVariable))
        }
        #expect(throws: KeySourceError.self) {
            try missing.loadKeypair(environment: [ValidatorConfig.secretSeedVariable: "0x1234"])
        }
        #expect(throws: KeySourceError.self) {
            try missing.loadKeypair(environment: [ValidatorConfig.secretSeedVariable: String(repeating: "zz", count: 32)])
        }
        do {
            _ = try ValidatorConfig.parse(toml: "validator_hotkey = \"5NotAnAddress\"")
            Issue.record("a malformed validator_hotkey was accepted")
        } catch let error as ConfigError {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.hasPrefix("validator_hotkey (config.toml): ") == true)
        }
        // The secret variable is not an unknown setting.
        #expect(try ValidatorConfig.parse(toml: "", environment: [ValidatorConfig.secretSeedVariable: VectorKey.seedHex])
            == ValidatorConfig.parse(toml: ""))
    }

    @Test("the default platform_api_url is where `evalnet platform serve` listens by default")
    func defaultURLMatchesPlatform() {
        #expect(ValidatorConfig().platformAPIURL == "http://\(PlatformDefaults.host):\(PlatformDefaults.port)")
        #expect(PlatformDefaults.port == 8435)
    }
}

@Suite("Seed compatibility: job outcomes and shutdown")
struct JobReportingTests {
    @Test("results bodies: a rejected submission carries its score and error; failures carry error without score")
    func resultBodies() {
        let rejected = JobManager.results(of: JobOutcome(status: .rejected, score: 0, error: "does not load"))
        #expect(rejected.score == 0)
        #expect(rejected.error == "submission rejected: does not load")
        let rejectedScored = JobManager.results(of: JobOutcome(status: .rejected, score: 0.25, error: "submission rejected: too big"))
        #expect(rejectedScored.score == 0.25)
        #expect(rejectedScored.error == "submission rejected: too big")
        let reasonless = JobManager.results(of: JobOutcome(status: .rejected, exitStatus: "exit status 2"))
        #expect(reasonless.score == 0)
        #expect(reasonless.error == "submission rejected: exit status 2")
        let completed = JobManager.results(of: JobOutcome(status: .completed, score: 0.7))
        #expect(completed.score == 0.7)
        #expect(completed.error == nil)
        let noScore = JobManager.results(of: JobOutcome(status: .completed, score: .nan))
        #expect(noScore.score == nil)
        #expect(noScore.error != nil)
        let failed = JobManager.results(of: JobOutcome(status: .failed, error: "evaluator crashed (exit status 1)"))
        #expect(failed.score == nil)
        #expect(failed.error == "evaluator crashed (exit status 1)")
        let timeout = JobManager.results(of: JobOutcome(status: .timeout, error: "timeout"))
        #expect(timeout.error == "timeout")
    }

    @Test("through the job loop: a rejected submission is posted with error; shutdown kills the running job and posts it as failed")
    func rejectAndShutdown() async throws {
        let tmp = try TempDir("compat-jobs")
        defer { tmp.cleanup() }
        let pidFile = tmp.sub("evaluator.pid")
        let challenge = try ScriptChallenge(in: tmp, pidFile: pidFile)
        try await withFakePlatform { url, platform in
            await platform.addChallenge(challenge.spec)
            await platform.addJob("job-reject", challenge: challenge.spec.id, code: "reject")
            await platform.addJob("job-sleep", challenge: challenge.spec.id, code: "sleep")
            let config = try ValidatorConfig.parse(toml: """
                platform_api_url = "\(url)"
                work_dir = "\(tmp.sub("work").path)"
                poll_interval_s = 0.05

                [resource_limits]
                cpu_cores = 8
                memory_mb = 4096
                disk_mb = 4096

                [local_executor]
                network = "off"

                [sandbox]
                mode = "off"
                """)
            let stopper = ServiceStopper()
            let managerBox = ManagerBox()
            let validator = Task {
                try await runValidator(config: config, keypair: .generate(), logger: compatLogger, stopper: stopper,
                                       onStart: { await managerBox.set($0) })
            }
            #expect(await eventually { await platform.results["job-reject"] != nil && readPid(pidFile) != nil })
            let rejected = try #require(await platform.results["job-reject"])
            #expect(rejected.score == 0)
            #expect(rejected.error == "submission rejected: no predict function")
            #expect(await platform.results["job-sleep"] == nil)
            let pgid = try #require(readPid(pidFile))
            #expect(!groupIsGone(pgid))

            // Graceful shutdown, as SIGINT/SIGTERM trigger it.
            await stopper.stop()
            try await validator.value

            let cancelled = try #require(await platform.results["job-sleep"], "the cancelled job was not reported")
            #expect(cancelled.score == nil)
            #expect(cancelled.error == JobManager.shutdownError)
            #expect(groupIsGone(pgid), "the evaluator's process group survived shutdown")
            let manager = try #require(await managerBox.manager)
            #expect(await manager.runningJobs.isEmpty)
            #expect(await manager.statistics.cancelledAtShutdown == 1)
            #expect(await platform.claimed == ["job-reject", "job-sleep"])
        }
    }

    @Test("a job the platform cancels is not reported back")
    func platformCancelNotReported() async throws {
        let tmp = try TempDir("compat-cancel")
        defer { tmp.cleanup() }
        let pidFile = tmp.sub("evaluator.pid")
        let challenge = try ScriptChallenge(in: tmp, pidFile: pidFile)
        try await withFakePlatform { url, platform in
            await platform.addChallenge(challenge.spec)
            await platform.addJob("job-sleep", challenge: challenge.spec.id, code: "sleep")
            var config = try ValidatorConfig.parse(toml: "platform_api_url = \"\(url)\"\n[sandbox]\nmode = \"off\"\n")
            config.workDir = tmp.sub("work").path
            config.network = .off
            try FileManager.default.createDirectory(at: config.jobsDirectory, withIntermediateDirectories: true)
            let client = PlatformClient(baseURL: url, keypair: .generate(), logger: compatLogger)
            let quota = CVMQuotaManager(capacity: ResourceLimits(cpuCores: 4, memoryMb: 4096, diskMb: 4096))
            let manager = JobManager(client: client, challenges: ChallengeManager(cacheDirectory: config.challengeCacheDirectory),
                                     quota: quota, executor: config.makeExecutor(logger: compatLogger), config: config,
                                     logger: compatLogger)
            try await manager.checkChallengeUpdates()
            await manager.pollOnce()
            #expect(await eventually { readPid(pidFile) != nil })
            let pgid = try #require(readPid(pidFile))
            await manager.handle(.jobCancelled(JobCancelledMessage(jobId: "job-sleep", reason: "admin")))
            await manager.shutdown()
            #expect(groupIsGone(pgid))
            #expect(await platform.results["job-sleep"] == nil)
            #expect(await manager.statistics.cancelled == 1)
            #expect(await manager.statistics.cancelledAtShutdown == 0)
        }
    }

    @Test("has_capacity asks get_challenge_status: a job of a challenge that failed to provision is not claimed")
    func notReadyChallengeNotClaimed() async throws {
        let tmp = try TempDir("compat-notready")
        defer { tmp.cleanup() }
        let good = try ScriptChallenge(in: tmp, id: "good", pidFile: tmp.sub("good.pid"))
        var misdeclared = try ScriptChallenge(in: tmp, id: "bad", pidFile: tmp.sub("bad.pid")).spec
        misdeclared.composeHash = String(repeating: "ab", count: 32)
        let bad = misdeclared
        try await withFakePlatform { url, platform in
            await platform.addChallenge(good.spec)
            await platform.addChallenge(bad)
            await platform.addJob("job-bad", challenge: "bad", code: "anything")
            await platform.addJob("job-good", challenge: "good", code: "anything")
            var config = try ValidatorConfig.parse(toml: "platform_api_url = \"\(url)\"\n[sandbox]\nmode = \"off\"\n")
            config.workDir = tmp.sub("work").path
            config.network = .off
            try FileManager.default.createDirectory(at: config.jobsDirectory, withIntermediateDirectories: true)
            let challenges = ChallengeManager(cacheDirectory: config.challengeCacheDirectory)
            let manager = JobManager(client: PlatformClient(baseURL: url, keypair: .generate(), logger: compatLogger),
                                     challenges: challenges,
                                     quota: CVMQuotaManager(capacity: ResourceLimits(cpuCores: 4, memoryMb: 4096, diskMb: 4096)),
                                     executor: config.makeExecutor(logger: compatLogger), config: config, logger: compatLogger)
            try await manager.checkChallengeUpdates()
            #expect(await challenges.getChallengeStatus(id: "bad")?.state == .failed)
            #expect(await challenges.getChallengeStatus(id: "good")?.state == .ready)
            await manager.pollOnce()
            await manager.drain()
            #expect(await platform.claimed == ["job-good"])
            #expect(await platform.results["job-good"]?.score == 0.5)
            #expect(await platform.pending.map(\.id) == ["job-bad"])
        }
    }

    @Test("execute_orm_query goes to POST /challenges/{id}/orm/query signed as the validator")
    func ormQuery() async throws {
        try await withFakePlatform { url, platform in
            let keypair = SR25519Keypair.generate()
            let client = PlatformClient(baseURL: url, keypair: keypair, logger: compatLogger)
            let r = try await client.executeOrmQuery("c1", OrmQueryRequest(query: "SELECT count(*) AS n FROM agents"))
            #expect(r.rows == [["n": .number(1)]])
            #expect(await platform.queries == [OrmQueryRequest(query: "SELECT count(*) AS n FROM agents")])
            #expect(await platform.hotkeys == [keypair.publicKey.ss58Address])
        }
    }
}

/// The `evalnet` executable built beside this test binary (`swift build --build-tests`
/// builds every product).
func evalnetExecutable() -> URL? {
    let starts = [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])].compactMap { $0 }
    for start in starts {
        var dir = start.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("evalnet")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
            dir = dir.deletingLastPathComponent()
        }
    }
    return nil
}

@Suite("Seed compatibility: the evalnet validator process")
struct ValidatorProcessTests {
    @Test("`evalnet validator run --config seed-config.toml`: SIGTERM cancels the running job, posts it as failed and exits 0")
    func sigterm() async throws {
        let exe = try #require(evalnetExecutable(), "the evalnet executable is not beside the test binary")
        let tmp = try TempDir("compat-cli")
        defer { tmp.cleanup() }
        let pidFile = tmp.sub("evaluator.pid")
        let challenge = try ScriptChallenge(in: tmp, pidFile: pidFile)
        try await withFakePlatform { url, platform in
            await platform.addChallenge(challenge.spec)
            await platform.addJob("job-sleep", challenge: challenge.spec.id, code: "sleep")
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix(ValidatorConfig.environmentPrefix) }
            env[ValidatorConfig.secretSeedVariable] = VectorKey.seedHex
            env["EVALNET_VALIDATOR_PLATFORM_API_URL"] = url
            env["EVALNET_VALIDATOR_WORK_DIR"] = tmp.sub("work").path
            // The local executor (this test runs no VMM), unsandboxed: the script is trusted.
            env["EVALNET_VALIDATOR_DSTACK_VMM_URL"] = ""
            env["EVALNET_VALIDATOR_SANDBOX_MODE"] = "off"
            env["EVALNET_VALIDATOR_LOCAL_EXECUTOR_NETWORK"] = "off"
            env["EVALNET_VALIDATOR_POLL_INTERVAL_S"] = "0.1"
            let process = Process()
            process.executableURL = exe
            process.arguments = ["validator", "run", "--config", SeedConfig.path, "--log-level", "warning"]
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            let stderrPath = tmp.sub("validator.stderr")
            _ = FileManager.default.createFile(atPath: stderrPath.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: stderrPath)
            try process.run()
            func stderrText() -> String { (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? "" }
            do {
                #expect(await eventually { readPid(pidFile) != nil || !process.isRunning }, "\(stderrText())")
                let pgid = try #require(readPid(pidFile), "the job did not start: \(stderrText())")
                #expect(await platform.hotkeys == [VectorKey.address])
                #expect(!groupIsGone(pgid))
                kill(process.processIdentifier, SIGTERM)
                #expect(await eventually(120) { !process.isRunning }, "the validator did not exit on SIGTERM")
                #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(stderrText())")
                let cancelled = try #require(await platform.results["job-sleep"], "not reported: \(stderrText())")
                #expect(cancelled.error == JobManager.shutdownError)
                #expect(cancelled.score == nil)
                #expect(groupIsGone(pgid))
            } catch {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw error
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    @Test("`evalnet validator query` runs execute_orm_query with the validator's key and prints the rows")
    func queryCommand() async throws {
        let exe = try #require(evalnetExecutable(), "the evalnet executable is not beside the test binary")
        try await withFakePlatform { url, platform in
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix(ValidatorConfig.environmentPrefix) }
            env[ValidatorConfig.secretSeedVariable] = VectorKey.seedHex
            env["EVALNET_VALIDATOR_PLATFORM_API_URL"] = url
            let process = Process()
            process.executableURL = exe
            process.arguments = ["validator", "query", "--config", SeedConfig.path, "--challenge", "c1",
                                 "--param", "5Miner", "SELECT count(*) AS n FROM agents WHERE miner_hotkey = $1"]
            process.environment = env
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Off the cooperative pool: the fake platform in this process answers the command.
            let data = await ChildProcess.output(of: process, reading: stdout)
            #expect(process.terminationStatus == 0)
            #expect(try JSONDecoder().decode(OrmQueryResponse.self, from: data).rows == [["n": .number(1)]])
            #expect(await platform.queries == [OrmQueryRequest(query: "SELECT count(*) AS n FROM agents WHERE miner_hotkey = $1",
                                                               params: [.string("5Miner")])])
            #expect(await platform.hotkeys == [VectorKey.address])
        }
    }

    @Test("`evalnet validator run` with a secret of another hotkey refuses to start and names both")
    func mismatchedSecret() async throws {
        let exe = try #require(evalnetExecutable(), "the evalnet executable is not beside the test binary")
        let tmp = try TempDir("compat-cli-key")
        defer { tmp.cleanup() }
        let other = SR25519Keypair.generate()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix(ValidatorConfig.environmentPrefix) }
        env[ValidatorConfig.secretSeedVariable] = Hex.encode(other.seed)
        env["EVALNET_VALIDATOR_WORK_DIR"] = tmp.sub("work").path
        let process = Process()
        process.executableURL = exe
        process.arguments = ["validator", "run", "--config", SeedConfig.path]
        process.environment = env
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: await ChildProcess.output(of: process, reading: stderr), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(text.contains("validator_hotkey is \(VectorKey.address) but the secret from environment "
            + "\(ValidatorConfig.secretSeedVariable) belongs to \(other.publicKey.ss58Address)"), "\(text)")
    }
}

actor ManagerBox {
    var manager: JobManager?
    func set(_ m: JobManager) { manager = m }
}

@Suite("Seed compatibility: GPUs")
struct GPUTests {
    @Test("the quota admits GPU jobs only within resource_limits.gpu_count")
    func quotaCountsGPUs() async {
        let none = CVMQuotaManager(capacity: ResourceLimits(cpuCores: 4, memoryMb: 4096, diskMb: 4096, gpuCount: 0))
        await none.setActiveChallenges(["c": 1])
        let gpuJob = ResourceLimits(cpuCores: 1, memoryMb: 256, diskMb: 64, gpuCount: 1)
        #expect(await !none.checkCapacity(gpuJob, for: "c"))
        let two = CVMQuotaManager(capacity: ResourceLimits(cpuCores: 4, memoryMb: 4096, diskMb: 4096, gpuCount: 2))
        await two.setActiveChallenges(["c": 1])
        #expect(await two.checkCapacity(gpuJob, for: "c"))
        _ = try? await two.allocate(gpuJob, for: "c")
        _ = try? await two.allocate(gpuJob, for: "c")
        #expect(await !two.checkCapacity(gpuJob, for: "c"))
    }

    @Test("a GPU job's CreateVm names free slots from ListGpus; too few free GPUs is a clear error")
    func gpuSlots() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.post(RouterPath(VMMMethod.listGpus.routePath)) { _, _ in
            JSONResponse(ListGpusResponse(gpus: [GpuInfo(slot: "18:00.0", isFree: true), GpuInfo(slot: "2a:00.0", isFree: false),
                                                 GpuInfo(slot: "3b:00.0", isFree: true)]))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let executor = DstackExecutor(options: DstackExecutorOptions(vmmURL: "http://127.0.0.1:\(port)"))
            #expect(try await executor.gpuAttachment(count: 0) == nil)
            #expect(try await executor.gpuAttachment(count: 2)
                == GpuConfig(attachMode: "listed", gpus: [GpuConfig.Slot(slot: "18:00.0"), GpuConfig.Slot(slot: "3b:00.0")]))
            await #expect(throws: DstackExecutionError.gpusUnavailable(wanted: 3, free: ["18:00.0", "3b:00.0"])) {
                try await executor.gpuAttachment(count: 3)
            }
        }
    }

    @Test("a GPU job on a VMM without GPUs fails with the reason and leaves no VM")
    func gpuJobWithoutGPUs() async throws {
        try await withLiveVMM { executor, vmm, tmp in
            let (_, challenge) = try await Example.provision(in: tmp)
            let outcome = await executor.execute(
                job: job(submission: Example.goodSubmission,
                         resources: ResourceLimits(cpuCores: 1, memoryMb: 512, diskMb: 256, gpuCount: 1)),
                challenge: challenge)
            #expect(outcome.status == .failed)
            #expect(outcome.error == "the job needs 1 GPU(s) but the VMM lists 0 free")
            #expect(JobManager.results(of: outcome).error == outcome.error)
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
        }
    }
}
