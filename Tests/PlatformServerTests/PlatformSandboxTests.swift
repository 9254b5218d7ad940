import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import ServiceKit
import Store
import TestSupport
import Testing

@Suite struct PlatformSandboxTests {
    /// A challenge with two evaluated submissions and one pending.
    static func seeded(_ c: PlatformClient, _ h: PlatformHarness) async throws -> (ChallengeDetail, [SubmissionView]) {
        let v = h.validators[0]
        let ch = try await c.createChallenge()
        var subs: [SubmissionView] = []
        for (i, score) in [0.25, 0.75].enumerated() {
            let s = try await c.submit(SR25519Keypair.generate(), ch.id, code: "program \(i)")
            #expect(try await c.claim(v, s.jobs[0].id).status == .ok)
            #expect(try await c.results(v, s.jobs[0].id, JobResultRequest(
                score: score, metrics: ["tasks": .number(10)], executionTimeMs: 100)).status == .noContent)
            subs.append(s)
        }
        subs.append(try await c.submit(SR25519Keypair.generate(), ch.id, code: "waiting"))
        return (ch, subs)
    }

    /// A challenge's data namespace: `ch_` and the first 16 characters of its id without
    /// hyphens, lowercased (the schema and file name its tables live under).
    @Test func dataNamespaceOfAChallengeId() {
        #expect(ChallengeDataManager.dataName(challengeId: "3F2B8C1A-9D4E-4B7A-8C21-0E5F6A7B8C9D") == "ch_3f2b8c1a9d4e4b7a")
        #expect(ChallengeDataManager.dataName(challengeId: "ab-cd") == "ch_abcd")
        #expect(ChallengeDataManager.dataName(challengeId: "----") == "ch_")
    }

    @Test(arguments: TestDatabases.available)
    func readsTheChallengesOwnTables(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) { $0.limits.queryRowCap = 2 }
        let v = h.validators[1]
        try await h.run { c in
            let (ch, subs) = try await Self.seeded(c, h)
            let r = try await c.query(v, ch.id, "SELECT submission_id, miner_hotkey, status, score FROM agents WHERE status = ? ORDER BY score DESC",
                                      [.string("completed")])
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.decode(OrmQueryResponse.self)
            #expect(body.rows.map { $0["submission_id"] } == [.string(subs[1].id), .string(subs[0].id)])
            #expect(body.rows[0]["score"] == .number(0.75) && body.rows[0]["miner_hotkey"] == .string(subs[1].minerHotkey))
            #expect(body.rowCount == 2 && !body.truncated)

            // The row cap: three agents, cap 2 → two rows and truncated.
            let all = try await c.query(v, ch.id, "SELECT * FROM agents ORDER BY submitted_at").decode(OrmQueryResponse.self)
            #expect(all.rows.count == 2 && all.truncated)
            let pending = try await c.query(v, ch.id, "SELECT status, jobs_total FROM agents WHERE submission_id = ?",
                                            [.string(subs[2].id)]).decode(OrmQueryResponse.self)
            #expect(pending.rows == [["status": .string("pending"), "jobs_total": .number(1)]])
            let evals = try await c.query(v, ch.id, "SELECT count(*) AS n, max(score) AS best FROM evaluations WHERE status = 'completed';")
                .decode(OrmQueryResponse.self)
            #expect(evals.rows == [["n": .number(2), "best": .number(0.75)]])
            let metrics = try await c.query(v, ch.id, "SELECT metrics, validator_hotkey FROM evaluations WHERE score = ?", [.number(0.25)])
                .decode(OrmQueryResponse.self)
            #expect(metrics.rows.first?["metrics"] == .string("{\"tasks\":10}"))
            #expect(metrics.rows.first?["validator_hotkey"] == .string(h.validators[0].publicKey.ss58Address))

            // Errors of the request itself.
            #expect(try await c.query(v, "missing", "SELECT 1").status == .notFound)
            #expect(try await c.call(.post, PlatformPaths.ormQuery(ch.id), as: .anonymous, json: OrmQueryRequest(query: "SELECT 1")).status == .unauthorized)
            #expect(try await c.query(SR25519Keypair.generate(), ch.id, "SELECT 1").status == .forbidden)
            let params = try await c.query(v, ch.id, "SELECT * FROM agents WHERE status = ?")
            #expect(params.status == .badRequest && params.error?.detail.contains("placeholders") == true)
            let objectParam = try await c.query(v, ch.id, "SELECT ? AS x", [.object(["a": .number(1)])])
            #expect(objectParam.status == .badRequest)
            let unknownTable = try await c.query(v, ch.id, "SELECT * FROM nowhere")
            #expect(unknownTable.status == .badRequest && unknownTable.error?.code == PlatformErrorCode.queryFailed)
        }
    }

    static let hostile: [String] = [
        "DELETE FROM agents",
        "UPDATE agents SET score = 1",
        "INSERT INTO agents (submission_id) VALUES ('x')",
        "DROP TABLE agents",
        "SELECT 1; DROP TABLE agents",
        "SELECT * FROM agents; DELETE FROM agents",
        "CREATE TABLE x (a int)",
        "ALTER TABLE agents ADD COLUMN x int",
        "ATTACH DATABASE '/tmp/evil.db' AS evil",
        "PRAGMA writable_schema = 1",
        "VACUUM",
        "COPY agents TO '/tmp/out.csv'",
        "SELECT * FROM agents FOR UPDATE",
        "WITH gone AS (DELETE FROM agents RETURNING *) SELECT * FROM gone",
        "SELECT * INTO stolen FROM agents",
        "SELECT pg_sleep(30)",
        "SELECT * FROM pg_authid",
        "SELECT * FROM pg_catalog.pg_shadow",
        "SELECT * FROM pg_class",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM sqlite_master",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT set_config('statement_timeout', '0', false)",
        "SELECT current_setting('data_directory')",
        "SELECT * FROM dblink('dbname=postgres', 'select 1') AS t(a int)",
        "SELECT query_to_xml('delete from agents', true, true, '')",
        "SELECT load_extension('/tmp/evil')",
        "SELECT randomblob(100000000)",
        "SELECT * FROM challenges",
        "SELECT * FROM public.challenges",
        "SELECT * FROM validators",
        "SET ROLE postgres",
        "RESET ROLE",
        "BEGIN",
        "COMMIT",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        "SELECT $$a$$",
        "SELECT 1 /* unterminated",
        "",
    ]

    /// Every hostile query answers 400 with a `detail`, and nothing changes.
    @Test(arguments: TestDatabases.available)
    func hostileQueriesAreRejectedAndChangeNothing(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        let v = h.validators[1]
        try await h.run { c in
            let (ch, _) = try await Self.seeded(c, h)
            let before = try await c.query(v, ch.id, "SELECT * FROM agents ORDER BY submission_id").decode(OrmQueryResponse.self)
            for sql in Self.hostile {
                let r = try await c.query(v, ch.id, sql)
                #expect(r.status == .badRequest, "\(sql) → \(r.status) \(r.text)")
                #expect(r.error?.detail.isEmpty == false && r.error?.code.hasPrefix("query_") == true, "\(sql) → \(r.text)")
            }
            let after = try await c.query(v, ch.id, "SELECT * FROM agents ORDER BY submission_id").decode(OrmQueryResponse.self)
            #expect(after == before)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM challenges", [])?.int("n") == 1)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM submissions", [])?.int("n") == 3)
        }
    }

    /// With the lexical guard switched off, the database alone still refuses writes, DDL,
    /// other schemas/files, server functions, and stops long statements.
    @Test(arguments: TestDatabases.available)
    func theDatabaseEnforcesReadOnlyOnItsOwn(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) { $0.limits.queryTimeoutMs = 300 }
        let v = h.validators[1]
        try await h.run { c in
            let (ch, _) = try await Self.seeded(c, h)
            let other = try await c.createChallenge(PlatformClient.challengeRequest("other", mechanism: 2))
            _ = try await c.submit(SR25519Keypair.generate(), other.id)
            let row = try await h.store.challenge(h.db, id: ch.id)
            func raw(_ sql: String) async -> (code: String?, detail: String) {
                do {
                    _ = try await h.store.challengeData.runQuery(challenge: row, request: OrmQueryRequest(query: sql),
                                                                 limits: h.store.limits.with(timeout: 300), lexicalGuard: false)
                    return (nil, "accepted")
                } catch let e as APIError {
                    return (e.code.rawValue, e.detail)
                } catch {
                    return ("other", "\(error)")
                }
            }
            var refused: [String] = [
                "DELETE FROM agents",
                "UPDATE agents SET score = 1",
                "INSERT INTO agents (submission_id) VALUES ('x')",
                "DROP TABLE agents",
                "CREATE TABLE x (a int)",
                "SELECT * FROM agents FOR UPDATE",
                "WITH gone AS (DELETE FROM agents RETURNING *) SELECT * FROM gone",
                "SELECT * FROM \(other.dataNamespace).agents",
                "SELECT * FROM challenges",
            ]
            if backend == .postgres {
                refused += [
                    "SELECT * FROM public.challenges",
                    "SELECT * FROM pg_authid",
                    "SELECT pg_read_file('/etc/passwd')",
                    "SELECT lo_import('/etc/passwd')",
                    "SELECT pg_sleep(5)",
                    "SELECT count(*) FROM generate_series(1, 100000000)",
                    "SELECT nextval('x')",
                ]
            } else {
                refused += [
                    "ATTACH DATABASE '\(NSTemporaryDirectory())evil.db' AS evil",
                    "SELECT * FROM sqlite_master",
                    "PRAGMA query_only = 0",
                    "SELECT randomblob(10)",
                    "SELECT load_extension('x')",
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                ]
            }
            for sql in refused {
                let (code, detail) = await raw(sql)
                #expect(code?.hasPrefix("query_") == true, "\(sql) → \(code ?? "accepted") \(detail)")
            }
            if backend == .postgres {
                #expect(await raw("SELECT pg_sleep(5)").code == PlatformErrorCode.queryTimeout)
                #expect(await raw("SELECT * FROM public.challenges").code == PlatformErrorCode.queryForbidden)
                #expect(await raw("SELECT * FROM \(other.dataNamespace).agents").code == PlatformErrorCode.queryForbidden)
                // The session is clean afterwards: the platform's own queries still work as before.
                #expect(try await h.db.queryOne("SELECT current_user AS u, current_setting('search_path') AS p", [])?
                    .string("p").contains("ch_") == false)
            }
            let ok = await raw("SELECT count(*) AS n FROM agents")
            #expect(ok.code == nil)
            #expect(try await h.db.queryOne("SELECT COUNT(*) AS n FROM challenges", [])?.int("n") == 2)
            let after = try await c.query(v, ch.id, "SELECT count(*) AS n FROM agents").decode(OrmQueryResponse.self)
            #expect(after.rows == [["n": .number(3)]])
        }
    }

    /// The database layer directly, without the lexical guard and without the subquery
    /// wrapper: PostgreSQL's read-only transaction and role, SQLite's read-only connection
    /// and authorizer.
    @Test(arguments: TestDatabases.available)
    func rawStatementsHitTheDatabaseGuards(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend)
        try await h.run { c in
            let (ch, _) = try await Self.seeded(c, h)
            let statements = [
                "DELETE FROM agents", "INSERT INTO agents (submission_id) VALUES ('x')", "DROP TABLE agents",
                "CREATE TABLE x (a int)",
            ]
            switch h.store.challengeData.backend {
            case let .postgres(pg):
                let user = TestDatabases.postgresURL.flatMap { URL(string: $0)?.user } ?? "postgres"
                for sql in statements + ["SELECT set_config('role', '\(user)', true), pg_read_file('/etc/passwd')",
                                         "SELECT set_config('statement_timeout', '0', true)",
                                         "SELECT * FROM public.challenges", "SELECT pg_read_file('/etc/passwd')"] {
                    do {
                        _ = try await ChallengeDataManager.runPostgres(pg, schema: ch.dataNamespace, sql: sql, binds: [], timeoutMs: 1000)
                        Issue.record("accepted: \(sql)")
                    } catch let e as APIError {
                        #expect(e.code == PlatformErrorCode.queryForbidden, "\(sql) → \(e.detail)")
                    }
                }
                let rows = try await ChallengeDataManager.runPostgres(pg, schema: ch.dataNamespace, sql: "SELECT count(*) AS n FROM agents",
                                                                      binds: [], timeoutMs: 1000)
                #expect(try rows.first?.int("n") == 3)
            case .sqlite:
                let file = try await #require(h.store.challengeData.files).file(ch.dataNamespace)
                @Sendable func raw(_ sql: String) async throws -> SandboxResult {
                    try await ChallengeDataManager.runSQLite(file, sql: sql, binds: [], timeoutMs: 1000, rowCap: 100,
                                                             maxBytes: 1 << 20)
                }
                for sql in statements + ["ATTACH DATABASE ':memory:' AS evil", "PRAGMA query_only = 0", "PRAGMA table_info(agents)",
                                         "SELECT * FROM sqlite_master", "SELECT randomblob(8)", "BEGIN IMMEDIATE",
                                         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"] {
                    do {
                        _ = try await raw(sql)
                        Issue.record("accepted: \(sql)")
                    } catch let e as APIError {
                        #expect(e.code == PlatformErrorCode.queryForbidden, "\(sql) → \(e.code) \(e.detail)")
                    }
                }
                // Exactly one statement, and no virtual tables.
                for sql in ["SELECT 1; SELECT 2", "SELECT count(*) FROM agents; DELETE FROM agents",
                            "SELECT * FROM json_each('[1, 2]')", "SELECT * FROM pragma_table_info('agents')", "SELECT * FROM dbstat"] {
                    do {
                        _ = try await raw(sql)
                        Issue.record("accepted: \(sql)")
                    } catch let e as APIError {
                        #expect(e.code.rawValue.hasPrefix("query_"), "\(sql) → \(e.code) \(e.detail)")
                    }
                }
                #expect(try await raw("SELECT count(*) AS n FROM agents").rows.first?.value("n") == .int(3))
            }
            #expect(try await c.query(h.validators[1], ch.id, "SELECT count(*) AS n FROM agents").decode(OrmQueryResponse.self)
                .rows == [["n": .number(3)]])
        }
    }

    /// SQLite: a runaway query is interrupted and answered with 400 at the deadline, and the
    /// platform's own database is unaffected (sandbox queries have their own threads).
    @Test func sqliteRunawayQueriesAnswerAtTheDeadline() async throws {
        let h = try await PlatformHarness.make(.sqlite) { $0.limits.queryTimeoutMs = 50 }
        let v = h.validators[1]
        try await h.run { c in
            let ch = try await c.createChallenge()
            let file = try await #require(h.store.challengeData.files).file(ch.dataNamespace)
            try await file.writer.transaction { tx in
                for i in 0..<60 {
                    try await tx.execute(
                        """
                        INSERT INTO agents (submission_id, miner_hotkey, status, jobs_total, jobs_completed, jobs_failed,
                          payload_kind, payload_sha256, submitted_at, updated_at, data_version)
                        VALUES (?, 'm', 'pending', 1, 0, 0, 'code', 'x', 't', 't', 1)
                        """, [.text("s\(i)")])
                }
            }
            let slow = try await c.query(v, ch.id, "SELECT count(*) FROM agents a, agents b, agents c, agents d")
            #expect(slow.status == .badRequest && slow.error?.code == PlatformErrorCode.queryTimeout, "\(slow.text)")
            // Nothing keeps running in the background: the file's connections are all free.
            #expect(file.readers.inUse == 0)
            #expect(try await c.call(.get, PlatformPaths.activeChallenges, as: .validator(v)).status == .ok)
            _ = try await c.submit(SR25519Keypair.generate(), ch.id)
        }
    }

    /// `(VALUES (1), (2), …, (n))`.
    static func values(_ n: Int) -> String {
        "(VALUES " + (1...n).map { "(\($0))" }.joined(separator: ", ") + ")"
    }

    /// A cross join of four 300-row VALUES lists: 8.1e9 rows, no recursion, no table.
    static let crossJoin = "SELECT count(*) AS n FROM \(values(300)) a, \(values(300)) b, \(values(300)) c, \(values(300)) d"

    /// A runaway cross join is stopped at the deadline: while it runs and right after it timed
    /// out, queries on another challenge and on the same challenge answer (issue 10, point 6).
    /// Each round leaves nothing running, so repeated runaways never exhaust the challenge's
    /// connections.
    @Test(arguments: TestDatabases.available)
    func runawayQueriesAreStoppedAndStarveNobody(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) { $0.limits.queryTimeoutMs = 1000 }
        let v = h.validators[1]
        try await h.run { c in
            let (ch, _) = try await Self.seeded(c, h)
            let other = try await c.createChallenge(PlatformClient.challengeRequest("other", mechanism: 2))
            _ = try await c.submit(SR25519Keypair.generate(), other.id)
            let count = "SELECT count(*) AS n FROM agents"
            for round in 0..<3 {
                async let slow = c.query(v, ch.id, Self.crossJoin)
                try await Task.sleep(for: .milliseconds(100))
                let during = try await c.query(v, other.id, count)
                #expect(during.status == .ok, "round \(round), while running: \(during.text)")
                let timedOut = try await slow
                #expect(timedOut.status == .badRequest && timedOut.error?.code == PlatformErrorCode.queryTimeout,
                        "round \(round): \(timedOut.text)")
                if backend == .sqlite {
                    let file = try await #require(h.store.challengeData.files).file(ch.dataNamespace)
                    #expect(file.readers.inUse == 0, "round \(round): the statement is still running")
                }
                let elsewhere = try await c.query(v, other.id, count)
                #expect(elsewhere.status == .ok, "round \(round): \(elsewhere.text)")
                #expect(try elsewhere.decode(OrmQueryResponse.self).rows == [["n": .number(1)]])
                let same = try await c.query(v, ch.id, count)
                #expect(same.status == .ok, "round \(round): \(same.text)")
                #expect(try same.decode(OrmQueryResponse.self).rows == [["n": .number(3)]])
            }
        }
    }

    /// The per-file connection limit: a waiter is handed a released slot, gives up at its
    /// deadline or when its task is cancelled, and never leaks a slot.
    @Test func sandboxSlotsHandOverGiveUpAndCancel() async throws {
        let slots = SandboxSlots(limit: 1)
        #expect(await slots.acquire(until: .now + .seconds(30)))
        #expect(await slots.acquire(until: .now + .milliseconds(50)) == false)
        async let waiter = slots.acquire(until: .now + .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        slots.release()
        #expect(await waiter)
        #expect(slots.inUse == 1)
        let cancelled = Task { await slots.acquire(until: .now + .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        #expect(await cancelled.value == false)
        slots.release()
        #expect(slots.inUse == 0)
        #expect(await slots.acquire(until: .now + .milliseconds(50)))
        slots.release()
    }

    /// More runaways at once than a challenge file has connections: each answers at (about)
    /// its deadline — the ones waiting for a connection included — and all connections are
    /// free afterwards.
    @Test func sqliteConcurrentRunawaysOnOneChallenge() async throws {
        let h = try await PlatformHarness.make(.sqlite) { $0.limits.queryTimeoutMs = 500 }
        let v = h.validators[1]
        try await h.run { c in
            let ch = try await c.createChallenge()
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<(SandboxReaders.defaultLimit + 2) {
                    group.addTask { try await c.query(v, ch.id, Self.crossJoin) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for r in replies {
                #expect(r.status == .badRequest && r.error?.code == PlatformErrorCode.queryTimeout, "\(r.text)")
            }
            let file = try await #require(h.store.challengeData.files).file(ch.dataNamespace)
            #expect(file.readers.inUse == 0)
            let after = try await c.query(v, ch.id, "SELECT count(*) AS n FROM agents")
            #expect(after.status == .ok, "\(after.text)")
        }
    }

    /// `[--]` and `` `--` `` would hide the rest of the line from the lexical guard (it would
    /// see a comment) while SQLite reads a column name — including a `;` that ends the
    /// subquery wrapper early and returns every row. Such names are refused; double-quoted
    /// names stay inside the wrapper and the row cap holds.
    @Test(arguments: TestDatabases.available)
    func quotedIdentifiersCannotEscapeTheWrapper(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) { $0.limits.queryRowCap = 5 }
        let v = h.validators[1]
        try await h.run { c in
            let ch = try await c.createChallenge()
            let pairs = "\(Self.values(40)) a, \(Self.values(40)) b"
            let escapes = [
                "SELECT 1 AS [--], a.column1 FROM \(pairs)); SELECT (1",
                "SELECT 1 AS `--`, a.column1 FROM \(pairs)); SELECT (1",
                "SELECT 1 AS [/*], a.column1 FROM \(pairs)); SELECT (1 */",
            ]
            for sql in escapes {
                let r = try await c.query(v, ch.id, sql)
                #expect(r.status == .badRequest && r.error?.code == PlatformErrorCode.queryRejected, "\(r.text)")
            }
            let quoted = try await c.query(v, ch.id, "SELECT 1 AS \"--\", a.column1 FROM \(pairs)")
            #expect(quoted.status == .ok, "\(quoted.text)")
            let rows = try quoted.decode(OrmQueryResponse.self)
            #expect(rows.rows.count == 5 && rows.truncated && rows.rows[0]["--"] == .number(1))
            guard backend == .sqlite else { return }
            let bracketed = try await c.query(v, ch.id, "SELECT a.column1 AS [n], b.column1 AS `m` FROM \(pairs)")
                .decode(OrmQueryResponse.self)
            #expect(bracketed.rows.count == 5 && bracketed.truncated && bracketed.rows[0]["n"] != nil && bracketed.rows[0]["m"] != nil)
            // Without the guard, SQLite itself refuses the second statement instead of running
            // the first one outside the wrapper.
            let row = try await h.store.challenge(h.db, id: ch.id)
            do {
                let r = try await h.store.challengeData.runQuery(challenge: row, request: OrmQueryRequest(query: escapes[0]),
                                                                 limits: h.store.limits, lexicalGuard: false)
                Issue.record("accepted: \(r.rowCount) rows")
            } catch let e as APIError {
                #expect(e.code == PlatformErrorCode.queryRejected, "\(e.detail)")
            }
        }
    }

    /// A result larger than `queryResultMaxBytes` is refused with 400 `query_result_too_large`
    /// (not truncated); a result under it is answered in full.
    @Test(arguments: TestDatabases.available)
    func resultsOverTheByteCapAreRefused(_ backend: Backend) async throws {
        let h = try await PlatformHarness.make(backend) { $0.limits.queryResultMaxBytes = 4096 }
        let v = h.validators[1]
        try await h.run { c in
            let ch = try await c.createChallenge()
            let pad = String(repeating: "x", count: 100)
            // ~136 counted bytes a row: 50 rows exceed 4 KiB, 10 rows do not.
            let big = try await c.query(v, ch.id, "SELECT a.column1 AS n, '\(pad)' AS pad FROM \(Self.values(50)) a")
            #expect(big.status == .badRequest && big.error?.code == PlatformErrorCode.queryResultTooLarge, "\(big.text)")
            #expect(big.error?.detail.contains("4096 bytes") == true)
            let small = try await c.query(v, ch.id, "SELECT a.column1 AS n, '\(pad)' AS pad FROM \(Self.values(10)) a")
            #expect(small.status == .ok, "\(small.text)")
            let body = try small.decode(OrmQueryResponse.self)
            #expect(body.rows.count == 10 && !body.truncated && body.rows[9]["pad"] == .string(pad))
            if backend == .sqlite {
                // No string may grow past the cap inside SQLite either.
                let concat = try await c.query(
                    v, ch.id, "SELECT length(group_concat(a.column1 || '\(pad)')) AS n FROM \(Self.values(50)) a, \(Self.values(50)) b")
                #expect(concat.status == .badRequest && concat.error?.code == PlatformErrorCode.queryResultTooLarge, "\(concat.text)")
            }
        }
    }

    /// SQLite: challenge files live next to the main database; rows lost from a file (a crash
    /// between the two commits) are restored by the repair pass.
    @Test func sqliteChallengeFilesAreRepaired() async throws {
        let h = try await PlatformHarness.make(.sqlite)
        let v = h.validators[1]
        try await h.run { c in
            let (ch, subs) = try await Self.seeded(c, h)
            guard let main = h.db as? SQLiteStore, let files = h.store.challengeData.files else {
                Issue.record("not SQLite")
                return
            }
            let path = await files.path(for: ch.dataNamespace)
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(URL(fileURLWithPath: path).deletingLastPathComponent() == URL(fileURLWithPath: main.path).deletingLastPathComponent())
            let file = try await files.file(ch.dataNamespace)
            try await file.writer.execute("DELETE FROM agents WHERE submission_id = ?", [.text(subs[1].id)])
            try await file.writer.execute("UPDATE agents SET score = 0, data_version = 0 WHERE submission_id = ?", [.text(subs[0].id)])
            #expect(try await h.store.challengeData.repair(store: h.store) == 2)
            let rows = try await c.query(v, ch.id, "SELECT submission_id, score FROM agents WHERE score IS NOT NULL ORDER BY score")
                .decode(OrmQueryResponse.self)
            #expect(rows.rows.map { $0["score"] } == [.number(0.25), .number(0.75)])
            #expect(try await h.store.challengeData.repair(store: h.store) == 0)
        }
    }
}

extension PlatformLimits {
    func with(timeout ms: Int) -> PlatformLimits {
        var copy = self
        copy.queryTimeoutMs = ms
        return copy
    }
}

