// Micro-benchmarks of the SR25519 / SS58 / signed-request code in `Hotkeys`.
// Keys come from fixed seeds and the request check uses a fixed clock, so every run measures
// the same inputs; signing stays randomised (hedged) as in production.

import Benchmark
import Foundation
import Hotkeys

/// A keypair from a fixed 32-byte seed (`index` picks which).
private func fixedKeypair(_ index: Int) -> SR25519Keypair {
    let seed = (0..<32).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0 &+ 1) }
    do { return try SR25519Keypair(seed: seed) } catch { fatalError("fixed seed \(index) gives no keypair: \(error)") }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // cpuTotal is left out: its 10 ms resolution says nothing about microsecond operations.
        // instructions needs perf_events, which some machines refuse (then it is not printed).
        metrics: [.wallClock, .throughput, .mallocCountTotal, .mallocBytesCount, .instructions],
        maxDuration: .seconds(2),
        maxIterations: 100_000,
        // Other work shares the machine: timings get slack, allocation counts none.
        thresholds: [
            .wallClock: .init(relative: BenchmarkThresholds.Relative.relaxed),
            .throughput: .init(relative: BenchmarkThresholds.Relative.relaxed),
            .instructions: .init(relative: BenchmarkThresholds.Relative.default),
            .mallocCountTotal: .init(absolute: BenchmarkThresholds.Absolute.strict),
        ]
    )

    let keypair = fixedKeypair(0)
    let publicKey = keypair.publicKey
    let message = Array("auth:1700000000".utf8)  // what a signed request signs (15 bytes)
    let signature = keypair.sign(message)
    precondition(publicKey.verify(signature: signature, message: message), "fixture signature must verify")

    // 64 signatures by 64 different keys: the batch's hardest case (no key repeats).
    let batch = (1...64).map { i -> (publicKey: SR25519PublicKey, signature: [UInt8], message: [UInt8]) in
        let key = fixedKeypair(i)
        let text = Array("auth:\(1_700_000_000 + i)".utf8)
        return (key.publicKey, key.sign(text), text)
    }
    precondition(SR25519PublicKey.verifyBatch(batch).allValid, "fixture batch must verify")

    let address = publicKey.ss58Address
    let keyBytes = publicKey.bytes

    // A request signed at a fixed instant and checked at that instant.
    let now = Date(timeIntervalSince1970: 1_700_000_000)
    let headers = SignedRequest.headers(for: keypair, now: now)
    let lookup: (String) -> String? = { name in headers.first { $0.name == name }?.value }
    let authenticator = RequestAuthenticator()
    precondition((try? authenticator.verify(header: lookup, now: now)) != nil, "fixture headers must verify")

    // Nothing but the measurement itself: what the harness adds to every row (its own
    // allocations included), to subtract from the rows below.
    Benchmark("Measurement overhead (empty)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(0)
        }
    }

    Benchmark("SR25519 sign (15 B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(keypair.sign(message))
        }
    }

    Benchmark("SR25519 verify (15 B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(publicKey.verify(signature: signature, message: message))
        }
    }

    Benchmark("SR25519 verify from key bytes (15 B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(SR25519.verify(signature: signature, message: message, publicKeyBytes: keyBytes))
        }
    }

    Benchmark("SR25519 verifyBatch (64 keys)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(SR25519PublicKey.verifyBatch(batch).allValid)
        }
    }

    Benchmark("SS58 encode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? SS58.encode(publicKey: keyBytes))
        }
    }

    Benchmark("SS58 decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? SS58.decode(address))
        }
    }

    // Decode plus the point check and table set-up of a new key (what a first request from a
    // hotkey costs before the authenticator caches the parsed key).
    Benchmark("SS58 address to public key") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? SR25519PublicKey(ss58: address))
        }
    }

    // The service-side header check (parsed key cached, replay ledger not touched).
    Benchmark("RequestAuthenticator.verify (headers)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? authenticator.verify(header: lookup, now: now))
        }
    }
}
