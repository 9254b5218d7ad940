import Foundation
import Testing

@testable import EvalnetCLI

/// `evalnet demo`, short: the whole network on embedded defaults produces a consensus
/// result, a SOTA and a completed platform job.
@Suite struct DemoTests {
    @Test func shortDemoProducesConsensusSOTAAndACompletedPlatformJob() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let demo = try DemoCommand.parse(["--data-dir", dir.path, "--duration", "20", "--miners", "3", "--port", "0", "--platform-port", "0",
                                          "--vmm-port", "0"])
        let outcome = try await demo.execute()
        #expect(outcome.candidatesWithConsensus > 0)
        #expect(outcome.sota != nil)
        #expect(outcome.verifiedResults == 1)
        #expect(outcome.platformJobsCompleted >= 1)
        // The validator's score of the submitted algorithm equals the pool's consensus score.
        let sota = try #require(outcome.sota), score = try #require(outcome.platformScore)
        #expect(abs(sota - score) < 1e-9)
    }
}
