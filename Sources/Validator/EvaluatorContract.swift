import Foundation
import ServiceKit

/// What a challenge repository declares in `evalnet.toml` (see docs/evaluator-contract.md).
public struct EvaluatorDeclaration: Sendable, Equatable {
    /// The declaration's file name at the repository root.
    public static let fileName = "evalnet.toml"
    /// Compose files looked for, in order, when `compose` is not set.
    public static let composeCandidates = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
                                           "app-compose.json"]

    /// Path of the compose file relative to the repository root.
    public var compose: String?
    /// argv of the evaluator for local execution; `{challenge_dir}`, `{work_dir}`,
    /// `{submission}` and `{output}` are substituted in every element. Absent: the
    /// challenge can only run in a VM (dstack).
    public var command: [String]?
    /// Name of the submission file handed to the evaluator.
    public var submissionFilename: String
    /// Larger submissions are rejected before anything runs.
    public var maxSubmissionBytes: Int
    /// The evaluator's own wall-clock limit; the job's limit applies when smaller.
    public var timeoutSeconds: Double?
    /// Extra environment for the evaluator (the `EVALNET_*` variables win).
    public var environment: [String: String]
    /// Resources one job of this challenge asks for.
    public var resources: ResourceLimits
    /// Port of the evaluator's HTTP service inside a per-job VM.
    public var vmPort: Int
    /// OS image for per-job VMs; the executor's default when nil.
    public var image: String?

    public init(compose: String? = nil, command: [String]? = nil, submissionFilename: String = "submission",
                maxSubmissionBytes: Int = 1 << 20, timeoutSeconds: Double? = nil, environment: [String: String] = [:],
                resources: ResourceLimits = .defaultJob, vmPort: Int = 8080, image: String? = nil) {
        self.compose = compose
        self.command = command
        self.submissionFilename = submissionFilename
        self.maxSubmissionBytes = maxSubmissionBytes
        self.timeoutSeconds = timeoutSeconds
        self.environment = environment
        self.resources = resources
        self.vmPort = vmPort
        self.image = image
    }

    /// Parses `evalnet.toml` text; every problem (syntax, type, range, unknown key) is
    /// reported in one `ConfigError`.
    public static func parse(_ text: String, source: String = fileName) throws -> EvaluatorDeclaration {
        var r = ConfigReader()
        r.add(try TOMLFlattener.flatten(text, source: source, opaque: ["evaluator.env"]), origin: source)
        var d = EvaluatorDeclaration()
        if let compose = r.string("compose") {
            if compose.hasPrefix("/") || compose.split(separator: "/").contains("..") {
                r.problems.append("compose (\(source)): must be a relative path inside the repository")
            } else {
                d.compose = compose
            }
        }
        if let command = r.stringArray("evaluator.command") {
            if command.isEmpty || command[0].isEmpty {
                r.problems.append("evaluator.command (\(source)): must name a program")
            } else {
                d.command = command
            }
        }
        if let name = r.string("evaluator.submission_filename") {
            if name.contains("/") || name == "." || name == ".." {
                r.problems.append("evaluator.submission_filename (\(source)): must be a plain file name")
            } else {
                d.submissionFilename = name
            }
        }
        if let v = r.int("evaluator.max_submission_bytes", range: 1...(256 << 20)) { d.maxSubmissionBytes = v }
        if let v = r.double("evaluator.timeout_s", range: 0.1...86_400) { d.timeoutSeconds = v }
        if let env = r.stringMap("evaluator.env") {
            for key in env.keys where key.hasPrefix("EVALNET_") {
                r.problems.append("evaluator.env (\(source)): \(key) is reserved")
            }
            d.environment = env.filter { !$0.key.hasPrefix("EVALNET_") }
        }
        if let v = r.int("resources.cpu_cores", range: 1...1024) { d.resources.cpuCores = v }
        if let v = r.int("resources.memory_mb", range: 16...(16 << 20)) { d.resources.memoryMb = v }
        if let v = r.int("resources.disk_mb", range: 1...(64 << 20)) { d.resources.diskMb = v }
        if let v = r.int("resources.gpu_count", range: 0...64) { d.resources.gpuCount = v }
        if let v = r.int("dstack.vm_port", range: 1...65535) { d.vmPort = v }
        if let v = r.string("dstack.image") { d.image = v }
        for (key, origin) in r.unknownKeys() { r.problems.append("\(key) (\(origin)): unknown key") }
        if !r.problems.isEmpty { throw ConfigError(r.problems) }
        return d
    }
}

/// The JSON object an evaluator prints (or writes to `$EVALNET_OUTPUT`).
public struct EvaluatorResult: Sendable, Equatable {
    public var score: Double?
    public var metrics: [String: JSONValue]
    public var logs: [String]
    public var error: String?
    /// Only from a VM's `/evaluate`: the evaluator process's exit code.
    public var exitCode: Int?

    public init(score: Double? = nil, metrics: [String: JSONValue] = [:], logs: [String] = [], error: String? = nil,
                exitCode: Int? = nil) {
        self.score = score
        self.metrics = metrics
        self.logs = logs
        self.error = error
        self.exitCode = exitCode
    }
}

/// Caps from the evaluator contract.
public enum EvaluatorLimits {
    /// Largest result document read.
    public static let maxResultBytes = 1 << 20
    public static let maxLogLines = 500
    public static let maxLogLineChars = 4000
    public static let maxMetrics = 200
    /// Lines of stderr quoted in a failure.
    public static let stderrTailLines = 20
    /// Exit status meaning "the submission is invalid" (a scored rejection).
    public static let rejectExitCode: Int32 = 2
}

