import CSodium
import Foundation
import Hotkeys
import Logging
import ProcessKit

/// A challenge as the Platform API lists it (`GET /challenges/active`).
public struct ChallengeSpec: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// Any git URL (https, ssh, file://) or a local path.
    public var githubRepo: String
    /// The commit to run, as hex (full, or an abbreviation of at least 7 digits).
    public var githubCommit: String
    /// Hex SHA-256 of the compose file (a "sha256:" prefix is accepted).
    public var composeHash: String
    public var emissionShare: Double
    public var mechanismId: Int?

    public init(id: String, name: String, githubRepo: String, githubCommit: String, composeHash: String,
                emissionShare: Double = 1, mechanismId: Int? = nil) {
        self.id = id
        self.name = name
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.emissionShare = emissionShare
        self.mechanismId = mechanismId
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case emissionShare = "emission_share"
        case mechanismId = "mechanism_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? id
        githubRepo = try c.decode(String.self, forKey: .githubRepo)
        githubCommit = try c.decode(String.self, forKey: .githubCommit)
        composeHash = try c.decode(String.self, forKey: .composeHash)
        emissionShare = try c.decodeIfPresent(Double.self, forKey: .emissionShare) ?? 1
        mechanismId = try c.decodeIfPresent(Int.self, forKey: .mechanismId)
    }

    /// The compose hash as 64 lowercase hex digits, or nil when malformed.
    public var normalizedComposeHash: String? {
        var h = composeHash.trimmingCharacters(in: .whitespaces).lowercased()
        if h.hasPrefix("sha256:") { h.removeFirst(7) }
        return h.count == 64 && h.allSatisfy(\.isHexDigit) ? h : nil
    }
}

/// A verified checkout of a challenge at its pinned commit.
public struct ProvisionedChallenge: Sendable, Equatable {
    public var spec: ChallengeSpec
    /// The checkout (the evaluator's `{challenge_dir}`). Treat as read-only.
    public var directory: URL
    /// The full commit id checked out.
    public var commit: String
    public var composeFile: URL
    /// The compose file's exact text (what a per-job VM is created from).
    public var composeText: String
    /// Lowercase hex SHA-256 of the compose file — equal to the spec's.
    public var composeHash: String
    public var declaration: EvaluatorDeclaration

    public init(spec: ChallengeSpec, directory: URL, commit: String, composeFile: URL, composeText: String,
                composeHash: String, declaration: EvaluatorDeclaration) {
        self.spec = spec
        self.directory = directory
        self.commit = commit
        self.composeFile = composeFile
        self.composeText = composeText
        self.composeHash = composeHash
        self.declaration = declaration
    }
}

/// Where a challenge's checkout stands in `ChallengeManager`.
public enum ChallengeState: String, Codable, Sendable {
    /// First checkout in progress.
    case provisioning
    /// A verified checkout is available.
    case ready
    /// A verified checkout is available and a new commit/hash is being provisioned.
    case updating
    /// No usable checkout (the last attempt failed; see `error`).
    case failed
}

/// A challenge's checkout state as `ChallengeManager` reports it (`getChallengeStatus`, `allStatuses`).
public struct ChallengeStatus: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var state: ChallengeState
    /// Commit of the usable checkout.
    public var commit: String?
    public var composeHash: String?
    public var directory: String?
    /// The commit being provisioned (state provisioning/updating).
    public var pendingCommit: String?
    /// The last provisioning error (also when an update failed and the old checkout stays).
    public var error: String?
    /// Jobs holding a lease on a checkout of this challenge.
    public var activeLeases: Int

    enum CodingKeys: String, CodingKey {
        case id, name, state, commit, directory, error
        case composeHash = "compose_hash"
        case pendingCommit = "pending_commit"
        case activeLeases = "active_leases"
    }
}

