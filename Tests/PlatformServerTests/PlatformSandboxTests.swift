import Foundation
import Hotkeys
import Hummingbird
import PlatformAPI
@testable import PlatformServer
import SQLiteNIO
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
                    return (e.code, e.detail)
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
                for sql in statements + ["ATTACH DATABASE ':memory:' AS evil", "PRAGMA query_only = 0", "PRAGMA table_info(agents)",
                                         "SELECT * FROM sqlite_master", "SELECT randomblob(8)", "BEGIN IMMEDIATE",
                                         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"] {
                    do {
                        _ = try await file.reader.query(sql, [])
                        Issue.record("accepted: \(sql)")
                    } catch let e as SQLiteError {
                        #expect(["not authorized", "readonly", "prohibited"].contains { e.message.contains($0) }, "\(sql) → \(e.message)")
                    }
                }
                #expect(try await file.reader.query("SELECT count(*) AS n FROM agents", []).first?.column("n")?.integer == 3)
            }
            #expect(try await c.query(h.validators[1], ch.id, "SELECT count(*) AS n FROM agents").decode(OrmQueryResponse.self)
                .rows == [["n": .number(3)]])
        }
    }

    /// SQLite cannot interrupt a statement through SQLiteNIO: a runaway query is answered
    /// with 400 at the deadline, later queries wait their turn (bounded by the same deadline),
    /// and the platform's own database is unaffected (the sandbox reader has its own thread).
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
            // The platform itself keeps serving while the runaway finishes in the background.
            #expect(try await c.call(.get, PlatformPaths.activeChallenges, as: .validator(v)).status == .ok)
            _ = try await c.submit(SR25519Keypair.generate(), ch.id)
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

