import Foundation
import PoolAPI
import PoolCore
import ServiceKit
import Store

extension SQLExecutor {
    /// Row locks for algorithms the transaction will update: `FOR NO KEY UPDATE` on
    /// PostgreSQL (conflicts with other writers but not with foreign-key checks); nothing on
    /// SQLite, where a write transaction holds the database.
    var lockForWrite: String { dialect == .postgres ? " FOR NO KEY UPDATE" : "" }
    var lockForWriteSkipLocked: String { dialect == .postgres ? " FOR NO KEY UPDATE SKIP LOCKED" : "" }
}

extension PoolStore {
    /// The window's evaluation suite when the pool rotates suites (`suite_rotation`), else nil.
    public func evalSuite(window: Int64) -> EvalSuite? {
        guard rules.suiteRotation else { return nil }
        let s = SuiteRotation.suite(window: window, salt: rules.rotationSalt, taskCount: rules.rotationTaskCount,
                                    samples: rules.rotationSamples)
        return EvalSuite(seed: s.seed, taskCount: s.taskCount, samples: s.samples)
    }

    /// Above this many candidates waiting for evaluation, leases carry no evolve budget,
    /// so evaluation catches up before more candidates are proposed.
    static let evolutionBacklogLimit = 500

    func checkTaskType(_ taskType: String) throws {
        guard algorithms.taskTypes.contains(taskType) else {
            throw APIError.unprocessable(
                PoolErrorCode.unknownTaskType,
                "Unknown task_type '\(taskType)'; this pool serves: \(algorithms.taskTypes.joined(separator: ", "))")
        }
    }

    /// Refuses a new assignment while the miner holds an unexpired one, or (when the
    /// window quota is configured) after the quota of leases in this window.
    func checkCanTakeAssignment(_ tx: any SQLExecutor, hotkey: String, window: Int64, now: Double) async throws {
        if let active = try await tx.fetchOne(
            "SELECT id, timeout_at FROM assignments WHERE miner = \(hotkey) AND status = 'active' AND timeout_at > \(now)")
        {
            let timeout = try active.double("timeout_at")
            throw APIError(
                .badRequest, PoolErrorCode.activeTask,
                "\(PoolErrorText.activeTask) (\(try active.string("id")), expires \(WireTime.string(timeout))); submit it or DELETE \(PoolPaths.activeTask)",
                retryAfterSeconds: 5)
        }
        if rules.leasesPerWindow != nil {
            let issued = try await tx.fetchOne(
                "SELECT COUNT(*) AS n FROM assignments WHERE miner = \(hotkey) AND window_number = \(window) AND kind = 'lease'"
            )?.int("n") ?? 0
            if !rules.allowsAnotherLease(issuedThisWindow: Int(issued)) {
                let remaining = Int(clock.secondsRemaining(at: now).rounded(.up))
                throw APIError(
                    .badRequest, PoolErrorCode.windowExhausted, PoolErrorText.windowExhausted,
                    retryAfterSeconds: max(1, remaining), extra: ["next_window_at": WireTime.string(now + Double(remaining))])
            }
        }
    }

