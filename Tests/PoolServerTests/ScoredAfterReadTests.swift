import Foundation
@testable import PoolServer
import Store
import TestSupport
import Testing

/// A consensus checks whether the author already has evolutions scored later in the window
/// (`PoolStore.scoredAfter`: consensus out of id order). That read must count the ones after
/// the given id and read only those, whatever number of the author's evolutions came before
/// it in the window: a window is an hour of a busy miner's evolutions.
@Suite struct ScoredAfterReadTests {
    @Test(arguments: TestDatabases.available)
    func theLaterCountReadsOnlyWhatComesAfter(_ backend: Backend) async throws {
        let h = try await PoolHarness.make(backend)
        do {
            let author = "5ScoredAfterAuthor0000000000000000000000000000", window: Int64 = 7
            func insert(_ n: Int, author: String, consensusWindow: Int64?) async throws {
                try await h.db.execute(
                    """
                    INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, author, origin, window_created, status,
                      consensus_window, created_at)
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(n))
                    SELECT 'scalar_linear', 4, 'program', 'hash-' || i, ?, 'evolution', 6, 'scored', ?, 0 FROM n
                    """, [.text(author), consensusWindow.map { .int($0) } ?? .null])
            }
            // 4,000 of the author's evolutions scored in the window before `first`, others'
            // and unscored ones beside them; then, after `first`, three in the window (counted)
            // and one each in the windows on either side (not counted).
            try await insert(4000, author: author, consensusWindow: window)
            try await insert(500, author: "5SomeoneElse", consensusWindow: window)
            try await insert(500, author: author, consensusWindow: nil)
            let first = try #require(try await h.db.fetchOne("SELECT MAX(id) AS id FROM algorithms")?.int("id"))
            try await insert(3, author: author, consensusWindow: window)
            try await insert(1, author: author, consensusWindow: window + 1)
            try await insert(1, author: author, consensusWindow: window - 1)
            try await h.db.execute("ANALYZE")

            let condition = PoolStore.scoredAfter(h.db.dialect, .init(miner: author, window: window), first)
            let count = try await h.db.fetchOne("SELECT COUNT(*) AS n FROM algorithms WHERE \(condition)")?.int("n")
            #expect(count == 3)

            switch h.db.dialect {
            case .postgres:
                // The whole read, index and table: a few pages, not the ~40 index pages of the
                // author's 4,000 earlier entries.
                let plan = try await h.db.fetch("EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*) AS n FROM algorithms WHERE \(condition)")
                    .map { try $0.string("QUERY PLAN") }
                let buffers = try #require(plan.first { $0.contains("Buffers: shared") }, "\(plan)")
                let pages = buffers.split(separator: " ").compactMap { part -> Int? in
                    guard let eq = part.firstIndex(of: "=") else { return nil }
                    return Int(part[part.index(after: eq)...])
                }.reduce(0, +)
                #expect(pages > 0 && pages <= 12, "\(plan.joined(separator: "\n"))")
            case .sqlite:
                let plan = try await h.db.fetch("EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM algorithms WHERE \(condition)")
                    .map { try $0.string("detail") }
                #expect(plan.contains { $0.contains("algorithms_author_window") && $0.contains("id>?") }, "\(plan)")
            }
        } catch {
            await h.db.shutdown()
            throw error
        }
        await h.db.shutdown()
    }
}