/// Why a challenge could not be provisioned or acquired (spec, git, `evalnet.toml`, compose file
/// or hash, not ready).
public enum ChallengeError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidSpec(String)
    case git(command: String, status: String, stderr: String)
    case commitNotFound(repo: String, commit: String)
    case declarationMissing(String)
    case declarationInvalid(String)
    case composeNotFound(String)
    case composeOutsideRepository(String)
    case composeHashMismatch(expected: String, actual: String, file: String)
    case unknownChallenge(String)
    case notReady(String, ChallengeState, String?)

    public var description: String {
        switch self {
        case let .invalidSpec(why): return "invalid challenge spec: \(why)"
        case let .git(cmd, status, stderr): return "git \(cmd) failed (\(status)): \(stderr)"
        case let .commitNotFound(repo, commit): return "commit \(commit) not found in \(repo)"
        case let .declarationMissing(path): return "no \(EvaluatorDeclaration.fileName) at the repository root (\(path))"
        case let .declarationInvalid(why): return "\(EvaluatorDeclaration.fileName): \(why)"
        case let .composeNotFound(why): return "compose file not found: \(why)"
        case let .composeOutsideRepository(path): return "compose file \(path) resolves outside the repository"
        case let .composeHashMismatch(expected, actual, file):
            return "compose hash mismatch for \(file): expected \(expected), the file hashes to \(actual); refusing the challenge"
        case let .unknownChallenge(id): return "unknown challenge \(id)"
        case let .notReady(id, state, error): return "challenge \(id) is not ready (\(state.rawValue))" + (error.map { ": \($0)" } ?? "")
        }
    }
}

/// A job's hold on a challenge checkout: the directory is not deleted (by an update or
/// destroy) until every lease on it is released.
public struct ChallengeLease: Sendable, Equatable {
    public let challenge: ProvisionedChallenge
    let token: UInt64
}

