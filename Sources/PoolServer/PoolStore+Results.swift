import Foundation
import PoolAPI
import PoolCore
import ServiceKit
import Store

extension PoolStore {
    func resultRecord(_ r: SQLRow) throws -> ResultRecord {
        ResultRecord(
            id: try r.int("id"), taskType: try r.string("task_type"), algorithmId: try r.int("algorithm_id"),
            algorithmDsl: try r.string("dsl"), inputDim: Int(try r.int("input_dim")), score: try r.double("score"),
            minerHotkey: try r.optionalString("miner"), status: try r.string("status"),
            createdAt: WireTime.string(try r.double("created_at")),
            verifiedAt: try r.optionalDouble("verified_at").map(WireTime.string),
            heldOutScore: try r.optionalDouble("held_out_score"))
    }

    /// `GET /results`: verified results (or another status), best first.
    public func results(status: String, taskType: String?, minScore: Double?, limit: Int) async throws -> [ResultRecord] {
        var sql = """
            SELECT r.*, a.dsl, a.input_dim FROM results r JOIN algorithms a ON a.id = r.algorithm_id WHERE r.status = ?
            """
        var binds: [SQLValue] = [.text(status)]
        if let taskType {
            sql += " AND r.task_type = ?"
            binds.append(.text(taskType))
        }
        if let minScore {
            sql += " AND r.score >= ?"
            binds.append(.double(minScore))
        }
        sql += " ORDER BY r.score DESC, r.id ASC LIMIT ?"
        binds.append(.int(Int64(limit)))
        return try await db.query(sql, binds).map(resultRecord)
    }

    public func sota(taskType: String) async throws -> SOTAResponse {
        try checkTaskType(taskType)
        guard let r = try await db.fetchOne("SELECT * FROM sota WHERE task_type = \(taskType)") else {
            return SOTAResponse(taskType: taskType, sotaThreshold: nil, resultId: nil, algorithmId: nil, updatedAt: nil)
        }
        var out = SOTAResponse(
            taskType: taskType, sotaThreshold: try r.double("score"), resultId: try r.int("result_id"),
            algorithmId: try r.int("algorithm_id"), updatedAt: WireTime.string(try r.double("updated_at")))
        out.heldOutScore = try r.optionalDouble("held_out_score")
        return out
    }

    /// `POST /results/verify/{id}`: completed → verified. Unknown → 404, not completed → 409.
    /// The answer carries the held-out detail (`held_out`: per-task scores on the pool's
    /// secret tasks beside the consensus score), computed after the transaction.
    public func verify(resultId: Int64, by hotkey: String, now: Double) async throws -> ResultRecord {
        var record = try await verifyRow(resultId: resultId, by: hotkey, now: now)
        if let row = try await db.fetchOne("SELECT dsl_hash FROM algorithms WHERE id = \(record.algorithmId)"),
           let outcome = heldOut.score(taskType: record.taskType, dsl: record.algorithmDsl, dslHash: try row.string("dsl_hash"),
                                       inputDim: record.inputDim)
        {
            record.heldOut = HeldOutDetail(score: outcome.score, taskCount: heldOut.tasks, taskScores: outcome.taskScores,
                                           consensusScore: record.score, failure: outcome.failure)
        }
        return record
    }

    func verifyRow(resultId: Int64, by hotkey: String, now: Double) async throws -> ResultRecord {
        try await db.transaction { tx in
            guard let r = try await tx.fetchOne("SELECT status FROM results WHERE id = \(resultId)\(sql: tx.forUpdate)") else {
                throw APIError.notFound(PoolErrorCode.resultNotFound, "Result \(resultId) does not exist")
            }
            let status = try r.string("status")
            guard status == "completed" else {
                throw APIError.conflict(PoolErrorCode.resultNotCompleted, "Result \(resultId) is '\(status)', only a completed result can be verified")
            }
            try await tx.fetch("UPDATE results SET status = 'verified', verified_at = \(now), verified_by = \(hotkey) WHERE id = \(resultId)")
            guard let row = try await tx.fetchOne(
                "SELECT r.*, a.dsl, a.input_dim FROM results r JOIN algorithms a ON a.id = r.algorithm_id WHERE r.id = \(resultId)")
            else { throw APIError.notFound(PoolErrorCode.resultNotFound, "Result \(resultId) does not exist") }
            return try resultRecord(row)
        }
    }

