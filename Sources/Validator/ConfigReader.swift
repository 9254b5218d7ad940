import Foundation
import TOMLKit

/// A TOML (or environment) value, detached from TOMLKit's reference types.
public enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([ConfigValue])
    case table([String: ConfigValue])

    public var description: String {
        switch self {
        case let .string(s): return "\"\(s)\""
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .bool(b): return String(b)
        case let .array(a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case let .table(t): return "{" + t.keys.sorted().map { "\($0) = \(t[$0]?.description ?? "")" }.joined(separator: ", ") + "}"
        }
    }

    var typeName: String {
        switch self {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a float"
        case .bool: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A configuration problem found while reading a file or the environment.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// One line per problem, each naming the key (and its origin).
    public var problems: [String]

    public init(_ problems: [String]) { self.problems = problems }

    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

enum TOMLFlattener {
    /// Parses TOML text into dotted keys. Tables (and inline tables) are flattened, except
    /// those whose dotted path is in `opaque`, which stay whole as `.table`.
    static func flatten(_ text: String, source: String, opaque: Set<String> = []) throws -> [String: ConfigValue] {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ConfigError(["\(source): TOML syntax error at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)"])
        }
        var out: [String: ConfigValue] = [:]
        walk(table, prefix: "", opaque: opaque, into: &out)
        return out
    }

    private static func walk(_ table: TOMLTable, prefix: String, opaque: Set<String>, into out: inout [String: ConfigValue]) {
        for key in table.keys {
            guard let value = table[key] else { continue }
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let sub = value.table, !opaque.contains(path) {
                walk(sub, prefix: path, opaque: opaque, into: &out)
            } else {
                out[path] = convert(value)
            }
        }
    }

    static func convert(_ value: any TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .int(value.int ?? 0)
        case .double: return .double(value.double ?? 0)
        case .bool: return .bool(value.bool ?? false)
        case .array: return .array((value.array.map { Array($0) } ?? []).map { convert($0) })
        case .table:
            var dict: [String: ConfigValue] = [:]
            if let t = value.table { for k in t.keys { if let v = t[k] { dict[k] = convert(v) } } }
            return .table(dict)
        default: return .string(value.debugDescription)
        }
    }
}

/// Typed, error-collecting access to flattened configuration values. Values that came
/// from the environment are strings and are parsed on access.
struct ConfigReader {
    struct Entry {
        var value: ConfigValue
        var origin: String
        var fromEnvironment: Bool
    }

    var entries: [String: Entry] = [:]
    var problems: [String] = []
    private var used: Set<String> = []

    init() {}

    mutating func add(_ values: [String: ConfigValue], origin: String) {
        for (k, v) in values { entries[k] = Entry(value: v, origin: origin, fromEnvironment: false) }
    }

    mutating func addEnvironment(key: String, value: String, variable: String) {
        entries[key] = Entry(value: .string(value), origin: "environment \(variable)", fromEnvironment: true)
    }

    mutating func fail(_ key: String, _ entry: Entry, _ why: String) {
        problems.append("\(key) (\(entry.origin)): \(why)")
    }

    mutating func raw(_ key: String) -> Entry? {
        used.insert(key)
        return entries[key]
    }

    mutating func string(_ key: String, nonEmpty: Bool = true) -> String? {
        guard let e = raw(key) else { return nil }
        guard case let .string(s) = e.value else {
            fail(key, e, "expected a string, got \(e.value.typeName)")
            return nil
        }
        if nonEmpty && s.trimmingCharacters(in: .whitespaces).isEmpty {
            fail(key, e, "must not be empty")
            return nil
        }
        return s
    }

    mutating func int(_ key: String, range: ClosedRange<Int>) -> Int? {
        guard let e = raw(key) else { return nil }
        var v: Int?
        switch e.value {
        case let .int(i): v = i
        case let .string(s) where e.fromEnvironment: v = Int(s.trimmingCharacters(in: .whitespaces))
        default: break
        }
        guard let v else {
            fail(key, e, "expected an integer, got \(e.fromEnvironment ? e.value.description : e.value.typeName)")
            return nil
        }
        guard range.contains(v) else {
            fail(key, e, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    mutating func double(_ key: String, range: ClosedRange<Double>) -> Double? {
        guard let e = raw(key) else { return nil }
        var v: Double?
        switch e.value {
        case let .int(i): v = Double(i)
        case let .double(d): v = d
        case let .string(s) where e.fromEnvironment: v = Double(s.trimmingCharacters(in: .whitespaces))
        default: break
        }
        guard let v, v.isFinite else {
            fail(key, e, "expected a number, got \(e.fromEnvironment ? e.value.description : e.value.typeName)")
            return nil
        }
        guard range.contains(v) else {
            fail(key, e, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    mutating func bool(_ key: String) -> Bool? {
        guard let e = raw(key) else { return nil }
        switch e.value {
        case let .bool(b): return b
        case let .string(s) where e.fromEnvironment:
            switch s.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: break
            }
        default: break
        }
        fail(key, e, "expected true or false, got \(e.value.description)")
        return nil
    }

    mutating func choice(_ key: String, _ allowed: [String]) -> String? {
        guard let s = string(key), let e = entries[key] else { return nil }
        guard allowed.contains(s) else {
            fail(key, e, "\"\(s)\" is not one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
            return nil
        }
        return s
    }

    /// An array of strings; from the environment, one string split at `environmentSeparator`
    /// (when given; empty parts dropped).
    mutating func stringArray(_ key: String, environmentSeparator: Character? = nil) -> [String]? {
        guard let e = raw(key) else { return nil }
        if e.fromEnvironment, let separator = environmentSeparator, case let .string(s) = e.value {
            return s.split(separator: separator).map(String.init)
        }
        if case let .array(items) = e.value {
            var out: [String] = []
            for item in items {
                guard case let .string(s) = item else {
                    fail(key, e, "expected an array of strings")
                    return nil
                }
                out.append(s)
            }
            return out
        }
        fail(key, e, "expected an array of strings, got \(e.value.typeName)")
        return nil
    }

    mutating func stringMap(_ key: String) -> [String: String]? {
        guard let e = raw(key) else { return nil }
        guard case let .table(t) = e.value else {
            fail(key, e, "expected a table of strings, got \(e.value.typeName)")
            return nil
        }
        var out: [String: String] = [:]
        for (k, v) in t {
            switch v {
            case let .string(s): out[k] = s
            case let .int(i): out[k] = String(i)
            case let .double(d): out[k] = String(d)
            case let .bool(b): out[k] = String(b)
            default:
                fail(key, e, "value of \(k) must be a string")
                return nil
            }
        }
        return out
    }

    /// Keys present but never asked for.
    func unknownKeys() -> [(String, String)] {
        entries.keys.filter { !used.contains($0) }.sorted().compactMap { k in entries[k].map { (k, $0.origin) } }
    }
}
