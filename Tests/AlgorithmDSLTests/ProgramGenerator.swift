import AlgorithmDSL

/// Seeded generator of random valid programs (any op, any meta) for property tests.
struct ProgramGenerator {
    var rng: DeterministicRNG

    init(seed: UInt64) { rng = DeterministicRNG(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + rng.nextInt(below: range.count)
    }

    /// Constants that stress the number printer: ordinary values, signed zeros, integers, extreme
    /// exponents, subnormals and arbitrary finite bit patterns.
    mutating func constant() -> Double {
        switch rng.nextInt(below: 8) {
        case 0: return rng.nextGaussian()
        case 1: return rng.nextInt(below: 2) == 0 ? 0.0 : -0.0
        case 2: return Double(int(-1000...1000))
        case 3: return rng.nextGaussian() * 1e300
        case 4: return rng.nextGaussian() * 1e-300
        case 5: return Double.leastNonzeroMagnitude * Double(int(1...1000))
        case 6: return [0.1, 1e-8, 0.01, 1.0 / 3.0, Double.pi, -2.5e-5, Double.greatestFiniteMagnitude][int(0...6)]
        default:
            while true {
                let value = Double(bitPattern: rng.next())
                if value.isFinite { return value }
            }
        }
    }

    mutating func meta() -> ProgramMeta {
        ProgramMeta(scalarCount: int(2...20), vectorCount: int(1...10), matrixCount: int(0...5),
                    vectorDim: int(1...64), setupMaxOps: 0, predictMaxOps: 0, learnMaxOps: 0)
    }

    mutating func register(_ kind: RegisterKind, _ meta: ProgramMeta) -> Register {
        Register(kind, rng.nextInt(below: meta.count(of: kind)))
    }

    mutating func instruction(_ meta: ProgramMeta) -> Instruction {
        while true {
            let op = Op.allCases[rng.nextInt(below: Op.allCases.count)]
            let feasible = op.signatures.filter { sig in
                (sig.args + [sig.dest]).allSatisfy { meta.count(of: $0) > 0 }
            }
            if feasible.isEmpty { continue }
            let sig = feasible[rng.nextInt(below: feasible.count)]
            var args: [Register] = []
            for kind in sig.args { args.append(register(kind, meta)) }
            let constants = (0..<op.constantCount).map { _ in constant() }
            let element = op == .constVec ? rng.nextInt(below: meta.vectorDim) : 0
            return Instruction(op: op, dest: register(sig.dest, meta), args: args, constants: constants, element: element)
        }
    }

    mutating func program(maxPerPhase: Int = 40) -> Program {
        var meta = meta()
        var program = Program(meta: meta)
        for phase in Phase.allCases {
            let count = int(0...maxPerPhase)
            meta.setMaxOps(phase, count + int(0...5))
            for _ in 0..<count { program[phase].append(instruction(meta)) }
        }
        program.meta = meta
        return program
    }
}

/// Arrow-form text (`OP args -> dest`) of an instruction, written independently of the renderer.
func arrowLine(_ inst: Instruction) -> String {
    var parts = [inst.op.rawValue]
    switch inst.op {
    case .constVec:
        parts.append("\(inst.element)")
        parts.append(contentsOf: inst.constants.map { "\($0)" })
    default:
        parts.append(contentsOf: inst.args.map(\.description))
        parts.append(contentsOf: inst.constants.map { "\($0)" })
    }
    return parts.joined(separator: " ") + " -> " + inst.dest.description
}
