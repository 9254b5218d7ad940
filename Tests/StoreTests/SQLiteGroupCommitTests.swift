import Foundation
import Synchronization
import Testing
import TestSupport

@testable import Store

/// Group commit on the SQLite writer: a transaction that ends while another caller waits for
/// the writer leaves the SQLite transaction open for it, and its caller hears back only when
/// the group commits; a member that throws takes back only its own changes.
@Suite struct SQLiteGroupCommitTests {
    /// What the two transactions observed, by name.
    final class Flags: Sendable {
        private let values = Mutex<[String: Bool]>([:])
        func set(_ name: String, _ value: Bool) { values.withLock { $0[name] = value } }
        func seen(_ name: String) -> Bool? { values.withLock { $0[name] } }
    }

    /// Runs `first` (which inserts 'a') so that it ends while `second` is queued for the
    /// writer, then `second`; returns both outcomes.
    static func runPair(_ db: SQLiteStore, flags: Flags, secondThrows: Bool) async -> (first: Bool, second: Bool) {
        struct Boom: Error {}
        let (entered, enteredGo) = AsyncStream.makeStream(of: Void.self)
        let first = Task {
            try await db.transaction { tx in
                try await tx.execute("INSERT INTO t (name) VALUES ('a')")
                enteredGo.yield()
                // Ends only once the second transaction waits for the writer.
                while !db.writerHasWaiters { try await Task.sleep(for: .milliseconds(1)) }
            }
            flags.set("firstReturned", true)
        }
        for await _ in entered { break }
        let second = Task {
            try await db.transaction { tx in
                // Time enough for the first caller to return, had it committed on its own.
                try await Task.sleep(for: .milliseconds(100))
                flags.set("secondSawFirstReturned", flags.seen("firstReturned") ?? false)
                // A reader sees committed state only; this transaction sees the group's.
                flags.set("readerSawFirst", try await db.queryOne("SELECT COUNT(*) AS n FROM t WHERE name = 'a'")?.int("n") == 1)
                flags.set("writerSawFirst", try await tx.queryOne("SELECT COUNT(*) AS n FROM t WHERE name = 'a'")?.int("n") == 1)
                try await tx.execute("INSERT INTO t (name) VALUES ('b')")
                if secondThrows { throw Boom() }
            }
        }
        let firstOK = (try? await first.value) != nil
        let secondOK = (try? await second.value) != nil
        return (firstOK, secondOK)
    }

    static func open() async throws -> SQLiteStore {
        let db = try #require(try await TestDatabases.fresh(.sqlite) as? SQLiteStore)
        try await db.execute("CREATE TABLE t (name TEXT NOT NULL UNIQUE)")
        return db
    }

    @Test(.timeLimit(.minutes(1))) func aCallerHearsBackOnlyWhenItsGroupHasCommitted() async throws {
        let db = try await Self.open()
        let flags = Flags()
        let (first, second) = await Self.runPair(db, flags: flags, secondThrows: false)
        #expect(first && second)
        // The second ran inside the first's SQLite transaction: it saw 'a', a reader did not,
        // and the first caller was still waiting for the commit.
        #expect(flags.seen("writerSawFirst") == true)
        #expect(flags.seen("readerSawFirst") == false)
        #expect(flags.seen("secondSawFirstReturned") == false)
        let names = try await db.query("SELECT name FROM t ORDER BY name", []).map { try $0.string("name") }
        #expect(names == ["a", "b"])
        await db.shutdown()
    }

