import PoolCore
import Store

/// Window points kept incrementally: each consensus event adds its `WindowTally` deltas to
/// the reputation rows of the miners it touches, in the transaction of the event, so a
/// request's cost does not depend on how much history the pool holds. The stored rows equal
/// `WindowPoints.compute` over the window with
/// - verdicts: the window's judged evaluations (candidates whose `consensus_window` is it),
/// - evolutions: the evolutions whose `consensus_window` is the window, valued with the
///   baseline inputs frozen when they reached consensus (`sota_before`, `parent_best`,
///   `local_best`; see `frozenEvolution`),
/// - history: every algorithm created in an earlier window except the window's own
///   evolutions (those count in id order within the window).
struct PointsLedger {
    struct Key: Hashable, Comparable {
        var miner: String
        var window: Int64
        static func < (a: Key, b: Key) -> Bool { (a.miner, a.window) < (b.miner, b.window) }
    }

    struct Entry {
        var counts = MinerCounters.zero
        /// Improvements of evolutions reaching consensus now: (algorithm id, gain).
        var gains: [(id: Int64, gain: Double)] = []
        /// The author's evolutions scored in the window after its first gain here, when read
        /// with the repetition read (`tallyEvolutions`); nil: `applyPoints` reads it.
        var later: Int64?
    }

    private(set) var entries: [Key: Entry] = [:]

    mutating func add(_ miner: String, window: Int64, _ delta: MinerCounters) {
        entries[Key(miner: miner, window: window), default: Entry()].counts.addCounts(delta)
    }

    mutating func addGain(_ miner: String, window: Int64, id: Int64, gain: Double) {
        entries[Key(miner: miner, window: window), default: Entry()].gains.append((id: id, gain: gain))
    }

    mutating func setLater(_ key: Key, _ count: Int64) {
        entries[key]?.later = count
    }
}

/// An evolution that reached consensus in this transaction.
struct SettledEvolution {
    var record: EvolutionRecord
    var windowCreated: Int64
}

extension PoolStore {
    /// An evolution as `WindowPoints` sees it, from its algorithm row (baseline inputs as
    /// frozen when it reached consensus).
    static func frozenEvolution(_ r: SQLRow) throws -> EvolutionRecord {
        EvolutionRecord(
            algorithmId: Int(try r.int("id")), author: try r.optionalString("author") ?? "",
            consensusScore: try r.optionalDouble("consensus_score"),
            parentScores: try r.optionalDouble("parent_best").map { [$0] } ?? [],
            sotaBefore: try r.optionalDouble("sota_before"),
            localPopulationBest: try r.optionalDouble("local_best"),
            dslHash: try r.string("dsl_hash"))
    }

    /// `WindowPoints.compute` over `window` from the stored history: the window's judged
    /// evaluations, its evolutions (with the baseline inputs frozen when they reached
    /// consensus), and the authors by DSL hash of every algorithm created before the window
    /// except the window's own evolutions. O(history): the oracle the incremental rows are
    /// held to, and the one-time recount when a pool upgrades to incremental points — never
    /// on a request path.
    public func windowPointsFromHistory(_ ex: any SQLExecutor, window: Int64) async throws -> WindowPointsResult {
        var agree: [Int64: [String]] = [:], disagree: [Int64: [String]] = [:]
        for r in try await ex.fetch(
            """
            SELECT e.algorithm_id, e.evaluator, e.in_consensus FROM evaluations e JOIN algorithms a ON a.id = e.algorithm_id
            WHERE a.consensus_window = \(window) AND e.in_consensus IS NOT NULL
            """)
        {
            let aid = try r.int("algorithm_id")
            if try r.bool("in_consensus") { agree[aid, default: []].append(try r.string("evaluator")) } else {
                disagree[aid, default: []].append(try r.string("evaluator"))
            }
        }
        let verdicts = Set(agree.keys).union(disagree.keys).sorted().map {
            CandidateVerdict(candidateId: Int($0), agreeing: agree[$0] ?? [], disagreeing: disagree[$0] ?? [])
        }
        let evolutions = try await ex.fetch(
            """
            SELECT id, author, consensus_score, parent_best, sota_before, local_best, dsl_hash FROM algorithms
            WHERE origin = 'evolution' AND consensus_window = \(window)
            """).map(Self.frozenEvolution)
        var history = RepetitionHistory()
        for r in try await ex.fetch(
            """
            SELECT dsl_hash, COALESCE(author, '') AS author FROM algorithms WHERE window_created < \(window)
              AND (origin <> 'evolution' OR consensus_window IS NULL OR consensus_window <> \(window))
            """)
        {
            history.authorsByHash[try r.string("dsl_hash"), default: []].insert(try r.string("author"))
        }
        return WindowPoints.compute(verdicts: verdicts, evolutions: evolutions, rules: rules, history: history)
    }