/// Keeps one verified checkout per challenge in a cache directory.
///
/// `provisionChallenge` fetches exactly `github_commit` (shallow fetch of the commit, or
/// a full fetch when the server refuses or the id is abbreviated) into a staging
/// directory, checks it out detached, reads `evalnet.toml`, finds the compose file and
/// verifies its SHA-256 against `compose_hash`; only a verified checkout is moved into
/// place (`<cache>/<challenge id>/<commit>`), anything else is deleted. An update keeps
/// serving the old checkout until the new one verifies. Checkouts stay on disk while
/// leased by a job.
public actor ChallengeManager {
    struct Record {
        var spec: ChallengeSpec
        var current: ProvisionedChallenge?
        var error: String?
        var inFlight: (spec: ChallengeSpec, task: Task<ProvisionedChallenge, any Error>)?
    }

    public let cacheDirectory: URL
    let git: GitRunner
    let logger: Logger
    private var records: [String: Record] = [:]
    private var leaseCounts: [String: Int] = [:]
    private var leaseDirs: [UInt64: String] = [:]
    private var retired: Set<String> = []
    private var nextToken: UInt64 = 1

    public init(cacheDirectory: URL, gitTimeoutSeconds: Double = 300,
                logger: Logger = Logger(label: "evalnet.validator.challenges")) {
        self.cacheDirectory = cacheDirectory
        self.git = GitRunner(timeoutSeconds: gitTimeoutSeconds)
        self.logger = logger
    }

    /// Makes `spec` available: returns the existing checkout when commit and hash are
    /// unchanged, waits for an identical provisioning already running, else provisions.
    /// Throws when the checkout cannot be made or does not verify (the spec's previous
    /// checkout, if any, stays in use).
    @discardableResult
    public func provisionChallenge(_ spec: ChallengeSpec) async throws -> ProvisionedChallenge {
        try Self.validate(spec)
        if let current = records[spec.id]?.current, Self.sameTarget(current.spec, spec) {
            records[spec.id]?.spec = spec
            records[spec.id]?.current?.spec = spec
            records[spec.id]?.error = nil
            return current.withSpec(spec)
        }
        if let running = records[spec.id]?.inFlight, Self.sameTarget(running.spec, spec) {
            return try await running.task.value
        }
        var record = records[spec.id] ?? Record(spec: spec)
        record.spec = spec
        let directory = cacheDirectory.appendingPathComponent(safeName(spec.id))
        let task = Task { [git, logger] in
            try await Self.checkout(spec, into: directory, git: git, logger: logger)
        }
        record.inFlight = (spec, task)
        records[spec.id] = record
        logger.info("provisioning challenge", metadata: ["challenge": "\(spec.id)", "commit": "\(spec.githubCommit)"])
        do {
            let made = try await task.value
            install(made, for: spec)
            return made
        } catch {
            if records[spec.id]?.inFlight?.spec == spec {
                records[spec.id]?.inFlight = nil
                records[spec.id]?.error = "\(error)"
            }
            logger.warning("challenge provisioning failed", metadata: ["challenge": "\(spec.id)", "error": "\(error)"])
            throw error
        }
    }

    /// Moves an existing challenge to a new commit/hash (the seed's `update_challenge`);
    /// the old checkout keeps serving until the new one verifies.
    @discardableResult
    public func updateChallenge(_ spec: ChallengeSpec) async throws -> ProvisionedChallenge {
        guard records[spec.id] != nil else { throw ChallengeError.unknownChallenge(spec.id) }
        return try await provisionChallenge(spec)
    }

    /// Forgets a challenge; its checkouts are deleted once no job holds them.
    public func destroyChallenge(id: String) {
        guard let record = records.removeValue(forKey: id) else { return }
        if let dir = record.current?.directory.path { retire(dir) }
        logger.info("destroyed challenge", metadata: ["challenge": "\(id)"])
    }

    public func getChallengeStatus(id: String) -> ChallengeStatus? {
        records[id].map(status)
    }

    public func allStatuses() -> [ChallengeStatus] {
        records.values.map(status).sorted { $0.id < $1.id }
    }

    /// The usable checkout of a challenge, if any.
    public func challenge(id: String) -> ProvisionedChallenge? { records[id]?.current }

    /// Holds the current checkout of `id` for a job (release it with `release`).
    public func acquire(id: String) throws -> ChallengeLease {
        guard let record = records[id] else { throw ChallengeError.unknownChallenge(id) }
        guard let current = record.current else {
            throw ChallengeError.notReady(id, status(record).state, record.error)
        }
        let token = nextToken
        nextToken += 1
        leaseDirs[token] = current.directory.path
        leaseCounts[current.directory.path, default: 0] += 1
        return ChallengeLease(challenge: current, token: token)
    }

    /// Ends a lease; releasing twice is a no-op.
    public func release(_ lease: ChallengeLease) {
        guard let dir = leaseDirs.removeValue(forKey: lease.token) else { return }
        let left = (leaseCounts[dir] ?? 1) - 1
        if left <= 0 {
            leaseCounts[dir] = nil
            if retired.contains(dir) { delete(dir) }
        } else {
            leaseCounts[dir] = left
        }
    }

    /// Reconciles with the active list: provisions new and changed challenges, destroys
    /// those no longer listed. Returns the error text per challenge id that failed.
    public func sync(active specs: [ChallengeSpec]) async -> [String: String] {
        let wanted = Set(specs.map(\.id))
        for id in records.keys where !wanted.contains(id) { destroyChallenge(id: id) }
        var failures: [String: String] = [:]
        for spec in specs {
            do { try await provisionChallenge(spec) } catch { failures[spec.id] = "\(error)" }
        }
        return failures
    }

    // MARK: - Internals

    private func status(_ r: Record) -> ChallengeStatus {
        let state: ChallengeState
        switch (r.current, r.inFlight) {
        case (nil, nil): state = .failed
        case (nil, _?): state = .provisioning
        case (_?, nil): state = .ready
        case (_?, _?): state = .updating
        }
        let leases = leaseCounts.filter { dir, _ in dir.hasPrefix(cacheDirectory.appendingPathComponent(safeName(r.spec.id)).path + "/") }
            .values.reduce(0, +)
        return ChallengeStatus(id: r.spec.id, name: r.spec.name, state: state, commit: r.current?.commit,
                               composeHash: r.current?.composeHash, directory: r.current?.directory.path,
                               pendingCommit: r.inFlight?.spec.githubCommit, error: r.error, activeLeases: leases)
    }

    private func install(_ made: ProvisionedChallenge, for spec: ChallengeSpec) {
        guard var record = records[spec.id], record.inFlight?.spec == spec else {
            // Destroyed or superseded while provisioning.
            if records[spec.id]?.current?.directory != made.directory { retire(made.directory.path) }
            return
        }
        let old = record.current
        record.current = made
        record.inFlight = nil
        record.error = nil
        records[spec.id] = record
        if let old, old.directory != made.directory { retire(old.directory.path) }
        logger.info("challenge ready", metadata: ["challenge": "\(spec.id)", "commit": "\(made.commit)", "dir": "\(made.directory.path)"])
    }

    private func retire(_ dir: String) {
        if leaseCounts[dir, default: 0] > 0 {
            retired.insert(dir)
        } else {
            delete(dir)
        }
    }

    private func delete(_ dir: String) {
        retired.remove(dir)
        guard !records.values.contains(where: { $0.current?.directory.path == dir }) else { return }
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func sameTarget(_ a: ChallengeSpec, _ b: ChallengeSpec) -> Bool {
        a.githubRepo == b.githubRepo && a.githubCommit.lowercased() == b.githubCommit.lowercased()
            && a.normalizedComposeHash == b.normalizedComposeHash
    }

    static func validate(_ spec: ChallengeSpec) throws {
        if spec.id.isEmpty { throw ChallengeError.invalidSpec("id is empty") }
        let repo = spec.githubRepo.trimmingCharacters(in: .whitespaces)
        if repo.isEmpty { throw ChallengeError.invalidSpec("github_repo is empty") }
        if repo.hasPrefix("-") || repo.lowercased().hasPrefix("ext::") || repo.lowercased().hasPrefix("fd::") {
            throw ChallengeError.invalidSpec("github_repo \(repo) is not an accepted git URL")
        }
        let commit = spec.githubCommit
        if !(7...64).contains(commit.count) || !commit.allSatisfy(\.isHexDigit) {
            throw ChallengeError.invalidSpec("github_commit must be a commit id (7 to 64 hex digits), got \"\(commit)\"")
        }
        if spec.normalizedComposeHash == nil {
            throw ChallengeError.invalidSpec("compose_hash must be 64 hex digits (SHA-256), got \"\(spec.composeHash)\"")
        }
    }

    /// Fetches, checks out and verifies `spec` under `directory`; returns the checkout.
    static func checkout(_ spec: ChallengeSpec, into directory: URL, git: GitRunner, logger: Logger) async throws
        -> ProvisionedChallenge
    {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let commit = spec.githubCommit.lowercased()
        let isFull = commit.count == 40 || commit.count == 64
        if isFull, let reused = try await reuse(spec, directory.appendingPathComponent(commit), commit: commit, git: git) {
            logger.debug("reusing checkout", metadata: ["dir": "\(reused.directory.path)"])
            return reused
        }
        let staging = directory.appendingPathComponent(".staging-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            let url = repositoryURL(spec.githubRepo)
            _ = try await git.run(["init", "--quiet"], in: staging)
            var fetched = false
            if isFull {
                fetched = (try? await git.run(["fetch", "--quiet", "--no-tags", "--depth", "1", "--", url, commit], in: staging)) != nil
            }
            if !fetched {
                _ = try await git.run(["fetch", "--quiet", "--tags", "--", url,
                                       "+refs/heads/*:refs/remotes/origin/*"], in: staging)
            }
            let full: String
            do { full = try await git.run(["rev-parse", "--verify", "--quiet", "\(commit)^{commit}"], in: staging) } catch {
                throw ChallengeError.commitNotFound(repo: spec.githubRepo, commit: spec.githubCommit)
            }
            guard full.hasPrefix(commit) else { throw ChallengeError.commitNotFound(repo: spec.githubRepo, commit: spec.githubCommit) }
            _ = try await git.run(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", full], in: staging)
            let head = try await git.run(["rev-parse", "HEAD"], in: staging)
            guard head == full else { throw ChallengeError.commitNotFound(repo: spec.githubRepo, commit: spec.githubCommit) }
            let final = directory.appendingPathComponent(full)
            if let reused = try await reuse(spec, final, commit: full, git: git) {
                try? fm.removeItem(at: staging)
                return reused
            }
            _ = try verify(spec, checkout: staging, commit: full)
            try fm.moveItem(at: staging, to: final)
            return try verify(spec, checkout: final, commit: full)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }

    /// An existing checkout of `commit` at `dir`, verified against `spec`. A commit's files
    /// never change, so a verification error is final and the directory (which may be in
    /// use under another spec) is kept; a directory whose HEAD is not `commit` is removed.
    static func reuse(_ spec: ChallengeSpec, _ dir: URL, commit: String, git: GitRunner) async throws -> ProvisionedChallenge? {
        guard FileManager.default.fileExists(atPath: dir.path) else { return nil }
        if let head = try? await git.run(["rev-parse", "HEAD"], in: dir), head == commit {
            return try verify(spec, checkout: dir, commit: commit)
        }
        try? FileManager.default.removeItem(at: dir)
        return nil
    }

    /// Local paths become absolute; URLs are passed as given.
    static func repositoryURL(_ repo: String) -> String {
        let r = repo.trimmingCharacters(in: .whitespaces)
        if r.contains("://") { return r }
        if r.hasPrefix("/") { return r }
        if r.hasPrefix(".") || FileManager.default.fileExists(atPath: r) {
            return URL(fileURLWithPath: r).standardizedFileURL.path
        }
        return r
    }

    /// Reads the declaration, locates the compose file and checks its hash.
    static func verify(_ spec: ChallengeSpec, checkout: URL, commit: String) throws -> ProvisionedChallenge {
        let fm = FileManager.default
        let declPath = checkout.appendingPathComponent(EvaluatorDeclaration.fileName)
        guard let declData = fm.contents(atPath: declPath.path) else {
            throw ChallengeError.declarationMissing(declPath.path)
        }
        let declaration: EvaluatorDeclaration
        do { declaration = try EvaluatorDeclaration.parse(String(decoding: declData, as: UTF8.self)) } catch {
            throw ChallengeError.declarationInvalid("\(error)")
        }
        let candidates = declaration.compose.map { [$0] } ?? EvaluatorDeclaration.composeCandidates
        guard let relative = candidates.first(where: { fm.fileExists(atPath: checkout.appendingPathComponent($0).path) }) else {
            throw ChallengeError.composeNotFound("none of \(candidates.joined(separator: ", ")) exists in the repository")
        }
        let composeURL = checkout.appendingPathComponent(relative)
        let root = checkout.resolvingSymlinksInPath().path
        let resolved = composeURL.resolvingSymlinksInPath().path
        guard resolved.hasPrefix(root + "/") else { throw ChallengeError.composeOutsideRepository(relative) }
        guard let bytes = fm.contents(atPath: resolved) else { throw ChallengeError.composeNotFound("\(relative) is unreadable") }
        let actual = sha256Hex(Array(bytes))
        let expected = spec.normalizedComposeHash ?? spec.composeHash
        guard actual == expected else {
            throw ChallengeError.composeHashMismatch(expected: expected, actual: actual, file: relative)
        }
        return ProvisionedChallenge(spec: spec, directory: checkout, commit: commit, composeFile: composeURL,
                                    composeText: String(decoding: bytes, as: UTF8.self), composeHash: actual,
                                    declaration: declaration)
    }
}

extension ProvisionedChallenge {
    func withSpec(_ spec: ChallengeSpec) -> ProvisionedChallenge {
        var copy = self
        copy.spec = spec
        return copy
    }
}

/// Runs the `git` CLI through Foundation `Process` with a time limit.
struct GitRunner: Sendable {
    let timeoutSeconds: Double

    /// Runs `git args` in `dir` (as its own process group, killed whole at the timeout
    /// or when the task is cancelled); returns trimmed stdout, throws `ChallengeError.git`
    /// on failure.
    func run(_ args: [String], in dir: URL) async throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_ASKPASS"] = "/bin/true"
        env["LC_ALL"] = "C"
        let command = args.prefix(2).joined(separator: " ")
        let result: RunResult
        do {
            result = try await ProcessGroup.run(
                SpawnRequest(command: ["git"] + args, environment: env, workingDirectory: dir.path,
                             stdout: .capture(maxBytes: 4 << 20, keep: .head), stderr: .capture(maxBytes: 64 << 10, keep: .tail)),
                timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
        } catch {
            throw ChallengeError.git(command: command, status: "not started", stderr: "\(error)")
        }
        switch result.end {
        case .cancelled: throw CancellationError()
        case .timedOut:
            throw ChallengeError.git(command: command, status: "timed out after \(Int(timeoutSeconds)) s",
                                     stderr: String(result.stderr.text.suffix(2000)))
        case .exited:
            guard result.status.succeeded else {
                throw ChallengeError.git(command: command, status: result.status.description,
                                         stderr: String(result.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines).suffix(2000)))
            }
        }
        return result.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
