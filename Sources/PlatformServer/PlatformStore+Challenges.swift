import Foundation
import PlatformAPI
import PlatformCore
import ServiceKit
import Store

/// A `challenges` row.
struct ChallengeRow: Sendable {
    var id: String
    var name: String
    var status: String
    var githubRepo: String
    var githubCommit: String
    var composeHash: String
    var mechanismId: Int
    var emissionShare: Double
    var validatorsPerSubmission: Int
    var maxRetries: Int
    var claimTimeoutS: Int
    var dataName: String
    var dataVersion: Int
    var createdAt: Double
    var updatedAt: Double

    init(_ r: SQLRow) throws {
        id = try r.string("id")
        name = try r.string("name")
        status = try r.string("status")
        githubRepo = try r.string("github_repo")
        githubCommit = try r.string("github_commit")
        composeHash = try r.string("compose_hash")
        mechanismId = Int(try r.int("mechanism_id"))
        emissionShare = try r.double("emission_share")
        validatorsPerSubmission = Int(try r.int("validators_per_submission"))
        maxRetries = Int(try r.int("max_retries"))
        claimTimeoutS = Int(try r.int("claim_timeout_s"))
        dataName = try r.string("data_name")
        dataVersion = Int(try r.int("data_version"))
        createdAt = try r.double("created_at")
        updatedAt = try r.double("updated_at")
    }

    var isActive: Bool { status == "active" }

    var share: ChallengeShare {
        ChallengeShare(id: id, mechanismId: mechanismId, emissionShare: emissionShare, active: isActive)
    }

    var active: ActiveChallenge {
        ActiveChallenge(id: id, name: name, status: status, githubRepo: githubRepo, githubCommit: githubCommit,
                        composeHash: composeHash, mechanismId: mechanismId, emissionShare: emissionShare)
    }

    var detail: ChallengeDetail {
        ChallengeDetail(id: id, name: name, status: status, githubRepo: githubRepo, githubCommit: githubCommit,
                        composeHash: composeHash, mechanismId: mechanismId, emissionShare: emissionShare,
                        validatorsPerSubmission: validatorsPerSubmission, maxRetries: maxRetries,
                        claimTimeoutS: claimTimeoutS, dataNamespace: dataName,
                        createdAt: PlatformTime.string(createdAt), updatedAt: PlatformTime.string(updatedAt))
    }
}

/// Field validation of challenge writes (400 with the field named).
enum ChallengeFields {
    static func bad(_ field: String, _ why: String) -> APIError {
        APIError.badRequest(PlatformErrorCode.invalidField, "\(field): \(why)")
    }

    static func name(_ v: String) throws {
        let ok = v.utf8.count >= 1 && v.utf8.count <= 64
            && v.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) }
        guard ok else { throw bad("name", "1-64 characters of A-Z a-z 0-9 - _ .") }
    }

    /// Any git URL a validator can fetch: http(s)://, ssh://, git:// with a host, file:// with a
    /// path (local networks and tests), or scp-like `user@host:path`; never whitespace or a
    /// leading `-` (which git would read as an option).
    static func repo(_ v: String) throws {
        let why = "a git URL (http(s)://, ssh://, git://, file:// or user@host:path) of at most 512 characters"
        guard v.utf8.count <= 512, !v.hasPrefix("-"), !v.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw bad("github_repo", why)
        }
        if let url = URL(string: v), let scheme = url.scheme?.lowercased() {
            switch scheme {
            case "https", "http", "ssh", "git": if url.host?.isEmpty == false { return }
            case "file": if !url.path.isEmpty { return }
            default: break
            }
        } else if v.range(of: #"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^:]+$"#, options: .regularExpression) != nil {
            return
        }
        throw bad("github_repo", why)
    }

    static func commit(_ v: String) throws {
        let ok = (7...64).contains(v.utf8.count) && v.unicodeScalars.allSatisfy { "0123456789abcdefABCDEF".unicodeScalars.contains($0) }
        guard ok else { throw bad("github_commit", "7-64 hexadecimal characters") }
    }

    static func composeHash(_ v: String) throws {
        let ok = (1...128).contains(v.utf8.count)
            && v.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || ":_-".unicodeScalars.contains($0)) }
        guard ok else { throw bad("compose_hash", "1-128 characters of A-Z a-z 0-9 : _ -") }
    }

    static func config(validators: Int, retries: Int, timeout: Int) throws {
        guard (1...64).contains(validators) else { throw bad("validators_per_submission", "must be in 1...64") }
        guard (0...20).contains(retries) else { throw bad("max_retries", "must be in 0...20") }
        guard (1...604_800).contains(timeout) else { throw bad("claim_timeout_s", "must be in 1...604800") }
    }

    static func shareRule(_ proposed: ChallengeShare, others: [ChallengeShare]) throws {
        do { try EmissionShares.check(proposed, replacing: others) } catch {
            switch error {
            case .exceeded:
                throw APIError.badRequest(PlatformErrorCode.emissionShareExceeded, error.description)
            default:
                throw APIError.badRequest(PlatformErrorCode.invalidField, error.description)
            }
        }
    }
}