    /// Rewrites every window's reputation rows from the history (`windowPointsFromHistory`),
    /// in one transaction. Run once, when a pool whose rows were written before points were
    /// kept incrementally upgrades: those rows lack the counters the increments add to.
    public func recountAllWindows() async throws {
        try await db.transaction { tx in
            var windows: Set<Int64> = []
            for r in try await tx.fetch("SELECT DISTINCT window_number AS w FROM reputation") { windows.insert(try r.int("w")) }
            for r in try await tx.fetch(
                "SELECT DISTINCT consensus_window AS w FROM algorithms WHERE consensus_window IS NOT NULL")
            {
                windows.insert(try r.int("w"))
            }
            for w in windows.sorted() {
                let result = try await windowPointsFromHistory(tx, window: w)
                try await tx.fetch("DELETE FROM reputation WHERE window_number = \(w)")
                let rows = result.miners.sorted(by: { $0.key < $1.key }).map { hotkey, p -> [SQLValue] in
                    [.text(hotkey), .int(w), .int(Int64(p.agreements)), .int(Int64(p.disagreements)),
                     .int(Int64(p.evolutionsConsidered)), .int(Int64(p.repeatedEvolutions)), .double(p.totalImprovement),
                     .double(p.evaluatorPoints), .double(p.evolverPoints), .double(p.total), .bool(p.inConsensus),
                     .bool(p.rewardEligible), .double(p.reward)]
                }
                // Chunks keep each statement far below both backends' bind limits.
                for start in stride(from: 0, to: rows.count, by: 500) {
                    let chunk = rows[start..<min(start + 500, rows.count)]
                    try await tx.execute(Self.insertReputation(rows: chunk.count), chunk.flatMap { $0 })
                }
            }
            try await Self.recountRewardTotals(tx)
        }
    }

    /// The columns of a reputation row, in the order its writers bind them.
    static let reputationColumns = [
        "miner", "window_number", "agreements", "disagreements", "evolutions_considered", "repeated_evolutions",
        "total_improvement", "evaluator_points", "evolver_points", "total_points", "in_consensus", "reward_eligible", "reward",
    ]

    /// `INSERT INTO reputation (every column) VALUES` for `rows` rows of binds.
    static func insertReputation(rows: Int) -> String {
        "INSERT INTO reputation (\(reputationColumns.joined(separator: ", "))) VALUES \(SQLText.rows(rows, columns: reputationColumns.count))"
    }

    /// The baseline inputs of an evolution at the moment it reaches consensus, as expressions
    /// for the statement that scores it: the best finite consensus score among its parents, and
    /// the best consensus score in the lease it came from (`NULL` when it has neither). No
    /// algorithm has id 0, so an empty parent list matches nothing; consensus scores are finite
    /// (a median of finite votes), so MAX is the best score.
    static func baselineExpressions(candidate: SQLRow) throws -> (parentBest: SQLQuery, localBest: SQLQuery) {
        let parents = try candidate.string("parent_ids").split(separator: ",").compactMap { Int64($0) }
        let source = try candidate.optionalString("source_assignment")
        guard !parents.isEmpty || source != nil else { return ("NULL", "NULL") }
        return (
            """
            (SELECT MAX(consensus_score) FROM algorithms
             WHERE consensus_score IS NOT NULL AND id IN (\(list: parents.isEmpty ? [0] : parents)))
            """,
            """
            (SELECT MAX(a.consensus_score) FROM assignment_items i JOIN algorithms a ON a.id = i.algorithm_id
             WHERE i.assignment_id = \(source))
            """)
    }

