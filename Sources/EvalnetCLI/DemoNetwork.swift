import AsyncHTTPClient
import Foundation
import Hotkeys
import Logging
import NIOCore
import NIOHTTP1
import PlatformAPI
import PlatformServer
import ServiceKit
import Store
import Validator
import VMMServer

/// The platform half of the demo: a challenge whose evaluator is this evalnet build
/// (`evalnet score`), the platform API, the local VMM, one validator with the local
/// executor, and a submission of the pool's best verified algorithm.
struct DemoNetwork {
    let root: URL
    let taskType: String
    let logger: Logger
    let platformPort: Int
    let vmmPort: Int
    /// Keep the platform, the VMM and the validator running after the job (until Ctrl-C).
    var keep = false

    struct DemoError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// The evalnet binary the challenge runs as its evaluator: `$EVALNET_BIN`, this process
    /// when it is evalnet, else an `evalnet` beside this executable (the test bundle's case).
    static func evaluatorExecutable() -> String {
        if let env = ProcessInfo.processInfo.environment["EVALNET_BIN"], !env.isEmpty { return env }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if me.lastPathComponent == "evalnet" { return me.path }
        let sibling = me.deletingLastPathComponent().appendingPathComponent("evalnet")
        return FileManager.default.isExecutableFile(atPath: sibling.path) ? sibling.path : me.path
    }

    /// Writes the challenge repository (compose file + evalnet.toml) and commits it.
    func makeChallengeRepo() throws -> (repo: String, commit: String, composeHash: String) {
        let repo = root.appendingPathComponent("challenge-repo")
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        let exe = Self.evaluatorExecutable()
        let compose = """
            # evalnet demo challenge: scores a submitted DSL algorithm with `evalnet score`.
            services:
              evaluator:
                image: evalnet:local
                command: ["\(exe)", "score", "--task-type", "\(taskType)", "algorithm.dsl"]

            """
        let declaration = """
            compose = "compose.yaml"

            [evaluator]
            command = ["\(exe)", "score", "--task-type", "\(taskType)", "{submission}"]
            submission_filename = "algorithm.dsl"
            max_submission_bytes = 65536
            timeout_s = 120

            [resources]
            cpu_cores = 1
            memory_mb = 1024
            disk_mb = 256
            gpu_count = 0

            """
        try compose.write(to: repo.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        try declaration.write(to: repo.appendingPathComponent("evalnet.toml"), atomically: true, encoding: .utf8)
        func git(_ args: String...) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-c", "user.email=demo@evalnet", "-c", "user.name=evalnet demo",
                           "-c", "commit.gpgsign=false"] + args
            p.currentDirectoryURL = repo
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw DemoError("git \(args.joined(separator: " ")) failed") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try git("init", "-q")
        _ = try git("add", "-A")
        _ = try git("commit", "-q", "-m", "demo challenge")
        return ("file://" + repo.path, try git("rev-parse", "HEAD"), sha256Hex(Array(compose.utf8)))
    }