extension PlatformStore {
    static func challengeNotFound(_ id: String) -> APIError {
        APIError.notFound(PlatformErrorCode.challengeNotFound, "Challenge \(id.prefix(64)) does not exist")
    }

    func challenge(_ ex: any SQLExecutor, id: String, lock: Bool = false) async throws -> ChallengeRow {
        guard let row = try await ex.queryOne("SELECT * FROM challenges WHERE id = ?\(lock ? ex.forUpdate : "")", [.text(id)]) else {
            throw Self.challengeNotFound(id)
        }
        return try ChallengeRow(row)
    }

    public func challengeDetail(id: String) async throws -> ChallengeDetail {
        try await challenge(db, id: id).detail
    }

    /// Admin writes to challenges are serialized (PostgreSQL: a table lock for the rest of
    /// the transaction) so two concurrent updates cannot both pass the emission-share rule.
    func lockChallengesForShareRule(_ tx: any SQLExecutor) async throws {
        if tx.dialect == .postgres { try await tx.fetch("LOCK TABLE challenges IN SHARE ROW EXCLUSIVE MODE") }
    }

    func allShares(_ tx: any SQLExecutor) async throws -> [ChallengeShare] {
        try await tx.fetch("SELECT * FROM challenges").map { try ChallengeRow($0).share }
    }

    /// `GET /challenges/active`: active challenges, by mechanism then name.
    public func activeChallenges() async throws -> ActiveChallengesResponse {
        let rows = try await db.fetch("SELECT * FROM challenges WHERE status = 'active' ORDER BY mechanism_id, name")
        return ActiveChallengesResponse(challenges: try rows.map { try ChallengeRow($0).active })
    }

    public func listChallenges() async throws -> ChallengeListResponse {
        let rows = try await db.fetch("SELECT * FROM challenges ORDER BY mechanism_id, name")
        return ChallengeListResponse(challenges: try rows.map { try ChallengeRow($0).detail })
    }

    /// `POST /admin/challenges`: one transaction with the challenge row and (PostgreSQL) its
    /// schema, tables and read-only role; on SQLite the challenge's file is created right after.
    public func createChallenge(_ req: CreateChallengeRequest, now: Double) async throws -> ChallengeDetail {
        try ChallengeFields.name(req.name)
        try ChallengeFields.repo(req.githubRepo)
        try ChallengeFields.commit(req.githubCommit)
        try ChallengeFields.composeHash(req.composeHash)
        let status = req.status ?? "active"
        guard status == "active" || status == "inactive" else {
            throw ChallengeFields.bad("status", "must be 'active' or 'inactive'")
        }
        let vps = req.validatorsPerSubmission ?? limits.defaultValidatorsPerSubmission
        let retries = req.maxRetries ?? limits.defaultMaxRetries
        let timeout = req.claimTimeoutS ?? limits.defaultClaimTimeoutS
        try ChallengeFields.config(validators: vps, retries: retries, timeout: timeout)
        let id = Self.newId()
        let dataName = ChallengeDataManager.dataName(challengeId: id)
        let proposed = ChallengeShare(id: id, mechanismId: req.mechanismId, emissionShare: req.emissionShare,
                                      active: status == "active")
        let detail = try await db.transaction { tx in
            try await lockChallengesForShareRule(tx)
            if try await tx.fetchOne("SELECT id FROM challenges WHERE name = \(req.name)") != nil {
                throw APIError.conflict(PlatformErrorCode.challengeNameTaken, "A challenge named '\(req.name)' already exists")
            }
            try ChallengeFields.shareRule(proposed, others: try await allShares(tx))
            try await tx.fetch(
                """
                INSERT INTO challenges (id, name, status, github_repo, github_commit, compose_hash, mechanism_id,
                  emission_share, validators_per_submission, max_retries, claim_timeout_s, data_name, data_version,
                  created_at, updated_at)
                VALUES (\(id), \(req.name), \(status), \(req.githubRepo), \(req.githubCommit),
                  \(req.composeHash), \(req.mechanismId), \(req.emissionShare), \(vps), \(retries), \(timeout),
                  \(dataName), 0, \(now), \(now))
                """)
            try await challengeData.provisionInTransaction(tx, dataName: dataName, challengeId: id)
            return try await challenge(tx, id: id).detail
        }
        try await challengeData.provisionAfterCommit(store: self, dataName: dataName, challengeId: id)
        return detail
    }