    /// The deltas of evolutions reaching consensus in `window` (already written with their
    /// `consensus_window`): counted evolutions and improvements of their authors, and the
    /// change of repeated evolutions among the evolutions sharing their DSL hashes (found
    /// through the hash indexes; the window's evolutions of those hashes are read, and of
    /// their earlier authors only what the repetition rule asks, so earlier copies of a
    /// hash cost nothing).
    func tallyEvolutions(_ tx: any SQLExecutor, _ settled: [SettledEvolution], window: Int64,
                         into ledger: inout PointsLedger) async throws {
        let ordered = settled.sorted { $0.record.algorithmId < $1.record.algorithmId }
        for s in ordered {
            ledger.add(s.record.author, window: window, WindowTally.evolution(s.record))
            ledger.addGain(s.record.author, window: window, id: Int64(s.record.algorithmId),
                           gain: WindowTally.improvement(of: s.record, mode: rules.baselineMode))
        }
        // Each author's evolutions scored in the window after its first gain here (read by
        // `applyPoints` to tell whether consensus came out of id order), read with the first
        // repetition read below (`earlier` = 2, the count in `id`): one statement fewer a
        // submit on PostgreSQL.
        var countReads = SQLQuery(sql: "")
        for (key, entry) in ledger.entries.sorted(by: { $0.key < $1.key }) where key.window == window {
            guard let first = entry.gains.map(\.id).min() else { continue }
            countReads = """
                \(countReads) UNION ALL
                SELECT 2 AS earlier, COUNT(*) AS id, CAST(\(key.miner) AS TEXT) AS author FROM algorithms
                WHERE \(Self.scoredAfter(tx.dialect, key, first))
                """
        }
        for hash in Set(ordered.map(\.record.dslHash)).sorted() {
            // The hash's history: its algorithms created before the window, less its
            // evolutions that reached consensus in the window (those are the window's).
            let history: SQLQuery = """
                h.dsl_hash = \(hash) AND h.window_created < \(window) AND (h.origin <> 'evolution'
                  OR h.consensus_window IS NULL OR h.consensus_window <> \(window))
                """
            let inWindow: SQLQuery = """
                w.dsl_hash = \(hash) AND w.origin = 'evolution' AND w.status = 'scored' AND w.consensus_window = \(window)
                """
            // One read, all of it through indexes, none of it growing with the copies of the
            // hash in history: the window's evolutions of the hash (`earlier` = 0); of the
            // history's authors (seeds and authorless copies as ''), the first two in author
            // order (NULL where there is none) and '' (`earlier` = 1) and those among the
            // window's authors (`earlier` = 3). That is all `RepetitionHistory.isRepeat` asks of
            // the history for the window's authors: whether it holds one of them, and whether it
            // holds anyone else. The membership is a semi-join of its own rather than a column
            // of the window's rows: as a column, a custom plan on PostgreSQL checked it with a
            // sequential scan of the table (1.6 s with 200,000 copies of the hash).
            let rows = try await tx.fetch(
                """
                WITH hist_first AS (SELECT MIN(h.author) AS author FROM algorithms h WHERE \(history))
                SELECT 1 AS earlier, 0 AS id, author FROM hist_first
                UNION ALL SELECT 1 AS earlier, 0 AS id,
                  (SELECT MIN(h.author) FROM algorithms h WHERE \(history) AND h.author > f.author) AS author
                  FROM hist_first f
                UNION ALL SELECT 1 AS earlier, 0 AS id, '' AS author
                  WHERE EXISTS (SELECT 1 FROM algorithms h WHERE \(history) AND h.author IS NULL)
                UNION ALL SELECT 0 AS earlier, w.id, COALESCE(w.author, '') AS author FROM algorithms w WHERE \(inWindow)
                UNION ALL SELECT 3 AS earlier, 0 AS id, w.author FROM algorithms w WHERE \(inWindow)
                  AND EXISTS (SELECT 1 FROM algorithms h WHERE \(history) AND h.author = w.author)\(countReads)
                """)
            for r in rows where try r.int("earlier") == 2 {
                ledger.setLater(PointsLedger.Key(miner: try r.string("author"), window: window), try r.int("id"))
            }
            countReads = SQLQuery(sql: "")
            let earlier = try rows.filter { try [1, 3].contains($0.int("earlier")) }
            let inWindowRows = try rows.filter { try $0.int("earlier") == 0 }.sorted { try $0.int("id") < $1.int("id") }
            let settledHere = ordered.filter { $0.record.dslHash == hash }
            let settledIds = Set(settledHere.map { Int64($0.record.algorithmId) })
            var after: [(id: Int64, author: String, dslHash: String)] = []
            for r in inWindowRows { after.append((try r.int("id"), try r.optionalString("author") ?? "", hash)) }
            let before = after.filter { !settledIds.contains($0.id) }
            let afterHistory = Set(try earlier.compactMap { try $0.optionalString("author") })
            // Before this transaction, the ones created in an earlier window were history.
            let beforeHistory = afterHistory.union(settledHere.filter { $0.windowCreated < window }.map(\.record.author))
            let delta = WindowTally.repetitionDelta(
                before: (ordered: before.map { (author: $0.author, dslHash: $0.dslHash) },
                         history: RepetitionHistory(authorsByHash: [hash: beforeHistory])),
                after: (ordered: after.map { (author: $0.author, dslHash: $0.dslHash) },
                        history: RepetitionHistory(authorsByHash: [hash: afterHistory])),
                scope: rules.repetitionScope)
            for (author, d) in delta { ledger.add(author, window: window, MinerCounters(repeatedEvolutions: d)) }
        }
    }

