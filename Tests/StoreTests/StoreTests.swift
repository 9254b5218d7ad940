import Foundation
@testable import Store
import TestSupport
import Testing

@Suite struct StoreBackendTests {
    static let migrations = [
        Migration(version: 1, name: "items", portable: [
            "CREATE TABLE items (id {{pk}}, name TEXT NOT NULL UNIQUE, weight {{real}}, data {{blob}}, n BIGINT NOT NULL DEFAULT 0)",
        ]),
        Migration(version: 2, name: "counter", portable: [
            "CREATE TABLE counter (k TEXT PRIMARY KEY, v BIGINT NOT NULL)",
            "INSERT INTO counter (k, v) VALUES ('x', 0)",
        ]),
    ]

    @Test(arguments: TestDatabases.available)
    func valuesRoundTripAndMigrationsApplyOnce(_ backend: Backend) async throws {
        try await TestDatabases.withFresh(backend) { db in
            try await db.migrate(Self.migrations, component: "t")
            try await db.migrate(Self.migrations, component: "t")  // second run is a no-op
            let versions = try await db.query("SELECT version FROM schema_migrations WHERE component = 't' ORDER BY version", [])
            #expect(try versions.map { try $0.int("version") } == [1, 2])

            let row = try await db.transaction { tx in
                try await tx.queryOne(
                    "INSERT INTO items (name, weight, data, n) VALUES (?, ?, ?, ?) RETURNING id, name, weight, data, n",
                    ["it's ?", .double(0.1 + 0.2), .blob([0, 1, 255]), .int(Int64.max)])
            }
            let r = try #require(row)
            #expect(try r.string("name") == "it's ?")
            #expect(try r.double("weight") == 0.1 + 0.2)
            #expect(try r.value("data") == .blob([0, 1, 255]))
            #expect(throws: StoreError.self) { try r.value("dta") }
            #expect(throws: StoreError.self) { try r.optionalString("nmae") }
            #expect(try r.int("n") == Int64.max)
            let nullRow = try await db.queryOne("SELECT weight FROM items WHERE name = ?", ["missing"])
            #expect(nullRow == nil)
            try await db.execute("INSERT INTO items (name) VALUES (?)", ["nulls"])
            let n = try #require(try await db.queryOne("SELECT weight, data FROM items WHERE name = ?", ["nulls"]))
            #expect(try n.value("weight") == .null && n.value("data") == .null)
            #expect(try n.optionalDouble("weight") == nil)
        }
    }