    /// `PATCH /admin/challenges/{id}`. A changed `github_commit` or `compose_hash` pushes
    /// `challenge_updated` to connected validators.
    public func updateChallenge(id: String, _ req: UpdateChallengeRequest, now: Double) async throws -> ChallengeDetail {
        if let v = req.name { try ChallengeFields.name(v) }
        if let v = req.githubRepo { try ChallengeFields.repo(v) }
        if let v = req.githubCommit { try ChallengeFields.commit(v) }
        if let v = req.composeHash { try ChallengeFields.composeHash(v) }
        let (detail, emitted) = try await db.transaction { tx in
            try await lockChallengesForShareRule(tx)
            var c = try await challenge(tx, id: id, lock: true)
            let before = c
            if let v = req.name, v != c.name {
                if try await tx.fetchOne("SELECT id FROM challenges WHERE name = \(v) AND id <> \(id)") != nil {
                    throw APIError.conflict(PlatformErrorCode.challengeNameTaken, "A challenge named '\(v)' already exists")
                }
                c.name = v
            }
            if let v = req.githubRepo { c.githubRepo = v }
            if let v = req.githubCommit { c.githubCommit = v }
            if let v = req.composeHash { c.composeHash = v }
            if let v = req.mechanismId { c.mechanismId = v }
            if let v = req.emissionShare { c.emissionShare = v }
            if let v = req.validatorsPerSubmission { c.validatorsPerSubmission = v }
            if let v = req.maxRetries { c.maxRetries = v }
            if let v = req.claimTimeoutS { c.claimTimeoutS = v }
            try ChallengeFields.config(validators: c.validatorsPerSubmission, retries: c.maxRetries, timeout: c.claimTimeoutS)
            try ChallengeFields.shareRule(c.share, others: try await allShares(tx))
            try await tx.fetch(
                """
                UPDATE challenges SET name = \(c.name), github_repo = \(c.githubRepo),
                  github_commit = \(c.githubCommit), compose_hash = \(c.composeHash),
                  mechanism_id = \(c.mechanismId),
                  emission_share = \(c.emissionShare), validators_per_submission = \(c.validatorsPerSubmission),
                    max_retries = \(c.maxRetries), claim_timeout_s = \(c.claimTimeoutS), updated_at = \(now)
                WHERE id = \(id)
                """)
            var emitted = false
            if before.githubCommit != c.githubCommit || before.composeHash != c.composeHash {
                try await emit(tx, [.challengeUpdated(c)], now: now)
                emitted = true
            }
            return (try await challenge(tx, id: id).detail, emitted)
        }
        if emitted { signal.poke() }
        return detail
    }

    /// Activates or deactivates a challenge (activation checks the emission-share rule) and
    /// tells validators with `challenge_updated`. Jobs of an inactive challenge stay as they
    /// are but are neither listed nor claimable until it is active again.
    public func setChallengeStatus(id: String, active: Bool, now: Double) async throws -> ChallengeDetail {
        let (detail, emitted) = try await db.transaction { tx in
            try await lockChallengesForShareRule(tx)
            var c = try await challenge(tx, id: id, lock: true)
            let newStatus = active ? "active" : "inactive"
            guard c.status != newStatus else { return (c.detail, false) }
            c.status = newStatus
            try ChallengeFields.shareRule(c.share, others: try await allShares(tx))
            try await tx.fetch("UPDATE challenges SET status = \(newStatus), updated_at = \(now) WHERE id = \(id)")
            try await emit(tx, [.challengeUpdated(c)], now: now)
            return (try await challenge(tx, id: id).detail, true)
        }
        if emitted { signal.poke() }
        return detail
    }
}