    /// Writes the ledger whatever the number of miners touched: one multi-row upsert adding
    /// the counters (locking the rows in miner order) and returning the new totals, run here;
    /// then one multi-row update of the values derived from them by `MinerCounters.points`, and
    /// the miners' reward totals, returned for the caller to run with its last writes (nothing
    /// in the transaction reads them after). Improvements are appended in id order; if the
    /// author already has a later evolution counted in the window (consensus out of id order),
    /// the author's improvement is summed again in id order so the stored sum is exactly
    /// `compute`'s.
    func applyPoints(_ tx: any SQLExecutor, _ ledger: PointsLedger) async throws -> [SQLQuery] {
        let entries = ledger.entries.sorted(by: { $0.key < $1.key })
        guard !entries.isEmpty else { return [] }
        var binds: [SQLValue] = []
        for (key, entry) in entries {
            // The counters; the derived values start at zero and are written by the update below.
            binds += [.text(key.miner), .int(key.window), .int(Int64(entry.counts.agreements)),
                      .int(Int64(entry.counts.disagreements)), .int(Int64(entry.counts.evolutionsConsidered)),
                      .int(Int64(entry.counts.repeatedEvolutions)), .double(0), .double(0), .double(0), .double(0),
                      .bool(false), .bool(false), .double(0)]
        }
        let rows = try await tx.query(
            """
            \(Self.insertReputation(rows: entries.count))
            ON CONFLICT (miner, window_number) DO UPDATE SET
              agreements = reputation.agreements + excluded.agreements,
              disagreements = reputation.disagreements + excluded.disagreements,
              evolutions_considered = reputation.evolutions_considered + excluded.evolutions_considered,
              repeated_evolutions = reputation.repeated_evolutions + excluded.repeated_evolutions
            RETURNING miner, window_number, agreements, disagreements, evolutions_considered, repeated_evolutions,
              total_improvement, reward
            """, binds)
        var totals: [PointsLedger.Key: SQLRow] = [:]
        for r in rows { totals[PointsLedger.Key(miner: try r.string("miner"), window: try r.int("window_number"))] = r }
        var updates: [SQLValue] = []
        var rewardChange: [String: Double] = [:]
        for (key, entry) in entries {
            guard let row = totals[key] else { continue }
            var counters = MinerCounters(
                agreements: Int(try row.int("agreements")), disagreements: Int(try row.int("disagreements")),
                evolutionsConsidered: Int(try row.int("evolutions_considered")),
                repeatedEvolutions: Int(try row.int("repeated_evolutions")),
                totalImprovement: try row.double("total_improvement"))
            let gains = entry.gains.sorted { $0.id < $1.id }
            if let first = gains.first {
                let later: Int64
                if let read = entry.later {
                    later = read
                } else {
                    later = try await tx.fetchOne(
                        "SELECT COUNT(*) AS n FROM algorithms WHERE \(Self.scoredAfter(tx.dialect, key, first.id))")?.int("n") ?? 0
                }
                if later > Int64(gains.count - 1) {
                    counters.totalImprovement = 0
                    for r in try await tx.fetch(
                        """
                        SELECT id, author, consensus_score, parent_best, sota_before, local_best, dsl_hash FROM algorithms
                        WHERE author = \(key.miner) AND consensus_window = \(key.window) AND origin = 'evolution' ORDER BY id
                        """)
                    {
                        counters.addImprovement(WindowTally.improvement(of: try Self.frozenEvolution(r), mode: rules.baselineMode))
                    }
                } else {
                    for g in gains { counters.addImprovement(g.gain) }
                }
            }
            let p = counters.points(hotkey: key.miner, rules: rules)
            rewardChange[key.miner, default: 0] += p.reward - (try row.double("reward"))
            updates += [.text(key.miner), .int(key.window), .double(p.totalImprovement), .double(p.evaluatorPoints),
                        .double(p.evolverPoints), .double(p.total), .bool(p.inConsensus), .bool(p.rewardEligible),
                        .double(p.reward)]
        }
        guard !updates.isEmpty else { return [] }
        // VALUES columns are named column1, column2, … on both backends.
        var writes = [SQLQuery(
            sql: """
                UPDATE reputation SET total_improvement = v.column3, evaluator_points = v.column4, evolver_points = v.column5,
                  total_points = v.column6, in_consensus = v.column7, reward_eligible = v.column8, reward = v.column9
                FROM (VALUES \(SQLText.rows(updates.count / 9, columns: 9))) AS v
                WHERE reputation.miner = v.column1 AND reputation.window_number = v.column2
                """, binds: updates)]
        // Each miner's reward summed over every window, kept beside the rows it sums (the
        // leaderboard reads it instead of summing the whole history), in miner order.
        let changed = rewardChange.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        if !changed.isEmpty {
            writes.append("""
                INSERT INTO reputation_totals (miner, total) VALUES \(rows: changed.map { [.text($0.key), .double($0.value)] })
                ON CONFLICT (miner) DO UPDATE SET total = reputation_totals.total + excluded.total
                """)
        }
        return writes
    }