    /// Replicas starting at once on one database: every one of them migrates, each
    /// migration is applied exactly once, none fails.
    @Test(arguments: TestDatabases.available)
    func replicasMigratingAtOnceApplyEachMigrationOnce(_ backend: Backend) async throws {
        let url = try await TestDatabases.freshURL(backend)
        let replicas = try await withThrowingTaskGroup(of: (any SQLDatabase).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let db = try await openDatabase(try DatabaseLocation.parse(url), logger: TestDatabases.logger)
                    try await db.migrate(Self.migrations, component: "t")
                    return db
                }
            }
            return try await group.reduce(into: [any SQLDatabase]()) { $0.append($1) }
        }
        let db = try #require(replicas.first)
        let versions = try await db.query("SELECT version FROM schema_migrations WHERE component = 't' ORDER BY version", [])
        #expect(try versions.map { try $0.int("version") } == [1, 2])
        #expect(try await db.queryOne("SELECT COUNT(*) AS n FROM counter", [])?.int("n") == 1)
        for r in replicas { await r.shutdown() }
    }

    @Test(arguments: TestDatabases.available)
    func failedTransactionLeavesNothing(_ backend: Backend) async throws {
        try await TestDatabases.withFresh(backend) { db in
            try await db.migrate(Self.migrations, component: "t")
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await db.transaction { tx in
                    try await tx.execute("INSERT INTO items (name) VALUES ('a')")
                    try await tx.execute("UPDATE counter SET v = 99")
                    throw Boom()
                }
            }
            // A constraint violation midway also rolls back the earlier statements.
            await #expect(throws: (any Error).self) {
                try await db.transaction { tx in
                    try await tx.execute("INSERT INTO items (name) VALUES ('b')")
                    try await tx.execute("INSERT INTO items (name) VALUES ('b')")
                }
            }
            #expect(try await db.queryOne("SELECT COUNT(*) AS c FROM items", [])?.int("c") == 0)
            #expect(try await db.queryOne("SELECT v FROM counter", [])?.int("v") == 0)
        }
    }

    @Test(arguments: TestDatabases.available)
    func concurrentTransactionsDoNotLoseUpdates(_ backend: Backend) async throws {
        try await TestDatabases.withFresh(backend) { db in
            try await db.migrate(Self.migrations, component: "t")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await db.transaction { tx in
                            let v = try await tx.queryOne("SELECT v FROM counter WHERE k = 'x'\(tx.forUpdate)", [])?.int("v") ?? -1
                            try await tx.execute("UPDATE counter SET v = ? WHERE k = 'x'", [.int(v + 1)])
                            try await tx.execute("INSERT INTO items (name) VALUES (?)", [.text("n\(i)")])
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await db.queryOne("SELECT v FROM counter", [])?.int("v") == 40)
            #expect(try await db.queryOne("SELECT COUNT(*) AS c FROM items", [])?.int("c") == 40)
        }
    }

    @Test func locationsParse() throws {
        #expect(try DatabaseLocation.parse("sqlite:data/pool.db") == .sqlite(path: "data/pool.db"))
        #expect(try DatabaseLocation.parse("pool.sqlite") == .sqlite(path: "pool.sqlite"))
        guard case let .postgres(s) = try DatabaseLocation.parse("postgres://u:p@db.local:6543/pool") else {
            Issue.record("expected postgres")
            return
        }
        #expect(s.host == "db.local" && s.port == 6543 && s.username == "u" && s.password == "p" && s.database == "pool")
        #expect(s.socketPath == nil && s.address == "db.local:6543")
        #expect(throws: StoreError.self) { try DatabaseLocation.parse("mysql://x") }
        #expect(throws: StoreError.self) { try DatabaseLocation.parse("sqlite:") }
        #expect(throws: StoreError.self) { try DatabaseLocation.parse("postgres:///pool") }
        #expect(throws: StoreError.self) { try DatabaseLocation.parse("postgres://u@/pool?host=relative/dir") }
        #expect(throws: StoreError.self) { try DatabaseLocation.parse("postgres://u@/pool?host=/run/postgresql&port=99999") }
        // libpq's Unix-socket form: the directory in `host`, the port naming the socket file.
        guard case let .postgres(u) = try DatabaseLocation.parse("postgres://u:p%40ss@/pool?host=/run/postgresql&port=5433") else {
            Issue.record("expected postgres")
            return
        }
        #expect(u.socketDirectory == "/run/postgresql" && u.socketPath == "/run/postgresql/.s.PGSQL.5433")
        #expect(u.username == "u" && u.password == "p@ss" && u.database == "pool" && u.port == 5433)
        // A URL rendered for another database on the same server parses back to the same settings.
        for settings in [s, u] {
            guard case let .postgres(back) = try DatabaseLocation.parse(settings.url(database: "other")) else {
                Issue.record("expected postgres")
                continue
            }
            var expected = settings
            expected.database = "other"
            #expect(back == expected)
        }
    }
}

@Suite struct SQLiteReaderTests {
    /// In WAL mode a plain read runs on a reader connection: it answers, with the last
    /// committed state, while a write transaction is still open on the writer.
    @Test(.timeLimit(.minutes(1))) func readsDoNotWaitBehindAnOpenWriteTransaction() async throws {
        let db = try await TestDatabases.fresh(.sqlite)
        try await db.execute("CREATE TABLE t (v BIGINT NOT NULL)")
        try await db.execute("INSERT INTO t (v) VALUES (1)")
        let (entered, enteredGo) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseGo) = AsyncStream.makeStream(of: Void.self)
        let writer = Task {
            try await db.transaction { tx in
                try await tx.execute("UPDATE t SET v = 2")
                enteredGo.yield()
                for await _ in release { break }
            }
        }
        for await _ in entered { break }
        // The writer holds its transaction open until released: this read must not wait for it.
        let seen = try await db.queryOne("SELECT v FROM t")?.int("v")
        #expect(seen == 1)
        releaseGo.yield()
        try await writer.value
        #expect(try await db.queryOne("SELECT v FROM t")?.int("v") == 2)
        // A write outside a transaction still goes to the writer (readers are query-only).
        try await db.execute("UPDATE t SET v = 3")
        #expect(try await db.queryOne("SELECT v FROM t")?.int("v") == 3)
        await db.shutdown()
    }
}

