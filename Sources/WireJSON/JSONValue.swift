/// # WireJSON
///
/// Owns the one JSON value type of the project: any JSON document held as data (error
/// bodies, the OpenAPI catalogue, platform result metrics, query parameters and rows).
/// Whole numbers below 2^53 are written as integers, everything else as a double.
import Foundation

/// Any JSON value.
public indirect enum JSONValue: Sendable, Equatable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Largest magnitude written as an integer: every whole double below it is exact.
    static let integerLimit = 9.0e15

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var numberValue: Double? { if case let .number(n) = self { return n } else { return nil } }

    /// The compact UTF-8 text of the value, keys sorted, non-finite numbers as Python
    /// writes them (`"Infinity"`, `"-Infinity"`, `"NaN"`).
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return (try? Array(encoder.encode(self))) ?? Array("null".utf8)
    }

    /// The path (`a.b[2]`, `body` for the top) of the first string or key holding a NUL.
    public func pathToNUL(_ path: String = "") -> String? {
        func hasNUL(_ s: String) -> Bool { s.utf8.contains(0) }
        switch self {
        case let .string(s): return hasNUL(s) ? (path.isEmpty ? "body" : path) : nil
        case let .array(items):
            for (i, item) in items.enumerated() {
                if let found = item.pathToNUL("\(path)[\(i)]") { return found }
            }
            return nil
        case let .object(fields):
            for key in fields.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if hasNUL(key) { return child.replacingOccurrences(of: "\u{0}", with: "\\u0000") }
                if let found = fields[key]?.pathToNUL(child) { return found }
            }
            return nil
        case .null, .bool, .number: return nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(n):
            if n.isFinite, n.rounded() == n, abs(n) < Self.integerLimit { try c.encode(Int64(n)) } else { try c.encode(n) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}