    /// The condition of `key.miner`'s evolutions scored in `key.window` after `id`: a range of
    /// `algorithms_author_window` that starts there. On PostgreSQL the window and id are one
    /// row comparison, `(consensus_window, id) > (window, id)`, capped by `consensus_window <=
    /// window`: no plan reaches them through the primary key (every algorithm created since, of
    /// every author: a plan made with statistics older than the newest ids read ~90 rows per
    /// submit), and the index scan starts at the id. (With `consensus_window = window` beside
    /// the comparison, the equality is what positioned the scan, at the author's first
    /// evolution of the window: every consensus read all of them, a cost that grew through the
    /// window.) SQLite reads that range from `id >`.
    static func scoredAfter(_ dialect: SQLDialect, _ key: PointsLedger.Key, _ id: Int64) -> SQLQuery {
        let range: SQLQuery = dialect == .postgres
            ? "(consensus_window, id) > (\(key.window), \(id)) AND consensus_window <= \(key.window)"
            : "consensus_window = \(key.window) AND id > \(id)"
        return "author = \(key.miner) AND \(range) AND origin = 'evolution'"
    }

    /// Rebuilds every miner's reward total from the reputation rows.
    static func recountRewardTotals(_ tx: any SQLExecutor) async throws {
        try await tx.fetch("DELETE FROM reputation_totals")
        try await tx.fetch("INSERT INTO reputation_totals (miner, total) SELECT miner, SUM(reward) FROM reputation GROUP BY miner")
    }
}
