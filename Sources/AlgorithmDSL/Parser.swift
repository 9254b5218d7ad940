/// The DSL parser (pool-api.md §8.2): line based, `xD = …` and `OP args -> dest` forms, phase
/// headers, an optional `# meta:` line, inline comments. Strict mode (what pools and evaluators
/// use) rejects any line it cannot turn into a valid instruction; lenient mode skips such lines
/// and reports them as warnings. Works on UTF-8 bytes; the syntax itself is ASCII.

/// Turns DSL text into a validated `Program`, strictly or leniently (skipped lines as warnings).
public enum DSLParser {
    /// Parses and validates a program. Throws the first error with its 1-based line number.
    public static func parse(_ text: String, strict: Bool = true) throws(DSLError) -> Program {
        try parseReportingWarnings(text, strict: strict).program
    }

    /// Like `parse`, also returning the lines lenient mode skipped (always empty when strict).
    public static func parseReportingWarnings(_ text: String, strict: Bool)
        throws(DSLError) -> (program: Program, warnings: [DSLError])
    {
        try parse(text, strict: strict, addressSpace: false)
    }

    /// `addressSpace` (lenient reading for `normalizeLikeUpstream`): registers are checked
    /// against the address space (20 scalars, 10 vectors, 5 matrices) instead of the meta
    /// counts, and a phase longer than its declared maximum is kept whole, as the upstream
    /// parser reads them; normalisation then wraps and truncates to the task's profile. The
    /// program's meta is the declared one, so the result may not validate on its own.
    static func parse(_ text: String, strict: Bool, addressSpace: Bool)
        throws(DSLError) -> (program: Program, warnings: [DSLError])
    {
        let bytes = Array(text.utf8)
        if bytes.count > DSLLimits.maxTextBytes {
            throw DSLError(.oversized, line: nil,
                           "program text is \(bytes.count) bytes, more than the \(DSLLimits.maxTextBytes)-byte limit")
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
            var code: Bytes
        }
        var codeLines: [CodeLine] = []
        var metaLine: (number: Int, payload: Bytes)?
        var phase = Phase.predict
        for (number, rawLine) in splitLines(bytes) {
            let line = trim(rawLine)
            guard let first = line.first else { continue }
            if first == Ascii.hash {
                let body = trim(line.dropFirst())
                if hasPrefixIgnoringCase(body, "meta:") {
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
            if let hash = code.firstIndex(of: Ascii.hash) { code = trim(code[..<hash]) }
            guard let last = code.last else { continue }
            if last == Ascii.colon {
                if let header = headerPhase(code) { phase = header }
                continue
            }
            codeLines.append(CodeLine(number: number, phase: phase, code: code))
        }

        // Meta.
        var meta = ProgramMeta()
        var declaredMax: [Phase: Int] = [:]
        if let metaLine {
            do {
                (meta, declaredMax) = try parseMeta(metaLine.payload, line: metaLine.number)
            } catch {
                try fail(error)
                meta = ProgramMeta()
                declaredMax = [:]
            }
        }
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
        var checkMeta = meta
        if addressSpace {
            checkMeta.scalarCount = DSLLimits.maxScalars
            checkMeta.vectorCount = DSLLimits.maxVectors
            checkMeta.matrixCount = DSLLimits.maxMatrices
            checkMeta.vectorDim = DSLLimits.maxVectorDim
        }
        for codeLine in codeLines {
            do {
                guard let inst = try parseInstruction(codeLine.code, meta: checkMeta, line: codeLine.number) else { continue }
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
                program.meta.setMaxOps(p, addressSpace ? min(DSLLimits.maxInstructions, max(limit, count)) : limit)
                if count > limit && !addressSpace {
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

    // MARK: - Bytes

    typealias Bytes = ArraySlice<UInt8>

    enum Ascii {
        static let hash = UInt8(ascii: "#")
        static let colon = UInt8(ascii: ":")
        static let equals = UInt8(ascii: "=")
        static let minus = UInt8(ascii: "-")
        static let plus = UInt8(ascii: "+")
        static let star = UInt8(ascii: "*")
        static let slash = UInt8(ascii: "/")
        static let greater = UInt8(ascii: ">")
        static let comma = UInt8(ascii: ",")
        static let dot = UInt8(ascii: ".")
        static let openParen = UInt8(ascii: "(")
        static let closeParen = UInt8(ascii: ")")
        static let openBracket = UInt8(ascii: "[")
        static let closeBracket = UInt8(ascii: "]")
        static let underscore = UInt8(ascii: "_")
        static let newline = UInt8(ascii: "\n")
        static let carriageReturn = UInt8(ascii: "\r")
    }

    /// Lines split at `\n`, `\r\n` or `\r`, numbered from 1.
    static func splitLines(_ bytes: [UInt8]) -> [(Int, Bytes)] {
        var lines: [(Int, Bytes)] = []
        var start = 0
        var i = 0
        var number = 1
        while i < bytes.count {
            let b = bytes[i]
            if b == Ascii.newline || b == Ascii.carriageReturn {
                lines.append((number, bytes[start..<i]))
                number += 1
                if b == Ascii.carriageReturn, i + 1 < bytes.count, bytes[i + 1] == Ascii.newline { i += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < bytes.count { lines.append((number, bytes[start..<bytes.count])) }
        return lines
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) }
    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 97 && (b | 0x20) <= 122 }
    static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b | 0x20 : b }

    static func trim(_ s: Bytes) -> Bytes {
        var lo = s.startIndex
        var hi = s.endIndex
        while lo < hi, isSpace(s[lo]) { lo += 1 }
        while hi > lo, isSpace(s[hi - 1]) { hi -= 1 }
        return s[lo..<hi]
    }

    static func text(_ s: Bytes) -> String { String(decoding: s, as: UTF8.self) }

    static func lowercased(_ s: Bytes) -> String { String(decoding: s.map(lower), as: UTF8.self) }

    static func hasPrefixIgnoringCase(_ s: Bytes, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard s.count >= count else { return false }
        return prefix.withUTF8Buffer { p in
            for k in 0..<count where lower(s[s.startIndex + k]) != p[k] { return false }
            return true
        }
    }

    static func containsIgnoringCase(_ s: Bytes, _ word: StaticString) -> Bool {
        var i = s.startIndex
        while i < s.endIndex {
            if hasPrefixIgnoringCase(s[i...], word) { return true }
            i += 1
        }
        return false
    }

    static func headerPhase(_ line: Bytes) -> Phase? {
        if containsIgnoringCase(line, "setup") { return .setup }
        if containsIgnoringCase(line, "predict") { return .predict }
        if containsIgnoringCase(line, "learn") { return .learn }
        return nil
    }

    /// Splits at whitespace and commas, dropping empty pieces.
    static func words(_ s: Bytes) -> [Bytes] {
        var out: [Bytes] = []
        var i = s.startIndex
        while i < s.endIndex {
            while i < s.endIndex, isSpace(s[i]) || s[i] == Ascii.comma { i += 1 }
            let start = i
            while i < s.endIndex, !(isSpace(s[i]) || s[i] == Ascii.comma) { i += 1 }
            if i > start { out.append(s[start..<i]) }
        }
        return out
    }

    // MARK: - Meta

    static func parseMeta(_ payload: Bytes, line: Int) throws(DSLError) -> (ProgramMeta, [Phase: Int]) {
        var meta = ProgramMeta()
        var declaredMax: [Phase: Int] = [:]
        for token in words(payload) {
            guard let eq = token.firstIndex(of: Ascii.equals) else {
                throw DSLError(.badMeta, line: line, "meta token '\(text(token))' is not key=value")
            }
            let key = lowercased(token[..<eq])
            let rawValue = text(token[(eq + 1)...])
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
            case "vector_dim": meta.vectorDim = try intValue()
            default:
                // `<phase>_max_ops`, `_max`, `_max_size`, `_max_instructions`; unknown keys are
                // ignored so newer writers stay readable.
                for p in Phase.allCases {
                    let name = p.rawValue
                    if key == "\(name)_max_ops" || key == "\(name)_max" || key == "\(name)_max_size"
                        || key == "\(name)_max_instructions"
                    {
                        declaredMax[p] = try intValue()
                    }
                }
            }
        }
        for (p, value) in declaredMax { meta.setMaxOps(p, value) }
        return (meta, declaredMax)
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

    static func op(named name: Bytes) -> Op? { functionOps[lowercased(name)] }

    /// Returns nil for `noop()` lines.
    static func parseInstruction(_ code: Bytes, meta: ProgramMeta, line: Int) throws(DSLError) -> Instruction? {
        let noopWord = trim(code.prefix { $0 != Ascii.openParen })
        if noopWord.count == 4, hasPrefixIgnoringCase(noopWord, "noop"),
           code.count == 4 || trim(code[(noopWord.endIndex)...]).elementsEqual("()".utf8) {
            return nil
        }
        let inst: Instruction
        if let arrow = findArrow(code) {
            guard let built = try parseArrow(code[..<arrow], dest: code[(arrow + 2)...], line: line) else { return nil }
            inst = built
        } else if let eq = code.firstIndex(of: Ascii.equals) {
            guard let built = try parseAssignment(lhs: trim(code[..<eq]), rhs: trim(code[(eq + 1)...]), line: line)
            else { return nil }
            inst = built
        } else {
            let first = code.prefix { !isSpace($0) && $0 != Ascii.openParen }
            if isIdentifier(first), Op(rawValue: text(first).uppercased()) == nil, op(named: first) == nil {
                throw DSLError(.unknownOp, line: line, "unknown op '\(text(first))'")
            }
            throw DSLError(.syntax, line: line, "cannot parse '\(text(code))': expected 'xD = …' or 'OP args -> dest'")
        }
        if let failure = Validator.check(inst, meta: meta) {
            throw DSLError(failure.kind, line: line, failure.message)
        }
        return inst
    }

    static func findArrow(_ s: Bytes) -> Int? {
        var i = s.startIndex
        while i + 1 < s.endIndex {
            if s[i] == Ascii.minus, s[i + 1] == Ascii.greater { return i }
            i += 1
        }
        return nil
    }

    static func parseArrow(_ left: Bytes, dest rawDest: Bytes, line: Int) throws(DSLError) -> Instruction? {
        let destText = trim(rawDest)
        guard let dest = registerToken(destText) else {
            throw DSLError(.syntax, line: line, "'\(text(destText))' is not a register")
        }
        let parts = words(left)
        guard let name = parts.first else {
            throw DSLError(.syntax, line: line, "missing op before '->'")
        }
        let upper = text(name).uppercased()
        if upper == "NOOP" { return nil }
        guard let op = Op(rawValue: upper) ?? op(named: name) else {
            throw DSLError(.unknownOp, line: line, "unknown op '\(text(name))'")
        }
        var tokens: [Token] = []
        for part in parts.dropFirst() { tokens.append(try operand(part, line: line)) }
        return try build(op: op, dest: dest, tokens: tokens, arrowForm: true, line: line)
    }

    static func parseAssignment(lhs: Bytes, rhs: Bytes, line: Int) throws(DSLError) -> Instruction? {
        if rhs.isEmpty { throw DSLError(.syntax, line: line, "missing expression after '='") }
        // vD[i] = number
        if let open = lhs.firstIndex(of: Ascii.openBracket) {
            guard lhs.last == Ascii.closeBracket, let dest = registerToken(trim(lhs[..<open])) else {
                throw DSLError(.syntax, line: line, "bad element target '\(text(lhs))'")
            }
            let indexText = trim(lhs[(open + 1)..<(lhs.endIndex - 1)])
            guard !indexText.isEmpty, indexText.allSatisfy(isDigit) else {
                throw DSLError(.syntax, line: line, "bad element index '\(text(indexText))'")
            }
            let element = Int(text(indexText)) ?? Int.max
            let value = try number(rhs, line: line)
            return Instruction(op: .constVec, dest: dest, constants: [value], element: element)
        }
        guard let dest = registerToken(lhs) else {
            throw DSLError(.syntax, line: line, "'\(text(lhs))' is not a register")
        }
        // xD = fn(args)
        if let open = rhs.firstIndex(of: Ascii.openParen) {
            guard rhs.last == Ascii.closeParen else {
                throw DSLError(.syntax, line: line, "missing ')' in '\(text(rhs))'")
            }
            let name = trim(rhs[..<open])
            if name.count == 4, hasPrefixIgnoringCase(name, "noop") { return nil }
            guard let op = op(named: name) else {
                throw DSLError(.unknownOp, line: line, "unknown op '\(text(name))'")
            }
            let inner = trim(rhs[(open + 1)..<(rhs.endIndex - 1)])
            var tokens: [Token] = []
            if !inner.isEmpty {
                for part in inner.split(separator: Ascii.comma, omittingEmptySubsequences: false) {
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
        var end = rhs.startIndex
        if end < rhs.endIndex, isLetter(rhs[end]) {
            end += 1
            while end < rhs.endIndex, isDigit(rhs[end]) { end += 1 }
        }
        guard end > rhs.startIndex, let a = registerToken(rhs[..<end]) else {
            throw DSLError(.syntax, line: line, "cannot parse expression '\(text(rhs))'")
        }
        let tail = trim(rhs[end...])
        guard let symbol = tail.first else { return Instruction(op: .copy, dest: dest, args: [a]) }
        let op: Op
        switch symbol {
        case Ascii.plus: op = .add
        case Ascii.minus: op = .sub
        case Ascii.star: op = .mul
        case Ascii.slash: op = .div
        default:
            throw DSLError(.syntax, line: line, "unknown operator '\(text(tail.prefix(1)))' in '\(text(rhs))'")
        }
        let secondText = trim(tail.dropFirst())
        guard let b = registerToken(secondText) else {
            throw DSLError(.syntax, line: line,
                           "'\(text(secondText))' is not a register (operands must be registers)")
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
            // Missing constants default to (0, 1).
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

    static func isIdentifier(_ s: Bytes) -> Bool {
        guard let first = s.first, isLetter(first) else { return false }
        return s.allSatisfy { isLetter($0) || isDigit($0) || $0 == Ascii.underscore }
    }

    /// A register token (`s3`, `V1`); nil if the text is not shaped like one. Indices beyond the
    /// address space are returned as-is and rejected by validation.
    static func registerToken(_ s: Bytes) -> Register? {
        guard let first = s.first else { return nil }
        let kind: RegisterKind
        switch lower(first) {
        case UInt8(ascii: "s"): kind = .scalar
        case UInt8(ascii: "v"): kind = .vector
        case UInt8(ascii: "m"): kind = .matrix
        default: return nil
        }
        let digits = s.dropFirst()
        guard !digits.isEmpty, digits.allSatisfy(isDigit) else { return nil }
        if digits.count > 6 { return Register(kind, Int.max) }
        var index = 0
        for d in digits { index = index * 10 + Int(d - 48) }
        return Register(kind, index)
    }

    static func operand(_ s: Bytes, line: Int) throws(DSLError) -> Token {
        if s.isEmpty { throw DSLError(.syntax, line: line, "empty operand") }
        if let r = registerToken(s) { return .register(r) }
        return .number(try number(s, line: line))
    }

    /// Number syntax, or a spelled-out non-finite value (rejected later with a clear error).
    static func looksNumeric(_ s: Bytes) -> Bool {
        if isNumberSyntax(s) { return true }
        var body = s
        if let c = body.first, c == Ascii.plus || c == Ascii.minus { body = body.dropFirst() }
        let lower = lowercased(body)
        return lower == "inf" || lower == "infinity" || lower == "nan"
    }

    /// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`
    static func isNumberSyntax(_ s: Bytes) -> Bool {
        var i = s.startIndex
        func digits() -> Int {
            let start = i
            while i < s.endIndex, isDigit(s[i]) { i += 1 }
            return i - start
        }
        if i < s.endIndex, s[i] == Ascii.plus || s[i] == Ascii.minus { i += 1 }
        var mantissaDigits = digits()
        if i < s.endIndex, s[i] == Ascii.dot {
            i += 1
            mantissaDigits += digits()
        }
        if mantissaDigits == 0 { return false }
        if i < s.endIndex, lower(s[i]) == UInt8(ascii: "e") {
            i += 1
            if i < s.endIndex, s[i] == Ascii.plus || s[i] == Ascii.minus { i += 1 }
            if digits() == 0 { return false }
        }
        return i == s.endIndex
    }

    static func number(_ s: Bytes, line: Int) throws(DSLError) -> Double {
        if isNumberSyntax(s) {
            guard let value = Double(text(s)) else {
                throw DSLError(.syntax, line: line, "'\(text(s))' is not a number")
            }
            guard value.isFinite else {
                throw DSLError(.nonFiniteConstant, line: line, "constant '\(text(s))' is not finite")
            }
            return value
        }
        if looksNumeric(s) {
            throw DSLError(.nonFiniteConstant, line: line, "constant '\(text(s))' is not finite")
        }
        throw DSLError(.syntax, line: line, "'\(text(s))' is not a number or register")
    }
}
