/// Program model: registers, ops, instructions, meta and programs.

/// The three register files.
public enum RegisterKind: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case scalar, vector, matrix

    /// Prefix used in the text syntax (`s`, `v`, `m`).
    public var prefix: String {
        switch self {
        case .scalar: "s"
        case .vector: "v"
        case .matrix: "m"
        }
    }

    /// First internal address of this kind (`sN → N`, `vN → 20+N`, `mN → 30+N`).
    public var addressBase: Int {
        switch self {
        case .scalar: 0
        case .vector: 20
        case .matrix: 30
        }
    }

    /// Number of addressable registers of this kind.
    public var addressLimit: Int {
        switch self {
        case .scalar: DSLLimits.maxScalars
        case .vector: DSLLimits.maxVectors
        case .matrix: DSLLimits.maxMatrices
        }
    }

    public var description: String {
        switch self {
        case .scalar: "scalar"
        case .vector: "vector"
        case .matrix: "matrix"
        }
    }
}

/// A register reference such as `s0`, `v3` or `m1`.
public struct Register: Sendable, Hashable, CustomStringConvertible {
    public var kind: RegisterKind
    public var index: Int

    public init(_ kind: RegisterKind, _ index: Int) {
        self.kind = kind
        self.index = index
    }

    public static func s(_ index: Int) -> Register { Register(.scalar, index) }
    public static func v(_ index: Int) -> Register { Register(.vector, index) }
    public static func m(_ index: Int) -> Register { Register(.matrix, index) }

    /// Internal address: `sN → N`, `vN → 20+N`, `mN → 30+N`.
    public var address: Int { kind.addressBase + index }

    /// Decodes an internal address; nil when it is outside 0..<35.
    public init?(address: Int) {
        switch address {
        case 0..<20: self.init(.scalar, address)
        case 20..<30: self.init(.vector, address - 20)
        case 30..<35: self.init(.matrix, address - 30)
        default: return nil
        }
    }

    public var description: String { "\(kind.prefix)\(index)" }
}

/// Program phases, in execution order.
public enum Phase: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case setup, predict, learn
    public var description: String { rawValue }
}

/// The instruction set (pool-api.md §8.2). Raw values are the canonical upper-case names.
public enum Op: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case const = "CONST"
    case constVec = "CONST_VEC"
    case copy = "COPY"
    case add = "ADD"
    case sub = "SUB"
    case mul = "MUL"
    case div = "DIV"
    case gaussian = "GAUSSIAN"
    case uniform = "UNIFORM"
    case abs = "ABS"
    case exp = "EXP"
    case log = "LOG"
    case sin = "SIN"
    case cos = "COS"
    case tan = "TAN"
    case heaviside = "HEAVISIDE"
    case norm = "NORM"
    case mean = "MEAN"
    case std = "STD"
    case dot = "DOT"
    case matmul = "MATMUL"
    case outer = "OUTER"
    case minimum = "MINIMUM"
    case maximum = "MAXIMUM"

    public var description: String { rawValue }

    /// Lower-case function name used in the `xD = fn(args)` syntax.
    public var functionName: String { rawValue.lowercased() }

    /// Number of register operands.
    public var arity: Int {
        switch self {
        case .const, .constVec, .gaussian, .uniform: 0
        case .copy, .abs, .exp, .log, .sin, .cos, .tan, .heaviside, .norm, .mean, .std: 1
        case .add, .sub, .mul, .div, .dot, .matmul, .outer, .minimum, .maximum: 2
        }
    }

    /// Number of numeric constants the instruction carries.
    public var constantCount: Int {
        switch self {
        case .const, .constVec: 1
        case .gaussian, .uniform: 2
        default: 0
        }
    }

    /// Element-wise binary ops that broadcast scalars (and vectors over matrix rows).
    public var isBroadcastingBinary: Bool {
        switch self {
        case .add, .sub, .mul, .div, .minimum, .maximum: true
        default: false
        }
    }

    /// All operand/result kind combinations the op accepts.
    public var signatures: [OpSignature] {
        let s = RegisterKind.scalar, v = RegisterKind.vector, m = RegisterKind.matrix
        switch self {
        case .const: return [OpSignature([], s)]
        case .constVec: return [OpSignature([], v)]
        case .gaussian, .uniform: return [OpSignature([], s), OpSignature([], v), OpSignature([], m)]
        case .copy:
            return [OpSignature([s], s), OpSignature([v], v), OpSignature([m], m),
                    OpSignature([v], s), OpSignature([m], s)]
        case .abs, .exp, .log, .sin, .cos, .tan, .heaviside:
            return [OpSignature([s], s), OpSignature([v], v), OpSignature([m], m)]
        case .norm, .mean, .std: return [OpSignature([v], s), OpSignature([m], s)]
        case .dot: return [OpSignature([v, v], s)]
        case .matmul: return [OpSignature([m, v], v)]
        case .outer: return [OpSignature([v, v], m)]
        case .add, .sub, .mul, .div, .minimum, .maximum:
            return [OpSignature([s, s], s), OpSignature([v, v], v), OpSignature([s, v], v),
                    OpSignature([v, s], v), OpSignature([m, m], m), OpSignature([s, m], m),
                    OpSignature([m, s], m), OpSignature([v, m], m), OpSignature([m, v], m)]
        }
    }
}

/// One accepted combination of operand kinds and result kind.
public struct OpSignature: Sendable, Hashable {
    public var args: [RegisterKind]
    public var dest: RegisterKind
    public init(_ args: [RegisterKind], _ dest: RegisterKind) {
        self.args = args
        self.dest = dest
    }
}

