import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hotkeys
import Logging
import NIOCore
import NIOHTTP1
import PlatformAPI
import PlatformServer
import ServiceKit
import TestSupport
import Testing
import VMMServer

@testable import Validator

/// The platform server, the local VMM and a validator in one process, over loopback HTTP
/// and WebSocket: a challenge from a local git repository, a miner submission, and the job
/// going pending → claimed → completed with the evaluator's score.
@Suite(.serialized) struct NetworkTests {
    static let exampleDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/challenges/algo-accuracy")
    static let logger: Logger = {
        var l = Logger(label: "e2e")
        l.logLevel = .error
        return l
    }()

    /// Copies the example challenge into a fresh git repository; returns (repo URL, commit, compose hash).
    static func makeChallengeRepo(_ root: URL) throws -> (String, String, String) {
        let repo = root.appendingPathComponent("challenge-repo")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: exampleDir.path) {
            try FileManager.default.copyItem(at: exampleDir.appendingPathComponent(name), to: repo.appendingPathComponent(name))
        }
        func git(_ args: String...) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-c", "user.email=t@e", "-c", "user.name=t", "-c", "commit.gpgsign=false"] + args
            p.currentDirectoryURL = repo
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try git("init", "-q")
        _ = try git("add", "-A")
        _ = try git("commit", "-q", "-m", "challenge")
        let commit = try git("rev-parse", "HEAD")
        let compose = try Data(contentsOf: repo.appendingPathComponent("compose.yaml"))
        return ("file://" + repo.path, commit, sha256Hex(Array(compose)))
    }

    static func request(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: (some Encodable)?)
        async throws -> (Int, Data)
    {
        var r = HTTPClientRequest(url: url)
        r.method = method
        for (n, v) in headers { r.headers.add(name: n, value: v) }
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }

    func runNetwork(useVMM: Bool) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let (repo, commit, composeHash) = try Self.makeChallengeRepo(root)
        let validatorKey = SR25519Keypair.generate()
        let minerKey = SR25519Keypair.generate()

        var platformConfig = PlatformConfig()
        platformConfig.port = 0
        platformConfig.database = "sqlite:" + root.appendingPathComponent("platform.db").path
        platformConfig.adminToken = "admin-secret"
        platformConfig.validators = [validatorKey.publicKey.ss58Address]
        platformConfig.sweepIntervalSeconds = 1
        let pc = platformConfig
        let (platform, platformPort) = try await launchServer { ready in
            try await runPlatform(config: pc, logger: Self.logger, onReady: ready)
        }
        defer { platform.cancel() }
        let api = "http://127.0.0.1:\(platformPort)"

        var vmm: Task<Void, any Error>?
        var vmmURL: String?
        if useVMM {
            var vmmConfig = VMMServerConfig()
            vmmConfig.port = 0
            vmmConfig.stateDirectory = root.appendingPathComponent("vmm").path
            let vc = vmmConfig
            let (task, port) = try await launchServer { ready in
                try await runVMM(config: vc, logger: Self.logger, onReady: ready)
            }
            vmm = task
            vmmURL = "http://127.0.0.1:\(port)"
        }
        defer { vmm?.cancel() }

        // The challenge owner registers the challenge (local git repo, exact commit, compose hash).
        let admin = [("Authorization", "Bearer admin-secret")]
        let (createStatus, createBody) = try await Self.request(.POST, api + PlatformPaths.adminChallenges, headers: admin, body: CreateChallengeRequest(
            name: "algo-accuracy", githubRepo: repo, githubCommit: commit, composeHash: composeHash, mechanismId: 1,
            emissionShare: 0.5, status: "active"))
        if createStatus != 201 { print("create failed:", String(decoding: createBody, as: UTF8.self)) }
        try #require(createStatus == 201)
        let challenge = try JSONDecoder().decode(ChallengeDetail.self, from: createBody)

        // The validator: local executor, or the dstack executor through `evalnet vmm serve`.
        var config = ValidatorConfig()
        config.platformAPIURL = api
        config.dstackVMMURL = vmmURL
        config.workDir = root.appendingPathComponent("validator").path
        config.pollIntervalSeconds = 0.5
        config.challengeSyncIntervalSeconds = 5
        config.jobTimeoutSeconds = 120
        let stopper = ServiceStopper()
        let vconfig = config
        let validator = Task { try await runValidator(config: vconfig, keypair: validatorKey, logger: Self.logger, stopper: stopper) }

        // A miner submits a real algorithm.
        let code = try String(contentsOf: Self.exampleDir.appendingPathComponent("example-submission.py"), encoding: .utf8)
        let signed = SignedRequest.headers(for: minerKey).map { ($0.name, $0.value) }
        let (subStatus, subBody) = try await Self.request(.POST, api + PlatformPaths.submissions(challenge.id), headers: signed,
                                                          body: SubmissionPayload(code: code))
        #expect(subStatus == 201, "\(String(decoding: subBody, as: UTF8.self))")
        let submission = try JSONDecoder().decode(SubmissionView.self, from: subBody)

        // Watch the job: pending → claimed (or running) → completed with the evaluator's score.
        var seen: [String] = []
        var final: SubmissionView?
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            let (_, body) = try await Self.request(.GET, api + PlatformPaths.submission(submission.id), body: nil as String?)
            let view = try JSONDecoder().decode(SubmissionView.self, from: body)
            if let status = view.jobs.first?.status, seen.last != status { seen.append(status) }
            if view.jobs.first.map({ ["completed", "failed", "cancelled"].contains($0.status) }) == true {
                final = view
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await stopper.stop()
        _ = await validator.result
        let job = try #require(final?.jobs.first, "job did not finish; statuses seen: \(seen)")
        #expect(job.status == "completed", "job error: \(job.error ?? "-")")
        #expect(job.validatorHotkey == validatorKey.publicKey.ss58Address)
        #expect(abs((job.score ?? 0) - 0.953333) < 1e-3)
        #expect(seen.first == "pending" || seen.first == "claimed" || seen.first == "running")
        #expect(seen.last == "completed")
        #expect(abs((final?.score ?? 0) - 0.953333) < 1e-3)
    }

    /// The platform goes away and comes back on the same address while the validator runs:
    /// the validator reconnects and evaluates the submission made after the restart.
    @Test func validatorCarriesOnAfterPlatformRestart() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let (repo, commit, composeHash) = try Self.makeChallengeRepo(root)
        let validatorKey = SR25519Keypair.generate(), minerKey = SR25519Keypair.generate()
        var pc = PlatformConfig()
        pc.port = TestPorts.unused()
        pc.database = "sqlite:" + root.appendingPathComponent("platform.db").path
        pc.adminToken = "admin-secret"
        pc.validators = [validatorKey.publicKey.ss58Address]
        let platformConfig = pc
        let api = "http://127.0.0.1:\(pc.port)"
        var (platform, _) = try await launchServer { ready in
            try await runPlatform(config: platformConfig, logger: Self.logger, onReady: ready)
        }
        let (cs, cb) = try await Self.request(.POST, api + PlatformPaths.adminChallenges, headers: [("Authorization", "Bearer admin-secret")],
                                              body: CreateChallengeRequest(name: "restart", githubRepo: repo, githubCommit: commit,
                                                                           composeHash: composeHash, mechanismId: 1, emissionShare: 0.5,
                                                                           status: "active"))
        try #require(cs == 201)
        let challenge = try JSONDecoder().decode(ChallengeDetail.self, from: cb)

        var config = ValidatorConfig()
        config.platformAPIURL = api
        config.workDir = root.appendingPathComponent("validator").path
        config.pollIntervalSeconds = 0.5
        config.challengeSyncIntervalSeconds = 2
        let vconfig = config
        let stopper = ServiceStopper()
        let validator = Task { try await runValidator(config: vconfig, keypair: validatorKey, logger: Self.logger, stopper: stopper) }
        try await Task.sleep(for: .seconds(1))

        // Restart the platform on the same port and database.
        platform.cancel()
        _ = await platform.result
        try await Task.sleep(for: .seconds(1))
        (platform, _) = try await launchServer { ready in
            try await runPlatform(config: platformConfig, logger: Self.logger, onReady: ready)
        }
        defer { platform.cancel() }

        let code = try String(contentsOf: Self.exampleDir.appendingPathComponent("example-submission.py"), encoding: .utf8)
        let signed = SignedRequest.headers(for: minerKey).map { ($0.name, $0.value) }
        let (ss, sb) = try await Self.request(.POST, api + PlatformPaths.submissions(challenge.id), headers: signed,
                                              body: SubmissionPayload(code: code))
        try #require(ss == 201)
        let submission = try JSONDecoder().decode(SubmissionView.self, from: sb)
        var done: SubmissionJob?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, done == nil {
            let (_, body) = try await Self.request(.GET, api + PlatformPaths.submission(submission.id), body: nil as String?)
            done = try JSONDecoder().decode(SubmissionView.self, from: body).jobs.first { $0.status == "completed" }
            try await Task.sleep(for: .milliseconds(100))
        }
        await stopper.stop()
        _ = await validator.result
        let job = try #require(done, "the validator did not evaluate the job after the restart")
        #expect(abs((job.score ?? 0) - 0.953333) < 1e-3)
    }

    @Test func jobCompletesWithTheLocalExecutor() async throws {
        try await runNetwork(useVMM: false)
    }

    @Test func jobCompletesThroughDstackExecutorAndLocalVMM() async throws {
        try await runNetwork(useVMM: true)
    }
}