    /// Picks up to `limit` candidates for `hotkey` (the rule of `CandidateSelection`):
    /// never its own, never one it evaluated or holds, never beyond the slot cap;
    /// fewest evaluations first. Reserves a slot on each picked candidate in the same
    /// statement (the pick is the UPDATE's subquery; on PostgreSQL it locks the picked rows
    /// and skips rows other transactions hold) and returns them in pick order. On PostgreSQL
    /// its plan reads the candidates still in evaluation through an index whatever the values
    /// (the status is written in the text, not bound), a set bounded by the backlog, not by
    /// history, so its plan is kept (`StatementHint.planOnce`): planned on every lease it took
    /// 0.5 ms of PostgreSQL's 5.5 ms per cycle. On SQLite `algorithms_pick` is in the pick's
    /// order (migration 9), so the read stops at the first `limit` that qualify. The check that
    /// the miner has not evaluated a candidate is one probe of its evaluation per candidate (`StatementHint.perRowProbe`;
    /// as an anti-join, the kept plan read every evaluation of every candidate).
    func pickCandidates(_ tx: any SQLExecutor, taskType: String, hotkey: String, limit: Int) async throws -> [SQLRow] {
        guard limit > 0 else { return [] }
        let rows = try await tx.fetch(
            """
            \(sql: StatementHint.planOnce) UPDATE algorithms SET reserved = reserved + 1 WHERE id IN (
              SELECT a.id FROM algorithms a
              WHERE a.task_type = \(taskType) AND a.status = 'in_evaluation'
                AND (a.author IS NULL OR a.author <> \(hotkey))
                AND a.eval_count + a.reserved < \(rules.candidateSlotCap)
                AND NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.algorithm_id = a.id AND e.evaluator = \(hotkey)\(sql: StatementHint.perRowProbe))
              ORDER BY a.eval_count + a.reserved ASC, a.id ASC
              LIMIT \(limit)\(sql: tx.lockForWriteSkipLocked))
            RETURNING id, dsl, dsl_hash, input_dim, task_type, eval_count + reserved - 1 AS load
            """)
        for r in rows { candidateFacts.remember(try r.int("id"), try CandidateFacts.Program(row: r)) }
        // RETURNING gives no order: the pick's order is rebuilt from the counts before the update.
        return try rows.map { (row: $0, load: try $0.int("load"), id: try $0.int("id")) }
            .sorted { ($0.load, $0.id) < ($1.load, $1.id) }.map(\.row)
    }

    /// Seeds for local evolution: the best consensus-scored algorithms of the task, then
    /// shipped seeds, excluding the ones already in the evaluate list.
    func pickSeeds(_ tx: any SQLExecutor, taskType: String, limit: Int, excluding: Set<Int64>) async throws -> [SQLRow] {
        guard limit > 0 else { return [] }
        // Scored algorithms best first (the `algorithms_best` index, read in order and left
        // after `wanted` rows whatever the values: one plan serves, `StatementHint.planOnce`),
        // then shipped seeds not scored yet, in id order.
        let wanted = Int64(limit + excluding.count)
        var rows = try await tx.fetch(
            """
            \(sql: StatementHint.planOnce) SELECT id, dsl, input_dim, task_type, consensus_score FROM algorithms
            WHERE task_type = \(taskType) AND consensus_score IS NOT NULL
            ORDER BY consensus_score DESC, id ASC LIMIT \(wanted)
            """)
        if rows.count < wanted {
            rows += try await tx.fetch(
                """
                SELECT id, dsl, input_dim, task_type, consensus_score FROM algorithms
                WHERE task_type = \(taskType) AND origin = 'seed' AND consensus_score IS NULL ORDER BY id ASC LIMIT \(wanted - Int64(rows.count))
                """)
        }
        return Array(rows.filter { (try? $0.int("id")).map { !excluding.contains($0) } ?? false }.prefix(limit))
    }

    func record(_ r: SQLRow) throws -> AlgorithmRecord {
        AlgorithmRecord(
            id: try r.int("id"), algorithmDsl: try r.string("dsl"), inputDim: Int(try r.int("input_dim")),
            taskType: try r.string("task_type"))
    }

    func gossipPacket(_ tx: any SQLExecutor, taskType: String, limit: Int, window: Int64) async throws -> GossipPacket {
        guard limit > 0 else { return GossipPacket(taskType: taskType, algorithmIds: [], windowNumber: window) }
        let rows = try await tx.fetch(
            """
            SELECT algorithm_id, COUNT(*) AS n, MAX(created_at) AS latest FROM gossip
            WHERE task_type = \(taskType) AND window_number >= \(window - 1)
            GROUP BY algorithm_id ORDER BY n DESC, latest DESC, algorithm_id ASC LIMIT \(limit)
            """)
        return GossipPacket(taskType: taskType, algorithmIds: try rows.map { try $0.int("algorithm_id") }, windowNumber: window)
    }

