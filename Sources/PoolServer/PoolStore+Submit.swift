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
        try await submitEncoded(hotkey: hotkey, assignmentId: assignmentId, submission: submission, now: now,
                                expectKind: expectKind).value
    }

    /// `submit` with its answer as encoded once, for the response kept for retries and for
    /// the HTTP body alike.
    public func submitEncoded(hotkey: String, assignmentId: String, submission: LeaseSubmission, now: Double,
                              expectKind: Set<String> = ["lease"]) async throws -> EncodedJSONResponse<SubmitResponse> {
        let fingerprint = Self.hash(Self.canonical(submission))
        // Validate and normalise evolutions before the transaction (pure work).
        var normalized: [(parents: [Int64], dsl: String)] = []
        for (i, evo) in submission.evolutions.enumerated() {
            guard !evo.algorithmDsl.isEmpty, evo.algorithmDsl.utf8.count <= 64 * 1024 else {
                throw APIError.unprocessable(PoolErrorCode.invalidDSL, "evolutions[\(i)].algorithm_dsl must be 1...65536 bytes")
            }
            normalized.append((evo.parentAlgorithmIds, evo.algorithmDsl))
        }
        guard submission.iterations >= 0, rules.acceptsIterations(submission.iterations) else {
            throw APIError.badRequest(
                PoolErrorCode.iterationsTooLow, "iterations must be at least \(rules.minLeaseIterations), got \(submission.iterations)")
        }
        let ids = submission.evaluations.map(\.algorithmId)
        if Set(ids).count != ids.count {
            throw APIError.badRequest(PoolErrorCode.duplicateEvaluation, "evaluations list an algorithm_id more than once")
        }

        let evolutions = normalized
        // The pool's held-out scores of the lease's candidates still in evaluation that may
        // reach consensus in this submit above the SOTA (`HeldOutGate.heldOutMatters`),
        // computed before the transaction so no lock is held while the engine runs; cached per
        // DSL hash, so each candidate is scored once. One that turns out above the SOTA anyway
        // (a higher vote of another evaluator) is scored in the transaction (`settleConsensus`).
        var heldOutScores: [Int64: HeldOutScorer.Outcome] = [:]
        // The lease's task type when a candidate's is known (a lease's candidates are of its
        // task type; the transaction checks it against the lease before using what follows).
        var leaseTaskType: String?
        if heldOut.isActive, !ids.isEmpty {
            var ownVote: [Int64: Double] = [:]
            for e in submission.evaluations where e.score.isFinite { ownVote[e.algorithmId] = e.score }
            if let known = candidateFacts.programs(ids), let taskType = known.values.first?.taskType,
               known.values.allSatisfy({ $0.taskType == taskType }), let sota = candidateFacts.sota(taskType)
            {
                // Picked for the lease by this process: no read. The bound is the miner's own
                // vote (the database read below also knows the highest vote so far).
                leaseTaskType = taskType
                for id in ids.sorted() {
                    guard let p = known[id], !p.settled, let own = ownVote[id],
                          HeldOutGate.heldOutMatters(consensusBound: own, sotaConsensus: sota)
                    else { continue }
                    heldOutScores[id] = heldOut.score(p)
                }
            } else {
                for r in try await db.fetch(
                    """
                    SELECT a.id, a.task_type, a.input_dim, a.dsl, a.dsl_hash,
                      (SELECT MAX(e.score) FROM evaluations e WHERE e.algorithm_id = a.id) AS best_vote,
                      (SELECT s.score FROM sota s WHERE s.task_type = a.task_type) AS sota_score
                    FROM assignment_items i JOIN algorithms a ON a.id = i.algorithm_id
                    WHERE i.assignment_id = \(assignmentId) AND i.role = 'evaluate' AND a.status = 'in_evaluation'
                    """)
                {
                    let id = try r.int("id")
                    let program = try CandidateFacts.Program(row: r)
                    let sota = try r.optionalDouble("sota_score")
                    candidateFacts.sawSOTA(program.taskType, sota)
                    if leaseTaskType == nil { leaseTaskType = program.taskType }
                    // The highest finite vote so far, this one included, bounds the consensus score.
                    guard let own = ownVote[id] else { continue }
                    let bound = max(own, try r.optionalDouble("best_vote") ?? own)
                    guard HeldOutGate.heldOutMatters(consensusBound: bound, sotaConsensus: sota) else { continue }
                    heldOutScores[id] = heldOut.score(program)
                }
            }
        }
        let preScored = heldOutScores
        // Evolutions normalised to the task's profile here when its task type is known (a parse
        // and a rewrite per program, no longer run holding the writer — SQLite's one writer
        // is the serial part of every submit), else in the transaction.
        let preNormalized = leaseTaskType.map { taskType in
            let dim = algorithms.inputDim(taskType: taskType)
            return (taskType: taskType, outcomes: evolutions.prefix(Self.normalizedAhead).map { evo in
                Result { () throws(EvolutionRefusal) -> String in
                    try algorithms.normalizeSubmission(dsl: evo.dsl, taskType: taskType, inputDim: dim)
                }
            })
        }
        let (response, changes, sotaSeen) = try await db.transaction {
            tx -> (EncodedJSONResponse<SubmitResponse>, LeaseAdviceCache.Changes, [String: Double?]) in
            // The lease, locked, with its items (one row per item; an item's algorithm's hash and
            // origin never change, so reading them under the lease's lock is exact).
            let leaseRows = try await tx.fetch(
                """
                SELECT a.*, i.algorithm_id AS item_id, i.role AS item_role, al.dsl_hash AS item_dsl_hash,
                  al.origin AS item_origin
                FROM assignments a LEFT JOIN assignment_items i ON i.assignment_id = a.id
                  LEFT JOIN algorithms al ON al.id = i.algorithm_id
                WHERE a.id = \(assignmentId)\(sql: tx.forUpdate(of: "a"))
                """)
            guard let a = leaseRows.first, try a.string("miner") == hotkey, expectKind.contains(try a.string("kind"))
            else { throw Self.leaseNotFound(assignmentId) }
            let status = try a.string("status")
            if status == "completed", try a.optionalString("submission_hash") == fingerprint,
                let stored = try a.optionalString("response")
            {
                let body = Array(stored.utf8)
                return (EncodedJSONResponse(try JSONBody.decode(SubmitResponse.self, from: body), body: body),
                        LeaseAdviceCache.Changes(), [:])
            }
            guard status == "active", try a.double("timeout_at") > now else { throw Self.leaseNotFound(assignmentId) }
            let taskType = try a.string("task_type")
            let budget = Int(try a.int("evolve_budget"))
            let window = Int64(clock.number(at: now))

            let items = try leaseRows.filter { try $0.value("item_id") != .null }
            let evaluable = Set(try items.filter { try $0.string("item_role") == "evaluate" }.map { try $0.int("item_id") })
            let known = Set(try items.map { try $0.int("item_id") })
            for e in submission.evaluations where !evaluable.contains(e.algorithmId) {
                throw APIError.badRequest(
                    PoolErrorCode.evaluationNotInLease, "algorithm_id \(e.algorithmId) was not given to this lease for evaluation")
            }

            // Rows this submit alone writes (its evolutions) come before the candidates' locks,
            // so those locks are held for fewer statements.
            // Evolutions: at most evolve_budget, each read the way the upstream client's parser
            // reads it and normalised to the task's profile; the normalised text is what is
            // stored and served. One with nothing left to run is refused on its own.
            var accepted: [Int64] = []
            var rejected: [EvolutionRejection] = []
            let dim = algorithms.inputDim(taskType: taskType)
            let ahead = preNormalized?.taskType == taskType ? preNormalized?.outcomes ?? [] : []
            for (i, evo) in evolutions.prefix(budget).enumerated() {
                let dsl: String
                do throws(EvolutionRefusal) {
                    dsl = i < ahead.count
                        ? try ahead[i].get() : try algorithms.normalizeSubmission(dsl: evo.dsl, taskType: taskType, inputDim: dim)
                } catch let refusal {
                    rejected.append(EvolutionRejection(
                        index: i, code: refusal.code.rawValue, detail: "evolutions[\(i)].algorithm_dsl: \(refusal.detail)"))
                    continue
                }
                for p in evo.parents where !known.contains(p) {
                    let exists = try await tx.fetchOne("SELECT id FROM algorithms WHERE id = \(p) AND task_type = \(taskType)")
                    if exists == nil {
                        throw APIError.badRequest(PoolErrorCode.unknownParent, "evolutions[\(i)]: parent algorithm \(p) does not exist")
                    }
                }
                let row = try await tx.fetchOne(
                    """
                    INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, parent_ids, author, origin,
                      source_assignment, window_created, status, created_at)
                    VALUES (\(taskType), \(Int64(dim)), \(dsl), \(Self.hash(dsl)), \(evo.parents.map(String.init).joined(separator: ",")), \(hotkey), 'evolution', \(assignmentId), \(window), 'in_evaluation', \(now)) RETURNING id
                    """)
                if let newId = try row?.int("id") { accepted.append(newId) }
            }

            // The miner's counters: nothing in the transaction reads them, so they are written
            // with its last statement.
            let counters: SQLQuery = """
                UPDATE miners SET evaluations_submitted = evaluations_submitted + \(Int64(submission.evaluations.count)),
                  evolutions_submitted = evolutions_submitted + \(Int64(min(evolutions.count, budget))),
                    evolutions_accepted = evolutions_accepted + \(Int64(accepted.count)),
                  last_seen_at = \(now) WHERE hotkey = \(hotkey)
                """

            // One lock order for everything a submit touches: the lease (above), then every
            // algorithm it updates in ascending id order, before any update; then reputation rows
            // in miner order (`applyPoints`), the submitter's own miner row last (its counters, in
            // the last statement); evaluations (inserted, or given their verdicts in
            // the last statement) only of candidates it holds locked. The evaluations are inserted
            // after the lock: inserted before it, their foreign-key share locks on candidates
            // that other submits hold turn those rows' locks into multixacts, which every scan
            // of the candidates then resolves (measured: the lease's pick 0.5 → 6.8 ms).
            let evaluated = Set(ids)
            // An algorithm's DSL hash never changes, so the evaluated evolutions' hashes are
            // read with the items, before any lock.
            var rivalHashes = Set<String>()
            for item in items where evaluated.contains(try item.int("item_id")) {
                if try item.string("item_origin") == "evolution" { rivalHashes.insert(try item.string("item_dsl_hash")) }
            }
            let locked = try await lockAlgorithms(tx, ids: evaluable, withRivalsSharing: rivalHashes)

            // Evaluations: non-finite scores are stored as invalid (NULL), never as numbers.
            let invalid = submission.evaluations.filter { !$0.score.isFinite }.count
            let evaluationsOf = try await recordEvaluations(
                tx, assignment: assignmentId, evaluator: hotkey, entries: submission.evaluations, window: window, now: now)
            // The lease's evaluation slots it did not use go back (its items are read above).
            try await giveBack(tx, slots: Dictionary(uniqueKeysWithValues: evaluable.subtracting(evaluated).map { ($0, 1) }))

            var changes = LeaseAdviceCache.Changes()
            if let g = submission.gossip, g.taskType == taskType {
                for aid in g.algorithmIds.prefix(rules.gossipMax) {
                    guard try await tx.fetchOne("SELECT id FROM algorithms WHERE id = \(aid)") != nil else { continue }
                    changes.gossipTaskTypes.insert(taskType)
                    try await tx.fetch(
                        """
                        INSERT INTO gossip (task_type, algorithm_id, miner, window_number,
                          created_at) VALUES (\(taskType), \(aid), \(hotkey), \(window), \(now))
                        ON CONFLICT (task_type, algorithm_id, miner) DO UPDATE SET window_number = excluded.window_number,
                          created_at = excluded.created_at
                        """)
                }
            }

            let settled = try await settleConsensus(
                tx, candidates: evaluated.sorted(), locked: locked, evaluated: evaluated, evaluationsOf: evaluationsOf,
                window: window, now: now, heldOutScores: preScored)
            let reached = settled.reached.map(\.id)
            changes.scores = settled.reached.map { ($0.taskType, $0.id, $0.score) }
            let response = SubmitResponse(
                status: "completed", leaseId: assignmentId, evaluationsAccepted: submission.evaluations.count - invalid,
                evaluationsInvalid: invalid, evolutionsAccepted: accepted, evolutionsRejected: rejected,
                consensusReached: reached)
            let encoded = Array(try JSONBody.encoder().encode(response))
            let stored = String(decoding: encoded, as: UTF8.self)
            try await tx.fetch(
                after: [counters] + settled.writes,
                """
                UPDATE assignments SET status = 'completed', completed_at = \(now),
                  iterations = \(Int64(submission.iterations)),
                  evaluations_count = \(Int64(submission.evaluations.count)),
                  submission_hash = \(fingerprint), response = \(stored) WHERE id = \(assignmentId)
                """)
            return (EncodedJSONResponse(response, body: encoded), changes, settled.sotaSeen)
        }
        adviceCache.changed(changes)
        candidateFacts.settled(changes.scores.map(\.id))
        for (taskType, sota) in sotaSeen { candidateFacts.sawSOTA(taskType, sota) }
        return response
    }

    /// Evolutions of one submit normalised before its transaction, at most: a lease's evolve
    /// budget is 0 or 1 (any beyond are normalised in the transaction if a budget reaches them),
    /// so a submit of many programs makes no more work than its budget allows.
    static let normalizedAhead = 1

    /// A canonical text of a submission for the idempotency fingerprint.
    static func canonical(_ s: LeaseSubmission) -> String {
        let evals = s.evaluations.map { "\($0.algorithmId)=\($0.score.isNaN ? "nan" : String($0.score))" }.joined(separator: ";")
        let evos = s.evolutions.map { "\($0.parentAlgorithmIds.map(String.init).joined(separator: ","))>\($0.algorithmDsl)" }
            .joined(separator: "\u{1}")
        let gossip = s.gossip.map { "\($0.taskType):\($0.algorithmIds.map(String.init).joined(separator: ","))" } ?? "-"
        return "\(evals)|\(evos)|\(gossip)|\(s.iterations)"
    }

    /// Stores a submit's evaluations (a non-finite score as invalid, NULL) and counts them on
    /// their candidates, which the caller holds locked; returns every evaluation of those
    /// candidates, this submit's included, in evaluation order per candidate. One round trip on
    /// PostgreSQL, where the read in the same statement sees the table as of before the
    /// statement's own insert, so this submit's rows come from the insert's RETURNING.
    func recordEvaluations(_ tx: any SQLExecutor, assignment: String, evaluator: String, entries: [EvaluationEntry],
                           window: Int64, now: Double) async throws -> [Int64: [SQLRow]] {
        guard !entries.isEmpty else { return [:] }
        let candidates = Set(entries.map(\.algorithmId)).sorted()
        let insert: SQLQuery = """
            INSERT INTO evaluations (assignment_id, algorithm_id, evaluator, score, window_number, created_at)
            VALUES \(rows: entries.map { e -> [SQLValue] in
                [.text(assignment), .int(e.algorithmId), .text(evaluator), e.score.isFinite ? .double(e.score) : .null,
                 .int(window), .double(now)]
            })
            """
        let count: SQLQuery = """
            UPDATE algorithms SET eval_count = eval_count + 1,
              reserved = CASE WHEN reserved > 0 THEN reserved - 1 ELSE 0 END WHERE id IN (\(list: candidates))
            """
        let columns = "id, algorithm_id, evaluator, score, in_consensus, window_number"
        let stored: SQLQuery = "SELECT \(sql: columns) FROM evaluations WHERE algorithm_id IN (\(list: candidates))"
        let rows: [SQLRow]
        if tx.dialect == .postgres {
            rows = try await tx.fetch(
                """
                WITH mine AS (\(insert) RETURNING \(sql: columns)), counted AS (\(count))
                \(stored) UNION ALL SELECT \(sql: columns) FROM mine ORDER BY algorithm_id, id
                """)
        } else {
            try await tx.fetch(insert)
            try await tx.fetch(count)
            rows = try await tx.fetch("\(stored) ORDER BY algorithm_id, id")
        }
        var evaluationsOf: [Int64: [SQLRow]] = [:]
        for r in rows { evaluationsOf[try r.int("algorithm_id"), default: []].append(r) }
        return evaluationsOf
    }

    /// Locks `ids`, and the evolutions still in evaluation whose DSL hash is among `hashes`
    /// (whichever of them reaches consensus changes the others' repetition count), in
    /// ascending id order, in one statement that reads both sets through indexes (primary key,
    /// `algorithms_hash`) — PostgreSQL; on SQLite the write transaction holds the database —
    /// and returns their rows as locked. `FOR NO KEY UPDATE`, the lock an UPDATE of non-key
    /// columns takes anyway: it does not block the foreign-key checks (`FOR KEY SHARE`) of a
    /// concurrent lease inserting items that reference these rows, which would otherwise
    /// close a cycle with the candidates that lease holds.
    func lockAlgorithms(_ tx: any SQLExecutor, ids: Set<Int64>, withRivalsSharing hashes: Set<String> = [])
        async throws -> [Int64: SQLRow]
    {
        guard !ids.isEmpty || !hashes.isEmpty else { return [:] }
        let sorted = ids.sorted(), hashList = hashes.sorted()
        var conditions: [String] = []
        if !sorted.isEmpty { conditions.append("id IN (\(SQLText.list(sorted.count)))") }
        if !hashList.isEmpty {
            conditions.append("(dsl_hash IN (\(SQLText.list(hashList.count))) AND origin = 'evolution' AND status = 'in_evaluation')")
        }
        var out: [Int64: SQLRow] = [:]
        for r in try await tx.query(
            "SELECT * FROM algorithms WHERE \(conditions.joined(separator: " OR ")) ORDER BY id\(tx.lockForWrite)",
            sorted.map { .int($0) } + hashList.map { .text($0) })
        {
            out[try r.int("id")] = r
        }
        return out
    }

    /// The SOTA's scores in a row that names them `sota_before` and `sota_held_out`; nil when
    /// there is no row or no SOTA (`sota_before` NULL).
    static func sotaGate(_ row: SQLRow?) throws -> GateScores? {
        guard let row, let score = try row.optionalDouble("sota_before") else { return nil }
        return GateScores(consensus: score, heldOut: try row.optionalDouble("sota_held_out"))
    }

    /// One evaluator's vote on a candidate, judged against its consensus.
    struct Verdict {
        var candidate: Int64
        var evaluator: String
        var agreed: Bool
    }

    /// The statement recording every verdict of a submit, in (candidate, evaluator) order.
    static func verdictsWrite(_ verdicts: [Verdict]) -> SQLQuery? {
        guard !verdicts.isEmpty else { return nil }
        let ordered = verdicts.sorted { ($0.candidate, $0.evaluator) < ($1.candidate, $1.evaluator) }
        // VALUES columns are named column1, column2, … on both backends.
        return SQLQuery(
            sql: """
                UPDATE evaluations SET in_consensus = v.column3
                FROM (VALUES \(SQLText.rows(ordered.count, columns: 3))) AS v
                WHERE evaluations.algorithm_id = v.column1 AND evaluations.evaluator = v.column2
                """,
            binds: ordered.flatMap { [.int($0.candidate), .text($0.evaluator), .int($0.agreed ? 1 : 0)] })
    }

    /// Runs the k-of-n rule on each touched candidate still in evaluation; records who
    /// agreed, the consensus score, results/SOTA, and adds the events' deltas to the window
    /// points (`applyPoints`). Late evaluations of an already-scored candidate are judged
    /// against its score and count in the window where it reached consensus. `locked` holds
    /// the candidates' rows as locked before this submit changed them (`evaluated` got one
    /// more evaluation each). Returns the candidates that reached consensus now, with their
    /// scores, and the writes left to run (the verdicts and the points' last two statements,
    /// which nothing in the transaction reads after), for the caller to run with its own last
    /// write in one round trip (`fetch(after:)`).
    func settleConsensus(_ tx: any SQLExecutor, candidates: [Int64], locked: [Int64: SQLRow], evaluated: Set<Int64>,
                         evaluationsOf: [Int64: [SQLRow]], window: Int64, now: Double,
                         heldOutScores: [Int64: HeldOutScorer.Outcome] = [:])
        async throws -> (reached: [(id: Int64, taskType: String, score: Double)], writes: [SQLQuery], sotaSeen: [String: Double?])
    {
        var reached: [(id: Int64, taskType: String, score: Double)] = []
        // The SOTA consensus score each scoring read, or the score that replaced it (for `CandidateFacts`).
        var sotaSeen: [String: Double?] = [:]
        var verdicts: [Verdict] = []
        var ledger = PointsLedger()
        var settled: [SettledEvolution] = []
        for cid in candidates {
            guard let cand = locked[cid] else { continue }
            var evals = evaluationsOf[cid] ?? []
            if let fixed = try cand.optionalDouble("consensus_score") {
                // Already scored: judge evaluations not yet judged against the fixed score.
                let scoredIn = try cand.optionalInt("consensus_window")
                for e in evals where try e.value("in_consensus") == .null {
                    // Under suite rotation only votes on the suite of the consensus window count.
                    if rules.suiteRotation, let w = scoredIn, try e.int("window_number") != w { continue }
                    let agree = Settlement.lateVoteAgrees(try e.optionalDouble("score"), consensusScore: fixed, rules: rules)
                    let who = try e.string("evaluator")
                    verdicts.append(Verdict(candidate: cid, evaluator: who, agreed: agree))
                    if let w = scoredIn { ledger.add(who, window: w, WindowTally.judgement(agreed: agree)) }
                }
                continue
            }
            // Under suite rotation each window has its own suite: only this window's votes are
            // comparable (earlier ones stay unjudged).
            if rules.suiteRotation { evals = try evals.filter { try $0.int("window_number") == window } }
            let votes = try evals.map { Vote(evaluator: try $0.string("evaluator"), score: try $0.optionalDouble("score")) }
            let evalCount = Int(try cand.int("eval_count")) + (evaluated.contains(cid) ? 1 : 0)
            let score: Double, agreeing: Set<String>
            switch Settlement.decide(votes: votes, evaluationCount: evalCount, rules: rules) {
            case .waiting: continue
            case .retired:
                try await tx.fetch("UPDATE algorithms SET status = 'no_consensus' WHERE id = \(cid)")
                continue
            case let .scored(s, a): (score, agreeing) = (s, a)
            }
            for e in evals {
                let who = try e.string("evaluator")
                verdicts.append(Verdict(candidate: cid, evaluator: who, agreed: agreeing.contains(who)))
                ledger.add(who, window: window, WindowTally.judgement(agreed: agreeing.contains(who)))
            }
            let taskType = try cand.string("task_type")
            var held = heldOutScores[cid]
            let isEvolution = try cand.string("origin") == "evolution"
            let baseline: (parentBest: SQLQuery, localBest: SQLQuery) =
                isEvolution ? try Self.baselineExpressions(candidate: cand) : ("NULL", "NULL")
            // One statement scores the candidate and reads, in the same snapshot, the SOTA it
            // had to beat and its baselines. The SOTA row is read without a lock (every
            // consensus reads it; locking it would queue them all behind each other) and
            // locked only to replace it, below.
            let scoredRow = try await tx.fetchOne(
                """
                UPDATE algorithms SET status = 'scored', consensus_score = \(score), consensus_window = \(window),
                  sota_before = (SELECT score FROM sota WHERE task_type = \(taskType)),
                  parent_best = \(baseline.parentBest), local_best = \(baseline.localBest), held_out_score = \(held?.score)
                WHERE id = \(cid)
                RETURNING sota_before, parent_best, local_best,
                  (SELECT held_out_score FROM sota WHERE task_type = \(taskType)) AS sota_held_out
                """)
            let sotaGate = try Self.sotaGate(scoredRow)
            let sotaBefore = sotaGate?.consensus
            sotaSeen[taskType] = sotaBefore
            let parentBest = try scoredRow?.optionalDouble("parent_best"), localBest = try scoredRow?.optionalDouble("local_best")
            if held == nil, heldOut.isActive, HeldOutGate.heldOutMatters(consensusBound: score, sotaConsensus: sotaBefore) {
                // Not scored before the transaction (it was not in evaluation then, or a higher
                // vote came meanwhile): score now. The SOTA only rises, so one not above the
                // SOTA read here is not above it under the lock either.
                held = heldOut.score(try CandidateFacts.Program(row: cand))
                if let s = held?.score { try await tx.fetch("UPDATE algorithms SET held_out_score = \(s) WHERE id = \(cid)") }
            }
            let gateScores = GateScores(consensus: score, heldOut: held?.score)
            func verdict(_ sota: GateScores?) -> HeldOutGate.Verdict {
                HeldOutGate.judge(candidate: gateScores, sota: sota, checked: held != nil)
            }
            if isEvolution {
                settled.append(SettledEvolution(
                    record: EvolutionRecord(
                        algorithmId: Int(cid), author: try cand.optionalString("author") ?? "", consensusScore: score,
                        parentScores: parentBest.map { [$0] } ?? [], sotaBefore: sotaBefore,
                        localPopulationBest: localBest, dslHash: try cand.string("dsl_hash")),
                    windowCreated: try cand.int("window_created")))
            }
            // On PostgreSQL the row is read again under its lock (another submit may have
            // replaced it since); on SQLite the write transaction holds the database.
            // A new SOTA must beat the current one on consensus and on the held-out tasks
            // (`HeldOutGate`).
            var replaces = verdict(sotaGate) == .replaces
            if replaces, tx.dialect == .postgres {
                replaces = verdict(try Self.sotaGate(try await tx.fetchOne(
                    """
                    SELECT score AS sota_before, held_out_score AS sota_held_out FROM sota
                    WHERE task_type = \(taskType)\(sql: tx.forUpdate)
                    """))) == .replaces
            }
            if replaces {
                sotaSeen[taskType] = score
                let result = try await tx.fetchOne(
                    """
                    INSERT INTO results (algorithm_id, task_type, score, miner, status, created_at, held_out_score)
                    VALUES (\(cid), \(taskType), \(score), \(try cand.value("author")), 'completed', \(now), \(held?.score)) RETURNING id
                    """)
                if let rid = try result?.int("id") {
                    try await tx.fetch(
                        """
                        INSERT INTO sota (task_type, score, result_id, algorithm_id, updated_at, held_out_score)
                        VALUES (\(taskType), \(score), \(rid), \(cid), \(now), \(held?.score))
                        ON CONFLICT (task_type) DO UPDATE SET score = excluded.score, result_id = excluded.result_id,
                          algorithm_id = excluded.algorithm_id, updated_at = excluded.updated_at,
                          held_out_score = excluded.held_out_score
                        WHERE excluded.score > sota.score
                        """)
                }
            }
            reached.append((cid, taskType, score))
        }
        // Nothing reads the verdicts: they are written once, after every candidate, last.
        try await tallyEvolutions(tx, settled, window: window, into: &ledger)
        let pointWrites = try await applyPoints(tx, ledger)
        return (reached, (Self.verdictsWrite(verdicts).map { [$0] } ?? []) + pointWrites, sotaSeen)
    }
}
