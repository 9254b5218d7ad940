import Dashboards
import Foundation
import Logging
import PoolServer
import Store

/// `evalnet-bench dashboard [--miners 10000] [--windows 100] [--renders 30]`: the pool's
/// `GET /dashboard` at scale, on a fresh SQLite file: `miners` miners each with a reputation row
/// in each of `windows` windows, 100 scored candidates and one result (a new SOTA) per window,
/// 1,000 leases per window. Prints the time of one page: data gathering (the same
/// `PoolDashboard.gather` the route runs, and each store call in it) and rendering.
func runDashboardBenchmarks(miners: Int, windows: Int, renders: Int) async throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-bench-dashboard-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let db = try await openDatabase(.sqlite(path: dir.appendingPathComponent("pool.db").path), logger: logger)
    let store = PoolStore(db: db, rules: PoolConfig().rules, algorithms: AlgorithmCatalog())
    let now = Date().timeIntervalSince1970
    try await store.prepare(now: now)
    let clock = ContinuousClock()
    let loadStart = clock.now
    try await preloadDashboardHistory(store: store, miners: miners, windows: windows, now: now)
    print(String(format: "dashboard.preload %d miners, %d windows (%d reputation rows) written in %.1f s", miners, windows,
                 miners * windows, (clock.now - loadStart).inSeconds))

    func time(_ body: () async throws -> Void) async rethrows -> Double {
        let start = clock.now
        try await body()
        return (clock.now - start).inSeconds * 1000
    }
    // CPU time of this process (the machine may be shared: wall time then counts others' work).
    var cpuGather: [Double] = [], cpuRender: [Double] = []
    // Warm-up (statement caches, template parsing), then `renders` measured pages.
    _ = try PoolDashboardView(try await PoolDashboard.gather(store: store, now: now)).renderPage()
    var gather: [Double] = [], render: [Double] = [], total: [Double] = []
    var parts: [String: [Double]] = [:]
    var bytes = 0
    for _ in 0..<renders {
        var input = PoolDashboardInput()
        let c0 = processCPUMilliseconds()
        let g = try await time { input = try await PoolDashboard.gather(store: store, now: now) }
        let c1 = processCPUMilliseconds()
        var html = ""
        let r = try await time { html = try PoolDashboardView(input).renderPage() }
        cpuGather.append(c1 - c0)
        cpuRender.append(processCPUMilliseconds() - c1)
        bytes = html.utf8.count
        gather.append(g)
        render.append(r)
        total.append(g + r)
        parts["monitor_summary", default: []].append(try await time { _ = try await store.monitorSummary(now: now) })
        parts["leaderboard", default: []].append(
            try await time { _ = try await store.leaderboard(limit: PoolDashboard.leaderboardRows, now: now) })
        parts["result_history", default: []].append(try await time { _ = try await store.resultHistory() })
        let first = Int64(store.clock.number(at: now)) - PoolDashboard.historyWindows + 1
        parts["consensus_per_window", default: []].append(try await time { _ = try await store.consensusPerWindow(from: first) })
    }
    // As the route serves it: viewers within `snapshotMaxAge` of a gathering share it.
    let snapshots = DashboardSnapshots<PoolDashboardInput>(maxAge: PoolDashboard.snapshotMaxAge)
    _ = try await snapshots.value { try await PoolDashboard.gather(store: store, now: now) }
    var served: [Double] = []
    for _ in 0..<renders {
        served.append(try await time {
            _ = try PoolDashboardView(try await snapshots.value { try await PoolDashboard.gather(store: store, now: now) }).renderPage()
        })
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    func p95(_ xs: [Double]) -> Double { xs.sorted()[min(xs.count - 1, Int(Double(xs.count) * 0.95))] }
    let label = "\(miners) miners, \(windows) windows"
    print(String(format: "dashboard.pool_page[%@] median %.1f ms (gather %.1f ms + render %.1f ms), p95 %.1f ms, %d renders, %d KiB",
                 label, median(total), median(gather), median(render), p95(total), renders, bytes / 1024))
    print(String(format: "dashboard.pool_page_cpu[%@] median %.1f ms (gather %.1f ms + render %.1f ms) of this process's CPU",
                 label, median(zip(cpuGather, cpuRender).map(+)), median(cpuGather), median(cpuRender)))
    print(String(format: "dashboard.pool_page_served[%@] median %.1f ms (shared snapshot younger than %.0f s + render)",
                 label, median(served), PoolDashboard.snapshotMaxAge.inSeconds))
    for name in parts.keys.sorted() {
        print(String(format: "dashboard.gather.%@ median %.1f ms", name, median(parts[name] ?? [0])))
    }
    await db.shutdown()
}


