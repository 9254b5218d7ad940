import Foundation
import PlatformAPI
import PlatformCore
import ServiceKit
import Store

/// An event to record in the outbox (`platform_events`) inside a state-changing transaction.
struct EventDraft: Sendable {
    var kind: String
    /// nil = every validator; otherwise only this hotkey.
    var target: String?
    var jobId: String?
    var challengeId: String?
    var githubCommit: String?
    var composeHash: String?
    var status: String?
    var reason: String?

    /// Internal event (never sent to validators): the target was unregistered, so every
    /// replica closes its sockets.
    static let validatorRemoved = "validator_removed"

    static func newJob(jobId: String, challengeId: String) -> EventDraft {
        EventDraft(kind: PlatformMessageType.newJob, jobId: jobId, challengeId: challengeId)
    }

    static func challengeUpdated(_ c: ChallengeRow) -> EventDraft {
        EventDraft(kind: PlatformMessageType.challengeUpdated, challengeId: c.id, githubCommit: c.githubCommit,
                   composeHash: c.composeHash, status: c.status)
    }

    static func jobCancelled(jobId: String, challengeId: String, target: String?, reason: String) -> EventDraft {
        EventDraft(kind: PlatformMessageType.jobCancelled, target: target, jobId: jobId, challengeId: challengeId,
                   reason: reason)
    }
}

/// A recorded event, as the hub delivers it.
struct EventRecord: Sendable, Equatable {
    var seq: Int64
    var kind: String
    var target: String?
    var jobId: String?
    var challengeId: String?
    var githubCommit: String?
    var composeHash: String?
    var status: String?
    var reason: String?

    init(seq: Int64, draft d: EventDraft) {
        self.seq = seq
        kind = d.kind
        target = d.target
        jobId = d.jobId
        challengeId = d.challengeId
        githubCommit = d.githubCommit
        composeHash = d.composeHash
        status = d.status
        reason = d.reason
    }

    init(_ r: SQLRow) throws {
        seq = try r.int("seq")
        kind = try r.string("kind")
        target = try r.optionalString("target_hotkey")
        jobId = try r.optionalString("job_id")
        challengeId = try r.optionalString("challenge_id")
        githubCommit = try r.optionalString("github_commit")
        composeHash = try r.optionalString("compose_hash")
        status = try r.optionalString("status")
        reason = try r.optionalString("reason")
    }

    func isFor(_ hotkey: String) -> Bool { target == nil || target == hotkey }

    /// Whether validators are sent this event (internal ones are acted on, not sent).
    var isSent: Bool { kind != EventDraft.validatorRemoved }

    /// The JSON text sent over the WebSocket.
    func message() -> String {
        let text: String?
        switch kind {
        case PlatformMessageType.newJob:
            text = try? PlatformStore.encodeJSON(NewJobMessage(jobId: jobId ?? "", challengeId: challengeId ?? "", seq: seq))
        case PlatformMessageType.challengeUpdated:
            text = try? PlatformStore.encodeJSON(ChallengeUpdatedMessage(
                challengeId: challengeId ?? "", githubCommit: githubCommit ?? "", composeHash: composeHash,
                status: status, seq: seq))
        case PlatformMessageType.jobCancelled:
            text = try? PlatformStore.encodeJSON(JobCancelledMessage(jobId: jobId ?? "", reason: reason, seq: seq))
        default:
            text = nil
        }
        return text ?? "{\"type\":\"\(kind)\",\"seq\":\(seq)}"
    }
}

/// What a (re)connecting validator is sent before live events.
struct SocketReplay: Sendable {
    var records: [EventRecord]
    /// Every event with seq ≤ upTo is covered by `records` (or was not relevant).
    var upTo: Int64
    var mode: String
}

extension PlatformStore {
    /// The PostgreSQL NOTIFY channel of new events; the payload is the newest seq recorded.
    public static let eventChannel = "evalnet_platform_events"

    /// Records `drafts` in the outbox. Sequence numbers come from the single counter row,
    /// whose row lock (PostgreSQL) or the write lock (SQLite) is held until commit, so event
    /// sequence order equals commit order: a reader that sees seq n has seen every seq < n.
    @discardableResult
    func emit(_ tx: any SQLExecutor, _ drafts: [EventDraft], now: Double) async throws -> [Int64] {
        guard !drafts.isEmpty else { return [] }
        let first = try await reserveSeqs(tx, count: drafts.count)
        var seqs: [Int64] = []
        for (i, d) in drafts.enumerated() {
            let seq = first + Int64(i)
            seqs.append(seq)
            try await tx.fetch(
                """
                INSERT INTO platform_events (seq, kind, target_hotkey, job_id, challenge_id, github_commit, compose_hash,
                  status, reason, created_at)
                VALUES (\(seq), \(d.kind), \(d.target), \(d.jobId), \(d.challengeId), \(d.githubCommit),
                  \(d.composeHash), \(d.status), \(d.reason), \(now))
                """)
            if d.kind == PlatformMessageType.newJob, let job = d.jobId {
                try await tx.fetch("UPDATE jobs SET announce_seq = \(seq) WHERE id = \(job)")
            }
        }
        if tx.dialect == .postgres, let last = seqs.last {
            // Delivered to every replica's LISTEN connection when (and only if) this commits.
            try await tx.fetch("SELECT count(*) AS n FROM (SELECT pg_notify(\(Self.eventChannel), \(String(last)))) AS x")
        }
        return seqs
    }

