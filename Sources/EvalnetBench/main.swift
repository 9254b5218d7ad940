/// # EvalnetBench
///
/// Owns the project's benchmarks: throughput figures measured outside the test suite
/// (tests never time anything). Run `swift run -c release evalnet-bench [suite ...]`.
import CProcessShim
import Foundation
import Hotkeys
import Logging
import ServiceKit
import Store

extension Duration {
    /// The duration in seconds, as the benches print and divide by.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Runs `body` `iterations` times after a short warm-up, prints the rate and returns it (per second).
@discardableResult
func measure(_ label: String, iterations: Int, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    // Warm-up so one-time initialisation is not measured.
    for _ in 0..<max(1, iterations / 20) { body() }
    let elapsed = clock.measure {
        for _ in 0..<iterations { body() }
    }
    let seconds = elapsed.inSeconds
    let perSecond = Double(iterations) / seconds
    print(String(format: "%@ %.0f/s (%.1f µs/op, %d ops)", label, perSecond, seconds / Double(iterations) * 1e6, iterations))
    return perSecond
}

func measureAsync(_ label: String, iterations: Int, _ body: (Int) async -> Void) async {
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<iterations { await body(i) }
    let elapsed = clock.now - start
    let seconds = elapsed.inSeconds
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
        // A clean ledger: on a database used before, its table and migration record go (a
        // fresh database has neither).
        try await pg.execute("DROP TABLE IF EXISTS used_signatures")
        let migrations = try await pg.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present", [])
        if try migrations.first?.int("present") == 1 {
            try await pg.execute("DELETE FROM schema_migrations WHERE component = 'replay'")
        }
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

/// Pins this thread (and so the processes it starts) to the CPU it runs on, so our figures and
/// the reference's come from the same core; returns that CPU. Run the bench under
/// `taskset -c N` to choose the core. `evalnet_unpin_cpu` undoes it for the other suites.
func pinToCurrentCPU() -> Int32? {
    let cpu = evalnet_pin_to_current_cpu()
    return cpu >= 0 ? cpu : nil
}

/// `scripts/sr25519_oracle.py --bench N` (Rust schnorrkel through py-sr25519-bindings, the Python
/// call included): its verifications per second and the line it printed, or why it did not run.
func schnorrkelRate(iterations: Int) -> (rate: Double?, note: String) {
    // The working directory, then the directories above the executable (.build/<triple>/release).
    var candidates = [FileManager.default.currentDirectoryPath + "/scripts/sr25519_oracle.py"]
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        dir = dir.deletingLastPathComponent()
        candidates.append(dir.appendingPathComponent("scripts/sr25519_oracle.py").path)
    }
    if let explicit = ProcessInfo.processInfo.environment["EVALNET_SR25519_ORACLE"] { candidates.insert(explicit, at: 0) }
    guard let script = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
        return (nil, "skipped (scripts/sr25519_oracle.py not found)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, "--bench", String(iterations)]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return (nil, "skipped (python3 not runnable)") }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    if process.terminationStatus == 3 { return (nil, "skipped (py-sr25519-bindings not installed)") }
    let line = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard process.terminationStatus == 0, let field = line.split(separator: " ").dropFirst().first,
          field.hasSuffix("/s"), let rate = Double(field.dropLast(2))
    else { return (nil, "skipped (unexpected output: \(line.prefix(120)))") }
    return (rate, line)
}

func runHotkeyBenchmarks() {
    let cpu = pinToCurrentCPU()
    print("sr25519 figures on cpu \(cpu.map(String.init) ?? "unpinned"); the reference runs on the same core")
    let keypair = SR25519Keypair.generate()
    let message = Array("auth:1700000000".utf8)
    let kib = (0..<1024).map { UInt8($0 & 0xFF) }
    let sig = keypair.sign(message)
    let sigKiB = keypair.sign(kib)
    let pk = keypair.publicKey
    var ok = true
    // 64 signatures by 64 different keys (no key repeats, the batch's hardest case).
    let batch = (0..<64).map { i -> (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8]) in
        let key = SR25519Keypair.generate()
        let m = Array("auth:\(1_700_000_000 + i)".utf8)
        return (key.publicKey, key.sign(m), m)
    }
    // Other work shares the machine, so rates drift from second to second: ours, the stateless
    // path, batch-64 and the reference are measured back to back in short rounds on one core,
    // and each ratio is the median of the per-round ratios.
    var ours: [Double] = [], fromBytes: [Double] = [], theirs: [Double] = [], perSignature: [Double] = []
    var versus: [Double] = [], versusFromBytes: [Double] = [], batchVersus: [Double] = []
    var reference = "skipped"
    for _ in 0..<5 {
        let single = measure("sr25519.verify_15B", iterations: 6000) { ok = ok && pk.verify(signature: sig, message: message) }
        let stateless = measure("sr25519.verify_15B_from_bytes", iterations: 4000) {
            ok = ok && SR25519.verify(signature: sig, message: message, publicKeyBytes: pk.bytes)
        }
        let batches = measure("sr25519.verify_batch64", iterations: 100) {
            ok = ok && SR25519PublicKey.verifyBatch(batch).allValid
        }
        ours.append(single)
        fromBytes.append(stateless)
        perSignature.append(batches * 64)
        batchVersus.append(batches * 64 / single)
        let (rate, note) = schnorrkelRate(iterations: 6000)
        print(note)
        reference = note
        guard let rate else { continue }
        theirs.append(rate)
        versus.append(single / rate)
        versusFromBytes.append(stateless / rate)
    }
    func median(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.sorted()[xs.count / 2] }
    if theirs.isEmpty {
        print(String(format: "sr25519.verify_vs_schnorrkel ours %.0f/s schnorrkel %@", median(ours), reference))
    } else {
        print(String(format: "sr25519.verify_vs_schnorrkel ours %.0f/s schnorrkel %.0f/s ratio %.2f",
                     median(ours), median(theirs), median(versus)))
        print(String(format: "sr25519.verify_from_bytes_vs_schnorrkel ours %.0f/s schnorrkel %.0f/s ratio %.2f",
                     median(fromBytes), median(theirs), median(versusFromBytes)))
    }
    print(String(format: "sr25519.verify_batch64_per_signature %.0f/s ratio_to_single %.2f",
                 median(perSignature), median(batchVersus)))
    // Keys seen for the first time (fresh key objects from the same bytes): every signature
    // pays for building its key's tables, single and batch alike.
    let batchBytes = batch.map { (bytes: $0.publicKey.bytes, signature: $0.signature, message: $0.message) }
    let coldSingle = measure("sr25519.verify_15B_first_use_key", iterations: 1000) {
        let key = try? SR25519PublicKey(bytes: batchBytes[0].bytes)
        ok = ok && key?.verify(signature: batchBytes[0].signature, message: batchBytes[0].message) == true
    }
    let coldBatch = measure("sr25519.verify_batch64_first_use_keys", iterations: 20) {
        let items = batchBytes.compactMap { item in
            (try? SR25519PublicKey(bytes: item.bytes)).map { (publicKey: $0, signature: item.signature, message: item.message) }
        }
        ok = ok && items.count == 64 && SR25519PublicKey.verifyBatch(items).allValid
    }
    print(String(format: "sr25519.verify_batch64_first_use_keys_per_signature %.0f/s ratio_to_single_first_use %.2f",
                 coldBatch * 64, coldBatch * 64 / coldSingle))
    measure("sr25519.verify_1KiB", iterations: 2000) { ok = ok && pk.verify(signature: sigKiB, message: kib) }
    measure("sr25519.sign_15B", iterations: 5000) { _ = keypair.sign(message) }
    let headers = SignedRequest.headers(for: keypair)
    let auth = RequestAuthenticator()
    measure("auth.verify_headers", iterations: 5000) {
        ok = ok && (try? auth.verify(header: { name in headers.first { $0.name == name }?.value })) != nil
    }
    evalnet_unpin_cpu()
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
    if let url = options["url"] {
        // A pool served elsewhere (`evalnet pool serve` on another machine): its own
        // configuration decides consensus and limits; each miner registers a fresh hotkey.
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            print("pool: --url must be an http:// or https:// address, got \(url)")
            exit(2)
        }
        // Trailing slashes are the client's to strip (`SignedJSONCaller`).
        plan.url = url
        try await runPoolBenchmark(database: nil, label: "url", plan: plan)
    } else if plan.replicas > 1 {
        try await runPoolReplicaBenchmarks(plan: plan)
    } else {
        try await runPoolBenchmarks(plan: plan, backend: options["backend"] ?? "both")
    }
}
// Minutes long: only when named (`evalnet-bench search [--minutes 10] [--miners 4] [--jobs 1]`).
if suites.contains("search") {
    var plan = SearchBenchPlan()
    plan.minutes = option("minutes", 5)
    plan.miners = Int(option("miners", 4))
    plan.jobs = Int(option("jobs", 1))
    plan.compareSeconds = option("compare-seconds", 20)
    try await runSearchBenchmark(plan: plan)
}
if wants("platform") {
    let replicas = Int(option("replicas", 1))
    let jobsOption = option("jobs", 150)
    let jobs = jobsOption.isFinite ? Int(min(max(jobsOption, 1), 100_000)) : 150
    if replicas > 1 {
        try await runPlatformReplicaBenchmarks(replicas: replicas, jobsPerValidator: jobs)
    } else {
        try await runPlatformBenchmarks(jobsPerValidator: jobs)
    }
}
// Only when named: the cost of one PostgreSQL round trip through the store.
if suites.contains("pg-roundtrip") {
    try await runRoundTripBenchmark(statements: Int(option("statements", 100_000)), tasks: Int(option("tasks", 8)),
                                    perTransaction: Int(option("per-transaction", 8)))
}
if wants("dashboard") {
    try await runDashboardBenchmarks(miners: Int(option("miners", 10_000)), windows: Int(option("windows", 100)),
                                     renders: Int(option("renders", 30)))
}
// Fixed work for instruction counts (`valgrind --tool=callgrind evalnet-bench sr25519-count
// --mode M --n N`; the difference between two N gives the count per operation). Modes:
// cached, from-bytes, first-use, batch64, batch64-first-use. Only when named.
if suites.contains("sr25519-count") {
    runSR25519Count(mode: options["mode"] ?? "cached", n: Int(option("n", 100)))
}

