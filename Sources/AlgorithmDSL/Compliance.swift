/// Per-task compliance profiles (pool-api.md §8.3) and normalisation to them.

/// What a pool accepts for one task type: register counts, vector dimension, phase sizes and the
/// ops allowed in each phase.
public struct ComplianceProfile: Sendable, Hashable {
    public var taskType: String
    public var scalarCount: Int
    public var vectorCount: Int
    public var matrixCount: Int
    /// `max(minimumVectorDim, inputDim)`.
    public var vectorDim: Int
    public var setupMaxOps: Int
    public var predictMaxOps: Int
    public var learnMaxOps: Int
    public var setupOps: Set<Op>
    public var predictOps: Set<Op>
    public var learnOps: Set<Op>

    public init(taskType: String, scalarCount: Int, vectorCount: Int, matrixCount: Int, vectorDim: Int,
                setupMaxOps: Int, predictMaxOps: Int, learnMaxOps: Int,
                setupOps: Set<Op>, predictOps: Set<Op>, learnOps: Set<Op>) {
        self.taskType = taskType
        self.scalarCount = scalarCount
        self.vectorCount = vectorCount
        self.matrixCount = matrixCount
        self.vectorDim = vectorDim
        self.setupMaxOps = setupMaxOps
        self.predictMaxOps = predictMaxOps
        self.learnMaxOps = learnMaxOps
        self.setupOps = setupOps
        self.predictOps = predictOps
        self.learnOps = learnOps
    }

    /// Task types with a profile of their own; any other name gets the `cifar10_binary`
    /// ("default") profile from `for(taskType:)`, but `normalizeForPool` rejects it.
    public static let supportedTaskTypes: [String] = ["cifar10_binary", "scalar_linear"]

    /// The profile for a task type (unknown names get the default `cifar10_binary` shape).
    /// `inputDim` only raises `vectorDim`.
    public static func `for`(taskType: String, inputDim: Int = 16) -> ComplianceProfile {
        switch taskType {
        case "scalar_linear":
            let ops: Set<Op> = [.const, .add, .sub, .mul, .dot]
            return ComplianceProfile(
                taskType: taskType, scalarCount: 4, vectorCount: 3, matrixCount: 1,
                vectorDim: max(4, inputDim), setupMaxOps: 10, predictMaxOps: 2, learnMaxOps: 8,
                setupOps: ops, predictOps: ops, learnOps: ops)
        default:
            return ComplianceProfile(
                taskType: taskType, scalarCount: 5, vectorCount: 9, matrixCount: 2,
                vectorDim: max(16, inputDim), setupMaxOps: 7, predictMaxOps: 11, learnMaxOps: 23,
                setupOps: [.const, .gaussian, .uniform],
                predictOps: [.add, .sub, .mul, .abs, .matmul, .dot, .norm, .mean, .std, .heaviside],
                learnOps: [.add, .sub, .mul, .heaviside, .outer])
        }
    }

    public func allowedOps(_ phase: Phase) -> Set<Op> {
        switch phase {
        case .setup: setupOps
        case .predict: predictOps
        case .learn: learnOps
        }
    }

    public func maxOps(_ phase: Phase) -> Int {
        switch phase {
        case .setup: setupMaxOps
        case .predict: predictMaxOps
        case .learn: learnMaxOps
        }
    }

    /// The meta line every normalised program carries.
    public var meta: ProgramMeta {
        ProgramMeta(scalarCount: scalarCount, vectorCount: vectorCount, matrixCount: matrixCount,
                    vectorDim: vectorDim, setupMaxOps: setupMaxOps, predictMaxOps: predictMaxOps,
                    learnMaxOps: learnMaxOps)
    }

    public func count(of kind: RegisterKind) -> Int {
        switch kind {
        case .scalar: scalarCount
        case .vector: vectorCount
        case .matrix: matrixCount
        }
    }

    /// True when the program already is in this profile's normal form.
    public func accepts(_ program: Program) -> Bool { normalize(program, profile: self) == program }
}

/// Rewrites a program into a profile's shape:
/// - register indices wrap modulo the profile's counts (instructions naming a kind the profile has
///   none of are dropped);
/// - COPY is lowered: `xD = xS` becomes `xD = xS + z` with the zero register `z` = last scalar,
///   set by a `z = 0.0` prepended to setup; `s = ‖v‖` becomes NORM; a lowered form the phase
///   does not allow is dropped;
/// - CONST_VEC and ops the phase does not allow are dropped;
/// - each phase is truncated to its maximum and the meta is replaced by the profile's.
/// Normalisation is idempotent.
public func normalize(_ program: Program, profile: ComplianceProfile) -> Program {
    let zero = Register.s(profile.scalarCount - 1)
    var usesZero = false
    var result = Program(meta: profile.meta)

    func wrap(_ r: Register) -> Register? {
        let count = profile.count(of: r.kind)
        guard count > 0, r.index >= 0 else { return nil }
        return Register(r.kind, r.index % count)
    }

    for phase in Phase.allCases {
        let allowed = profile.allowedOps(phase)
        var out: [Instruction] = []
        for original in program[phase] {
            guard let dest = wrap(original.dest) else { continue }
            var args: [Register] = []
            var droppedArg = false
            for a in original.args {
                if let w = wrap(a) { args.append(w) } else { droppedArg = true }
            }
            if droppedArg { continue }
            var inst = original
            inst.dest = dest
            inst.args = args
            switch inst.op {
            case .constVec:
                continue
            case .copy:
                guard let source = args.first else { continue }
                if source.kind == dest.kind {
                    inst = Instruction(op: .add, dest: dest, args: [source, zero])
                    if allowed.contains(.add) { usesZero = true }
                } else {
                    inst = Instruction(op: .norm, dest: dest, args: [source])
                }
            default:
                break
            }
            if !allowed.contains(inst.op) { continue }
            out.append(inst)
        }
        result[phase] = out
    }
    if usesZero && profile.setupOps.contains(.const) {
        result.setup.insert(.const(zero, 0.0), at: 0)
    }
    for phase in Phase.allCases where result[phase].count > profile.maxOps(phase) {
        result[phase] = Array(result[phase].prefix(profile.maxOps(phase)))
    }
    return result
}

