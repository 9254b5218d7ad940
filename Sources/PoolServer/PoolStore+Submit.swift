import Foundation
import PoolAPI
import PoolCore
import ServiceKit
import Store

extension PoolStore {
    static func leaseNotFound(_ id: String) -> APIError {
        APIError.notFound(PoolErrorCode.leaseNotFound, "\(PoolErrorText.leaseNotFound): \(id) is unknown, expired, completed or not yours")
    }

    /// `POST /tasks/{lease_id}/submit_lease` (and the simple-batch submits, which map onto it).
    /// One transaction: validation, evaluations, evolutions, gossip, completion, consensus,
    /// results/SOTA and window points. An identical repeat of a completed submit answers the
    /// stored response and changes nothing.
    public func submit(hotkey: String, assignmentId: String, submission: LeaseSubmission, now: Double,
                       expectKind: Set<String> = ["lease"]) async throws -> SubmitResponse {
        let fingerprint = Self.hash(Self.canonical(submission))
        // Validate and normalise evolutions before the transaction (pure work).
        var normalized: [(parents: [Int64], dsl: String)] = []
        for (i, evo) in submission.evolutions.enumerated() {
            guard !evo.algorithmDsl.isEmpty, evo.algorithmDsl.utf8.count <= 64 * 1024 else {
                throw APIError.unprocessable("invalid_dsl", "evolutions[\(i)].algorithm_dsl must be 1...65536 bytes")
            }
            normalized.append((evo.parentAlgorithmIds, evo.algorithmDsl))
        }
        guard submission.iterations >= 0, rules.acceptsIterations(submission.iterations) else {
            throw APIError.badRequest(
                "iterations_too_low", "iterations must be at least \(rules.minLeaseIterations), got \(submission.iterations)")
        }
        let ids = submission.evaluations.map(\.algorithmId)
        if Set(ids).count != ids.count {
            throw APIError.badRequest("duplicate_evaluation", "evaluations list an algorithm_id more than once")
        }

        let evolutions = normalized
        return try await db.transaction { tx in
            guard let a = try await tx.queryOne("SELECT * FROM assignments WHERE id = ?\(tx.forUpdate)", [.text(assignmentId)]),
                try a.string("miner") == hotkey, expectKind.contains(try a.string("kind"))
            else { throw Self.leaseNotFound(assignmentId) }
            let status = try a.string("status")
            if status == "completed", try a.optionalString("submission_hash") == fingerprint,
                let stored = try a.optionalString("response")
            {
                return try JSONBody.decode(SubmitResponse.self, from: Array(stored.utf8))
            }
            guard status == "active", try a.double("timeout_at") > now else { throw Self.leaseNotFound(assignmentId) }
            let taskType = try a.string("task_type")
            let budget = Int(try a.int("evolve_budget"))
            let window = Int64(clock.number(at: now))

            let items = try await tx.query(
                "SELECT algorithm_id, role FROM assignment_items WHERE assignment_id = ?", [.text(assignmentId)])
            let evaluable = Set(try items.filter { try $0.string("role") == "evaluate" }.map { try $0.int("algorithm_id") })
            let known = Set(try items.map { try $0.int("algorithm_id") })
            for e in submission.evaluations where !evaluable.contains(e.algorithmId) {
                throw APIError.badRequest(
                    "evaluation_not_in_lease", "algorithm_id \(e.algorithmId) was not given to this lease for evaluation")
            }

            // Evaluations: non-finite scores are stored as invalid (NULL), never as numbers.
            var invalid = 0
            for e in submission.evaluations {
                let score: SQLValue = e.score.isFinite ? .double(e.score) : .null
                if !e.score.isFinite { invalid += 1 }
                try await tx.execute(
                    """
                    INSERT INTO evaluations (assignment_id, algorithm_id, evaluator, score, window_number, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, [.text(assignmentId), .int(e.algorithmId), .text(hotkey), score, .int(window), .double(now)])
                try await tx.execute(
                    """
                    UPDATE algorithms SET eval_count = eval_count + 1,
                      reserved = CASE WHEN reserved > 0 THEN reserved - 1 ELSE 0 END WHERE id = ?
                    """, [.int(e.algorithmId)])
            }
            try await releaseSlots(tx, assignment: assignmentId, except: Set(ids))

            // Evolutions: at most evolve_budget, normalised to the task's profile.
            var accepted: [Int64] = []
            let dim = algorithms.inputDim(taskType: taskType)
            for (i, evo) in evolutions.prefix(budget).enumerated() {
                let dsl: String
                do { dsl = try algorithms.normalize(dsl: evo.dsl, taskType: taskType, inputDim: dim) } catch {
                    throw APIError.unprocessable("invalid_dsl", "evolutions[\(i)].algorithm_dsl: \(error)")
                }
                for p in evo.parents where !known.contains(p) {
                    let exists = try await tx.queryOne("SELECT id FROM algorithms WHERE id = ? AND task_type = ?",
                                                       [.int(p), .text(taskType)])
                    if exists == nil {
                        throw APIError.badRequest("unknown_parent", "evolutions[\(i)]: parent algorithm \(p) does not exist")
                    }
                }
                let row = try await tx.queryOne(
                    """
                    INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, parent_ids, author, origin,
                      source_assignment, window_created, status, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'evolution', ?, ?, 'in_evaluation', ?) RETURNING id
                    """,
                    [.text(taskType), .int(Int64(dim)), .text(dsl), .text(Self.hash(dsl)),
                     .text(evo.parents.map(String.init).joined(separator: ",")), .text(hotkey), .text(assignmentId),
                     .int(window), .double(now)])
                if let newId = try row?.int("id") { accepted.append(newId) }
            }

            if let g = submission.gossip, g.taskType == taskType {
                for aid in g.algorithmIds.prefix(rules.gossipMax) {
                    guard try await tx.queryOne("SELECT id FROM algorithms WHERE id = ?", [.int(aid)]) != nil else { continue }
                    try await tx.execute(
                        """
                        INSERT INTO gossip (task_type, algorithm_id, miner, window_number, created_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (task_type, algorithm_id, miner) DO UPDATE SET window_number = excluded.window_number,
                          created_at = excluded.created_at
                        """, [.text(taskType), .int(aid), .text(hotkey), .int(window), .double(now)])
                }
            }

            try await tx.execute(
                """
                UPDATE miners SET evaluations_submitted = evaluations_submitted + ?,
                  evolutions_submitted = evolutions_submitted + ?, evolutions_accepted = evolutions_accepted + ?,
                  last_seen_at = ? WHERE hotkey = ?
                """,
                [.int(Int64(submission.evaluations.count)), .int(Int64(min(evolutions.count, budget))),
                 .int(Int64(accepted.count)), .double(now), .text(hotkey)])

            let reached = try await settleConsensus(tx, candidates: Array(Set(ids)).sorted(), window: window, now: now)
            let response = SubmitResponse(
                status: "completed", leaseId: assignmentId, evaluationsAccepted: submission.evaluations.count - invalid,
                evaluationsInvalid: invalid, evolutionsAccepted: accepted, consensusReached: reached)
            let stored = String(decoding: try JSONBody.encoder().encode(response), as: UTF8.self)
            try await tx.execute(
                """
                UPDATE assignments SET status = 'completed', completed_at = ?, iterations = ?, evaluations_count = ?,
                  submission_hash = ?, response = ? WHERE id = ?
                """,
                [.double(now), .int(Int64(submission.iterations)), .int(Int64(submission.evaluations.count)),
                 .text(fingerprint), .text(stored), .text(assignmentId)])
            return response
        }
    }

    /// A canonical text of a submission for the idempotency fingerprint.
    static func canonical(_ s: LeaseSubmission) -> String {
        let evals = s.evaluations.map { "\($0.algorithmId)=\($0.score.isNaN ? "nan" : String($0.score))" }.joined(separator: ";")
        let evos = s.evolutions.map { "\($0.parentAlgorithmIds.map(String.init).joined(separator: ","))>\($0.algorithmDsl)" }
            .joined(separator: "\u{1}")
        let gossip = s.gossip.map { "\($0.taskType):\($0.algorithmIds.map(String.init).joined(separator: ","))" } ?? "-"
        return "\(evals)|\(evos)|\(gossip)|\(s.iterations)"
    }

    /// Runs the k-of-n rule on each touched candidate still in evaluation; records who
    /// agreed, the consensus score, results/SOTA, and recomputes the window's points.
    /// Late evaluations of an already-scored candidate are judged against its score.
    /// Returns the ids that reached consensus now.
    func settleConsensus(_ tx: any SQLExecutor, candidates: [Int64], window: Int64, now: Double) async throws -> [Int64] {
        var reached: [Int64] = []
        var touchedWindows: Set<Int64> = []
        for cid in candidates {
            guard let cand = try await tx.queryOne("SELECT * FROM algorithms WHERE id = ?\(tx.forUpdate)", [.int(cid)]) else {
                continue
            }
            let evals = try await tx.query(
                "SELECT evaluator, score, in_consensus FROM evaluations WHERE algorithm_id = ? ORDER BY id", [.int(cid)])
            if let fixed = try cand.optionalDouble("consensus_score") {
                // Already scored: judge evaluations not yet judged against the fixed score.
                for e in evals where e["in_consensus"] == .null {
                    let s = try e.optionalDouble("score")
                    let agree = s.map {
                        $0.isFinite && Consensus.isWithinTolerance(
                            $0, anchor: fixed, ratio: rules.toleranceRatio, epsilon: rules.toleranceEpsilon)
                    } ?? false
                    try await tx.execute(
                        "UPDATE evaluations SET in_consensus = ? WHERE algorithm_id = ? AND evaluator = ?",
                        [.bool(agree), .int(cid), .text(try e.string("evaluator"))])
                }
                if let w = try cand.optionalInt("consensus_window") { touchedWindows.insert(w) }
                continue
            }
            let votes = try evals.map { Vote(evaluator: try $0.string("evaluator"), score: try $0.optionalDouble("score")) }
            let outcome = Consensus.evaluate(votes, rules: rules)
            let evalCount = Int(try cand.int("eval_count"))
            guard let score = outcome.score else {
                if evalCount >= rules.candidateSlotCap {
                    try await tx.execute("UPDATE algorithms SET status = 'no_consensus' WHERE id = ?", [.int(cid)])
                }
                continue
            }
            let agreeing = Set(outcome.agreeing)
            for e in evals {
                let who = try e.string("evaluator")
                try await tx.execute(
                    "UPDATE evaluations SET in_consensus = ? WHERE algorithm_id = ? AND evaluator = ?",
                    [.bool(agreeing.contains(who)), .int(cid), .text(who)])
            }
            let taskType = try cand.string("task_type")
            let sota = try await tx.queryOne("SELECT score FROM sota WHERE task_type = ?\(tx.forUpdate)", [.text(taskType)])
            let sotaBefore = try sota?.double("score")
            try await tx.execute(
                "UPDATE algorithms SET status = 'scored', consensus_score = ?, consensus_window = ?, sota_before = ? WHERE id = ?",
                [.double(score), .int(window), .from(sotaBefore), .int(cid)])
            if sotaBefore.map({ score > $0 }) ?? true {
                let result = try await tx.queryOne(
                    """
                    INSERT INTO results (algorithm_id, task_type, score, miner, status, created_at)
                    VALUES (?, ?, ?, ?, 'completed', ?) RETURNING id
                    """, [.int(cid), .text(taskType), .double(score), cand["author"], .double(now)])
                if let rid = try result?.int("id") {
                    try await tx.execute(
                        """
                        INSERT INTO sota (task_type, score, result_id, algorithm_id, updated_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (task_type) DO UPDATE SET score = excluded.score, result_id = excluded.result_id,
                          algorithm_id = excluded.algorithm_id, updated_at = excluded.updated_at
                        """, [.text(taskType), .double(score), .int(rid), .int(cid), .double(now)])
                }
            }
            reached.append(cid)
            touchedWindows.insert(window)
        }
        for w in touchedWindows.sorted() { try await recomputeWindowPoints(tx, window: w) }
        return reached
    }

    /// Window points as a pure function of the window's judged evaluations and scored
    /// evolutions (`WindowPoints.compute`), written over the window's reputation rows, so
    /// re-running it never rewards anything twice.
    func recomputeWindowPoints(_ tx: any SQLExecutor, window: Int64) async throws {
        let judged = try await tx.query(
            """
            SELECT e.algorithm_id, e.evaluator, e.in_consensus FROM evaluations e
            JOIN algorithms a ON a.id = e.algorithm_id
            WHERE a.consensus_window = ? AND e.in_consensus IS NOT NULL
            """, [.int(window)])
        var agree: [Int64: [String]] = [:]
        var disagree: [Int64: [String]] = [:]
        for r in judged {
            let aid = try r.int("algorithm_id")
            if try r.bool("in_consensus") { agree[aid, default: []].append(try r.string("evaluator")) } else {
                disagree[aid, default: []].append(try r.string("evaluator"))
            }
        }
        let verdicts = Set(agree.keys).union(disagree.keys).sorted().map {
            CandidateVerdict(candidateId: Int($0), agreeing: agree[$0] ?? [], disagreeing: disagree[$0] ?? [])
        }
        let evoRows = try await tx.query(
            """
            SELECT id, author, consensus_score, parent_ids, sota_before, source_assignment, dsl_hash FROM algorithms
            WHERE origin = 'evolution' AND consensus_window = ?
            """, [.int(window)])
        // Parent scores and lease-population bests for all of the window's evolutions, in two queries.
        var parentsOf: [Int64: [Int64]] = [:]
        for r in evoRows {
            parentsOf[try r.int("id")] = try r.string("parent_ids").split(separator: ",").compactMap { Int64($0) }
        }
        let allParents = Set(parentsOf.values.joined())
        var scoreOf: [Int64: Double] = [:]
        if !allParents.isEmpty {
            let marks = Array(repeating: "?", count: allParents.count).joined(separator: ",")
            for r in try await tx.query(
                "SELECT id, consensus_score FROM algorithms WHERE consensus_score IS NOT NULL AND id IN (\(marks))",
                allParents.sorted().map { .int($0) })
            {
                scoreOf[try r.int("id")] = try r.double("consensus_score")
            }
        }
        var localBestOf: [String: Double] = [:]
        for r in try await tx.query(
            """
            SELECT i.assignment_id, MAX(a.consensus_score) AS best FROM assignment_items i
            JOIN algorithms a ON a.id = i.algorithm_id
            WHERE i.assignment_id IN (SELECT source_assignment FROM algorithms WHERE origin = 'evolution' AND consensus_window = ?)
            GROUP BY i.assignment_id
            """, [.int(window)])
        {
            if let best = try r.optionalDouble("best") { localBestOf[try r.string("assignment_id")] = best }
        }
        var evolutions: [EvolutionRecord] = []
        for r in evoRows {
            let id = try r.int("id")
            evolutions.append(EvolutionRecord(
                algorithmId: Int(id), author: try r.string("author"),
                consensusScore: try r.optionalDouble("consensus_score"),
                parentScores: (parentsOf[id] ?? []).compactMap { scoreOf[$0] },
                sotaBefore: try r.optionalDouble("sota_before"),
                localPopulationBest: try r.optionalString("source_assignment").flatMap { localBestOf[$0] },
                dslHash: try r.string("dsl_hash")))
        }
        var history = RepetitionHistory()
        if rules.repetitionPenalty > 0 {
            for r in try await tx.query(
                "SELECT dsl_hash, COALESCE(author, '') AS author FROM algorithms WHERE window_created < ?", [.int(window)])
            {
                history.authorsByHash[try r.string("dsl_hash"), default: []].insert(try r.string("author"))
            }
        }
        let points = WindowPoints.compute(verdicts: verdicts, evolutions: evolutions, rules: rules, history: history)
        try await tx.execute("DELETE FROM reputation WHERE window_number = ?", [.int(window)])
        for (hotkey, p) in points.miners.sorted(by: { $0.key < $1.key }) {
            try await tx.execute(
                """
                INSERT INTO reputation (miner, window_number, evaluator_points, evolver_points, agreements, disagreements, reward)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(hotkey), .int(window), .double(p.evaluatorPoints), .double(p.evolverPoints),
                 .int(Int64(p.agreements)), .int(Int64(p.disagreements)), .double(p.reward)])
        }
    }
}
