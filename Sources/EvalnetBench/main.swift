/// # EvalnetBench
///
/// Owns the project's benchmarks: throughput figures measured outside the test suite
/// (tests never time anything). Run `swift run -c release evalnet-bench [suite ...]`.
import Foundation
import Hotkeys

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
    let auth = RequestAuthenticator()
    measure("auth.signed_request_check", iterations: 3000) {
        let headers = SignedRequest.headers(for: keypair)
        _ = try? auth.authenticate(header: { name in headers.first { $0.name == name }?.value })
    }
    precondition(ok, "benchmark signatures must verify")
}

let suites = Set(CommandLine.arguments.dropFirst())
func wants(_ name: String) -> Bool { suites.isEmpty || suites.contains(name) }
if wants("hotkeys") { runHotkeyBenchmarks() }
if wants("dsl") { runDSLBenchmarks() }
if wants("pool") { try await runPoolBenchmarks() }
if wants("platform") { try await runPlatformBenchmarks() }