/// The SQLite backend on the C API: prepared statements are reused and evicted without
/// changing results, a text of several statements runs them all, wrong bind counts and a
/// closed store are errors, never crashes.
@Suite struct SQLiteStatementTests {
    @Test func cachedStatementsGiveTheSameResultsPastTheCacheLimit() async throws {
        let db = try await TestDatabases.fresh(.sqlite)
        try await db.execute("CREATE TABLE t (k BIGINT PRIMARY KEY, v TEXT NOT NULL)")
        // More distinct statement texts than the cache holds, each run twice (the second from
        // the cache, or re-prepared after an eviction).
        for i in 0..<600 {
            for _ in 0..<2 {
                try await db.transaction { tx in
                    try await tx.execute("INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v || '\(i)'",
                                         [.int(Int64(i)), .text("v\(i)")])
                }
            }
        }
        #expect(try await db.queryOne("SELECT COUNT(*) AS n FROM t")?.int("n") == 600)
        #expect(try await db.queryOne("SELECT v FROM t WHERE k = ?", [.int(599)])?.string("v") == "v599599")
        await db.shutdown()
    }

    /// The writer keeps statement journals in memory (temp_store 2), and a statement that fails
    /// inside a transaction is still undone alone: the transaction's earlier write stays.
    @Test func statementJournalsStayInMemoryAndUndoOneStatement() async throws {
        let db = try await TestDatabases.fresh(.sqlite)
        try await db.execute("CREATE TABLE t (k BIGINT PRIMARY KEY)")
        let mode = try await db.transaction { tx in try await tx.query("PRAGMA temp_store", []).first?.int("temp_store") }
        #expect(mode == 2)
        try await db.transaction { tx in
            try await tx.execute("INSERT INTO t (k) VALUES (1)")
            // Two rows, the second a duplicate: the statement fails after writing its first row.
            await #expect(throws: StoreError.self) { try await tx.execute("INSERT INTO t (k) VALUES (2), (1)") }
        }
        let keys = try await db.query("SELECT k FROM t ORDER BY k", []).map { try $0.int("k") }
        #expect(keys == [1])
        await db.shutdown()
    }

    @Test func severalStatementsInOneTextRunInOrder() async throws {
        let db = try await TestDatabases.fresh(.sqlite)
        try await db.execute("CREATE TABLE a (x BIGINT); CREATE TABLE b (y BIGINT); INSERT INTO a VALUES (1); INSERT INTO b VALUES (2);")
        #expect(try await db.queryOne("SELECT x FROM a")?.int("x") == 1)
        #expect(try await db.queryOne("SELECT y FROM b")?.int("y") == 2)
        await db.shutdown()
    }

    @Test func wrongBindCountAndClosedStoreAreErrors() async throws {
        let db = try await TestDatabases.fresh(.sqlite)
        try await db.execute("CREATE TABLE t (v BIGINT)")
        await #expect(throws: StoreError.self) { try await db.execute("INSERT INTO t (v) VALUES (?)", []) }
        await #expect(throws: StoreError.self) { try await db.execute("INSERT INTO t (v) VALUES (?)", [1, 2]) }
        await #expect(throws: StoreError.self) { try await db.execute("INSERT INTO nowhere VALUES (1)") }
        #expect(try await db.queryOne("SELECT COUNT(*) AS n FROM t")?.int("n") == 0)
        await db.shutdown()
        await #expect(throws: StoreError.self) { try await db.queryOne("SELECT COUNT(*) AS n FROM t") }
        await #expect(throws: StoreError.self) { try await db.transaction { tx in try await tx.execute("DELETE FROM t") } }
    }
}