    static func call(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], json: Data? = nil)
        async throws -> (Int, Data)
    {
        var r = HTTPClientRequest(url: url)
        r.method = method
        for (n, v) in headers { r.headers.add(name: n, value: v) }
        if let json {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(bytes: json))
        }
        let response = try await HTTPClient.shared.execute(r, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }

    /// Runs the platform side around `body` (which gets the platform URL), then stops it all.
    @discardableResult
    func run(submitter: SR25519Keypair, algorithm: String) async throws -> [SubmissionJob] {
        let validatorKey = SR25519Keypair.generate()
        var pc = PlatformConfig()
        pc.port = platformPort
        pc.database = "sqlite:" + root.appendingPathComponent("platform.db").path
        pc.adminToken = UUID().uuidString
        pc.validators = [validatorKey.publicKey.ss58Address]
        pc.sweepIntervalSeconds = 2
        let platformConfig = pc
        let platformStopper = ServiceStopper(), vmmStopper = ServiceStopper()
        let (platform, pport) = try await launchServer { ready in
            try await runPlatform(config: platformConfig, logger: logger, stopper: platformStopper, onReady: ready)
        }
        var vc = VMMServerConfig()
        vc.port = vmmPort
        vc.stateDirectory = root.appendingPathComponent("vmm").path
        let vmmConfig = vc
        let vmm: Task<Void, any Error>, vport: Int
        do {
            (vmm, vport) = try await launchServer { ready in
                try await runVMM(config: vmmConfig, logger: logger, stopper: vmmStopper, onReady: ready)
            }
        } catch {
            await platformStopper.stop()
            _ = await platform.result
            throw error
        }
        do {
            let (jobs, validator) = try await runJobs(platformPort: pport, vmmPort: vport, validatorKey: validatorKey,
                                                      adminToken: pc.adminToken ?? "", submitter: submitter, algorithm: algorithm)
            if keep {
                print("platform dashboard: http://127.0.0.1:\(pport)\(PlatformDashboard.path)?token=\(pc.adminToken ?? "")"
                    + " (the admin token of this demo run)")
                print("services keep running (Ctrl-C to stop)")
                // Ctrl-C stops the platform (its service group handles SIGINT); then the rest.
                _ = await platform.result
            }
            await Self.stop([("validator", validator.0, validator.1), ("platform", platformStopper, platform),
                             ("VMM", vmmStopper, vmm)])
            return jobs
        } catch {
            await Self.stop([("platform", platformStopper, platform), ("VMM", vmmStopper, vmm)])
            throw error
        }
    }

    /// Stops servers gracefully (as SIGTERM would) and waits until each has finished; one
    /// that has not finished within 15 s is cancelled, and one that has not ended 15 s after
    /// that is left behind (the demo's process ends it), so the demo always ends.
    static func stop(_ servers: [(name: String, stopper: ServiceStopper, task: Task<Void, any Error>)]) async {
        for (name, stopper, task) in servers {
            await stopper.stop()
            if await firstWithin(seconds: 15, { _ = await task.result }) == nil {
                print("the demo's \(name) did not stop within 15 s; cancelling it")
                task.cancel()
                if await firstWithin(seconds: 15, { _ = await task.result }) == nil {
                    print("the demo's \(name) did not end 15 s after its cancellation; leaving it behind")
                }
            }
        }
    }

    /// With the platform and the VMM up: a validator, a challenge, the submission, and the
    /// job followed until it finishes.
    private func runJobs(platformPort pport: Int, vmmPort vport: Int, validatorKey: SR25519Keypair, adminToken: String,
                         submitter: SR25519Keypair, algorithm: String) async throws
        -> ([SubmissionJob], (ServiceStopper, Task<Void, any Error>))
    {
        let api = "http://127.0.0.1:\(pport)"
        print("platform: \(api)  (docs \(api)/docs, dashboard \(api)\(PlatformDashboard.path)); local VMM: http://127.0.0.1:\(vport)")

        var config = ValidatorConfig()
        config.platformAPIURL = api
        config.workDir = root.appendingPathComponent("validator").path
        config.pollIntervalSeconds = 1
        config.jobTimeoutSeconds = 120
        let validatorConfig = config
        let stopper = ServiceStopper()
        let validator = Task {
            try await runValidator(config: validatorConfig, keypair: validatorKey, logger: logger, stopper: stopper)
        }

        let (repo, commit, hash) = try makeChallengeRepo()
        let create = CreateChallengeRequest(
            name: "pool-\(taskType)", githubRepo: repo, githubCommit: commit, composeHash: hash, mechanismId: 1,
            emissionShare: 1.0, status: "active")
        let (cs, cb) = try await Self.call(.POST, api + PlatformPaths.adminChallenges,
                                           headers: [("Authorization", "Bearer \(adminToken)")],
                                           json: try JSONEncoder().encode(create))
        guard cs == 201 else { throw DemoError("challenge not created: \(String(decoding: cb, as: UTF8.self))") }
        let challenge = try JSONDecoder().decode(ChallengeDetail.self, from: cb)
        print("challenge \(challenge.name) (\(challenge.id)) at commit \(commit.prefix(10)), compose sha256 \(hash.prefix(12))…")

        let signed = SignedRequest.headers(for: submitter).map { ($0.name, $0.value) }
        let (ss, sb) = try await Self.call(.POST, api + PlatformPaths.submissions(challenge.id), headers: signed,
                                           json: try JSONEncoder().encode(SubmissionPayload(code: algorithm)))
        guard ss == 201 else { throw DemoError("submission refused: \(String(decoding: sb, as: UTF8.self))") }
        let submission = try JSONDecoder().decode(SubmissionView.self, from: sb)
        print("submitted the best verified algorithm as submission \(submission.id)")

        let started = Date()
        var last = ""
        var final: SubmissionView?
        while Date().timeIntervalSince(started) < 180 {
            let (_, body) = try await Self.call(.GET, api + PlatformPaths.submission(submission.id))
            let view = try JSONDecoder().decode(SubmissionView.self, from: body)
            let statuses = view.jobs.map(\.status)
            let line = String(format: "[%3.0fs] jobs pending %d, claimed %d, running %d, completed %d, failed %d",
                              Date().timeIntervalSince(started),
                              statuses.filter { $0 == "pending" }.count, statuses.filter { $0 == "claimed" }.count,
                              statuses.filter { $0 == "running" }.count, statuses.filter { $0 == "completed" }.count,
                              statuses.filter { $0 == "failed" }.count)
            if line.dropFirst(7) != last.dropFirst(7) { print(line) }
            last = line
            if !view.jobs.isEmpty && view.jobs.allSatisfy({ ["completed", "failed", "cancelled"].contains($0.status) }) {
                final = view
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        print("\nPlatform job results")
        for job in final?.jobs ?? [] {
            print("  job \(job.id): \(job.status), score \(job.score.map { String(format: "%.4f", $0) } ?? "-")"
                + ", validator \(job.validatorHotkey ?? "-")" + (job.error.map { ", error \($0)" } ?? ""))
        }
        if final == nil { print("  the job did not finish in time") }
        print("platform docs: \(api)/docs; dashboard: \(api)\(PlatformDashboard.path) (admin token)")
        return (final?.jobs ?? [], (stopper, validator))
    }
}
