/// # EvalnetBench
///
/// Owns the project's benchmarks: throughput figures measured outside the test suite
/// (tests never time anything). Run `swift run -c release evalnet-bench [suite ...]`.
import Foundation
import Hotkeys
import Logging
import ServiceKit
import Store

func measure(_ label: String, iterations: Int, _ body: () -> Void) {
    let clock = ContinuousClock()
    // Warm-up so one-time initialisation is not measured.
    for _ in 0..<max(1, iterations / 20) { body() }
    let elapsed = clock.measure {
        for _ in 0..<iterations { body() }
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let perSecond = Double(iterations) / seconds
    print(String(format: "%@ %.0f/s (%.1f µs/op, %d ops)", label, perSecond, seconds / Double(iterations) * 1e6, iterations))
}

func measureAsync(_ label: String, iterations: Int, _ body: (Int) async -> Void) async {
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<iterations { await body(i) }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(String(format: "%@ %.0f/s (%.1f µs/op, %d ops)", label, Double(iterations) / seconds,
                 seconds / Double(iterations) * 1e6, iterations))
}

/// The signed-request check as a service runs it: verify, then use the signature up in the
/// replay ledger (memory, SQLite file, and PostgreSQL when EVALNET_TEST_POSTGRES_URL is set).
/// Headers are signed beforehand so only the server side is measured.
func runSignedRequestBenchmarks() async throws {
    let keypair = SR25519Keypair.generate()
    let iterations = 3000
    let signed = (0..<iterations).map { _ in SignedRequest.headers(for: keypair) }
    func lookup(_ i: Int) -> (String) -> String? { { name in signed[i].first { $0.name == name }?.value } }
    var ledgers: [(String, any ReplayLedger, (any SQLDatabase)?)] = [("memory", MemoryReplayLedger(), nil)]
    let logger = Logger(label: "bench")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-bench-auth-\(UUID().uuidString)")
    let sqlite = try await openDatabase(.sqlite(path: dir.appendingPathComponent("ledger.db").path), logger: logger)
    ledgers.append(("sqlite", SQLReplayLedger(db: sqlite), sqlite))
    if let url = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"], !url.isEmpty {
        let pg = try await openDatabase(try DatabaseLocation.parse(url), logger: logger)
        try await pg.execute("DROP TABLE IF EXISTS used_signatures")
        try await pg.execute("DELETE FROM schema_migrations WHERE component = 'replay'")
        ledgers.append(("postgres", SQLReplayLedger(db: pg), pg))
    } else {
        print("auth.signed_request_check[postgres] skipped (set EVALNET_TEST_POSTGRES_URL)")
    }
    for (name, ledger, db) in ledgers {
        if let db { try await SQLReplayLedger.prepare(db) }
        let auth = RequestAuthenticator(ledger: ledger)
        var accepted = 0
        await measureAsync("auth.signed_request_check[\(name)]", iterations: iterations) { i in
            if (try? await auth.authenticate(header: lookup(i))) != nil { accepted += 1 }
        }
        var refused = 0
        await measureAsync("auth.replay_refusal[\(name)]", iterations: iterations) { i in
            if (try? await auth.authenticate(header: lookup(i))) == nil { refused += 1 }
        }
        precondition(accepted == iterations && refused == iterations, "every signature accepted once, then refused")
        await db?.shutdown()
    }
    try? FileManager.default.removeItem(at: dir)
}

func runHotkeyBenchmarks() {
    let keypair = SR25519Keypair.generate()
    let message = Array("auth:1700000000".utf8)
    let kib = (0..<1024).map { UInt8($0 & 0xFF) }
    let sig = keypair.sign(message)
    let sigKiB = keypair.sign(kib)
    let pk = keypair.publicKey
    var ok = true
    measure("sr25519.verify_15B", iterations: 5000) { ok = ok && pk.verify(signature: sig, message: message) }
    measure("sr25519.verify_1KiB", iterations: 2000) { ok = ok && pk.verify(signature: sigKiB, message: kib) }
    measure("sr25519.sign_15B", iterations: 5000) { _ = keypair.sign(message) }
    let headers = SignedRequest.headers(for: keypair)
    let auth = RequestAuthenticator()
    measure("auth.verify_headers", iterations: 3000) {
        ok = ok && (try? auth.verify(header: { name in headers.first { $0.name == name }?.value })) != nil
    }
    precondition(ok, "benchmark signatures must verify")
}

/// Suites named on the command line, and `--name value` options.
let (suites, options): (Set<String>, [String: String]) = {
    var suites = Set<String>(), options: [String: String] = [:]
    var args = CommandLine.arguments.dropFirst()
    while let arg = args.popFirst() {
        if arg.hasPrefix("--") { options[String(arg.dropFirst(2))] = args.popFirst() ?? "" } else { suites.insert(arg) }
    }
    return (suites, options)
}()
func option(_ name: String, _ fallback: Double) -> Double { options[name].flatMap(Double.init) ?? fallback }
func wants(_ name: String) -> Bool { suites.isEmpty || suites.contains(name) }
if wants("hotkeys") {
    runHotkeyBenchmarks()
    try await runSignedRequestBenchmarks()
}
if wants("dsl") { runDSLBenchmarks() }
if wants("pool") {
    var plan = PoolBenchPlan()
    plan.clients = Int(option("miners", 8))
    if options["minutes"] != nil {
        plan.seconds = option("minutes", 1) * 60
        plan.slice = option("slice", 60)
    } else {
        plan.seconds = option("seconds", 15)
        plan.slice = option("slice", 5)
    }
    plan.preloadEvaluations = Int(option("preload", 0))
    plan.replicas = Int(option("replicas", 1))
    if plan.replicas > 1 {
        try await runPoolReplicaBenchmarks(plan: plan)
    } else {
        try await runPoolBenchmarks(plan: plan, backend: options["backend"] ?? "both")
    }
}
if wants("platform") {
    let replicas = Int(option("replicas", 1))
    if replicas > 1 { try await runPlatformReplicaBenchmarks(replicas: replicas) } else { try await runPlatformBenchmarks() }
}
