/// Errors and the instruction/meta checks shared by the parser and `Program.validate()`.

/// A parse or validation failure. `description` reads like `line 3: unknown op 'FOO'`.
public struct DSLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure it is.
    public enum Kind: String, Sendable, Hashable {
        case syntax
        case unknownOp
        case badRegister
        case typeMismatch
        case oversized
        case nonFiniteConstant
        case badMeta
        case emptyProgram
        case unknownTaskType
        case badInputDim
    }

    public var kind: Kind
    /// 1-based line in the source text, when the error belongs to one line.
    public var line: Int?
    public var message: String

    public init(_ kind: Kind, line: Int?, _ message: String) {
        self.kind = kind
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "line \(line): \(message)" }
        return message
    }
}

enum Validator {
    struct Failure {
        var kind: DSLError.Kind
        var message: String
    }

    static func checkMeta(_ meta: ProgramMeta, line: Int?) throws(DSLError) {
        func require(_ ok: Bool, _ message: String) throws(DSLError) {
            if !ok { throw DSLError(.badMeta, line: line, message) }
        }
        try require((2...DSLLimits.maxScalars).contains(meta.scalarCount),
                    "scalar_count=\(meta.scalarCount) must be in 2...\(DSLLimits.maxScalars)")
        try require((1...DSLLimits.maxVectors).contains(meta.vectorCount),
                    "vector_count=\(meta.vectorCount) must be in 1...\(DSLLimits.maxVectors)")
        try require((0...DSLLimits.maxMatrices).contains(meta.matrixCount),
                    "matrix_count=\(meta.matrixCount) must be in 0...\(DSLLimits.maxMatrices)")
        try require((1...DSLLimits.maxVectorDim).contains(meta.vectorDim),
                    "vector_dim=\(meta.vectorDim) must be in 1...\(DSLLimits.maxVectorDim)")
        for phase in Phase.allCases {
            let value = meta.maxOps(phase)
            try require((0...DSLLimits.maxInstructions).contains(value),
                        "\(phase)_max_ops=\(value) must be in 0...\(DSLLimits.maxInstructions)")
        }
    }

    static func checkRegister(_ r: Register, meta: ProgramMeta) -> Failure? {
        if r.index < 0 || r.index >= r.kind.addressLimit {
            return Failure(kind: .badRegister,
                           message: "register \(r) is outside the address space (\(r.kind) index must be < \(r.kind.addressLimit))")
        }
        let count = meta.count(of: r.kind)
        if r.index >= count {
            return Failure(kind: .badRegister,
                           message: "register \(r) is beyond \(r.kind)_count=\(count)")
        }
        return nil
    }

    static func check(_ inst: Instruction, meta: ProgramMeta) -> Failure? {
        if inst.args.count != inst.op.arity {
            return Failure(kind: .syntax,
                           message: "\(inst.op) takes \(inst.op.arity) register operand(s), got \(inst.args.count)")
        }
        if inst.constants.count != inst.op.constantCount {
            return Failure(kind: .syntax,
                           message: "\(inst.op) takes \(inst.op.constantCount) constant(s), got \(inst.constants.count)")
        }
        for value in inst.constants where !value.isFinite {
            return Failure(kind: .nonFiniteConstant, message: "\(inst.op) constant \(value) is not finite")
        }
        for r in [inst.dest] + inst.args {
            if let failure = checkRegister(r, meta: meta) { return failure }
        }
        let argKinds = inst.args.map(\.kind)
        let matches = inst.op.signatures.contains { $0.args == argKinds && $0.dest == inst.dest.kind }
        if !matches {
            let got = argKinds.map(\.description).joined(separator: ", ")
            let accepted = inst.op.signatures.map { sig in
                "(\(sig.args.map(\.description).joined(separator: ", "))) -> \(sig.dest)"
            }.joined(separator: "; ")
            return Failure(kind: .typeMismatch,
                           message: "type mismatch: \(inst.op) of (\(got)) -> \(inst.dest.kind) is not allowed; accepted: \(accepted)")
        }
        if inst.op == .constVec {
            if inst.element < 0 || inst.element >= meta.vectorDim {
                return Failure(kind: .badRegister,
                               message: "element \(inst.element) of \(inst.dest) is beyond vector_dim=\(meta.vectorDim)")
            }
        } else if inst.element != 0 {
            return Failure(kind: .syntax, message: "\(inst.op) carries no element index")
        }
        return nil
    }
}
