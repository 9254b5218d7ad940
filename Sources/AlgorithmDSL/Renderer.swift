/// Canonical text rendering. Doubles use Swift's shortest round-trip representation, so the
/// parser reads every rendered constant back bit-exactly.

enum Renderer {
    static func render(_ program: Program) -> String {
        var lines: [String] = [metaLine(program.meta)]
        for phase in Phase.allCases {
            lines.append("# \(phase)")
            for inst in program[phase] {
                lines.append(line(for: inst))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func metaLine(_ meta: ProgramMeta) -> String {
        "# meta: scalar_count=\(meta.scalarCount) vector_count=\(meta.vectorCount)"
            + " matrix_count=\(meta.matrixCount) vector_dim=\(meta.vectorDim)"
            + " setup_max_ops=\(meta.setupMaxOps) predict_max_ops=\(meta.predictMaxOps)"
            + " learn_max_ops=\(meta.learnMaxOps)"
    }

    static func number(_ value: Double) -> String { "\(value)" }

    static func line(for inst: Instruction) -> String {
        let d = inst.dest.description
        let args = inst.args.map(\.description)
        func constant(_ i: Int) -> String {
            i < inst.constants.count ? number(inst.constants[i]) : "0.0"
        }
        func arg(_ i: Int) -> String { i < args.count ? args[i] : "?" }
        switch inst.op {
        case .const:
            return "\(d) = \(constant(0))"
        case .constVec:
            return "\(d)[\(inst.element)] = \(constant(0))"
        case .copy:
            return "\(d) = \(arg(0))"
        case .add:
            return "\(d) = \(arg(0)) + \(arg(1))"
        case .sub:
            return "\(d) = \(arg(0)) - \(arg(1))"
        case .mul:
            return "\(d) = \(arg(0)) * \(arg(1))"
        case .div:
            return "\(d) = \(arg(0)) / \(arg(1))"
        case .gaussian, .uniform:
            return "\(d) = \(inst.op.functionName)(\(constant(0)), \(constant(1)))"
        default:
            return "\(d) = \(inst.op.functionName)(\(args.joined(separator: ", ")))"
        }
    }
}
