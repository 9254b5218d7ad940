import DstackAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Validator
@testable import VMMServer

/// Runs `body` with a DstackExecutor talking to `evalnet vmm serve`'s router on a live
/// loopback port.
func withLiveVMM(bootTimeout: Double = 60,
                 _ body: @escaping @Sendable (DstackExecutor, LocalVMM, TempDir) async throws -> Void) async throws {
    let tmp = try TempDir("dstack")
    defer { tmp.cleanup() }
    let vmm = LocalVMM(stateDirectory: tmp.sub("vmm"))
    let app = Application(router: makeVMMRouter(vmm: vmm), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    do {
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let executor = DstackExecutor(options: DstackExecutorOptions(
                vmmURL: "http://127.0.0.1:\(port)", bootTimeoutSeconds: bootTimeout, pollIntervalSeconds: 0.05))
            try await body(executor, vmm, tmp)
        }
    } catch {
        await vmm.shutdown()
        throw error
    }
    await vmm.shutdown()
}

@Suite("DstackExecutor against evalnet vmm serve")
struct DstackExecutorTests {
    @Test("end to end: the example challenge scores a submission in a per-job VM, which is removed afterwards")
    func endToEnd() async throws {
        try await withLiveVMM { executor, vmm, tmp in
            let (_, challenge) = try await Example.provision(in: tmp)
            let outcome = await executor.execute(job: job(submission: Example.goodSubmission), challenge: challenge)
            #expect(outcome.status == .completed, "\(outcome)")
            #expect(outcome.score == Example.expectedAccuracy)
            #expect(outcome.metrics["accuracy"] == .number(Example.expectedAccuracy))
            #expect(outcome.logs.contains("accuracy 0.9533"))
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
            // Same outcome as the local executor gives.
            let local = LocalExecutor(options: LocalExecutorOptions(workRoot: tmp.sub("jobs")))
            let l = await local.execute(job: job(submission: Example.goodSubmission), challenge: challenge)
            #expect(l.score == outcome.score)
            #expect(l.metrics.filter { $0.key != "latency_ms" } == outcome.metrics.filter { $0.key != "latency_ms" })
        }
    }

    @Test("a broken submission is rejected inside the VM")
    func rejected() async throws {
        try await withLiveVMM { executor, vmm, tmp in
            let (_, challenge) = try await Example.provision(in: tmp)
            let outcome = await executor.execute(job: job(submission: "def predict(:"), challenge: challenge)
            #expect(outcome.status == .rejected, "\(outcome)")
            #expect(outcome.score == 0)
            #expect(outcome.error?.contains("does not load") == true)
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
        }
    }

    @Test("evaluation timeout: error \"timeout\", VM removed")
    func timeout() async throws {
        try await withLiveVMM { executor, vmm, tmp in
            let (_, challenge) = try await Example.provision(in: tmp)
            let spin = "def predict(f):\n    while True:\n        pass\n"
            let outcome = await executor.execute(job: job(submission: spin, timeout: 2), challenge: challenge)
            #expect(outcome.status == .timeout, "\(outcome)")
            #expect(outcome.error == "timeout")
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
        }
    }

    @Test("a VM that exits at boot fails the job with its console output; VM removed")
    func bootFailure() async throws {
        try await withLiveVMM(bootTimeout: 30) { executor, vmm, tmp in
            let compose = "services:\n  evaluator:\n    command: \"echo cannot start: missing model >&2; exit 4\"\n"
            var challenge = adHocChallenge(tmp.url, command: ["true"])
            challenge.composeText = compose
            let outcome = await executor.execute(job: job(), challenge: challenge)
            #expect(outcome.status == .failed, "\(outcome)")
            #expect(outcome.error?.contains("stopped before answering") == true)
            #expect(outcome.error?.contains("exit code 4") == true)
            #expect(outcome.logs.contains("cannot start: missing model"))
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
        }
    }

    @Test("a VM that never becomes healthy hits the boot timeout; VM removed")
    func bootTimeout() async throws {
        try await withLiveVMM(bootTimeout: 1) { executor, vmm, tmp in
            var challenge = adHocChallenge(tmp.url, command: ["true"])
            challenge.composeText = "services:\n  evaluator:\n    command: \"sleep 60\"\n"
            let outcome = await executor.execute(job: job(), challenge: challenge)
            #expect(outcome.status == .failed)
            #expect(outcome.error?.contains("not ready within") == true)
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
        }
    }

    @Test("cancellation mid-evaluation stops promptly and removes the VM")
    func cancellation() async throws {
        try await withLiveVMM { executor, vmm, tmp in
            let (_, challenge) = try await Example.provision(in: tmp)
            let spin = "def predict(f):\n    while True:\n        pass\n"
            let task = Task { await executor.execute(job: job(submission: spin, timeout: 120), challenge: challenge) }
            #expect(await eventually { await vmm.list(StatusRequest()).vms.contains { $0.status == "running" } })
            try await Task.sleep(for: .milliseconds(300))
            let cancelledAt = ContinuousClock.now
            task.cancel()
            let outcome = await task.value
            #expect(outcome.status == .cancelled, "\(outcome)")
            #expect(ContinuousClock.now - cancelledAt < .seconds(30))
            #expect(await vmm.list(StatusRequest()).vms.isEmpty)
        }
    }

    @Test("VMM errors surface as failed outcomes")
    func vmmUnreachable() async throws {
        let tmp = try TempDir("dstack")
        defer { tmp.cleanup() }
        let executor = DstackExecutor(options: DstackExecutorOptions(vmmURL: "http://127.0.0.1:1", requestTimeoutSeconds: 5))
        let (_, challenge) = try await Example.provision(in: tmp)
        let outcome = await executor.execute(job: job(submission: Example.goodSubmission), challenge: challenge)
        #expect(outcome.status == .failed)
        #expect(outcome.error?.contains("unreachable") == true)
    }
}