    /// The lease's advice (see `LeaseAdvice`), from the cache when fresh. Enough seeds are
    /// read to leave `seedBatchSize` after removing the candidates the lease gets to evaluate.
    func leaseAdvice(taskType: String, sizes: LeaseSizes, window: Int64) async throws -> LeaseAdvice {
        let seedLimit = sizes.seedBatchSize > 0 ? sizes.seedBatchSize + sizes.evalBatchSize : 0
        let key = LeaseAdviceCache.Key(taskType: taskType, seedLimit: seedLimit, gossipLimit: sizes.gossipLimit, window: window)
        let (kept, generation) = adviceCache.lookup(key)
        if let kept { return kept }
        let seeds = try await pickSeeds(db, taskType: taskType, limit: seedLimit, excluding: [])
        let scored = try seeds.compactMap { r in try r.optionalDouble("consensus_score").map { (score: $0, id: try r.int("id")) } }
        // Counted up to the limit only: the cost of a lease does not grow with the backlog (the
        // `algorithms_pick` index, left at the limit whatever the values: one plan serves).
        let backlog = try await db.fetchOne(
            """
            \(sql: StatementHint.planOnce) SELECT COUNT(*) AS n FROM (
              SELECT 1 AS one FROM algorithms WHERE task_type = \(taskType) AND status = 'in_evaluation'
              LIMIT \(Self.evolutionBacklogLimit + 1)) AS waiting
            """)?.int("n") ?? 0
        let advice = LeaseAdvice(
            seeds: seeds, backlog: backlog,
            gossip: try await gossipPacket(db, taskType: taskType, limit: sizes.gossipLimit, window: window),
            seedsWanted: seedLimit, lastSeed: scored.count >= seedLimit ? scored.last : nil)
        adviceCache.keep(key, advice, readSince: generation)
        return advice
    }

    /// `POST /tasks/lease`.
    public func lease(hotkey: String, request: LeaseRequest, now: Double) async throws -> LeaseResponse {
        let taskType = request.taskType ?? "cifar10_binary"
        try checkTaskType(taskType)
        if request.simWindowNumber != nil {
            throw APIError.badRequest(PoolErrorCode.simWindowDisabled, "sim_window_number is a development-only override and is disabled here")
        }
        let sizes: LeaseSizes
        switch LeaseRequestValidation.result(
            evalBatchSize: request.evalBatchSize, seedBatchSize: request.seedBatchSize,
            gossipLimit: request.gossipLimit, rules: rules)
        {
        case let .success(s): sizes = s
        case let .failure(e): throw APIError.unprocessable(ErrorCode(e.code), e.message)
        }
        let window = Int64(clock.number(at: now))
        let id = RecordID.make(at: now)
        // What the lease only reads — seed candidates, the evolution backlog, the gossip packet —
        // is read before the transaction (on SQLite by a reader connection, beside the writer)
        // and kept a moment for the leases that follow (`LeaseAdviceCache`): all three are
        // advice, and the write transaction then holds the writer (or its rows) only for the
        // statements that must be atomic.
        let advice = try await leaseAdvice(taskType: taskType, sizes: sizes, window: window)
        let seedPool = advice.seeds, gossip = advice.gossip
        let budget = advice.backlog > Self.evolutionBacklogLimit ? 0 : 1
        return try await db.transaction { tx in
            try await touch(tx, hotkey: hotkey, now: now)
            try await checkCanTakeAssignment(tx, hotkey: hotkey, window: window, now: now)
            let evaluate = try await pickCandidates(tx, taskType: taskType, hotkey: hotkey, limit: sizes.evalBatchSize)
            let evalIds = Set(try evaluate.map { try $0.int("id") })
            let seeds = Array(try seedPool.filter { !evalIds.contains(try $0.int("id")) }.prefix(sizes.seedBatchSize))
            if evaluate.isEmpty && seeds.isEmpty && budget == 0 {
                throw APIError.notFound(PoolErrorCode.noWork, "No work available for \(taskType) right now")
            }
            let timeout = min(rules.leaseTimeout(issuedAt: now), now + Double(rules.leaseTTLSeconds))
            try await insertAssignment(
                tx,
                """
                INSERT INTO assignments (id, miner, kind, task_type, window_number, evolve_budget, issued_at, timeout_at, status)
                VALUES (\(id), \(hotkey), 'lease', \(taskType), \(window), \(budget), \(now), \(timeout), 'active')
                """,
                id: id, items: [("evaluate", evaluate), ("seed", seeds)])
            var response = LeaseResponse(
                leaseId: id, windowNumber: window, timeoutAt: WireTime.string(timeout), evolveBudget: budget,
                taskType: taskType, evaluateAlgorithms: try evaluate.map(record), seedAlgorithms: try seeds.map(record),
                gossip: gossip)
            response.evalSuite = evalSuite(window: window)
            return response
        }
    }