    private func reserveSeqs(_ tx: any SQLExecutor, count: Int) async throws -> Int64 {
        guard let row = try await tx.fetchOne(
            "UPDATE platform_event_counter SET last_seq = last_seq + \(count) WHERE id = 1 RETURNING last_seq")
        else { throw APIError(.internalServerError, ErrorCode.internalError, "event counter missing") }
        return try row.int("last_seq") - Int64(count) + 1
    }

    /// The newest committed event sequence number.
    public func lastEventSeq() async throws -> Int64 {
        try await db.fetchOne("SELECT last_seq FROM platform_event_counter WHERE id = 1")?.int("last_seq") ?? 0
    }

    /// Events after `seq`, in order (for the pump): the primary key read from `seq`, left at the
    /// limit whatever the values, so one plan serves (`StatementHint.planOnce`; run several
    /// times a platform cycle).
    func events(after seq: Int64, limit: Int = 1000) async throws -> [EventRecord] {
        try await db.fetch(
            "\(sql: StatementHint.planOnce) SELECT * FROM platform_events WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)"
        ).map(EventRecord.init)
    }

    /// Catch-up for a validator connecting with `since` (the last seq it received) or none.
    ///
    /// - `since` mode (since within the retained range): the still-claimable `new_job`s announced
    ///   after `since`, every `job_cancelled` for it after `since`, and the latest
    ///   `challenge_updated` per challenge after `since`.
    /// - `snapshot` mode (no `since`, or it is older than the retained events, or newer than
    ///   the server's): a `new_job` for every job it may claim now.
    /// Everything up to `upTo` is covered; live delivery continues after it.
    func replay(for hotkey: String, since: Int64?) async throws -> SocketReplay {
        guard let counter = try await db.fetchOne("SELECT last_seq, pruned_through FROM platform_event_counter WHERE id = 1")
        else { return SocketReplay(records: [], upTo: 0, mode: "snapshot") }
        let upTo = try counter.int("last_seq")
        let pruned = try counter.int("pruned_through")
        let useSince = since.map { $0 >= pruned && $0 <= upTo } ?? false
        let from = useSince ? (since ?? 0) : 0

        var records: [EventRecord] = []
        let jobs = try await db.fetch(
            """
            SELECT j.id, j.challenge_id, j.announce_seq FROM jobs j
            WHERE \(Self.claimable(by: hotkey)) AND j.announce_seq > \(from) AND j.announce_seq <= \(upTo)
            ORDER BY j.announce_seq
            """)
        for r in jobs {
            records.append(EventRecord(seq: try r.int("announce_seq"), draft: .newJob(
                jobId: try r.string("id"), challengeId: try r.string("challenge_id"))))
        }
        if useSince {
            let rows = try await db.fetch(
                """
                SELECT * FROM platform_events WHERE seq > \(from) AND seq <= \(upTo) AND kind <> \(PlatformMessageType.newJob)
                  AND (target_hotkey IS NULL OR target_hotkey = \(hotkey)) ORDER BY seq
                """)
            var latestUpdate: [String: Int64] = [:]
            let events = try rows.map(EventRecord.init)
            for e in events where e.kind == PlatformMessageType.challengeUpdated {
                latestUpdate[e.challengeId ?? ""] = e.seq
            }
            for e in events {
                if e.kind == PlatformMessageType.challengeUpdated, latestUpdate[e.challengeId ?? ""] != e.seq { continue }
                records.append(e)
            }
            records.sort { $0.seq < $1.seq }
        }
        return SocketReplay(records: records, upTo: upTo, mode: useSince ? "since" : "snapshot")
    }

    /// Deletes events older than the retention period and remembers the pruned range.
    func pruneEvents(now: Double) async throws -> Int {
        let cutoff = now - limits.eventRetentionSeconds
        return try await db.transaction { tx in
            guard let row = try await tx.fetchOne(
                "SELECT MAX(seq) AS m, COUNT(*) AS n FROM platform_events WHERE created_at < \(cutoff)"),
                let maxSeq = try row.optionalInt("m")
            else { return 0 }
            try await tx.fetch("DELETE FROM platform_events WHERE seq <= \(maxSeq)")
            try await tx.fetch(
                "UPDATE platform_event_counter SET pruned_through = \(maxSeq) WHERE id = 1 AND pruned_through < \(maxSeq)")
            return Int(try row.int("n"))
        }
    }
}
