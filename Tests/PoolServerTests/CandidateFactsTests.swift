@testable import PoolServer
import Testing

/// `CandidateFacts` answers only what it knows: every program of a lease or nothing, a SOTA
/// that only rises, and candidates seen settled.
@Suite struct CandidateFactsTests {
    static func program(_ hash: String) -> CandidateFacts.Program {
        CandidateFacts.Program(taskType: "scalar_linear", inputDim: 16, dsl: "# predict\ns0 = dot(v0, v1)", dslHash: hash)
    }

    @Test func programsAreAnsweredOnlyWhenEveryOneIsKnown() {
        let facts = CandidateFacts()
        facts.remember(1, Self.program("a"))
        facts.remember(2, Self.program("b"))
        #expect(facts.programs([1, 2])?.mapValues(\.dslHash) == [1: "a", 2: "b"])
        #expect(facts.programs([1, 3]) == nil)
        #expect(facts.programs([])?.isEmpty == true)
        // A program is kept as first seen; being seen settled sticks.
        facts.settled([2])
        facts.remember(2, Self.program("b"))
        #expect(facts.programs([2])?[2]?.settled == true)
        #expect(facts.programs([1])?[1]?.settled == false)
    }

    @Test func theSOTAIsUnknownUntilSeenAndOnlyRises() {
        let facts = CandidateFacts()
        #expect(facts.sota("scalar_linear") == nil)
        facts.sawSOTA("scalar_linear", nil)
        #expect(facts.sota("scalar_linear") == .some(nil))
        facts.sawSOTA("scalar_linear", 0.5)
        facts.sawSOTA("scalar_linear", 0.4)
        #expect(facts.sota("scalar_linear") == .some(0.5))
        facts.sawSOTA("scalar_linear", nil)
        #expect(facts.sota("scalar_linear") == .some(0.5))
        #expect(facts.sota("cifar10_binary") == nil)
    }
}
