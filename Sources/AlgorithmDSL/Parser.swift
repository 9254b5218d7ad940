/// The DSL parser (pool-api.md §8.2): line based, `xD = …` and `OP args -> dest` forms, phase
/// headers, an optional `# meta:` line, inline comments. Strict mode (what pools and evaluators
/// use) rejects any line it cannot turn into a valid instruction; lenient mode skips such lines
/// and reports them as warnings.

public enum DSLParser {
    /// Parses and validates a program. Throws the first error with its 1-based line number.
    public static func parse(_ text: String, strict: Bool = true) throws(DSLError) -> Program {
        try parseReportingWarnings(text, strict: strict).program
    }

    /// Like `parse`, also returning the lines lenient mode skipped (always empty when strict).
    public static func parseReportingWarnings(_ text: String, strict: Bool)
        throws(DSLError) -> (program: Program, warnings: [DSLError])
    {
        let byteCount = text.utf8.count
        if byteCount > DSLLimits.maxTextBytes {
            throw DSLError(.oversized, line: nil,
                           "program text is \(byteCount) bytes, more than the \(DSLLimits.maxTextBytes)-byte limit")
        }
        var warnings: [DSLError] = []
        func fail(_ error: DSLError) throws(DSLError) {
            if strict { throw error }
            warnings.append(error)
        }

        // Pass 1: classify lines, assign phases, find the meta line.
        struct CodeLine {
            var number: Int
            var phase: Phase
            var code: Substring
        }
        var codeLines: [CodeLine] = []
        var metaLine: (number: Int, payload: Substring)?
        var phase = Phase.predict
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (offset, rawLine) in lines.enumerated() {
            let number = offset + 1
            let line = trim(rawLine)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let body = trim(line.dropFirst())
                if body.lowercased().hasPrefix("meta:") {
                    if metaLine != nil {
                        try fail(DSLError(.badMeta, line: number, "duplicate meta line"))
                        continue
                    }
                    metaLine = (number, body.dropFirst(5))
                } else if let header = headerPhase(line) {
                    phase = header
                }
                continue
            }
            var code = line
            if let hash = code.firstIndex(of: "#") { code = trim(code[..<hash]) }
            if code.isEmpty { continue }
            if code.hasSuffix(":") {
                if let header = headerPhase(code) { phase = header }
                continue
            }
            codeLines.append(CodeLine(number: number, phase: phase, code: code))
        }

        // Meta.
        var meta = ProgramMeta()
        var declaredMax: [Phase: Int] = [:]
        var declaredDim: Int?
        if let metaLine {
            do {
                (meta, declaredMax, declaredDim) = try parseMeta(metaLine.payload, line: metaLine.number)
            } catch {
                try fail(error)
                meta = ProgramMeta()
                declaredMax = [:]
                declaredDim = nil
            }
        }
        if declaredDim == nil { meta.vectorDim = DSLLimits.defaultVectorDim }
        do {
            try Validator.checkMeta(meta, line: metaLine?.number)
        } catch {
            try fail(error)
            meta = ProgramMeta()
            declaredMax = [:]
        }

        // Pass 2: instructions.
        var program = Program(meta: meta)
        var origins: [Phase: [Int]] = [:]
        for codeLine in codeLines {
            do {
                guard let inst = try parseInstruction(codeLine.code, meta: meta, line: codeLine.number) else { continue }
                program[codeLine.phase].append(inst)
                origins[codeLine.phase, default: []].append(codeLine.number)
            } catch {
                try fail(error)
            }
        }