/// Writes the history: miners, their reputation in every window, scored candidates, one SOTA
/// result per window (rising), and leases (the last window's within the last 15 minutes).
func preloadDashboardHistory(store: PoolStore, miners: Int, windows: Int, now: Double) async throws {
    let current = Int64(store.clock.number(at: now))
    let length = store.clock.lengthSeconds, origin = store.clock.origin
    @Sendable func series(_ n: Int) -> String { "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(n - 1))" }
    try await store.db.transaction { tx in
        try await tx.execute(
            """
            INSERT INTO miners (hotkey, registered_at, last_seen_at, evaluations_submitted, evolutions_submitted)
            \(series(miners)) SELECT 'dash-miner-' || i, ?, ? - (i % 7200), i % 500, i % 50 FROM n
            """, [.double(now - 86_400 * 30), .double(now)])
        for back in 0..<windows {
            let w = current - Int64(back)
            try await tx.execute(
                """
                INSERT INTO reputation (miner, window_number, evaluator_points, evolver_points, agreements, disagreements, reward)
                \(series(miners)) SELECT 'dash-miner-' || i, ?, (i % 97) * 0.1, 0, i % 13, i % 3, ((i * 7 + ?) % 101) * 0.01 FROM n
                """, [.int(w), .int(Int64(back))])
            try await tx.execute(
                """
                INSERT INTO algorithms (task_type, input_dim, dsl, dsl_hash, parent_ids, author, origin, window_created, status,
                  eval_count, consensus_score, consensus_window, created_at)
                \(series(100)) SELECT 'scalar_linear', 16, '# dash ' || ? || ' ' || i, 'dash-hash-' || ? || '-' || i, '',
                  'dash-miner-' || i, 'evolution', ?, 'scored', 3, 0.1 + i * 0.004 - ? * 0.001, ?, ? FROM n
                """, [.int(w), .int(w), .int(w), .int(Int64(back)), .int(w), .double(origin + Double(w) * length + 60)])
            try await tx.execute(
                """
                INSERT INTO results (algorithm_id, task_type, score, miner, status, created_at)
                SELECT id, task_type, consensus_score + 0.2, author, 'completed', created_at FROM algorithms
                WHERE dsl_hash = 'dash-hash-' || ? || '-99'
                """, [.int(w)])
            try await tx.execute(
                """
                INSERT INTO assignments (id, miner, kind, task_type, window_number, evolve_budget, issued_at, timeout_at, status,
                  iterations, completed_at, evaluations_count)
                \(series(1000)) SELECT 'dash-lease-' || ? || '-' || i, 'dash-miner-' || ((i * 10 + ?) % \(miners)), 'lease',
                  'scalar_linear', ?, 1, ?, ?, 'completed', 1, ?, i % 5 FROM n
                """, [.int(w), .int(Int64(back)), .int(w), .double(now - Double(back) * length - 600),
                      .double(now - Double(back) * length), .double(now - Double(back) * length - 300)])
        }
        let best = try await tx.queryOne(
            "SELECT id, algorithm_id, score, created_at FROM results ORDER BY score DESC, id LIMIT 1", [])
        if let best {
            try await tx.execute(
                """
                INSERT INTO sota (task_type, score, result_id, algorithm_id, updated_at) VALUES ('scalar_linear', ?, ?, ?, ?)
                ON CONFLICT (task_type) DO UPDATE SET score = excluded.score, result_id = excluded.result_id,
                  algorithm_id = excluded.algorithm_id, updated_at = excluded.updated_at
                """, [.double(try best.double("score")), .int(try best.int("id")), .int(try best.int("algorithm_id")),
                      .double(try best.double("created_at"))])
        }
    }
}
