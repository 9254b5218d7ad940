import AlgorithmDSL
import Foundation
import Hotkeys
import Logging
import Miner
import MinerEngine
import PoolAPI
import PoolServer
import ServiceKit
import Store

/// `evalnet-bench search`: a pool (held-out check on) with `miners` real `MinerLoop`s mining
/// `scalar_linear` for `minutes`; every minute the search rate and the SOTA's consensus,
/// held-out and unseen scores beside the tuned-LMS baseline on the same unseen tasks. Unseen
/// tasks come from a third seed and share no task with the public suite, the pool's held-out
/// suite or the miners' search and selection suites. Then the engine's candidates per second per
/// core with FEC + hurdles and without, measured back to back in the same run.
struct SearchBenchPlan: Sendable {
    var minutes = 5.0
    var miners = 4
    var jobs = 1
    var unseenTasks = 32
    var heldOutSeed = 271_828
    var unseenSeed = 314_159
    var compareSeconds = 20.0
}

/// LMS with learning rate `rate` (as written in the program's text): the program every bench
/// uses where it needs a learner a real miner would send.
func lmsProgram(rate: String) -> String {
    "# setup\ns2 = \(rate)\n# predict\ns0 = dot(v1, v0)\n# learn\ns3 = s1 - s0\ns3 = s3 * s2\nv2 = s3 * v0\nv1 = v1 + v2"
}