    /// Converts every finished window's rewards into RAO (one epoch = one window), once:
    /// the epoch row's primary key makes a second run a no-op; then publishes the claim
    /// tree of every closed epoch not yet published. Returns the epochs closed.
    @discardableResult
    public func closeFinishedEpochs(now: Double) async throws -> [Int64] {
        let current = Int64(clock.number(at: now))
        let open = try await db.fetch(
            """
            SELECT DISTINCT window_number FROM reputation
            WHERE window_number < \(current) AND window_number NOT IN (SELECT epoch FROM epochs) ORDER BY window_number
            """)
        var closed: [Int64] = []
        for row in open {
            let epoch = try row.int("window_number")
            let done = try await db.transaction { tx -> Bool in
                // Claim the epoch first: a concurrent closer conflicts on the primary key.
                let claimed = try await tx.fetch(
                    """
                    INSERT INTO epochs (epoch, budget_rao, fee_rao, paid_rao, carried_rao, unallocated_rao, computed_at)
                    VALUES (\(epoch), 0, 0, 0, 0, 0, \(now)) ON CONFLICT (epoch) DO NOTHING RETURNING epoch
                    """)
                guard !claimed.isEmpty else { return false }
                var reputation: [String: Double] = [:]
                for r in try await tx.fetch("SELECT miner, reward FROM reputation WHERE window_number = \(epoch) AND reward > 0") {
                    reputation[try r.string("miner")] = try r.double("reward")
                }
                var carried: [String: UInt64] = [:]
                for r in try await tx.fetch("SELECT hotkey, carried_rao FROM miners WHERE carried_rao > 0") {
                    carried[try r.string("hotkey")] = UInt64(max(0, try r.int("carried_rao")))
                }
                let payout = PayoutCalculator.computeEpoch(reputation: reputation, carried: carried, rules: rules)
                let everyone = Set(carried.keys).union(payout.payouts.keys).union(payout.carryOver.keys)
                    .union(payout.allocations.keys)
                for hotkey in everyone.sorted() {
                    let paid = payout.payouts[hotkey] ?? 0
                    let carry = payout.carryOver[hotkey] ?? 0
                    try await tx.fetch(
                        "UPDATE miners SET carried_rao = \(Int64(carry)), paid_rao = paid_rao + \(Int64(paid)) WHERE hotkey = \(hotkey)")
                    if (payout.allocations[hotkey] ?? 0) > 0 || paid > 0 {
                        try await tx.fetch(
                            "INSERT INTO payouts (epoch, miner, allocation_rao, paid_rao, carried_rao) VALUES (\(epoch), \(hotkey), \(Int64(payout.allocations[hotkey] ?? 0)), \(Int64(paid)), \(Int64(carry)))")
                    }
                }
                try await tx.fetch(
                    """
                    UPDATE epochs SET budget_rao = \(Int64(payout.budgetRao)),
                      fee_rao = \(Int64(payout.feeRao)),
                      paid_rao = \(Int64(payout.payouts.values.reduce(0, +))),
                      carried_rao = \(Int64(payout.carryOver.values.reduce(0, +))),
                      unallocated_rao = \(Int64(payout.unallocatedRao))
                    WHERE epoch = \(epoch)
                    """)
                return true
            }
            if done { closed.append(epoch) }
        }
        // Every closed epoch (also ones closed before claims existed) gets its Merkle root.
        try await publishClaimEpochs(now: now)
        return closed
    }