    /// A transaction's code runs on the store's writer thread, concurrent ones one after
    /// another on it; the caller goes on elsewhere once it returns.
    @Test(.timeLimit(.minutes(1))) func transactionsRunOnTheWriterThread() async throws {
        #if os(Linux)
        let db = try await Self.open()
        @Sendable func threadName() -> String {
            ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await db.transaction { tx in
                        try await tx.execute("INSERT INTO t (name) VALUES (?)", [.text("n\(i)")])
                        return threadName()
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(names == Array(repeating: "sqlite-writer", count: 8))
        #expect(threadName() != "sqlite-writer")
        #expect(try await db.queryOne("SELECT COUNT(*) AS n FROM t")?.int("n") == 8)
        await db.shutdown()
        #endif
    }

    @Test(.timeLimit(.minutes(1))) func aMemberThatThrowsTakesBackOnlyItsOwnChanges() async throws {
        let db = try await Self.open()
        let flags = Flags()
        let (first, second) = await Self.runPair(db, flags: flags, secondThrows: true)
        #expect(first && !second)
        let names = try await db.query("SELECT name FROM t ORDER BY name", []).map { try $0.string("name") }
        #expect(names == ["a"])
        await db.shutdown()
    }

    /// Many writers at once, every fifth failing after its write (a constraint violation or
    /// a thrown error): every successful one is visible to a reader as soon as its caller
    /// hears back, and no failed one left anything.
    @Test(.timeLimit(.minutes(1))) func concurrentMembersCommitExactlyTheirOwnWrites() async throws {
        struct Boom: Error {}
        let db = try await Self.open()
        try await db.execute("INSERT INTO t (name) VALUES ('taken')")
        // Each task: (its transaction succeeded, its row was visible to a reader on return).
        let outcomes = try await withThrowingTaskGroup(of: (Bool, Bool).self) { group in
            for i in 0..<300 {
                group.addTask {
                    do {
                        try await db.transaction { tx in
                            try await tx.execute("INSERT INTO t (name) VALUES (?)", [.text("n\(i)")])
                            if i % 10 == 4 { try await tx.execute("INSERT INTO t (name) VALUES ('taken')") }
                            if i % 10 == 9 { throw Boom() }
                        }
                    } catch {
                        return (false, false)
                    }
                    return (true, try await db.queryOne("SELECT name FROM t WHERE name = ?", [.text("n\(i)")]) != nil)
                }
            }
            return try await group.reduce(into: [(Bool, Bool)]()) { $0.append($1) }
        }
        #expect(outcomes.filter(\.0).count == 240)
        #expect(outcomes.filter(\.1).count == 240)
        let rows: [String] = try await db.query("SELECT name FROM t WHERE name <> 'taken'", []).map { try $0.string("name") }
        let kept: [Int] = (0..<300).filter { $0 % 10 != 4 && $0 % 10 != 9 }
        #expect(Set(rows) == Set(kept.map { "n\($0)" }))
        await db.shutdown()
    }
}

/// Checkpoints run beside the writer (SQLite's own checkpoint on commit is off): once the WAL
/// passes its limit, its pages reach the database file without any caller checkpointing.
@Suite struct SQLiteCheckpointTests {
    @Test(.timeLimit(.minutes(1))) func theWALReachesTheDatabaseFileWithoutACallerCheckpointing() async throws {
        let db = try #require(try await TestDatabases.fresh(.sqlite) as? SQLiteStore)
        try await db.execute("CREATE TABLE b (v BLOB NOT NULL)")
        func fileSize() -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: db.path)[.size]) as? NSNumber)?.intValue ?? 0
        }
        let before = fileSize()
        // About 1,500 pages of WAL, one commit each.
        for i in 0..<1_500 {
            try await db.execute("INSERT INTO b (v) VALUES (?)", [.blob([UInt8](repeating: UInt8(i % 251), count: 4_000))])
        }
        var grown = fileSize() - before
        for _ in 0..<500 where grown < 3_000_000 {
            try await Task.sleep(for: .milliseconds(20))
            grown = fileSize() - before
        }
        #expect(grown >= 3_000_000)
        #expect(try await db.queryOne("SELECT COUNT(*) AS n FROM b")?.int("n") == 1_500)
        await db.shutdown()
    }

    /// Writers that always keep a group open (so a checkpoint beside them never finishes the
    /// WAL) and readers at the same time: the WAL still starts over now and then, so its file
    /// stays far below the 80 MB written through it.
    @Test(.timeLimit(.minutes(2))) func theWALStartsOverUnderConstantWrites() async throws {
        let db = try #require(try await TestDatabases.fresh(.sqlite) as? SQLiteStore)
        try await db.execute("CREATE TABLE b (k BIGINT PRIMARY KEY, v BLOB NOT NULL)")
        let walPath = db.path + "-wal"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<16 {
                group.addTask {
                    for i in 0..<1_250 {
                        try await db.execute("INSERT INTO b (k, v) VALUES (?, ?)",
                                             [.int(Int64(w * 10_000 + i)), .blob([UInt8](repeating: UInt8(i % 251), count: 4_000))])
                        if i % 50 == 0 { _ = try await db.queryOne("SELECT COUNT(*) AS n FROM b WHERE k = ?", [.int(Int64(i))]) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let wal = ((try? FileManager.default.attributesOfItem(atPath: walPath)[.size]) as? NSNumber)?.intValue ?? 0
        #expect(wal < 40_000_000, "WAL file \(wal) bytes after 80 MB written")
        #expect(try await db.queryOne("SELECT COUNT(*) AS n FROM b")?.int("n") == 20_000)
        await db.shutdown()
    }
}
