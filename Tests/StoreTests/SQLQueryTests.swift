import Foundation
@testable import Store
import TestSupport
import Testing

@Suite("Interpolated statements")
struct SQLQueryTests {
    /// A stored double reads as an integer only when it is one and fits Int64; any other is
    /// a type mismatch, never a trap (SQLite keeps 1e300 in an INTEGER column as given).
    @Test func aDoubleReadsAsAnIntegerOnlyWhenExactlyOne() throws {
        func read(_ v: Double) throws -> Int64 { try SQLRow(columns: ["n"], values: [.double(v)]).int("n") }
        #expect(try read(3) == 3)
        #expect(try read(-9.007199254740992e15) == -9_007_199_254_740_992)
        for bad in [2.5, 1e300, -1e300, 9.223372036854775808e18, .infinity, .nan] {
            #expect(throws: StoreError.self, "\(bad)") { try read(bad) }
        }
    }

    @Test func everyValueBecomesAPlaceholderWithItsBindInOrder() {
        let name = "x' OR '1'='1"
        let ids: [Int64] = [3, 1, 2]
        let lock = " FOR UPDATE"
        let q: SQLQuery = "SELECT * FROM t WHERE name = \(name) AND id IN (\(list: ids)) AND w > \(0.5)\(sql: lock)"
        #expect(q.sql == "SELECT * FROM t WHERE name = ? AND id IN (?,?,?) AND w > ? FOR UPDATE")
        #expect(q.binds == [.text(name), .int(3), .int(1), .int(2), .double(0.5)])
    }

    @Test func postgresTextNumbersPlaceholdersAndTellsWhichLimitStatementsMayRunNamed() {
        let plain = numberPlaceholders("SELECT * FROM t WHERE a = ? AND b = '?' AND c = ?")
        #expect(plain.text == "SELECT * FROM t WHERE a = $1 AND b = '?' AND c = $2" && !plain.unhintedLimit)
        let limited = numberPlaceholders("SELECT * FROM t ORDER BY id LIMIT ?")
        #expect(limited.text == "SELECT * FROM t ORDER BY id LIMIT $1" && limited.unhintedLimit)
        let hinted = numberPlaceholders("\(StatementHint.planOnce) SELECT * FROM t ORDER BY id LIMIT ?")
        #expect(!hinted.unhintedLimit)
        // The hint counts only where it leads the text.
        #expect(numberPlaceholders("SELECT 1 \(StatementHint.planOnce) LIMIT 1").unhintedLimit)
        #expect(NamedStatement.suits(limited, values: 1) == false && NamedStatement.suits(hinted, values: 1))
        #expect(NamedStatement.suits(plain, values: NamedStatement.maxValues)
            && !NamedStatement.suits(plain, values: NamedStatement.maxValues + 1))
        #expect(numberPlaceholders("SELECT 'xxLIMI'").unhintedLimit == false)
        #expect(numberPlaceholders("LIMIT").unhintedLimit)
        // A per-row probe's LIMIT picks no top rows; a statement's own LIMIT still counts.
        let probe = "SELECT a FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.a = t.a\(StatementHint.perRowProbe))"
        #expect(!numberPlaceholders(probe).unhintedLimit)
        #expect(numberPlaceholders(probe + " ORDER BY a LIMIT 4").unhintedLimit)
    }

    @Test func rowsOptionalsAndFragmentsKeepTheirBinds() {
        let missing: String? = nil
        let inner: SQLQuery = "a = \(Int64(7))"
        let q: SQLQuery = "INSERT INTO t VALUES \(rows: [[.int(1), .text("a")], [.int(2), .text("b")]]) -- \(missing) \(inner) \(true)"
        #expect(q.sql == "INSERT INTO t VALUES (?,?),(?,?) -- ? a = ? ?")
        #expect(q.binds == [.int(1), .text("a"), .int(2), .text("b"), .null, .int(7), .int(1)])
    }

    @Test(arguments: TestDatabases.available)
    func aQuoteInAValueStaysData(_ backend: Backend) async throws {
        try await TestDatabases.withFresh(backend) { db in
            try await db.migrate([Migration(version: 1, name: "t", portable: ["CREATE TABLE t (id {{pk}}, name TEXT NOT NULL)"])],
                                 component: "q")
            let hostile = "it's ?; DROP TABLE t; --"
            try await db.transaction { tx in
                try await tx.fetch("INSERT INTO t (name) VALUES \(rows: [[.text(hostile)], [.text("plain")]])")
            }
            let found = try await db.fetch("SELECT name FROM t WHERE name IN (\(list: [hostile, "nobody"])) ORDER BY id")
            #expect(try found.map { try $0.string("name") } == [hostile])
            #expect(try await db.fetchOne("SELECT COUNT(*) AS n FROM t")?.int("n") == 2)
        }
    }
}
