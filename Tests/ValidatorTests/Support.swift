import Foundation
import Hotkeys
import TestSupport
import Testing
@testable import Validator

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TempDir: Sendable {
    let url: URL

    init(_ label: String = "t") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }
    func sub(_ name: String) -> URL { url.appendingPathComponent(name) }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Runs a command synchronously (test setup only); fails the test on a non-zero exit.
@discardableResult
func sh(_ args: [String], in dir: URL) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    p.currentDirectoryURL = dir
    var env = ProcessInfo.processInfo.environment
    env["GIT_AUTHOR_NAME"] = "Test"
    env["GIT_AUTHOR_EMAIL"] = "test@example.org"
    env["GIT_COMMITTER_NAME"] = "Test"
    env["GIT_COMMITTER_EMAIL"] = "test@example.org"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        struct CommandFailed: Error { let args: [String]; let status: Int32 }
        throw CommandFailed(args: args, status: p.terminationStatus)
    }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A git repository built in a test.
struct TestRepo {
    let dir: URL

    init(at dir: URL) throws {
        self.dir = dir
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try sh(["git", "init", "--quiet", "--initial-branch=main"], in: dir)
    }

    /// Writes `files` (path → text), commits them, returns the commit id.
    func commit(_ files: [String: String], message: String = "commit") throws -> String {
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        try sh(["git", "add", "-A"], in: dir)
        try sh(["git", "commit", "--quiet", "-m", message], in: dir)
        return try sh(["git", "rev-parse", "HEAD"], in: dir)
    }
}

/// The example challenge shipped in examples/challenges/algo-accuracy.
enum Example {
    static let directory: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/challenges/algo-accuracy")

    static func file(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self)
    }

    /// The example's files, as a repository would hold them.
    static func files() throws -> [String: String] {
        var out: [String: String] = [:]
        for name in ["compose.yaml", "evalnet.toml", "evaluator.py", "make_compose.py", "example-submission.py"] {
            out[name] = try file(name)
        }
        return out
    }

    /// The example committed into a fresh repository and provisioned.
    static func provision(in tmp: TempDir) async throws -> (ChallengeManager, ProvisionedChallenge) {
        let repo = try TestRepo(at: tmp.sub("repo"))
        let commit = try repo.commit(try files())
        let hash = sha256Hex(Array(try file("compose.yaml").utf8))
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        let spec = ChallengeSpec(id: "algo-accuracy", name: "algo-accuracy", githubRepo: repo.dir.path,
                                 githubCommit: commit, composeHash: hash)
        return (manager, try await manager.provisionChallenge(spec))
    }

    static let goodSubmission = """
        def predict(features):
            x, y = features
            return 1 if x * x + y * y < 0.5 else 0
        """
    static let expectedAccuracy = 0.953333
}

/// A challenge whose evaluator is `command`, without git (for executor edge cases).
func adHocChallenge(_ dir: URL, command: [String], timeout: Double? = nil, env: [String: String] = [:]) -> ProvisionedChallenge {
    var declaration = EvaluatorDeclaration(command: command, submissionFilename: "submission.txt")
    declaration.timeoutSeconds = timeout
    declaration.environment = env
    let spec = ChallengeSpec(id: "adhoc", name: "adhoc", githubRepo: dir.path, githubCommit: "0000000",
                             composeHash: String(repeating: "0", count: 64))
    return ProvisionedChallenge(spec: spec, directory: dir, commit: "0000000", composeFile: dir.appendingPathComponent("compose.yaml"),
                                composeText: "", composeHash: String(repeating: "0", count: 64), declaration: declaration)
}

func job(_ id: String = "job-1", submission: String = "x", timeout: Double = 30,
         resources: ResourceLimits = ResourceLimits(cpuCores: 1, memoryMb: 512, diskMb: 256)) -> EvaluationJob {
    EvaluationJob(jobId: id, challengeId: "adhoc", submissionId: "sub-\(id)", minerHotkey: "5Miner",
                  submission: Submission(text: submission), resources: resources, timeoutSeconds: timeout)
}

/// Polls `condition` every 20 ms for at most `seconds` (a limit, not a timing assertion).
func eventually(_ seconds: Double = 60, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