func runSearchBenchmark(plan: SearchBenchPlan) async throws {
    let taskType = "scalar_linear"
    var logger = Logger(label: "bench.search")
    logger.logLevel = .error
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-bench-search-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    var config = PoolConfig()
    config.port = 0
    config.database = "sqlite:" + dir.appendingPathComponent("pool.db").path
    config.heldOutSeed = plan.heldOutSeed
    let rules = config.rules
    let stopper = ServiceStopper()
    let server = try await launchServer { [config, logger] ready in
        try await runPool(config: config, algorithms: AlgorithmCatalog(), logger: logger, stopper: stopper, onReady: ready)
    }
    let url = "http://127.0.0.1:\(server.port)"

    // The suites: public, the pool's held-out, the miners' search and selection, and unseen.
    let minerDefaults = MinerOptions()
    let publicConfig = SuiteConfig()
    let heldOutConfig = try SuiteConfig.disjoint(taskType: taskType, seed: plan.heldOutSeed, count: rules.heldOutTasks,
                                                 samples: rules.heldOutSamples, excluding: [publicConfig])
    let searchConfig = try Selection.searchSuite(public: publicConfig, taskType: taskType,
                                                 extraTasks: minerDefaults.searchExtraTasks, seed: minerDefaults.searchSeed)
    let selectionConfig = try SuiteConfig.disjoint(taskType: taskType, seed: minerDefaults.selectionSeed,
                                                   count: minerDefaults.selectionTasks, excluding: [publicConfig, searchConfig])
    let unseenConfig = try SuiteConfig.disjoint(taskType: taskType, seed: plan.unseenSeed, count: plan.unseenTasks,
                                                excluding: [publicConfig, heldOutConfig, searchConfig, selectionConfig])
    let publicSuite = try Evaluator(taskType: taskType, config: publicConfig)
    let unseen = try Evaluator(taskType: taskType, config: unseenConfig)

    // Tuned LMS: the learning rate that scores best on the public suite (0.005 steps).
    var tuned = (lr: 0.0, publicScore: -Double.infinity, dsl: "")
    for step in 1...60 {
        let lr = Double(step) * 0.005
        let dsl = lmsProgram(rate: String(format: "%.3f", lr))
        let s = publicSuite.score(dsl: dsl)
        if s > tuned.publicScore { tuned = (lr, s, dsl) }
    }
    let tunedUnseen = unseen.score(dsl: tuned.dsl)
    let seedLMS = unseen.score(dsl: lmsProgram(rate: "0.05"))
    print(String(format: "search: %d miners × %d job(s), %.0f min, pool held-out %d tasks (secret seed), unseen %d tasks (seed %d)",
                 plan.miners, plan.jobs, plan.minutes, rules.heldOutTasks, plan.unseenTasks, plan.unseenSeed))
    print(String(format: "search.baseline tuned LMS lr %.3f: public %.4f unseen %.4f | LMS seed lr 0.05: unseen %.4f",
                 tuned.lr, tuned.publicScore, tunedUnseen, seedLMS))
    print("search: timings share 2 cores with whatever else runs on the machine; scores do not depend on it")

    let counters = SearchCounters()
    let seconds = plan.minutes * 60
    let miners = (0..<plan.miners).map { i -> (PoolClient, MinerOptions) in
        var options = MinerOptions()
        options.workers = plan.jobs
        options.durationSeconds = seconds
        options.counters = counters
        options.randomSeed = UInt64(1000 + i)
        return (PoolClient(baseURL: url, keypair: .generate()), options)
    }
    let observer = PoolClient(baseURL: url, keypair: .generate())
    _ = try await observer.register()
    let stop = StopSignal()
    let minerTask = Task {
        await withTaskGroup(of: Void.self) { group in
            for (client, options) in miners {
                group.addTask {
                    _ = try? await MinerLoop(client: client, options: options, output: { _ in }).run(stop: stop)
                }
            }
        }
    }

    var unseenCache: [String: Double] = [:]
    func unseenScore(_ dsl: String) -> Double {
        if let s = unseenCache[dsl] { return s }
        let s = unseen.score(dsl: dsl)
        unseenCache[dsl] = s
        return s
    }
    func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
    func f(_ x: Double?) -> String { x.map { $0.isFinite ? String(format: "%.4f", $0) : "-inf" } ?? "-" }
    print("minute | lease evals/s | candidates/s (generations) | engine runs/s | FEC hits | hurdle stops | SOTA consensus | SOTA held-out | SOTA unseen | tuned LMS unseen")
    let clock = ContinuousClock()
    let started = clock.now
    var previous = counters.totals
    var previousAt = started
    var lastSOTAUnseen: Double?
    for minute in 1...max(1, Int(plan.minutes.rounded(.up))) {
        let target = started + .seconds(Double(minute) * 60)
        while clock.now < target { try await Task.sleep(for: .milliseconds(500)) }
        let now = clock.now
        let totals = counters.totals
        let dt = (now - previousAt) / .milliseconds(1) / 1000
        let sota = try? await observer.sota(taskType: taskType)
        var sotaUnseen: Double?
        if let id = sota?.resultId {
            let completed = (try? await observer.results(status: "completed", taskType: taskType, limit: 200))?.results ?? []
            if let record = completed.first(where: { $0.id == id }) { sotaUnseen = unseenScore(record.algorithmDsl) }
        }
        lastSOTAUnseen = sotaUnseen ?? lastSOTAUnseen
        let generations = totals.generations - previous.generations
        let rates = String(format: "%6d | %13.1f | %26.1f | %13.1f | %8d | %12d",
                           minute, Double(totals.leaseEvaluations - previous.leaseEvaluations) / dt, Double(generations) / dt,
                           Double(totals.evaluations - previous.evaluations) / dt,
                           totals.functionalCacheHits - previous.functionalCacheHits, totals.hurdleStops - previous.hurdleStops)
        print("\(rates) | \(pad(f(sota?.sotaThreshold), 14)) | \(pad(f(sota?.heldOutScore), 13)) | \(pad(f(sotaUnseen), 11)) | \(f(tunedUnseen))")
        previous = totals
        previousAt = now
    }
    stop.request()
    _ = await minerTask.value

    // Every SOTA in order (each completed result replaced the one before it).
    let history = ((try? await observer.results(status: "completed", taskType: taskType, limit: 200).results) ?? [])
        .sorted { $0.id < $1.id }
    var regressions = 0
    var prior: Double?
    print("search.sota_history (result id: consensus / held-out / unseen)")
    for r in history {
        let u = unseenScore(r.algorithmDsl)
        let mark = prior.map { u < $0 ? "  <- lower unseen than the SOTA it replaced" : "" } ?? ""
        if let p = prior, u < p { regressions += 1 }
        print("  \(r.id): \(f(r.score)) / \(f(r.heldOutScore)) / \(f(u))\(mark)")
        prior = u
    }
    print(String(format: "search.summary SOTA unseen %@ vs tuned LMS unseen %@ (%@); SOTA replacements %d, with lower unseen score %d",
                 f(lastSOTAUnseen), f(tunedUnseen),
                 (lastSOTAUnseen ?? -.infinity) >= tunedUnseen ? "at or above the baseline" : "below the baseline",
                 max(0, history.count - 1), regressions))
    if let best = history.last {
        print("search.sota_dsl\n\(best.algorithmDsl)")
    }
    // Candidates the held-out gate refused: consensus above the SOTA of their time, no result.
    if let db = try? await openDatabase(.sqlite(path: dir.appendingPathComponent("pool.db").path), logger: logger) {
        let refused = (try? await db.query(
            """
            SELECT a.dsl, a.consensus_score, a.held_out_score, a.sota_before FROM algorithms a
            WHERE a.status = 'scored' AND a.sota_before IS NOT NULL AND a.consensus_score > a.sota_before
              AND NOT EXISTS (SELECT 1 FROM results r WHERE r.algorithm_id = a.id)
            """, [])) ?? []
        let scored = (try? await db.queryOne("SELECT COUNT(*) AS n FROM algorithms WHERE status = 'scored'", [])?.int("n")) ?? 0
        var lowerUnseen = 0
        for row in refused {
            guard let dsl = try? row.string("dsl") else { continue }
            if unseenScore(dsl) < (prior ?? -.infinity) { lowerUnseen += 1 }
        }
        print("search.gate \(scored) candidates reached consensus; \(refused.count) beat the SOTA of their time on consensus but were refused by the held-out check; \(lowerUnseen) of those score below the final SOTA on the unseen tasks")
        await db.shutdown()
    }
    await observer.shutdown()
    for (client, _) in miners { await client.shutdown() }
    await stopper.stop()
    _ = await server.task.result
    try? FileManager.default.removeItem(at: dir)

    // Engine speed per core, FEC + hurdles vs plain, from the pool's seeds on the search suite.
    let search = try Evaluator(taskType: taskType, config: searchConfig)
    let seeds = seedAlgorithms(taskType: taskType)
    var rates: [String: [Double]] = [:]
    var bests: [String: Double] = [:]
    for round in 0..<2 {
        for (name, options) in [("plain", SearchOptions.plain), ("fec+hurdles", SearchOptions.fast)] {
            var evolver = try Evolver(taskType: taskType, evaluator: search, seed: UInt64(77 + round), seedDSLs: seeds,
                                      options: options)
            let t0 = clock.now
            var last = evolver.run(generations: 0)
            while (clock.now - t0) / .milliseconds(1) < plan.compareSeconds * 500 { last = evolver.run(generations: 50) }
            let secs = (clock.now - t0) / .milliseconds(1) / 1000
            rates[name, default: []].append(Double(last.totalGenerations) / secs)
            bests[name] = max(bests[name] ?? -.infinity, last.bestScore)
            print(String(format: "search.engine[%@] round %d: %.0f candidates/s on one core, %d engine runs for %d candidates (FEC hits %d, hurdle stops %d), best %.4f",
                         name, round + 1, Double(last.totalGenerations) / secs, last.evaluations, last.totalGenerations,
                         last.functionalCacheHits, last.hurdleStops, last.bestScore))
        }
    }
    let plain = rates["plain"].map { $0.reduce(0, +) / Double($0.count) } ?? .nan
    let fast = rates["fec+hurdles"].map { $0.reduce(0, +) / Double($0.count) } ?? .nan
    print(String(format: "search.engine candidates/s per core: plain %.0f, fec+hurdles %.0f (×%.2f)", plain, fast, fast / plain))
}
