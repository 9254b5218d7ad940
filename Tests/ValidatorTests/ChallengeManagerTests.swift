import Foundation
import Hotkeys
import Testing
@testable import Validator

@Suite("ChallengeManager")
struct ChallengeManagerTests {
    static let compose1 = "services:\n  evaluator:\n    command: [\"python3\", \"evaluator.py\", \"--serve\"]\n"
    static let compose2 = "services:\n  evaluator:\n    command: [\"python3\", \"evaluator.py\", \"--serve\", \"--v2\"]\n"
    static let toml = "[evaluator]\ncommand = [\"/bin/cat\", \"{submission}\"]\n"

    /// A repository with two commits; returns (repo, commit1, commit2).
    func twoCommits(_ tmp: TempDir) throws -> (TestRepo, String, String) {
        let repo = try TestRepo(at: tmp.sub("repo"))
        let c1 = try repo.commit(["compose.yaml": Self.compose1, "evalnet.toml": Self.toml, "VERSION": "one\n"], message: "v1")
        let c2 = try repo.commit(["compose.yaml": Self.compose2, "VERSION": "two\n", "extra.txt": "new\n"], message: "v2")
        return (repo, c1, c2)
    }

    func spec(_ repo: String, _ commit: String, _ compose: String) -> ChallengeSpec {
        ChallengeSpec(id: "c1", name: "challenge one", githubRepo: repo, githubCommit: commit,
                      composeHash: sha256Hex(Array(compose.utf8)), emissionShare: 0.5)
    }

