/// Profile-respecting random instructions and mutations (insert / remove / randomize instruction /
/// randomize argument). Every program a `Mutator` produces is already in the profile's normal form.
import AlgorithmDSL

/// Random instructions and mutations that stay within one `ComplianceProfile`.
public struct Mutator: Sendable {
    /// A mutation: insert an instruction, remove one, randomize one, or randomize one of its arguments.
    public enum Kind: String, Sendable, CaseIterable {
        case insert, remove, randomizeInstruction, randomizeArgument
    }

    public let profile: ComplianceProfile
    /// Mutation mix: 40 % randomize argument, 20 % each of insert, remove, randomize instruction.
    static let weightedKinds: [Kind] = [.randomizeArgument, .randomizeArgument, .insert, .remove, .randomizeInstruction]
    /// Per phase: (op, signature) pairs the profile can express.
    private let choices: [Phase: [Op: [OpSignature]]]
    private let ops: [Phase: [Op]]

    public init(profile: ComplianceProfile) {
        self.profile = profile
        var choices: [Phase: [Op: [OpSignature]]] = [:]
        var ops: [Phase: [Op]] = [:]
        for phase in Phase.allCases {
            var table: [Op: [OpSignature]] = [:]
            // Op.allCases order keeps the table (and so every draw) deterministic.
            for op in Op.allCases where profile.allowedOps(phase).contains(op) && op != .constVec && op != .copy {
                let feasible = op.signatures.filter { sig in
                    (sig.args + [sig.dest]).allSatisfy { profile.count(of: $0) > 0 }
                }
                if !feasible.isEmpty { table[op] = feasible }
            }
            choices[phase] = table
            ops[phase] = Op.allCases.filter { table[$0] != nil }
        }
        self.choices = choices
        self.ops = ops
    }

    // MARK: - Random pieces

    func randomRegister(_ kind: RegisterKind, _ rng: inout DeterministicRNG) -> Register {
        Register(kind, rng.nextInt(below: max(1, profile.count(of: kind))))
    }

    /// A constant spread over several magnitudes: ±m·10^k, m ∈ [1, 10), k ∈ {−3, …, 0}, or N(0, 1).
    func randomConstant(_ rng: inout DeterministicRNG) -> Double {
        if rng.nextInt(below: 3) == 0 { return rng.nextGaussian() }
        let scales = [0.001, 0.01, 0.1, 1.0]
        let magnitude = (1 + 9 * rng.nextDouble()) * scales[rng.nextInt(below: scales.count)]
        return rng.nextInt(below: 2) == 0 ? magnitude : -magnitude
    }

    /// Half the time a fresh constant; otherwise the value scaled by a factor drawn from
    /// {×0.1, ×0.3, ×0.5, ×2, ×3, ×10, −1×} or by 1 + N(0, 0.2²), so tuning can jump orders of
    /// magnitude as well as refine.
    func perturbConstant(_ value: Double, _ rng: inout DeterministicRNG) -> Double {
        if rng.nextInt(below: 2) == 0 { return randomConstant(&rng) }
        let factors = [0.1, 0.3, 0.5, 2.0, 3.0, 10.0, -1.0]
        let pick = rng.nextInt(below: factors.count + 1)
        let factor = pick < factors.count ? factors[pick] : 1 + 0.2 * rng.nextGaussian()
        let scaled = value * factor
        return scaled.isFinite && scaled != value ? scaled : randomConstant(&rng)
    }

    func randomConstants(for op: Op, _ rng: inout DeterministicRNG) -> [Double] {
        switch op {
        case .const: return [randomConstant(&rng)]
        case .gaussian: return [0.0, Swift.abs(randomConstant(&rng))]
        case .uniform:
            let a = Swift.abs(randomConstant(&rng))
            return [-a, a]
        default: return []
        }
    }