/// The pool's ingestion check: parse strictly, normalise to the task's profile and return the
/// canonical text. Rejects unknown task types, bad input dimensions, and programs with no predict
/// instruction (before or after normalisation).
public func normalizeForPool(dsl: String, taskType: String, inputDim: Int) throws(DSLError) -> String {
    guard ComplianceProfile.supportedTaskTypes.contains(taskType) else {
        throw DSLError(.unknownTaskType, line: nil,
                       "unknown task_type '\(taskType)' (supported: \(ComplianceProfile.supportedTaskTypes.joined(separator: ", ")))")
    }
    guard (1...DSLLimits.maxVectorDim).contains(inputDim) else {
        throw DSLError(.badInputDim, line: nil, "input_dim=\(inputDim) must be in 1...\(DSLLimits.maxVectorDim)")
    }
    let program = try DSLParser.parse(dsl, strict: true)
    if program.predict.isEmpty {
        throw DSLError(.emptyProgram, line: nil, "program has no predict instruction")
    }
    let normalized = normalize(program, profile: .for(taskType: taskType, inputDim: inputDim))
    if normalized.predict.isEmpty {
        throw DSLError(.emptyProgram, line: nil,
                       "no predict instruction is allowed by the \(taskType) profile after normalisation")
    }
    return normalized.render()
}

/// What `normalizeLikeUpstream` made of a submitted program: the canonical text every
/// evaluator scores, and the source lines the reading dropped (with why).
public struct UpstreamReading: Sendable, Hashable {
    /// The normalised program text (what the pool stores and serves).
    public var dsl: String
    /// Lines skipped because they cannot be expressed (unknown ops, immediate constants as
    /// operands, registers outside the declared counts, …), in source order.
    public var dropped: [DSLError]
    /// Instructions left after normalisation, over all phases.
    public var instructionCount: Int
}

/// The pool's ingestion of miner submissions, reading a program the way the upstream BitSota
/// parser does: a line that cannot be expressed (an unknown op, an immediate constant used as
/// an operand such as `s0 = s1 * 0.5`, a malformed meta line) is dropped instead of refusing
/// the program, registers beyond the declared counts (but inside the address space) and phases
/// longer than declared are kept, and a program without a predict phase is kept (early upstream
/// programs have none; its prediction is the untouched `s0`). The result is normalised to the
/// task's profile exactly as `normalizeForPool` does (registers wrap modulo the profile's
/// counts, phases are truncated to its maxima), so every evaluator scores the same canonical text.
///
/// Refuses only what cannot be read at all: an unknown task type or input dimension, an
/// oversized text, or a program with no instruction left in any phase (`.emptyProgram`).
/// `normalizeForPool` (strict) stays the check for seeds and tools.
public func normalizeLikeUpstream(dsl: String, taskType: String, inputDim: Int) throws(DSLError) -> UpstreamReading {
    guard ComplianceProfile.supportedTaskTypes.contains(taskType) else {
        throw DSLError(.unknownTaskType, line: nil,
                       "unknown task_type '\(taskType)' (supported: \(ComplianceProfile.supportedTaskTypes.joined(separator: ", ")))")
    }
    guard (1...DSLLimits.maxVectorDim).contains(inputDim) else {
        throw DSLError(.badInputDim, line: nil, "input_dim=\(inputDim) must be in 1...\(DSLLimits.maxVectorDim)")
    }
    let (program, dropped) = try DSLParser.parse(dsl, strict: false, addressSpace: true)
    let normalized = normalize(program, profile: .for(taskType: taskType, inputDim: inputDim))
    let count = Phase.allCases.reduce(0) { $0 + normalized[$1].count }
    guard count > 0 else {
        let why: String
        if let first = dropped.first {
            let more = dropped.count > 1 ? " (and \(dropped.count - 1) more dropped line(s))" : ""
            why = "nothing left to run after dropping unreadable lines; first: \(first)\(more)"
        } else if Phase.allCases.contains(where: { !program[$0].isEmpty }) {
            why = "nothing left to run: no instruction is allowed by the \(taskType) profile"
        } else {
            why = "nothing to run: the program has no instruction"
        }
        throw DSLError(.emptyProgram, line: nil, why)
    }
    return UpstreamReading(dsl: normalized.render(), dropped: dropped, instructionCount: count)
}