    func text(_ url: URL, _ name: String) -> String? {
        try? String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("checks out exactly the requested commit (the older of two), detached")
    func exactCommit() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, c2) = try twoCommits(tmp)
        #expect(c1 != c2)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        let p = try await manager.provisionChallenge(spec(repo.dir.path, c1, Self.compose1))
        #expect(p.commit == c1)
        #expect(text(p.directory, "VERSION") == "one\n")
        #expect(text(p.directory, "compose.yaml") == Self.compose1)
        #expect(!FileManager.default.fileExists(atPath: p.directory.appendingPathComponent("extra.txt").path))
        #expect(try sh(["git", "rev-parse", "HEAD"], in: p.directory) == c1)
        // Detached: no branch is checked out.
        #expect(throws: (any Error).self) { try sh(["git", "symbolic-ref", "-q", "HEAD"], in: p.directory) }
        #expect(p.composeText == Self.compose1)
        #expect(p.declaration.command == ["/bin/cat", "{submission}"])
        let status = try #require(await manager.getChallengeStatus(id: "c1"))
        #expect(status.state == .ready)
        #expect(status.commit == c1)
        #expect(status.error == nil)
    }

    @Test("file:// URLs and abbreviated commit ids work")
    func fileURLAndShortCommit() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, _) = try twoCommits(tmp)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        let p = try await manager.provisionChallenge(spec("file://" + repo.dir.path, String(c1.prefix(10)), Self.compose1))
        #expect(p.commit == c1)
        #expect(text(p.directory, "VERSION") == "one\n")
    }

    @Test("a compose hash mismatch is refused and leaves no checkout behind")
    func hashMismatch() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, _) = try twoCommits(tmp)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        var bad = spec(repo.dir.path, c1, Self.compose1)
        bad.composeHash = sha256Hex(Array("something else".utf8))
        await #expect {
            try await manager.provisionChallenge(bad)
        } throws: { error in
            guard case let ChallengeError.composeHashMismatch(expected, actual, file)? = error as? ChallengeError else { return false }
            return expected == bad.composeHash && actual == sha256Hex(Array(Self.compose1.utf8)) && file == "compose.yaml"
        }
        let dir = tmp.sub("cache").appendingPathComponent("c1")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).isEmpty)
        let status = try #require(await manager.getChallengeStatus(id: "c1"))
        #expect(status.state == .failed)
        #expect(status.error?.contains("compose hash mismatch") == true)
        await #expect(throws: ChallengeError.self) { try await manager.acquire(id: "c1") }
    }

    @Test("update keeps the old checkout until the new one verifies, then replaces it")
    func update() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, c2) = try twoCommits(tmp)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        let first = try await manager.provisionChallenge(spec(repo.dir.path, c1, Self.compose1))

        // Same commit with another hash: refused without touching the checkout in service.
        var sameCommit = spec(repo.dir.path, c1, Self.compose1)
        sameCommit.composeHash = sha256Hex(Array(Self.compose2.utf8))
        await #expect(throws: ChallengeError.self) { try await manager.updateChallenge(sameCommit) }
        #expect(text(first.directory, "VERSION") == "one\n")
        #expect(await manager.getChallengeStatus(id: "c1")?.state == .ready)

        // New commit with the wrong hash: refused, the old checkout stays in service.
        var wrong = spec(repo.dir.path, c2, Self.compose2)
        wrong.composeHash = sha256Hex(Array(Self.compose1.utf8))
        await #expect(throws: ChallengeError.self) { try await manager.updateChallenge(wrong) }
        var status = try #require(await manager.getChallengeStatus(id: "c1"))
        #expect(status.state == .ready)
        #expect(status.commit == c1)
        #expect(status.error?.contains("mismatch") == true)
        #expect(text(first.directory, "VERSION") == "one\n")

        // A job holds the old checkout while the update lands.
        let lease = try await manager.acquire(id: "c1")
        let second = try await manager.updateChallenge(spec(repo.dir.path, c2, Self.compose2))
        #expect(second.commit == c2)
        #expect(text(second.directory, "VERSION") == "two\n")
        #expect(FileManager.default.fileExists(atPath: first.directory.path))
        status = try #require(await manager.getChallengeStatus(id: "c1"))
        #expect(status.commit == c2)
        #expect(status.error == nil)
        await manager.release(lease)
        #expect(!FileManager.default.fileExists(atPath: first.directory.path))
        await manager.release(lease)  // twice: no effect
        #expect(FileManager.default.fileExists(atPath: second.directory.path))

        // Same commit and hash again: nothing is fetched, the same checkout is returned.
        let again = try await manager.provisionChallenge(spec(repo.dir.path, c2, Self.compose2))
        #expect(again.directory == second.directory)
    }

    @Test("destroy removes the checkout; update of an unknown challenge is an error")
    func destroy() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, _) = try twoCommits(tmp)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        let p = try await manager.provisionChallenge(spec(repo.dir.path, c1, Self.compose1))
        await manager.destroyChallenge(id: "c1")
        #expect(!FileManager.default.fileExists(atPath: p.directory.path))
        #expect(await manager.getChallengeStatus(id: "c1") == nil)
        await #expect(throws: ChallengeError.unknownChallenge("c1")) {
            try await manager.updateChallenge(spec(repo.dir.path, c1, Self.compose1))
        }
    }

    @Test("sync provisions listed challenges and destroys unlisted ones")
    func sync() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, c2) = try twoCommits(tmp)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        var other = spec(repo.dir.path, c2, Self.compose2)
        other.id = "c2"
        var failures = await manager.sync(active: [spec(repo.dir.path, c1, Self.compose1), other])
        #expect(failures.isEmpty)
        #expect(await manager.allStatuses().map(\.id) == ["c1", "c2"])
        failures = await manager.sync(active: [other])
        #expect(failures.isEmpty)
        #expect(await manager.allStatuses().map(\.id) == ["c2"])
    }

    @Test("bad specs and unreachable commits fail clearly")
    func errors() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let (repo, c1, _) = try twoCommits(tmp)
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"), gitTimeoutSeconds: 60)
        await #expect(throws: ChallengeError.self) { try await manager.provisionChallenge(spec(repo.dir.path, "main", Self.compose1)) }
        var badHash = spec(repo.dir.path, c1, Self.compose1)
        badHash.composeHash = "xyz"
        await #expect(throws: ChallengeError.self) { try await manager.provisionChallenge(badHash) }
        await #expect(throws: ChallengeError.self) {
            try await manager.provisionChallenge(spec("--upload-pack=touch /tmp/x", c1, Self.compose1))
        }
        let missing = String(repeating: "a", count: 40)
        await #expect {
            try await manager.provisionChallenge(spec(repo.dir.path, missing, Self.compose1))
        } throws: { error in
            if case ChallengeError.commitNotFound? = error as? ChallengeError { return true }
            return false
        }
        await #expect(throws: ChallengeError.self) {
            try await manager.provisionChallenge(spec(tmp.sub("nope").path, c1, Self.compose1))
        }
    }

    @Test("a repository without evalnet.toml or compose file is refused")
    func missingFiles() async throws {
        let tmp = try TempDir("cm")
        defer { tmp.cleanup() }
        let repo = try TestRepo(at: tmp.sub("repo"))
        let noToml = try repo.commit(["compose.yaml": Self.compose1])
        let manager = ChallengeManager(cacheDirectory: tmp.sub("cache"))
        await #expect(throws: ChallengeError.self) { try await manager.provisionChallenge(spec(repo.dir.path, noToml, Self.compose1)) }
        try sh(["git", "rm", "--quiet", "compose.yaml"], in: repo.dir)
        let noCompose = try repo.commit(["evalnet.toml": Self.toml])
        await #expect {
            try await manager.provisionChallenge(spec(repo.dir.path, noCompose, Self.compose1))
        } throws: { error in
            if case ChallengeError.composeNotFound? = error as? ChallengeError { return true }
            return false
        }
    }
}