    /// `GET /monitor/summary`.
    public func monitorSummary(now: Double) async throws -> MonitorSummary {
        let window = clock.number(at: now)
        let since = now - 15 * 60
        let l = try await db.fetchOne(
            """
            SELECT (SELECT COUNT(*) FROM assignments WHERE status = 'active' AND timeout_at > \(now)) AS active,
                   (SELECT COUNT(*) FROM assignments WHERE issued_at >= \(since)) AS issued,
                   (SELECT COUNT(*) FROM assignments WHERE status = 'completed' AND completed_at >= \(since)) AS completed,
                   (SELECT COUNT(*) FROM assignments WHERE status = 'completed' AND completed_at >= \(since) AND evaluations_count = 0) AS zero_eval,
                   (SELECT COUNT(*) FROM assignments WHERE status = 'active' AND timeout_at <= \(now)) AS overdue,
                   (SELECT COUNT(*) FROM algorithms WHERE status = 'in_evaluation') AS in_eval,
                   (SELECT COUNT(*) FROM algorithms WHERE status = 'scored') AS scored,
                   (SELECT COUNT(*) FROM algorithms WHERE status = 'no_consensus') AS no_consensus,
                   (SELECT COUNT(*) FROM results WHERE status = 'completed') AS r_completed,
                   (SELECT COUNT(*) FROM results WHERE status = 'verified') AS r_verified,
                   (SELECT COUNT(*) FROM miners) AS miners_total,
                   (SELECT COUNT(*) FROM miners WHERE last_seen_at >= \(clock.start(of: window))) AS miners_active
            """)
        func n(_ k: String) throws -> Int64 { try l?.int(k) ?? 0 }
        let completed = try n("completed")
        let zeroRatio = completed > 0 ? Double(try n("zero_eval")) / Double(completed) : 0
        var alerts: [MonitorSummary.Alert] = []
        if try n("overdue") > 0 {
            alerts.append(.init(code: "overdue_leases", severity: "warn", message: "\(try n("overdue")) leases are past timeout_at and not yet expired"))
        }
        if completed >= 5 && zeroRatio > 0.5 {
            alerts.append(.init(code: "zero_eval_ratio", severity: "warn",
                                message: String(format: "%.0f%% of recent leases completed with no evaluations", zeroRatio * 100)))
        }
        // Someone is mining but too few for consensus (an author never evaluates its own
        // candidate): the newcomer's "three miners, nothing ever scored" case.
        if try n("in_eval") > 0, try n("miners_active") >= 1, try n("miners_active") <= Int64(rules.consensusThreshold) {
            alerts.append(.init(
                code: "consensus_unreachable", severity: "warn",
                message: "\(try n("miners_active")) miners active this window; consensus needs \(rules.consensusThreshold) evaluators besides the author, so at least \(rules.consensusThreshold + 1) miners"))
        }
        if try n("in_eval") == 0 {
            alerts.append(.init(code: "no_candidates", severity: "warn", message: "No candidates are waiting for evaluation"))
        }
        let counts = ["ok": alerts.isEmpty ? 1 : 0, "warn": alerts.filter { $0.severity == "warn" }.count,
                      "crit": alerts.filter { $0.severity == "crit" }.count]
        return MonitorSummary(
            generatedAt: WireTime.string(now),
            window: .init(number: Int64(window), timeRemainingS: Int64(clock.secondsRemaining(at: now).rounded(.up))),
            miners: ["total": try n("miners_total"), "active_window": try n("miners_active")],
            leases: .init(active: try n("active"), issued15m: try n("issued"), completed15m: completed,
                          zeroEvalRatio: zeroRatio, overdue: try n("overdue")),
            candidates: .init(inEvaluation: try n("in_eval"), withConsensus: try n("scored"), noConsensus: try n("no_consensus")),
            results: .init(completed: try n("r_completed"), verified: try n("r_verified")),
            sota: try await sotaMap(),
            alerts: .init(overall: alerts.contains { $0.severity == "crit" } ? "crit" : (alerts.isEmpty ? "ok" : "warn"),
                          counts: counts, items: alerts))
    }
}