/// A store reached through the server's Unix socket (libpq's `?host=/dir` form) works as one
/// reached over TCP: pooled transactions, and the LISTEN connection the platform's event hub
/// holds. `scripts/with-postgres.sh` names its cluster's socket directory in
/// `EVALNET_TEST_POSTGRES_SOCKET_DIR`; a server given only by URL leaves this test out.
@Suite struct PostgresSocketTests {
    @Test func storeWorksThroughTheUnixSocket() async throws {
        guard TestDatabases.available.contains(.postgres) else { return }
        guard let dir = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_SOCKET_DIR"], !dir.isEmpty else {
            FileHandle.standardError.write(Data("note: EVALNET_TEST_POSTGRES_SOCKET_DIR not set; Unix-socket test skipped\n".utf8))
            return
        }
        guard case var .postgres(settings) = try DatabaseLocation.parse(try await TestDatabases.freshURL(.postgres)) else {
            Issue.record("expected a PostgreSQL URL")
            return
        }
        settings.socketDirectory = dir
        settings.host = "nowhere.invalid"  // the socket, not the host, must be what connects
        guard case let .postgres(parsed) = try DatabaseLocation.parse(settings.url(database: settings.database)) else {
            Issue.record("expected a PostgreSQL URL")
            return
        }
        let store = try await PostgresStore.open(parsed, logger: TestDatabases.logger, maxConnections: 4)
        let socket = try await store.queryOne("SELECT inet_server_addr() IS NULL AS local", [])
        #expect(try socket?.int("local") == 1, "a Unix-socket session has no server address")
        try await store.execute("CREATE TABLE s (v BIGINT PRIMARY KEY)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask {
                    _ = try await store.transaction { tx in try await tx.execute("INSERT INTO s (v) VALUES (?)", [.int(Int64(i))]) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.queryOne("SELECT COUNT(*) AS n FROM s", [])?.int("n") == 16)

        let (heard, sink) = AsyncStream.makeStream(of: String.self)
        let (ready, readySink) = AsyncStream.makeStream(of: Void.self)
        let listener = Task {
            await store.listen(channel: "socket_test", onListening: { readySink.yield() }, onNotification: { sink.yield($0) })
        }
        var readyIterator = ready.makeAsyncIterator()
        _ = await readyIterator.next()
        try await store.execute("SELECT count(*) AS n FROM (SELECT pg_notify('socket_test', 'hello')) AS x")
        var heardIterator = heard.makeAsyncIterator()
        #expect(await heardIterator.next() == "hello")
        listener.cancel()
        _ = await listener.value
        await store.shutdown()
    }
}

/// Opening a store on a server that is not there, or that refuses, fails with the cause in
/// words: after the wait when nothing answers, at once when the server answers no.
@Suite struct PostgresConnectFailureTests {
    func message(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch StoreError.backend(let why) {
            return why
        } catch {
            return "\(error)"
        }
    }

    @Test func anAbsentServerIsNamedWithTheSystemsReason() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-no-pg-\(UUID().uuidString)").path
        guard case let .postgres(s) = try DatabaseLocation.parse("postgres://u@/db?host=\(dir)&port=5999") else {
            Issue.record("expected postgres")
            return
        }
        let started = ContinuousClock.now
        let why = await message { _ = try await PostgresStore.open(s, logger: TestDatabases.logger, connectWait: .seconds(1)) }
        #expect(why?.contains("\(dir)/.s.PGSQL.5999") == true, "\(why ?? "opened")")
        #expect(why?.contains("No such file or directory") == true, "\(why ?? "opened")")
        // It tried more than once (0.2 s, then 0.4 s apart) and gave up near the wait.
        #expect(ContinuousClock.now - started >= .milliseconds(600))
    }

    @Test func aServerThatRefusesIsNotWaitedFor() async throws {
        guard TestDatabases.available.contains(.postgres), let url = TestDatabases.postgresURL,
              case var .postgres(s) = try DatabaseLocation.parse(url)
        else { return }
        s.database = "no_such_database_\(UInt32.random(in: 0...UInt32.max))"
        let started = ContinuousClock.now
        let why = await message { _ = try await PostgresStore.open(s, logger: TestDatabases.logger, connectWait: .seconds(60)) }
        #expect(why?.contains("database \"\(s.database)\" does not exist (SQLSTATE 3D000)") == true, "\(why ?? "opened")")
        #expect(ContinuousClock.now - started < .seconds(30), "answered at once, not after the wait")
    }
}

