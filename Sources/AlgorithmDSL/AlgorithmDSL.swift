/// # AlgorithmDSL
///
/// Owns the algorithm language shared by the pool and the miner (pool-api.md §8): the program
/// model (setup/predict/learn phases over scalar, vector and matrix registers), the strict parser
/// and canonical renderer, validation, the per-task compliance profiles and normalisation, the
/// allocation-free interpreter, the deterministic RNG and math used for scoring, and the seed
/// algorithms a fresh pool ships.
import Foundation

/// Hard limits enforced by the parser, the validator and the interpreter.
public enum DSLLimits {
    /// Address encoding `sN → N`, `vN → 20+N`, `mN → 30+N` allows at most 20 scalars,
    /// 10 vectors and 5 matrices.
    public static let maxScalars = 20
    public static let maxVectors = 10
    public static let maxMatrices = 5
    /// Total instructions over all three phases.
    public static let maxInstructions = 256
    /// Maximum DSL text size in UTF-8 bytes (64 KiB).
    public static let maxTextBytes = 65_536
    /// Largest vector dimension (meta `vector_dim` or the interpreter's input dimension).
    public static let maxVectorDim = 1_024
    /// Phase size used when the meta line does not declare one (raised to the phase's length).
    public static let defaultPhaseMaxOps = 30
    /// Vector dimension assumed when the meta line does not declare one (the interpreter still
    /// raises it to the input dimension).
    public static let defaultVectorDim = 16
}

/// Version tag of the program semantics and scoring; publish it with scores so evaluators that
/// disagree can tell whether they ran the same definition.
public let dslSemanticsVersion = "evalnet-dsl/1"