/// One instruction. `constants` holds CONST's value, CONST_VEC's value, or GAUSSIAN's
/// (mean, std) / UNIFORM's (lo, hi); `element` is CONST_VEC's element index (0 otherwise).
public struct Instruction: Sendable, Hashable, CustomStringConvertible {
    public var op: Op
    public var dest: Register
    public var args: [Register]
    public var constants: [Double]
    public var element: Int

    public init(op: Op, dest: Register, args: [Register] = [], constants: [Double] = [], element: Int = 0) {
        self.op = op
        self.dest = dest
        self.args = args
        self.constants = constants
        self.element = element
    }

    public static func const(_ dest: Register, _ value: Double) -> Instruction {
        Instruction(op: .const, dest: dest, constants: [value])
    }

    public static func constVec(_ dest: Register, element: Int, _ value: Double) -> Instruction {
        Instruction(op: .constVec, dest: dest, constants: [value], element: element)
    }

    public static func gaussian(_ dest: Register, mean: Double, std: Double) -> Instruction {
        Instruction(op: .gaussian, dest: dest, constants: [mean, std])
    }

    public static func uniform(_ dest: Register, low: Double, high: Double) -> Instruction {
        Instruction(op: .uniform, dest: dest, constants: [low, high])
    }

    /// A register-only instruction (`op(args...) -> dest`).
    public static func make(_ op: Op, _ dest: Register, _ args: Register...) -> Instruction {
        Instruction(op: op, dest: dest, args: args)
    }

    /// Canonical text of this instruction (one line, `xD = …` form).
    public var description: String { Renderer.line(for: self) }
}

/// The `# meta:` line: register counts, vector dimension and per-phase size limits.
public struct ProgramMeta: Sendable, Hashable {
    public var scalarCount: Int
    public var vectorCount: Int
    public var matrixCount: Int
    public var vectorDim: Int
    public var setupMaxOps: Int
    public var predictMaxOps: Int
    public var learnMaxOps: Int

    public init(scalarCount: Int = DSLLimits.maxScalars, vectorCount: Int = DSLLimits.maxVectors,
                matrixCount: Int = DSLLimits.maxMatrices, vectorDim: Int = DSLLimits.defaultVectorDim,
                setupMaxOps: Int = DSLLimits.defaultPhaseMaxOps,
                predictMaxOps: Int = DSLLimits.defaultPhaseMaxOps,
                learnMaxOps: Int = DSLLimits.defaultPhaseMaxOps) {
        self.scalarCount = scalarCount
        self.vectorCount = vectorCount
        self.matrixCount = matrixCount
        self.vectorDim = vectorDim
        self.setupMaxOps = setupMaxOps
        self.predictMaxOps = predictMaxOps
        self.learnMaxOps = learnMaxOps
    }

    public func count(of kind: RegisterKind) -> Int {
        switch kind {
        case .scalar: scalarCount
        case .vector: vectorCount
        case .matrix: matrixCount
        }
    }

    public func maxOps(_ phase: Phase) -> Int {
        switch phase {
        case .setup: setupMaxOps
        case .predict: predictMaxOps
        case .learn: learnMaxOps
        }
    }

    public mutating func setMaxOps(_ phase: Phase, _ value: Int) {
        switch phase {
        case .setup: setupMaxOps = value
        case .predict: predictMaxOps = value
        case .learn: learnMaxOps = value
        }
    }
}

/// A complete algorithm: meta plus the instructions of each phase.
public struct Program: Sendable, Hashable {
    public var meta: ProgramMeta
    public var setup: [Instruction]
    public var predict: [Instruction]
    public var learn: [Instruction]

    public init(meta: ProgramMeta = ProgramMeta(), setup: [Instruction] = [],
                predict: [Instruction] = [], learn: [Instruction] = []) {
        self.meta = meta
        self.setup = setup
        self.predict = predict
        self.learn = learn
    }

    /// Parses DSL text (see `DSLParser.parse`).
    public init(dsl: String, strict: Bool = true) throws(DSLError) {
        self = try DSLParser.parse(dsl, strict: strict)
    }

    public subscript(phase: Phase) -> [Instruction] {
        get {
            switch phase {
            case .setup: setup
            case .predict: predict
            case .learn: learn
            }
        }
        set {
            switch phase {
            case .setup: setup = newValue
            case .predict: predict = newValue
            case .learn: learn = newValue
            }
        }
    }

    /// Total instruction count over all phases.
    public var instructionCount: Int { setup.count + predict.count + learn.count }

    /// Canonical text: the meta line, then `# setup`, `# predict`, `# learn` sections.
    /// `DSLParser.parse(p.render()) == p` for every valid program.
    public func render() -> String { Renderer.render(self) }

    /// Checks meta ranges, register indices, operand types, constants and sizes.
    public func validate() throws(DSLError) {
        try Validator.checkMeta(meta, line: nil)
        var total = 0
        for phase in Phase.allCases {
            let instructions = self[phase]
            if instructions.count > meta.maxOps(phase) {
                throw DSLError(.oversized, line: nil,
                               "\(phase) has \(instructions.count) instructions, more than \(phase)_max_ops=\(meta.maxOps(phase))")
            }
            total += instructions.count
            for (i, inst) in instructions.enumerated() {
                if let failure = Validator.check(inst, meta: meta) {
                    throw DSLError(failure.kind, line: nil, "\(phase) instruction \(i + 1): \(failure.message)")
                }
            }
        }
        if total > DSLLimits.maxInstructions {
            throw DSLError(.oversized, line: nil,
                           "program has \(total) instructions, more than the cap of \(DSLLimits.maxInstructions)")
        }
    }
}