/// Every pooled PostgreSQL connection opens with the store's session settings.
@Suite struct PostgresSessionTests {
    @Test func connectionsPlanNoParallelWorkers() async throws {
        guard TestDatabases.available.contains(.postgres) else { return }
        try await TestDatabases.withFresh(.postgres) { db in
            // Several at once, so more than one pooled connection answers.
            let settings = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await db.transaction { tx in
                            _ = try await tx.query("SELECT 1 AS slept FROM pg_sleep(0.05)", [])
                            return try await tx.queryOne("SHOW max_parallel_workers_per_gather", [])?
                                .string("max_parallel_workers_per_gather") ?? "missing"
                        }
                    }
                }
                var all: [String] = []
                for try await s in group { all.append(s) }
                return all
            }
            #expect(settings == Array(repeating: "0", count: 8))
            let outside = try await db.queryOne("SHOW max_parallel_workers_per_gather", [])
            #expect(try outside?.string("max_parallel_workers_per_gather") == "0")
        }
    }
}

/// The service's statements run as named prepared statements on PostgreSQL; one whose first
/// preparation failed on a connection must work there once the cause is gone.
@Suite struct PostgresNamedStatementTests {
    /// A store of one connection on a fresh database, so every statement runs where the ones
    /// before it left their prepared statements; nil without PostgreSQL.
    static func oneConnectionStore() async throws -> PostgresStore? {
        guard TestDatabases.available.contains(.postgres) else { return nil }
        guard case let .postgres(settings) = try DatabaseLocation.parse(try await TestDatabases.freshURL(.postgres)) else {
            Issue.record("expected a PostgreSQL URL")
            return nil
        }
        return try await PostgresStore.open(settings, logger: TestDatabases.logger, maxConnections: 1)
    }

    @Test func aStatementThatFailedBeforeItsTableExistedRunsAfterward() async throws {
        // One connection, so the retry runs where the failed preparation was kept.
        guard let db = try await Self.oneConnectionStore() else { return }
        await #expect(throws: (any Error).self) { try await db.query("SELECT n FROM later_table WHERE n = ?", [.int(1)]) }
        try await db.execute("CREATE TABLE later_table (n BIGINT)")
        try await db.execute("INSERT INTO later_table (n) VALUES (1)")
        let rows = try await db.query("SELECT n FROM later_table WHERE n = ?", [.int(1)])
        #expect(rows.count == 1)
        // Inside a transaction too, and a second time (the renamed statement is kept).
        let again = try await db.transaction { tx in try await tx.query("SELECT n FROM later_table WHERE n = ?", [.int(1)]) }
        #expect(again.count == 1)
        await db.shutdown()
    }