    /// A random instruction the profile allows in `phase` (nil if it allows none).
    public func randomInstruction(phase: Phase, rng: inout DeterministicRNG) -> Instruction? {
        guard let phaseOps = ops[phase], !phaseOps.isEmpty, let table = choices[phase] else { return nil }
        let op = phaseOps[rng.nextInt(below: phaseOps.count)]
        guard let signatures = table[op], !signatures.isEmpty else { return nil }
        let sig = signatures[rng.nextInt(below: signatures.count)]
        var args: [Register] = []
        for kind in sig.args { args.append(randomRegister(kind, &rng)) }
        return Instruction(op: op, dest: randomRegister(sig.dest, &rng), args: args,
                           constants: randomConstants(for: op, &rng))
    }

    /// A random compliant program with at least one predict instruction.
    public func randomProgram(rng: inout DeterministicRNG) -> Program {
        var program = Program(meta: profile.meta)
        for phase in Phase.allCases {
            let limit = profile.maxOps(phase)
            guard limit > 0 else { continue }
            let count = phase == .predict ? 1 + rng.nextInt(below: limit) : rng.nextInt(below: limit + 1)
            for _ in 0..<count {
                if let inst = randomInstruction(phase: phase, rng: &rng) { program[phase].append(inst) }
            }
        }
        return normalize(program, profile: profile)
    }

    // MARK: - Mutation

    /// A mutated copy of `program` (normalised first), different from it whenever some mutation can
    /// change it.
    public func mutate(_ program: Program, rng: inout DeterministicRNG) -> Program {
        let base = normalize(program, profile: profile)
        for _ in 0..<16 {
            let kind = Self.weightedKinds[rng.nextInt(below: Self.weightedKinds.count)]
            if let child = apply(kind, to: base, rng: &rng), child != base {
                return normalize(child, profile: profile)
            }
        }
        return base
    }

    /// One mutation of the given kind; nil when it does not apply (e.g. nothing to remove).
    public func apply(_ kind: Kind, to program: Program, rng: inout DeterministicRNG) -> Program? {
        var p = program
        switch kind {
        case .insert:
            let open = Phase.allCases.filter {
                p[$0].count < profile.maxOps($0) && !(ops[$0] ?? []).isEmpty
            }
            guard !open.isEmpty else { return nil }
            let phase = open[rng.nextInt(below: open.count)]
            guard let inst = randomInstruction(phase: phase, rng: &rng) else { return nil }
            p[phase].insert(inst, at: rng.nextInt(below: p[phase].count + 1))
        case .remove:
            // Never empty the predict phase.
            let removable = Phase.allCases.filter { p[$0].count > ($0 == .predict ? 1 : 0) }
            guard !removable.isEmpty else { return nil }
            let phase = removable[rng.nextInt(below: removable.count)]
            p[phase].remove(at: rng.nextInt(below: p[phase].count))
        case .randomizeInstruction:
            let filled = Phase.allCases.filter { !p[$0].isEmpty && !(ops[$0] ?? []).isEmpty }
            guard !filled.isEmpty else { return nil }
            let phase = filled[rng.nextInt(below: filled.count)]
            guard let inst = randomInstruction(phase: phase, rng: &rng) else { return nil }
            p[phase][rng.nextInt(below: p[phase].count)] = inst
        case .randomizeArgument:
            let filled = Phase.allCases.filter { !p[$0].isEmpty }
            guard !filled.isEmpty else { return nil }
            let phase = filled[rng.nextInt(below: filled.count)]
            let index = rng.nextInt(below: p[phase].count)
            var inst = p[phase][index]
            // Slot 0 = destination, then register operands, then constants.
            let slots = 1 + inst.args.count + inst.constants.count
            let slot = rng.nextInt(below: slots)
            if slot == 0 {
                inst.dest = randomRegister(inst.dest.kind, &rng)
            } else if slot <= inst.args.count {
                inst.args[slot - 1] = randomRegister(inst.args[slot - 1].kind, &rng)
            } else {
                let c = slot - 1 - inst.args.count
                inst.constants[c] = perturbConstant(inst.constants[c], &rng)
            }
            p[phase][index] = inst
        }
        return p
    }
}