/// Why `EvaluatorResult.parse` refused an evaluator's result document.
public enum EvaluatorResultError: Error, CustomStringConvertible, Equatable {
    case tooLarge(Int)
    case notJSON(String)
    case badField(String)

    public var description: String {
        switch self {
        case let .tooLarge(n): return "result is \(n) bytes (limit \(EvaluatorLimits.maxResultBytes))"
        case let .notJSON(why): return "result is not a JSON object: \(why)"
        case let .badField(why): return "result field \(why)"
        }
    }
}

extension EvaluatorResult {
    /// Parses one result document. `score` must be a finite number (or null/absent when
    /// `error` is set), `metrics` an object, `logs` an array of strings or one string,
    /// `error` a string or null. Logs and metrics are capped.
    public static func parse(_ bytes: [UInt8]) throws -> EvaluatorResult {
        guard bytes.count <= EvaluatorLimits.maxResultBytes else { throw EvaluatorResultError.tooLarge(bytes.count) }
        let object: [String: JSONValue]
        do { object = try JSONDecoder().decode([String: JSONValue].self, from: Data(bytes)) } catch {
            throw EvaluatorResultError.notJSON(String(describing: error).prefix(200).description)
        }
        var r = EvaluatorResult()
        switch object["error"] {
        case nil, .null?: break
        case let .string(s)?: r.error = s.isEmpty ? nil : String(s.prefix(EvaluatorLimits.maxLogLineChars))
        default: throw EvaluatorResultError.badField("error must be a string or null")
        }
        switch object["score"] {
        case let .number(n)? where n.isFinite: r.score = n
        case nil, .null?:
            if r.error == nil { throw EvaluatorResultError.badField("score is missing (required unless error is set)") }
        default: throw EvaluatorResultError.badField("score must be a finite number")
        }
        switch object["metrics"] {
        case nil, .null?: break
        case let .object(m)?: r.metrics = Dictionary(uniqueKeysWithValues: m.sorted { $0.key < $1.key }.prefix(EvaluatorLimits.maxMetrics).map { ($0.key, $0.value) })
        default: throw EvaluatorResultError.badField("metrics must be an object")
        }
        switch object["logs"] {
        case nil, .null?: break
        case let .string(s)?: r.logs = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        case let .array(items)?:
            r.logs = items.map { item in
                if case let .string(s) = item { return s }
                return String(decoding: item.encoded(), as: UTF8.self)
            }
        default: throw EvaluatorResultError.badField("logs must be an array of strings")
        }
        r.logs = capLogs(r.logs)
        if case let .number(n)? = object["exit_code"], n.isFinite, abs(n) < 1e6 { r.exitCode = Int(n) }
        return r
    }

    /// Finds the result in an evaluator's stdout: the whole output when it is one JSON
    /// object, else the last non-empty line.
    public static func fromStdout(_ text: String) throws -> EvaluatorResult {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw EvaluatorResultError.notJSON("stdout is empty") }
        if let whole = try? parse(Array(trimmed.utf8)) { return whole }
        let last = trimmed.split(whereSeparator: \.isNewline).last.map(String.init) ?? trimmed
        return try parse(Array(last.utf8))
    }
}

func capLogs(_ lines: [String]) -> [String] {
    var out = lines.prefix(EvaluatorLimits.maxLogLines).map { line in
        line.count > EvaluatorLimits.maxLogLineChars ? String(line.prefix(EvaluatorLimits.maxLogLineChars)) + "…" : line
    }
    if lines.count > EvaluatorLimits.maxLogLines { out.append("… \(lines.count - EvaluatorLimits.maxLogLines) more log lines dropped") }
    return out
}

func tailLines(_ text: String, _ n: Int) -> [String] {
    let lines = text.split(whereSeparator: \.isNewline).map(String.init)
    return capLogs(Array(lines.suffix(n)))
}

/// How the outcome of one evaluator run is decided (shared by both executors).
enum OutcomeRules {
    /// - exitCode: the evaluator's exit code (nil when killed by a signal).
    /// - result: the parsed result, or the reason there is none.
    static func outcome(exitCode: Int32?, exitDescription: String, result: Result<EvaluatorResult, EvaluatorResultError>,
                        stderrTail: [String], elapsedMs: Int64) -> JobOutcome {
        var o = JobOutcome(status: .failed, executionTimeMs: elapsedMs, exitStatus: exitDescription)
        switch (exitCode, result) {
        case (0?, let .success(r)) where r.error == nil:
            o.status = .completed
            o.score = r.score
            o.metrics = r.metrics
            o.logs = r.logs
        case (let code?, let .success(r)) where (code == 0 || code == EvaluatorLimits.rejectExitCode) && r.error != nil:
            o.status = .rejected
            o.score = r.score ?? 0
            o.metrics = r.metrics
            o.logs = r.logs
            o.error = r.error
        case (EvaluatorLimits.rejectExitCode?, let .success(r)):
            o.status = .rejected
            o.score = r.score ?? 0
            o.metrics = r.metrics
            o.logs = r.logs
            o.error = "submission rejected"
        case (EvaluatorLimits.rejectExitCode?, .failure):
            o.status = .rejected
            o.score = 0
            o.logs = stderrTail
            o.error = "submission rejected: " + (stderrTail.last ?? "no reason given")
        case (0?, let .failure(why)):
            o.error = "evaluator produced no valid result: \(why)"
            o.logs = stderrTail
        default:
            o.error = "evaluator crashed (\(exitDescription))" + (stderrTail.isEmpty ? "" : ": " + (stderrTail.last ?? ""))
            if case let .success(r) = result { o.logs = r.logs + stderrTail } else { o.logs = stderrTail }
        }
        o.logs = capLogs(o.logs)
        return o
    }
}