    /// Which statements the server keeps prepared: up to `NamedStatement.maxValues` values
    /// (the merged statements of a submit carry more than 32), and a `LIMIT` statement only
    /// when it leads with `StatementHint.planOnce`.
    @Test func statementsRunNamedUpToTheValueBoundAndLimitOnlyWhenHinted() async throws {
        // One connection: the statements and the look at what it keeps prepared share it.
        guard let db = try await Self.oneConnectionStore() else { return }
        try await db.execute("CREATE TABLE kept (n BIGINT)")
        func kept(_ marker: String) async throws -> Bool {
            let rows = try await db.query(
                "SELECT COUNT(*) AS n FROM pg_prepared_statements WHERE strpos(statement, ?) > 0 AND strpos(statement, 'strpos') = 0",
                [.text(marker)])
            return try rows.first?.int("n") ?? 0 > 0
        }
        func values(_ count: Int) -> (list: String, binds: [SQLValue]) {
            (SQLText.list(count), (0..<count).map { .int(Int64($0)) })
        }
        // 64: the end-of-submit statement with its verdicts, points and totals.
        let wide = values(64)
        _ = try await db.query("SELECT n AS wide_named FROM kept WHERE n IN (\(wide.list))", wide.binds)
        #expect(try await kept("wide_named"))
        let wider = values(NamedStatement.maxValues + 1)
        _ = try await db.query("SELECT n AS wider_unnamed FROM kept WHERE n IN (\(wider.list))", wider.binds)
        #expect(try await !kept("wider_unnamed"))
        _ = try await db.query("SELECT n AS pick_unhinted FROM kept ORDER BY n LIMIT ?", [.int(3)])
        #expect(try await !kept("pick_unhinted"))
        _ = try await db.query("\(StatementHint.planOnce) SELECT n AS pick_hinted FROM kept ORDER BY n LIMIT ?", [.int(3)])
        #expect(try await kept("pick_hinted"))
        await db.shutdown()
    }

    /// A named statement keeps one plan for every value (the server, left to choose, went on
    /// planning most of them on every run); a top-N pick with values, unhinted, runs in the
    /// mode that plans it for its values, and the session is back to one plan after it, inside
    /// a transaction or outside, whether the pick succeeded or failed.
    @Test func namedStatementsKeepOnePlanAndUnhintedPicksArePlannedForTheirValues() async throws {
        guard let db = try await Self.oneConnectionStore() else { return }
        try await db.execute("CREATE TABLE modes (n BIGINT)")
        try await db.execute("INSERT INTO modes (n) VALUES (1), (2), (3)")
        let named = "SELECT current_setting('plan_cache_mode') AS mode FROM modes WHERE n = ?"
        let pick = "SELECT current_setting('plan_cache_mode') AS mode FROM modes WHERE n >= ? ORDER BY n LIMIT 1"
        let failing = "SELECT 1 / (n - ?) AS mode FROM modes ORDER BY n LIMIT 3"
        @Sendable func session(_ ex: any SQLExecutor) async throws -> String? {
            try await ex.queryOne("SHOW plan_cache_mode", [])?.string("plan_cache_mode")
        }
        #expect(try await db.queryOne(named, [.int(1)])?.string("mode") == "force_generic_plan")
        #expect(try await db.queryOne(pick, [.int(2)])?.string("mode") == "force_custom_plan")
        #expect(try await session(db) == "force_generic_plan")
        let inside = try await db.transaction { tx in
            [try await tx.queryOne(pick, [.int(2)])?.string("mode"), try await session(tx),
             try await tx.queryOne(named, [.int(2)])?.string("mode")]
        }
        #expect(inside == ["force_custom_plan", "force_generic_plan", "force_generic_plan"])
        await #expect(throws: (any Error).self) { try await db.query(failing, [.int(2)]) }
        #expect(try await session(db) == "force_generic_plan")
        await #expect(throws: (any Error).self) { try await db.transaction { tx in try await tx.query(failing, [.int(2)]) } }
        #expect(try await session(db) == "force_generic_plan")
        // What the server did with the named statement (PostgreSQL 14 and later count it):
        // without the setting its first five runs were planned for their values.
        let version = try await db.queryOne("SHOW server_version_num", [])?.string("server_version_num")
        if let version, let number = Int(version), number >= 140_000 {
            for n in 1...8 { _ = try await db.query("SELECT n AS one_plan FROM modes WHERE n = ?", [.int(Int64(n))]) }
            let kept = try await db.queryOne(
                """
                SELECT generic_plans, custom_plans FROM pg_prepared_statements
                WHERE strpos(statement, 'one_plan') > 0 AND strpos(statement, 'strpos') = 0
                """, [])
            #expect(try kept?.int("custom_plans") == 0)
            #expect(try kept?.int("generic_plans") == 8)
        }
        await db.shutdown()
    }
}