/// `n` operations of one SR25519 verification path (see the `sr25519-count` suite).
func runSR25519Count(mode: String, n: Int) {
    let keypair = SR25519Keypair.generate()
    let message = Array("auth:1700000000".utf8)
    let sig = keypair.sign(message)
    let pk = keypair.publicKey
    let batch = (0..<64).map { i -> (bytes: [UInt8], signature: [UInt8], message: [UInt8]) in
        let key = SR25519Keypair.generate()
        let m = Array("auth:\(1_700_000_000 + i)".utf8)
        return (key.publicKey.bytes, key.sign(m), m)
    }
    let cachedBatch = batch.compactMap { item in
        (try? SR25519PublicKey(bytes: item.bytes)).map { (publicKey: $0, signature: item.signature, message: item.message) }
    }
    var ok = true
    // Two warm-up uses: the cached key's tables and the static tables are built before counting.
    ok = ok && pk.verify(signature: sig, message: message) && pk.verify(signature: sig, message: message)
    ok = ok && SR25519.verify(signature: sig, message: message, publicKeyBytes: pk.bytes)
    ok = ok && SR25519PublicKey.verifyBatch(cachedBatch).allValid && SR25519PublicKey.verifyBatch(cachedBatch).allValid
    for _ in 0..<n {
        switch mode {
        case "from-bytes": ok = ok && SR25519.verify(signature: sig, message: message, publicKeyBytes: pk.bytes)
        case "first-use":
            let key = try? SR25519PublicKey(bytes: pk.bytes)
            ok = ok && key?.verify(signature: sig, message: message) == true
        case "batch64": ok = ok && SR25519PublicKey.verifyBatch(cachedBatch).allValid
        case "batch64-first-use":
            let items = batch.compactMap { item in
                (try? SR25519PublicKey(bytes: item.bytes)).map { (publicKey: $0, signature: item.signature, message: item.message) }
            }
            ok = ok && SR25519PublicKey.verifyBatch(items).allValid
        default: ok = ok && pk.verify(signature: sig, message: message)
        }
    }
    print("sr25519-count \(mode) n \(n) ok \(ok)")
}
