/// The interpreter: compiles a validated program to flat offsets into one preallocated memory
/// buffer and runs phases without allocating.
///
/// Conventions (pool-api.md §8.1): memory starts zeroed; before predict the features are written to
/// `v0[0..<inputDim]`; before learn the label is written to `s1`; the prediction is read from
/// `s0`. The vector dimension is `max(meta.vector_dim, inputDim)`; matrices are square.
import Foundation

/// Runs one validated program on `inputDim` features, in memory allocated once at init.
public struct Interpreter: Sendable {
    public let program: Program
    public let inputDim: Int
    /// Effective vector dimension: `max(program.meta.vectorDim, inputDim)`.
    public let vectorDim: Int

    private var memory: [Double]
    private var rng: DeterministicRNG
    private let layout: Layout
    private let setupCode: [Compiled]
    private let predictCode: [Compiled]
    private let learnCode: [Compiled]

    /// Validates the program and preallocates its memory.
    public init(program: Program, inputDim: Int) throws(DSLError) {
        guard (1...DSLLimits.maxVectorDim).contains(inputDim) else {
            throw DSLError(.badInputDim, line: nil, "input_dim=\(inputDim) must be in 1...\(DSLLimits.maxVectorDim)")
        }
        try program.validate()
        self.program = program
        self.inputDim = inputDim
        let dim = max(program.meta.vectorDim, inputDim)
        vectorDim = dim
        let meta = program.meta
        let vectorBase = meta.scalarCount
        let matrixBase = vectorBase + meta.vectorCount * dim
        let scratch = matrixBase + meta.matrixCount * dim * dim
        let layout = Layout(dim: dim, inputDim: inputDim, vectorBase: vectorBase, matrixBase: matrixBase,
                            scratch: scratch)
        self.layout = layout
        memory = [Double](repeating: 0, count: scratch + dim)
        rng = DeterministicRNG(seed: 0)
        setupCode = program.setup.map { Compiled($0, layout) }
        predictCode = program.predict.map { Compiled($0, layout) }
        learnCode = program.learn.map { Compiled($0, layout) }
    }

    /// Number of instructions each phase executes per call.
    public var setupLength: Int { setupCode.count }
    public var predictLength: Int { predictCode.count }
    public var learnLength: Int { learnCode.count }

    /// Zeroes all registers.
    public mutating func reset() {
        memory.withUnsafeMutableBufferPointer { buf in
            for i in buf.indices { buf[i] = 0 }
        }
    }

    /// Installs `rng` (used by GAUSSIAN/UNIFORM in every phase from now on) and runs setup once.
    public mutating func runSetup(rng: DeterministicRNG) {
        self.rng = rng
        let code = setupCode
        let layout = layout
        var r = self.rng
        memory.withUnsafeMutableBufferPointer { buf in
            guard let m = buf.baseAddress else { return }
            code.withUnsafeBufferPointer { Self.run($0, m, layout, &r) }
        }
        self.rng = r
    }

    /// Writes `x` to `v0` and runs predict; returns `s0` (callers treat non-finite as failure).
    public mutating func predict(x: UnsafeBufferPointer<Double>) -> Double {
        let code = predictCode
        let layout = layout
        var r = rng
        let out = memory.withUnsafeMutableBufferPointer { buf -> Double in
            guard let m = buf.baseAddress else { return .nan }
            Self.load(x, m, layout)
            code.withUnsafeBufferPointer { Self.run($0, m, layout, &r) }
            return m[0]
        }
        rng = r
        return out
    }

    public mutating func predict(x: [Double]) -> Double {
        x.withUnsafeBufferPointer { predict(x: $0) }
    }

    /// Writes `x` to `v0` and `y` to `s1`, then runs learn.
    public mutating func learn(x: UnsafeBufferPointer<Double>, y: Double) {
        let code = learnCode
        let layout = layout
        var r = rng
        memory.withUnsafeMutableBufferPointer { buf in
            guard let m = buf.baseAddress else { return }
            Self.load(x, m, layout)
            m[1] = y
            code.withUnsafeBufferPointer { Self.run($0, m, layout, &r) }
        }
        rng = r
    }

    public mutating func learn(x: [Double], y: Double) {
        x.withUnsafeBufferPointer { learn(x: $0, y: y) }
    }

    /// One training example: writes `x` to `v0`, runs predict, reads `s0`, then writes `y` to `s1`
    /// and runs learn (the label is not visible to predict). Returns the prediction.
    public mutating func train(x: UnsafeBufferPointer<Double>, y: Double) -> Double {
        let predictCode = predictCode
        let learnCode = learnCode
        let layout = layout
        var r = rng
        let out = memory.withUnsafeMutableBufferPointer { buf -> Double in
            guard let m = buf.baseAddress else { return .nan }
            Self.load(x, m, layout)
            predictCode.withUnsafeBufferPointer { Self.run($0, m, layout, &r) }
            let prediction = m[0]
            m[1] = y
            learnCode.withUnsafeBufferPointer { Self.run($0, m, layout, &r) }
            return prediction
        }
        rng = r
        return out
    }