    /// Writes an assignment (`insert`, the row of `id`) and its items, every role in one
    /// multi-row insert (positions count per role): on PostgreSQL one round trip (`fetch(after:)`;
    /// the items' foreign-key checks run at the end of the statement and see the row).
    func insertAssignment(_ tx: any SQLExecutor, _ insert: SQLQuery, id: String,
                          items groups: [(role: String, rows: [SQLRow])]) async throws {
        var items: [[SQLValue]] = []
        for (role, rows) in groups {
            for (i, r) in rows.enumerated() { items.append([.text(id), .int(try r.int("id")), .text(role), .int(Int64(i))]) }
        }
        guard !items.isEmpty else {
            try await tx.fetch(insert)
            return
        }
        try await tx.fetch(after: [insert], "INSERT INTO assignment_items (assignment_id, algorithm_id, role, position) VALUES \(rows: items)")
    }

    /// `POST /tasks/request`: a simple evolve batch (seeds, evolve budget 1) or evaluate
    /// batch (candidates, no evolution), stored as an assignment of that kind.
    public func requestBatch(hotkey: String, kind requested: String?, problemType: String?, now: Double) async throws
        -> BatchResponse
    {
        let kind = requested ?? "evolve"
        guard kind == "evolve" || kind == "evaluate" else {
            throw APIError.unprocessable(PoolErrorCode.invalidTaskKind, "task_type must be 'evolve' or 'evaluate', got '\(kind)'")
        }
        let taskType = problemType ?? "cifar10_binary"
        try checkTaskType(taskType)
        let window = Int64(clock.number(at: now))
        let id = RecordID.make(at: now)
        return try await db.transaction { tx in
            try await touch(tx, hotkey: hotkey, now: now)
            try await checkCanTakeAssignment(tx, hotkey: hotkey, window: window, now: now)
            let rows: [SQLRow]
            if kind == "evaluate" {
                rows = try await pickCandidates(tx, taskType: taskType, hotkey: hotkey, limit: rules.evalBatchDefault)
            } else {
                rows = try await pickSeeds(tx, taskType: taskType, limit: max(2, rules.seedBatchDefault), excluding: [])
            }
            guard !rows.isEmpty else {
                throw APIError.notFound(PoolErrorCode.noWork, "No \(kind) task available for \(taskType) right now")
            }
            let timeout = now + Double(rules.leaseTTLSeconds)
            try await insertAssignment(
                tx,
                """
                INSERT INTO assignments (id, miner, kind, task_type, window_number, evolve_budget, issued_at, timeout_at, status)
                VALUES (\(id), \(hotkey), \(kind), \(taskType), \(window), \(kind == "evolve" ? 1 : 0), \(now), \(timeout), 'active')
                """,
                id: id, items: [(kind == "evaluate" ? "evaluate" : "seed", rows)])
            return BatchResponse(batchId: id, taskType: kind, algorithms: try rows.map(record), timeoutAt: WireTime.string(timeout))
        }
    }

