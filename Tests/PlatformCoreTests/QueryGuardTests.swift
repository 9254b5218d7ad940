import PlatformCore
import Testing

@Suite struct QueryGuardTests {
    let guardian = QueryGuard()

    @Test(arguments: [
        "SELECT * FROM agents WHERE status = 'validated'",
        "select submission_id, score from agents where score > ? order by score desc limit 10;",
        "WITH best AS (SELECT miner_hotkey, MAX(score) AS s FROM agents GROUP BY miner_hotkey) SELECT * FROM best",
        "SELECT count(*) AS n, avg(score) FROM evaluations WHERE error IS NULL",
        "SELECT a.miner_hotkey, COALESCE(e.score, 0) FROM agents a JOIN evaluations e ON e.submission_id = a.submission_id",
        "SELECT * FROM agents WHERE status IN ('completed', 'failed') AND note LIKE'x%'",
        "(SELECT 1) UNION (SELECT 2)",
        "SELECT CAST(score AS numeric(10, 2)) FROM agents",
        "SELECT row_number() OVER (PARTITION BY miner_hotkey ORDER BY score DESC) FROM agents",
        "SELECT 'it''s; DROP TABLE x' AS s -- trailing comment ; DELETE",
        "SELECT \"updated_at\" FROM agents /* a comment */",
        "WITH t(a, b) AS (SELECT 1, 2) SELECT a FROM t",
    ])
    func acceptsReadOnlyQueries(_ sql: String) throws {
        _ = try guardian.check(sql)
    }

    @Test func countsPlaceholdersOutsideStrings() throws {
        let q = try guardian.check("SELECT * FROM agents WHERE status = ? AND miner_hotkey = ? AND note = '?';")
        #expect(q.placeholders == 2 && !q.sql.hasSuffix(";"))
    }

    @Test(arguments: [
        ("", "empty"),
        ("DELETE FROM agents", "only SELECT"),
        ("SELECT 1; DROP TABLE agents", "one statement"),
        ("SELECT 1;;", "one statement"),
        ("INSERT INTO agents VALUES (1)", "only SELECT"),
        ("WITH x AS (DELETE FROM agents RETURNING *) SELECT * FROM x", "DELETE"),
        ("SELECT * FROM agents FOR UPDATE", "UPDATE"),
        ("SELECT * INTO copy FROM agents", "INTO"),
        ("ATTACH DATABASE 'x.db' AS x", "only SELECT"),
        ("PRAGMA table_info(agents)", "only SELECT"),
        ("SELECT pg_sleep(10)", "system catalogs"),
        ("SELECT * FROM pg_catalog.pg_authid", "system catalogs"),
        ("SELECT * FROM pg_shadow", "system catalogs"),
        ("SELECT * FROM \"pg_authid\"", "system catalogs"),
        ("SELECT * FROM information_schema.tables", "system catalogs"),
        ("SELECT * FROM sqlite_master", "system catalogs"),
        ("SELECT pg_read_file('/etc/passwd')", "system catalogs"),
        ("SELECT lo_import('/etc/passwd')", "function 'lo_import'"),
        ("SELECT set_config('statement_timeout', '0', true)", "function 'set_config'"),
        ("SELECT current_setting('data_directory')", "function 'current_setting'"),
        ("SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", "function 'dblink'"),
        ("SELECT query_to_xml('select 1', true, true, '')", "function 'query_to_xml'"),
        ("SELECT load_extension('x')", "function 'load_extension'"),
        ("SELECT randomblob(1000000000)", "function 'randomblob'"),
        ("SELECT \"Set_Config\"('a', 'b', true)", "function 'set_config'"),
        ("COPY agents TO '/tmp/x'", "only SELECT"),
        ("SELECT 'a'::regclass", "object identifier"),
        ("SELECT $$x$$", "'$'"),
        ("SELECT E'\\x41'", "escape"),
        ("SELECT U&'\\0041'", "escape"),
        ("SELECT (1", "unbalanced"),
        ("SELECT 1)", "unbalanced"),
        ("SELECT 'open", "unterminated string"),
        ("SELECT 1 /* open", "unterminated comment"),
        ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT * FROM c", "recursive"),
        ("SELECT 1 \\g", "backslash"),
        ("SET ROLE postgres", "only SELECT"),
        ("RESET ROLE", "only SELECT"),
        ("SELECT 1 FROM agents WHERE 1 = 1 UNION SELECT set_config('a','b',false)", "set_config"),
    ])
    func rejectsHostileQueries(_ sql: String, _ reason: String) {
        do {
            _ = try guardian.check(sql)
            Issue.record("accepted: \(sql)")
        } catch {
            #expect(error.reason.contains(reason), "\(sql) → \(error.reason)")
        }
    }

    /// SQLite's `[name]` and `` `name` `` quoting: plain names are identifiers; content that
    /// would hide the rest of the statement from the guard (`[--]`, `[/*]`, quotes, `;`) is refused.
    @Test(arguments: [
        "SELECT [submission_id], `score` AS `best score` FROM [agents] WHERE [status] = 'completed'",
        "SELECT 1 AS \"--\", 2 AS \"/*\"",
        "SELECT a[1], ARRAY[1, 2], b[1:2] FROM t",
        "SELECT [count](*) FROM agents",
    ])
    func acceptsQuotedIdentifiers(_ sql: String) throws {
        _ = try guardian.check(sql)
    }

    @Test(arguments: [
        ("SELECT 1 AS [--], * FROM (VALUES (1)) a, (VALUES (2)) b); DELETE FROM agents", "comment markers"),
        ("SELECT 1 AS [--]", "comment markers"),
        ("SELECT 1 AS [/*], 2 */", "comment markers"),
        ("SELECT 1 AS [a'], 'b]'", "quotes"),
        ("SELECT 1 AS [x;]", "';'"),
        ("SELECT 1 AS [x", "unterminated '['"),
        ("SELECT 1 AS `--`, * FROM agents); SELECT 2", "comment markers"),
        ("SELECT 1 AS `a'b`", "quotes"),
        ("SELECT [randomblob](10)", "function 'randomblob'"),
        ("SELECT `load_extension`('x')", "function 'load_extension'"),
        ("SELECT * FROM [sqlite_master]", "system catalogs"),
        ("SELECT * FROM `sqlite_master`", "system catalogs"),
        ("SELECT a[pg_sleep(1)] FROM t", "system catalogs"),
        ("SELECT a[set_config('role', 'x', true)] FROM t", "quotes"),
        ("SELECT 1 AS \"--\", 2); DELETE FROM agents", "one statement"),
    ])
    func refusesIdentifiersThatHideText(_ sql: String, _ reason: String) {
        do {
            _ = try guardian.check(sql)
            Issue.record("accepted: \(sql)")
        } catch {
            #expect(error.reason.contains(reason), "\(sql) → \(error.reason)")
        }
    }

    @Test func enforcesTheLengthLimit() {
        let long = "SELECT '" + String(repeating: "x", count: 20_000) + "'"
        #expect(throws: QueryRejection.self) { try QueryGuard(maxLength: 16_384).check(long) }
    }
}