    public mutating func train(x: [Double], y: Double) -> Double {
        x.withUnsafeBufferPointer { train(x: $0, y: y) }
    }

    // MARK: - Inspection

    /// Current value of scalar `index` (0 if out of range).
    public func scalar(_ index: Int) -> Double {
        guard index >= 0, index < program.meta.scalarCount else { return 0 }
        return memory[index]
    }

    /// Current contents of vector `index` (`vectorDim` values; empty if out of range).
    public func vector(_ index: Int) -> [Double] {
        guard index >= 0, index < program.meta.vectorCount else { return [] }
        let start = layout.vectorBase + index * layout.dim
        return Array(memory[start..<start + layout.dim])
    }

    /// Current contents of matrix `index`, row-major (`vectorDim²` values; empty if out of range).
    public func matrix(_ index: Int) -> [Double] {
        guard index >= 0, index < program.meta.matrixCount else { return [] }
        let size = layout.dim * layout.dim
        let start = layout.matrixBase + index * size
        return Array(memory[start..<start + size])
    }

    // MARK: - Compiled form

    struct Layout: Sendable {
        var dim: Int
        var inputDim: Int
        var vectorBase: Int
        var matrixBase: Int
        var scratch: Int

        func offset(_ r: Register) -> Int {
            switch r.kind {
            case .scalar: r.index
            case .vector: vectorBase + r.index * dim
            case .matrix: matrixBase + r.index * dim * dim
            }
        }

        func length(_ kind: RegisterKind) -> Int {
            switch kind {
            case .scalar: 1
            case .vector: dim
            case .matrix: dim * dim
            }
        }
    }

    enum Code: UInt8, Sendable {
        case const, copy, norm, mean, std, dot, matmul, outer, gaussian, uniform
        case abs, exp, log, sin, cos, tan, heaviside
        case add, sub, mul, div, minimum, maximum
    }

    /// Operand shapes of element-wise binary ops.
    enum Mode: UInt8, Sendable {
        case full          // same shape (or scalar, scalar)
        case scalarFirst   // scalar ∘ vector/matrix
        case scalarSecond  // vector/matrix ∘ scalar
        case rowFirst      // vector (broadcast over rows) ∘ matrix
        case rowSecond     // matrix ∘ vector (broadcast over rows)
    }

    struct Compiled: Sendable {
        var code: Code
        var mode: Mode
        var d: Int
        var a: Int
        var b: Int
        var n: Int
        var c0: Double
        var c1: Double

        init(_ inst: Instruction, _ layout: Layout) {
            d = layout.offset(inst.dest)
            a = inst.args.count > 0 ? layout.offset(inst.args[0]) : 0
            b = inst.args.count > 1 ? layout.offset(inst.args[1]) : 0
            n = layout.length(inst.dest.kind)
            c0 = inst.constants.count > 0 ? inst.constants[0] : 0
            c1 = inst.constants.count > 1 ? inst.constants[1] : 0
            mode = .full
            switch inst.op {
            case .const: code = .const
            case .constVec:
                code = .const
                d += inst.element
            case .copy:
                let source = inst.args.first?.kind ?? inst.dest.kind
                n = layout.length(source)
                code = source == inst.dest.kind ? .copy : .norm
            case .norm, .mean, .std:
                n = layout.length(inst.args.first?.kind ?? .vector)
                code = inst.op == .norm ? .norm : (inst.op == .mean ? .mean : .std)
            case .dot: code = .dot
            case .matmul: code = .matmul
            case .outer: code = .outer
            case .gaussian: code = .gaussian
            case .uniform: code = .uniform
            case .abs: code = .abs
            case .exp: code = .exp
            case .log: code = .log
            case .sin: code = .sin
            case .cos: code = .cos
            case .tan: code = .tan
            case .heaviside: code = .heaviside
            case .add, .sub, .mul, .div, .minimum, .maximum:
                switch inst.op {
                case .add: code = .add
                case .sub: code = .sub
                case .mul: code = .mul
                case .div: code = .div
                case .minimum: code = .minimum
                default: code = .maximum
                }
                let k1 = inst.args.first?.kind ?? .scalar
                let k2 = inst.args.count > 1 ? inst.args[1].kind : .scalar
                switch (k1, k2) {
                case _ where k1 == k2: mode = .full
                case (.scalar, _): mode = .scalarFirst
                case (_, .scalar): mode = .scalarSecond
                case (.vector, .matrix): mode = .rowFirst
                default: mode = .rowSecond
                }
            }
        }
    }

    // MARK: - Execution