    /// `GET /tasks/pending_evaluations`.
    public func pendingEvaluations(hotkey: String) async throws -> PendingEvaluationsResponse {
        let n = try await db.fetchOne(
            """
            SELECT COUNT(*) AS n FROM algorithms a
            WHERE a.status = 'in_evaluation' AND (a.author IS NULL OR a.author <> \(hotkey))
              AND a.eval_count + a.reserved < \(rules.candidateSlotCap)
              AND NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.algorithm_id = a.id AND e.evaluator = \(hotkey)\(sql: StatementHint.perRowProbe))
            """)?.int("n") ?? 0
        return PendingEvaluationsResponse(hasPendingEvaluations: n > 0, count: n)
    }

    /// Releases the reserved evaluation slots of assignments that will not be submitted
    /// (except the `evaluated` ones).
    func releaseSlots(_ tx: any SQLExecutor, assignments: [String], except evaluated: Set<Int64> = []) async throws {
        guard !assignments.isEmpty else { return }
        let items = try await tx.fetch(
            "SELECT algorithm_id FROM assignment_items WHERE assignment_id IN (\(list: assignments)) AND role = 'evaluate'")
        var slots: [Int64: Int64] = [:]
        for item in items {
            let aid = try item.int("algorithm_id")
            if !evaluated.contains(aid) { slots[aid, default: 0] += 1 }
        }
        try await giveBack(tx, slots: slots)
    }

    /// Gives `slots[id]` reserved slots back to each algorithm in one statement. On
    /// PostgreSQL the rows are locked first in ascending id order (the one lock order; a
    /// joined UPDATE locks in plan order).
    func giveBack(_ tx: any SQLExecutor, slots: [Int64: Int64]) async throws {
        let sorted = slots.sorted(by: { $0.key < $1.key })
        guard !sorted.isEmpty else { return }
        if sorted.count > 1 && tx.dialect == .postgres {
            try await tx.fetch("SELECT id FROM algorithms WHERE id IN (\(list: sorted.map(\.key))) ORDER BY id\(sql: tx.lockForWrite)")
        }
        // VALUES columns are named column1, column2 on both backends.
        try await tx.fetch(
            """
            UPDATE algorithms SET reserved = CASE WHEN reserved > v.column2 THEN reserved - v.column2 ELSE 0 END
            FROM (VALUES \(rows: sorted.map { [.int($0.key), .int($0.value)] })) AS v WHERE algorithms.id = v.column1
            """)
    }

    /// Marks overdue active assignments expired and gives their evaluation slots back.
    /// Returns how many expired.
    @discardableResult
    public func expireOverdue(now: Double) async throws -> Int {
        try await db.transaction { tx in
            let overdue = try await tx.fetch("SELECT id FROM assignments WHERE status = 'active' AND timeout_at <= \(now)\(sql: tx.skipLocked)")
            let ids = try overdue.map { try $0.string("id") }
            try await releaseSlots(tx, assignments: ids)
            if !ids.isEmpty { try await tx.fetch("UPDATE assignments SET status = 'expired' WHERE id IN (\(list: ids))") }
            return overdue.count
        }
    }

    /// `DELETE /tasks/active`: the caller abandons its active assignment (a crashed client
    /// need not wait for expiry).
    public func abandonActive(hotkey: String, now: Double) async throws -> String? {
        try await db.transaction { tx in
            guard let row = try await tx.fetchOne("SELECT id FROM assignments WHERE miner = \(hotkey) AND status = 'active'\(sql: tx.forUpdate)")
            else { return nil }
            let id = try row.string("id")
            try await releaseSlots(tx, assignments: [id])
            try await tx.fetch("UPDATE assignments SET status = 'abandoned', completed_at = \(now) WHERE id = \(id)")
            return id
        }
    }
}