        // Sizes.
        var total = 0
        for p in Phase.allCases {
            let count = program[p].count
            if let limit = declaredMax[p] {
                program.meta.setMaxOps(p, limit)
                if count > limit {
                    let line = origins[p]?[limit]
                    try fail(DSLError(.oversized, line: line,
                                      "\(p) has \(count) instructions, more than \(p)_max_ops=\(limit)"))
                    program[p] = Array(program[p].prefix(limit))
                    origins[p] = Array((origins[p] ?? []).prefix(limit))
                }
            } else {
                program.meta.setMaxOps(p, min(DSLLimits.maxInstructions, max(DSLLimits.defaultPhaseMaxOps, count)))
            }
            total += program[p].count
        }
        if total > DSLLimits.maxInstructions {
            let ordered = Phase.allCases.flatMap { origins[$0] ?? [] }.sorted()
            let line = ordered.count > DSLLimits.maxInstructions ? ordered[DSLLimits.maxInstructions] : nil
            throw DSLError(.oversized, line: line,
                           "program has \(total) instructions, more than the cap of \(DSLLimits.maxInstructions)")
        }
        return (program, warnings)
    }

    // MARK: - Lines

    static func trim(_ s: Substring) -> Substring {
        var lo = s.startIndex
        var hi = s.endIndex
        while lo < hi, s[lo].isWhitespace { lo = s.index(after: lo) }
        while hi > lo, s[s.index(before: hi)].isWhitespace { hi = s.index(before: hi) }
        return s[lo..<hi]
    }

    static func headerPhase(_ line: Substring) -> Phase? {
        let lower = line.lowercased()
        if lower.contains("setup") { return .setup }
        if lower.contains("predict") { return .predict }
        if lower.contains("learn") { return .learn }
        return nil
    }

    static func parseMeta(_ payload: Substring, line: Int)
        throws(DSLError) -> (ProgramMeta, [Phase: Int], Int?)
    {
        var meta = ProgramMeta()
        var declaredMax: [Phase: Int] = [:]
        var declaredDim: Int?
        let tokens = payload.split(whereSeparator: { $0.isWhitespace || $0 == "," })
        for token in tokens {
            guard let eq = token.firstIndex(of: "=") else {
                throw DSLError(.badMeta, line: line, "meta token '\(token)' is not key=value")
            }
            let key = token[..<eq].lowercased()
            let rawValue = token[token.index(after: eq)...]
            func intValue() throws(DSLError) -> Int {
                guard let value = Int(rawValue) else {
                    throw DSLError(.badMeta, line: line, "meta \(key)='\(rawValue)' is not an integer")
                }
                return value
            }
            switch key {
            case "scalar_count": meta.scalarCount = try intValue()
            case "vector_count": meta.vectorCount = try intValue()
            case "matrix_count": meta.matrixCount = try intValue()
            case "vector_dim":
                let value = try intValue()
                meta.vectorDim = value
                declaredDim = value
            default:
                var matched = false
                for p in Phase.allCases {
                    let name = p.rawValue
                    if key == "\(name)_max_ops" || key == "\(name)_max" || key == "\(name)_max_size"
                        || key == "\(name)_max_instructions"
                    {
                        declaredMax[p] = try intValue()
                        matched = true
                    }
                }
                // Unknown keys are ignored so newer writers stay readable.
                _ = matched
            }
        }
        for (p, value) in declaredMax { meta.setMaxOps(p, value) }
        return (meta, declaredMax, declaredDim)
    }

    // MARK: - Instructions

    enum Token {
        case register(Register)
        case number(Double)
    }

    static let functionOps: [String: Op] = {
        var table: [String: Op] = [:]
        for op in Op.allCases { table[op.functionName] = op }
        table["min"] = .minimum
        table["max"] = .maximum
        return table
    }()

    /// Returns nil for `noop()` lines.
    static func parseInstruction(_ code: Substring, meta: ProgramMeta, line: Int) throws(DSLError) -> Instruction? {
        let lower = code.lowercased()
        if lower == "noop()" || lower == "noop" { return nil }
        let inst: Instruction
        if let arrow = code.range(of: "->") {
            guard let built = try parseArrow(code[..<arrow.lowerBound], dest: code[arrow.upperBound...], line: line)
            else { return nil }
            inst = built
        } else if let eq = code.firstIndex(of: "=") {
            guard let built = try parseAssignment(lhs: trim(code[..<eq]), rhs: trim(code[code.index(after: eq)...]),
                                                  line: line)
            else { return nil }
            inst = built
        } else {
            let first = code.split(whereSeparator: { $0.isWhitespace || $0 == "(" }).first ?? code
            if isIdentifier(first), Op(rawValue: first.uppercased()) == nil, functionOps[first.lowercased()] == nil {
                throw DSLError(.unknownOp, line: line, "unknown op '\(first)'")
            }
            throw DSLError(.syntax, line: line, "cannot parse '\(code)': expected 'xD = …' or 'OP args -> dest'")
        }
        if let failure = Validator.check(inst, meta: meta) {
            throw DSLError(failure.kind, line: line, failure.message)
        }
        return inst
    }

    static func parseArrow(_ left: Substring, dest rawDest: Substring, line: Int) throws(DSLError) -> Instruction? {
        let destText = trim(rawDest)
        guard let dest = try registerToken(destText, line: line) else {
            throw DSLError(.syntax, line: line, "'\(destText)' is not a register")
        }
        let parts = left.split(whereSeparator: { $0.isWhitespace || $0 == "," })
        guard let name = parts.first else {
            throw DSLError(.syntax, line: line, "missing op before '->'")
        }
        let upper = name.uppercased()
        if upper == "NOOP" { return nil }
        guard let op = Op(rawValue: upper) ?? functionOps[name.lowercased()] else {
            throw DSLError(.unknownOp, line: line, "unknown op '\(name)'")
        }
        var tokens: [Token] = []
        for part in parts.dropFirst() { tokens.append(try operand(part, line: line)) }
        return try build(op: op, dest: dest, tokens: tokens, arrowForm: true, line: line)
    }

    static func parseAssignment(lhs: Substring, rhs: Substring, line: Int) throws(DSLError) -> Instruction? {
        if rhs.isEmpty { throw DSLError(.syntax, line: line, "missing expression after '='") }
        // vD[i] = number
        if let open = lhs.firstIndex(of: "[") {
            guard lhs.hasSuffix("]"),
                  let dest = try registerToken(trim(lhs[..<open]), line: line)
            else { throw DSLError(.syntax, line: line, "bad element target '\(lhs)'") }
            let indexText = trim(lhs[lhs.index(after: open)..<lhs.index(before: lhs.endIndex)])
            guard !indexText.isEmpty, indexText.allSatisfy(\.isASCIIDigit) else {
                throw DSLError(.syntax, line: line, "bad element index '\(indexText)'")
            }
            let element = Int(indexText) ?? Int.max
            let value = try number(rhs, line: line)
            return Instruction(op: .constVec, dest: dest, constants: [value], element: element)
        }
        guard let dest = try registerToken(lhs, line: line) else {
            throw DSLError(.syntax, line: line, "'\(lhs)' is not a register")
        }
        // xD = fn(args)
        if let open = rhs.firstIndex(of: "(") {
            guard rhs.hasSuffix(")") else {
                throw DSLError(.syntax, line: line, "missing ')' in '\(rhs)'")
            }
            let name = trim(rhs[..<open])
            let lowerName = name.lowercased()
            if lowerName == "noop" { return nil }
            guard let op = functionOps[lowerName] else {
                throw DSLError(.unknownOp, line: line, "unknown op '\(name)'")
            }
            let inner = trim(rhs[rhs.index(after: open)..<rhs.index(before: rhs.endIndex)])
            var tokens: [Token] = []
            if !inner.isEmpty {
                for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
                    tokens.append(try operand(trim(part), line: line))
                }
            }
            return try build(op: op, dest: dest, tokens: tokens, arrowForm: false, line: line)
        }
        // xD = number
        if looksNumeric(rhs) {
            return Instruction.const(dest, try number(rhs, line: line))
        }
        // xD = xS  |  xD = xA op xB
        let (first, rest) = leadingRegisterText(rhs)
        guard !first.isEmpty, let a = try registerToken(first, line: line) else {
            throw DSLError(.syntax, line: line, "cannot parse expression '\(rhs)'")
        }
        let tail = trim(rest)
        if tail.isEmpty { return Instruction(op: .copy, dest: dest, args: [a]) }
        guard let symbol = tail.first else {
            throw DSLError(.syntax, line: line, "cannot parse expression '\(rhs)'")
        }
        let op: Op
        switch symbol {
        case "+": op = .add
        case "-": op = .sub
        case "*": op = .mul
        case "/": op = .div
        default: throw DSLError(.syntax, line: line, "unknown operator '\(symbol)' in '\(rhs)'")
        }
        let secondText = trim(tail.dropFirst())
        guard let b = try registerToken(secondText, line: line) else {
            throw DSLError(.syntax, line: line, "'\(secondText)' is not a register (operands must be registers)")
        }
        return Instruction(op: op, dest: dest, args: [a, b])
    }

    /// Builds an instruction from an op and its operands in source order.
    static func build(op: Op, dest: Register, tokens: [Token], arrowForm: Bool, line: Int) throws(DSLError) -> Instruction {
        var registers: [Register] = []
        var numbers: [Double] = []
        for token in tokens {
            switch token {
            case .register(let r): registers.append(r)
            case .number(let x): numbers.append(x)
            }
        }
        func expect(registers r: Int, numbers n: ClosedRange<Int>) throws(DSLError) {
            if registers.count != r || !n.contains(numbers.count) {
                let wanted = n.lowerBound == n.upperBound ? "\(n.lowerBound)" : "\(n.lowerBound)-\(n.upperBound)"
                throw DSLError(.syntax, line: line,
                               "\(op) expects \(r) register(s) and \(wanted) number(s), got \(registers.count) and \(numbers.count)")
            }
        }
        switch op {
        case .const:
            try expect(registers: 0, numbers: 1...1)
            return .const(dest, numbers[0])
        case .constVec:
            try expect(registers: 0, numbers: arrowForm ? 0...2 : 2...2)
            if numbers.isEmpty { return .constVec(dest, element: 0, 0) }
            if numbers.count != 2 {
                throw DSLError(.syntax, line: line, "CONST_VEC expects an element index and a value")
            }
            let index = numbers[0]
            guard index >= 0, index < Double(DSLLimits.maxVectorDim), index.rounded(.towardZero) == index else {
                throw DSLError(.syntax, line: line, "CONST_VEC element index \(index) is not a valid index")
            }
            return .constVec(dest, element: Int(index), numbers[1])
        case .gaussian, .uniform:
            try expect(registers: 0, numbers: 0...2)
            let first = numbers.count > 0 ? numbers[0] : 0.0
            let second = numbers.count > 1 ? numbers[1] : 1.0
            return Instruction(op: op, dest: dest, constants: [first, second])
        case .heaviside:
            // `heaviside(x[, h])`: the optional second value is accepted for compatibility and ignored.
            try expect(registers: 1, numbers: 0...1)
            return Instruction(op: .heaviside, dest: dest, args: registers)
        case .dot where registers.count == 2 && registers[0].kind == .matrix && registers[1].kind == .vector:
            try expect(registers: 2, numbers: 0...0)
            return Instruction(op: .matmul, dest: dest, args: registers)
        default:
            try expect(registers: op.arity, numbers: 0...0)
            return Instruction(op: op, dest: dest, args: registers)
        }
    }

    // MARK: - Tokens

    static func isIdentifier(_ s: Substring) -> Bool {
        guard let first = s.first, first.isLetter else { return false }
        return s.allSatisfy { $0.isLetter || $0.isASCIIDigit || $0 == "_" }
    }

    /// Splits `s12 + v3` into `s12` and ` + v3`.
    static func leadingRegisterText(_ s: Substring) -> (Substring, Substring) {
        var end = s.startIndex
        guard end < s.endIndex, s[end].isLetter else { return (s[s.startIndex..<s.startIndex], s) }
        end = s.index(after: end)
        while end < s.endIndex, s[end].isASCIIDigit { end = s.index(after: end) }
        return (s[..<end], s[end...])
    }

    /// A register token (`s3`, `V1`); nil if the text is not shaped like one. Indices beyond the
    /// address space are returned as-is and rejected by validation.
    static func registerToken(_ s: Substring, line: Int) throws(DSLError) -> Register? {
        guard let first = s.first else { return nil }
        let kind: RegisterKind
        switch first {
        case "s", "S": kind = .scalar
        case "v", "V": kind = .vector
        case "m", "M": kind = .matrix
        default: return nil
        }
        let digits = s.dropFirst()
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return nil }
        return Register(kind, Int(digits) ?? Int.max)
    }

    static func operand(_ s: Substring, line: Int) throws(DSLError) -> Token {
        if s.isEmpty { throw DSLError(.syntax, line: line, "empty operand") }
        if let r = try registerToken(s, line: line) { return .register(r) }
        return .number(try number(s, line: line))
    }

    static func looksNumeric(_ s: Substring) -> Bool {
        if isNumberSyntax(s) { return true }
        var body = s
        if let c = body.first, c == "+" || c == "-" { body = body.dropFirst() }
        let lower = body.lowercased()
        return lower == "inf" || lower == "infinity" || lower == "nan"
    }

    /// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`
    static func isNumberSyntax(_ s: Substring) -> Bool {
        let u = Array(s.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
            return i - start
        }
        if i < u.count, u[i] == 43 || u[i] == 45 { i += 1 }
        var mantissaDigits = digits()
        if i < u.count, u[i] == 46 {
            i += 1
            mantissaDigits += digits()
        }
        if mantissaDigits == 0 { return false }
        if i < u.count, u[i] == 101 || u[i] == 69 {
            i += 1
            if i < u.count, u[i] == 43 || u[i] == 45 { i += 1 }
            if digits() == 0 { return false }
        }
        return i == u.count
    }

    static func number(_ s: Substring, line: Int) throws(DSLError) -> Double {
        if isNumberSyntax(s) {
            guard let value = Double(String(s)) else {
                throw DSLError(.syntax, line: line, "'\(s)' is not a number")
            }
            guard value.isFinite else {
                throw DSLError(.nonFiniteConstant, line: line, "constant '\(s)' is not finite")
            }
            return value
        }
        if looksNumeric(s) {
            throw DSLError(.nonFiniteConstant, line: line, "constant '\(s)' is not finite")
        }
        throw DSLError(.syntax, line: line, "'\(s)' is not a number or register")
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