    @inline(__always)
    private static func load(_ x: UnsafeBufferPointer<Double>, _ m: UnsafeMutablePointer<Double>, _ layout: Layout) {
        let count = Swift.min(x.count, layout.inputDim)
        let v0 = m + layout.vectorBase
        for i in 0..<count { v0[i] = x[i] }
    }

    private static func run(_ code: UnsafeBufferPointer<Compiled>, _ m: UnsafeMutablePointer<Double>,
                            _ layout: Layout, _ rng: inout DeterministicRNG) {
        let dim = layout.dim
        for inst in code {
            switch inst.code {
            case .const:
                m[inst.d] = inst.c0
            case .copy:
                if inst.d != inst.a {
                    let d = m + inst.d, a = m + inst.a
                    for e in 0..<inst.n { d[e] = a[e] }
                }
            case .norm:
                let a = m + inst.a
                var sum = 0.0
                for e in 0..<inst.n { sum += a[e] * a[e] }
                m[inst.d] = sum.squareRoot()
            case .mean:
                let a = m + inst.a
                var sum = 0.0
                for e in 0..<inst.n { sum += a[e] }
                m[inst.d] = sum / Double(inst.n)
            case .std:
                let a = m + inst.a
                var sum = 0.0
                for e in 0..<inst.n { sum += a[e] }
                let mean = sum / Double(inst.n)
                var squares = 0.0
                for e in 0..<inst.n {
                    let dev = a[e] - mean
                    squares += dev * dev
                }
                m[inst.d] = (squares / Double(inst.n)).squareRoot()
            case .dot:
                let a = m + inst.a, b = m + inst.b
                var sum = 0.0
                for e in 0..<dim { sum += a[e] * b[e] }
                m[inst.d] = sum
            case .matmul:
                let a = m + inst.a, b = m + inst.b, tmp = m + layout.scratch
                for r in 0..<dim {
                    let row = a + r * dim
                    var sum = 0.0
                    for c in 0..<dim { sum += row[c] * b[c] }
                    tmp[r] = sum
                }
                let d = m + inst.d
                for r in 0..<dim { d[r] = tmp[r] }
            case .outer:
                let a = m + inst.a, b = m + inst.b, d = m + inst.d
                for r in 0..<dim {
                    let ar = a[r]
                    let row = d + r * dim
                    for c in 0..<dim { row[c] = ar * b[c] }
                }
            case .gaussian:
                let d = m + inst.d
                for e in 0..<inst.n { d[e] = inst.c0 + inst.c1 * rng.nextGaussian() }
            case .uniform:
                let d = m + inst.d
                let span = inst.c1 - inst.c0
                for e in 0..<inst.n { d[e] = inst.c0 + span * rng.nextDouble() }
            case .abs: unary(inst, m) { Swift.abs($0) }
            case .exp: unary(inst, m) { Foundation.exp(Swift.min(Swift.max($0, -10), 10)) }
            case .log: unary(inst, m) { Foundation.log(Swift.abs($0) + 1e-8) }
            case .sin: unary(inst, m) { Foundation.sin($0) }
            case .cos: unary(inst, m) { Foundation.cos($0) }
            case .tan: unary(inst, m) { Foundation.tan($0) }
            case .heaviside: unary(inst, m) { $0 > 0 ? 1 : 0 }
            case .add: binary(inst, m, dim) { $0 + $1 }
            case .sub: binary(inst, m, dim) { $0 - $1 }
            case .mul: binary(inst, m, dim) { $0 * $1 }
            case .div: binary(inst, m, dim) { $0 / ($1 + 1e-8) }
            case .minimum: binary(inst, m, dim) { $0 < $1 ? $0 : $1 }
            case .maximum: binary(inst, m, dim) { $0 > $1 ? $0 : $1 }
            }
        }
    }

    @inline(__always)
    private static func unary(_ inst: Compiled, _ m: UnsafeMutablePointer<Double>, _ f: (Double) -> Double) {
        let d = m + inst.d, a = m + inst.a
        for e in 0..<inst.n { d[e] = f(a[e]) }
    }

    @inline(__always)
    private static func binary(_ inst: Compiled, _ m: UnsafeMutablePointer<Double>, _ dim: Int,
                               _ f: (Double, Double) -> Double) {
        let d = m + inst.d, a = m + inst.a, b = m + inst.b
        switch inst.mode {
        case .full:
            for e in 0..<inst.n { d[e] = f(a[e], b[e]) }
        case .scalarFirst:
            let s = a[0]
            for e in 0..<inst.n { d[e] = f(s, b[e]) }
        case .scalarSecond:
            let s = b[0]
            for e in 0..<inst.n { d[e] = f(a[e], s) }
        case .rowFirst:
            for r in 0..<dim {
                let row = r * dim
                for c in 0..<dim { d[row + c] = f(a[c], b[row + c]) }
            }
        case .rowSecond:
            for r in 0..<dim {
                let row = r * dim
                for c in 0..<dim { d[row + c] = f(a[row + c], b[c]) }
            }
        }
    }
}
