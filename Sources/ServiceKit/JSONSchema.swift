import Foundation

/// A JSON Schema (the 2020-12 dialect that OpenAPI 3.1 embeds), held as its JSON object.
///
/// Request and response schemas are derived from the wire types themselves: `of(_:)` runs
/// the type's own `Decodable` initialiser against a recording decoder, so the schema lists
/// exactly the fields the server decodes, with `decode` → required and `decodeIfPresent`
/// → optional and nullable (what `JSONDecoder` accepts). What decoding cannot reveal —
/// ranges, lengths, patterns and enumerations the server enforces after decoding — is
/// added with `refined(_:_:)` where the route is documented.
public struct JSONSchema: Sendable, Equatable {
    public var object: [String: JSONValue]
    /// Refinement paths that named no field (a typo in a catalogue); tests assert it is empty.
    public var unresolvedRefinements: [String] = []

    public init(_ object: [String: JSONValue]) { self.object = object }

    public var json: JSONValue { .object(object) }

    /// Any JSON value.
    public static let any = JSONSchema([:])
    public static let boolean = JSONSchema(["type": .string("boolean")])
    public static let number = JSONSchema(["type": .string("number"), "format": .string("double")])
    public static let integer = JSONSchema(["type": .string("integer"), "format": .string("int64")])
    public static let string = JSONSchema(["type": .string("string")])

    /// This schema with `rules` applied to itself.
    public func with(_ rules: SchemaRule...) -> JSONSchema { refined("", rules) }
    public static func array(_ items: JSONSchema) -> JSONSchema {
        JSONSchema(["type": .string("array"), "items": items.json])
    }
    public static func object(_ properties: [String: JSONSchema], required: [String] = []) -> JSONSchema {
        var o: [String: JSONValue] = ["type": .string("object"), "properties": .object(properties.mapValues(\.json))]
        if !required.isEmpty { o["required"] = .array(required.map(JSONValue.string)) }
        return JSONSchema(o)
    }

    /// The schema of what `T`'s `Decodable` conformance reads, titled with the type's name.
    /// Each entry of `refinements` applies rules at a field path (see `refined`).
    public static func of<T: Decodable>(_ type: T.Type, _ refinements: KeyValuePairs<String, [SchemaRule]> = [:])
        -> JSONSchema
    {
        var s = SchemaProbe.schema(of: type)
        s.object["title"] = .string(String(describing: type))
        for (path, rules) in refinements { s = s.refined(path, rules) }
        return s
    }

    /// This schema, also accepting `null`.
    public func nullable() -> JSONSchema {
        var s = self
        switch object["type"] {
        case let .string(t) where t != "null": s.object["type"] = .array([.string(t), .string("null")])
        case let .array(ts) where !ts.contains(.string("null")): s.object["type"] = .array(ts + [.string("null")])
        default: break
        }
        return s
    }

    /// Applies `rules` at `path`: property names separated by `.`, `[]` stepping into array
    /// items (`evolutions[].algorithm_dsl`); the empty path is the schema itself.
    public func refined(_ path: String, _ rules: SchemaRule...) -> JSONSchema { refined(path, rules) }

    public func refined(_ path: String, _ rules: [SchemaRule]) -> JSONSchema {
        var s = self
        var steps: [Step] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: true) {
            var name = Substring(part)
            var items = 0
            while name.hasSuffix("[]") {
                name = name.dropLast(2)
                items += 1
            }
            if !name.isEmpty { steps.append(.property(String(name))) }
            steps.append(contentsOf: Array(repeating: .items, count: items))
        }
        if !Self.apply(rules, at: steps[...], in: &s.object) { s.unresolvedRefinements.append(path) }
        return s
    }

    enum Step: Equatable { case property(String), items }

    private static func apply(_ rules: [SchemaRule], at steps: ArraySlice<Step>, in object: inout [String: JSONValue]) -> Bool {
        guard let step = steps.first else {
            for rule in rules { rule.apply(to: &object) }
            return true
        }
        let rest = steps.dropFirst()
        switch step {
        case let .property(name):
            guard case var .object(props)? = object["properties"], case var .object(child)? = props[name] else { return false }
            guard apply(rules, at: rest, in: &child) else { return false }
            props[name] = .object(child)
            object["properties"] = .object(props)
        case .items:
            guard case var .object(child)? = object["items"] else { return false }
            guard apply(rules, at: rest, in: &child) else { return false }
            object["items"] = .object(child)
        }
        return true
    }
}

/// A constraint the server enforces beyond the field's type.
public enum SchemaRule: Sendable {
    /// `minimum`/`maximum` of an integer field.
    case range(ClosedRange<Int>)
    case minimum(Double)
    case maximum(Double)
    /// `minLength`/`maxLength` (JSON Schema counts characters; the server's limits are UTF-8
    /// bytes, equal for ASCII).
    case length(ClosedRange<Int>)
    case maxLength(Int)
    case pattern(String)
    case format(String)
    /// The allowed string values (`enum`).
    case values([String])
    case maxItems(Int)
    case description(String)
    /// Any other keyword, verbatim.
    case keyword(String, JSONValue)
    /// Replaces the field's schema.
    case schema(JSONSchema)

    func apply(to o: inout [String: JSONValue]) {
        switch self {
        case let .range(r):
            o["minimum"] = .number(Double(r.lowerBound))
            o["maximum"] = .number(Double(r.upperBound))
        case let .minimum(v): o["minimum"] = .number(v)
        case let .maximum(v): o["maximum"] = .number(v)
        case let .length(r):
            o["minLength"] = .number(Double(r.lowerBound))
            o["maxLength"] = .number(Double(r.upperBound))
        case let .maxLength(n): o["maxLength"] = .number(Double(n))
        case let .pattern(p): o["pattern"] = .string(p)
        case let .format(f): o["format"] = .string(f)
        case let .values(vs):
            var all = vs.map(JSONValue.string)
            if case let .array(ts)? = o["type"], ts.contains(.string("null")) { all.append(.null) }
            o["enum"] = .array(all)
        case let .maxItems(n): o["maxItems"] = .number(Double(n))
        case let .description(d): o["description"] = .string(d)
        case let .keyword(k, v): o[k] = v
        case let .schema(s):
            let nullable: Bool
            if case let .array(ts)? = o["type"], ts.contains(.string("null")) { nullable = true } else { nullable = false }
            o = nullable ? s.nullable().object : s.object
        }
    }
}

// MARK: - Recording decoder

/// Runs a type's `init(from:)` against a decoder that answers every request with a
/// placeholder and records what was asked: keyed containers become objects (required when
/// read with `decode`, optional and nullable with `decodeIfPresent`), unkeyed containers
/// arrays of their first element, single values their primitive type. A single-value
/// container that first asks `decodeNil()` belongs to a free-form JSON type (any value).
/// String-keyed dictionaries (which list `allKeys`) become maps.
enum SchemaProbe {
    static func schema<T: Decodable>(of type: T.Type) -> JSONSchema {
        let node = Node()
        _ = try? decode(type, into: node, depth: 0, path: [])
        return node.schema
    }

    struct Stop: Error {}

    /// Decodes a placeholder `T`, recording its shape into `node`.
    static func decode<T: Decodable>(_ type: T.Type, into node: Node, depth: Int, path: [any CodingKey]) throws -> T {
        if let leaf = leafSchema(type) {
            node.kind = .leaf(leaf.schema)
            if let v = leaf.placeholder as? T { return v }
        }
        if let optional = type as? any ProbeOptional.Type {
            let inner = Node()
            _ = try? decodeAny(optional.wrappedType, into: inner, depth: depth + 1, path: path)
            node.kind = .leaf(inner.schema.nullable())
            if let v = optional.probeNone as? T { return v }
        }
        if let e = type as? any (CaseIterable & RawRepresentable).Type, let c = enumCases(e) {
            node.kind = .leaf(c.schema)
            if let v = c.first as? T { return v }
        }
        guard depth < 24 else {
            node.kind = .leaf(.any)
            throw Stop()
        }
        return try T(from: ProbeDecoder(node: node, depth: depth + 1, codingPath: path))
    }

    static func decodeAny(_ type: any Decodable.Type, into node: Node, depth: Int, path: [any CodingKey]) throws -> Any {
        try decode(type, into: node, depth: depth, path: path)
    }

    static func leafSchema(_ type: Any.Type) -> (schema: JSONSchema, placeholder: Any)? {
        switch type {
        case is Date.Type: return (JSONSchema.string.with(.format("date-time")), Date(timeIntervalSince1970: 0))
        case is URL.Type:
            guard let url = URL(string: "http://localhost") else { return nil }
            return (JSONSchema.string.with(.format("uri")), url)
        case is UUID.Type: return (JSONSchema.string.with(.format("uuid")), UUID())
        case is Data.Type: return (JSONSchema.string.with(.keyword("contentEncoding", .string("base64"))), Data())
        case is Decimal.Type: return (.number, Decimal(0))
        default: return nil
        }
    }

    static func enumCases<E: CaseIterable & RawRepresentable>(_ type: E.Type) -> (schema: JSONSchema, first: Any)? {
        let cases = Array(type.allCases)
        guard let first = cases.first else { return nil }
        if let raws = cases.map(\.rawValue) as? [String] {
            return (JSONSchema(["type": .string("string"), "enum": .array(raws.map(JSONValue.string))]), first)
        }
        if let raws = cases.map(\.rawValue) as? [Int] {
            return (JSONSchema(["type": .string("integer"), "enum": .array(raws.map { .number(Double($0)) })]), first)
        }
        return nil
    }

    static func primitive<T>(_ type: T.Type) -> (JSONSchema, T)? {
        func v(_ schema: JSONSchema, _ value: Any) -> (JSONSchema, T)? { (value as? T).map { (schema, $0) } }
        func bounded(_ lo: Double, _ hi: Double, _ format: String? = nil) -> JSONSchema {
            var o: [String: JSONValue] = ["type": .string("integer"), "minimum": .number(lo), "maximum": .number(hi)]
            if let format { o["format"] = .string(format) }
            return JSONSchema(o)
        }
        switch type {
        case is String.Type: return v(.string, "")
        case is Bool.Type: return v(.boolean, false)
        case is Double.Type: return v(.number, 0.0)
        case is Float.Type: return v(JSONSchema(["type": .string("number"), "format": .string("float")]), Float(0))
        case is Int.Type: return v(.integer, 0)
        case is Int64.Type: return v(.integer, Int64(0))
        case is Int32.Type: return v(bounded(Double(Int32.min), Double(Int32.max), "int32"), Int32(0))
        case is Int16.Type: return v(bounded(Double(Int16.min), Double(Int16.max)), Int16(0))
        case is Int8.Type: return v(bounded(Double(Int8.min), Double(Int8.max)), Int8(0))
        case is UInt.Type, is UInt64.Type:
            let s = JSONSchema(["type": .string("integer"), "minimum": .number(0), "format": .string("int64")])
            return type is UInt.Type ? v(s, UInt(0)) : v(s, UInt64(0))
        case is UInt32.Type: return v(bounded(0, Double(UInt32.max)), UInt32(0))
        case is UInt16.Type: return v(bounded(0, Double(UInt16.max)), UInt16(0))
        case is UInt8.Type: return v(bounded(0, Double(UInt8.max)), UInt8(0))
        default: return nil
        }
    }

    /// What one decoded value turned out to be.
    final class Node {
        enum Kind {
            case unknown
            case leaf(JSONSchema)
            case object(Shape)
            case array(Node)
        }
        var kind = Kind.unknown

        var schema: JSONSchema {
            switch kind {
            case .unknown: return .any
            case let .leaf(s): return s
            case let .array(items): return .array(items.schema)
            case let .object(shape): return shape.schema
            }
        }
    }

    final class Shape {
        var order: [String] = []
        var properties: [String: Node] = [:]
        var required: Set<String> = []
        var optional: Set<String> = []
        var nullable: Set<String> = []
        /// Set when the decoding type enumerated `allKeys` with free-form keys (a dictionary).
        var mapKey: String?

        func node(_ key: String) -> Node {
            if let n = properties[key] { return n }
            let n = Node()
            order.append(key)
            properties[key] = n
            return n
        }

        var schema: JSONSchema {
            if let mapKey, order == [mapKey], let values = properties[mapKey] {
                return JSONSchema(["type": .string("object"), "additionalProperties": values.schema.json])
            }
            var props: [String: JSONSchema] = [:]
            for key in order {
                guard let n = properties[key] else { continue }
                props[key] = nullable.contains(key) ? n.schema.nullable() : n.schema
            }
            return .object(props, required: order.filter { required.contains($0) && !optional.contains($0) })
        }
    }

    struct ProbeDecoder: Decoder {
        let node: Node
        let depth: Int
        var codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            let shape: Shape
            if case let .object(s) = node.kind { shape = s } else {
                shape = Shape()
                node.kind = .object(shape)
            }
            return KeyedDecodingContainer(Keyed<Key>(shape: shape, depth: depth, codingPath: codingPath))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let items: Node
            if case let .array(n) = node.kind { items = n } else {
                items = Node()
                node.kind = .array(items)
            }
            return Unkeyed(items: items, depth: depth, codingPath: codingPath)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer {
            Single(node: node, depth: depth, codingPath: codingPath)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let shape: Shape
        let depth: Int
        var codingPath: [any CodingKey]

        /// Only a dictionary asks for its keys; its coding key accepts any string.
        var allKeys: [Key] {
            guard let key = Key(stringValue: "additionalProperties") else { return [] }
            shape.mapKey = key.stringValue
            return [key]
        }

        func contains(_ key: Key) -> Bool {
            shape.optional.insert(key.stringValue)
            return true
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            shape.nullable.insert(key.stringValue)
            _ = shape.node(key.stringValue)
            return false
        }

        func read<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
            let node = shape.node(key.stringValue)
            shape.required.insert(key.stringValue)
            if let p = SchemaProbe.primitive(type) {
                node.kind = .leaf(p.0)
                return p.1
            }
            return try SchemaProbe.decode(type, into: node, depth: depth, path: codingPath + [key])
        }

        func readIfPresent<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
            let node = shape.node(key.stringValue)
            shape.optional.insert(key.stringValue)
            shape.nullable.insert(key.stringValue)
            if let p = SchemaProbe.primitive(type) {
                node.kind = .leaf(p.0)
            } else {
                _ = try? SchemaProbe.decode(type, into: node, depth: depth, path: codingPath + [key])
            }
            return nil
        }

        func decode<T: Decodable>(_ t: T.Type, forKey k: Key) throws -> T { try read(t, k) }
        func decodeIfPresent<T: Decodable>(_ t: T.Type, forKey k: Key) throws -> T? { try readIfPresent(t, k) }
        func decode(_ t: Bool.Type, forKey k: Key) throws -> Bool { try read(t, k) }
        func decode(_ t: String.Type, forKey k: Key) throws -> String { try read(t, k) }
        func decode(_ t: Double.Type, forKey k: Key) throws -> Double { try read(t, k) }
        func decode(_ t: Float.Type, forKey k: Key) throws -> Float { try read(t, k) }
        func decode(_ t: Int.Type, forKey k: Key) throws -> Int { try read(t, k) }
        func decode(_ t: Int8.Type, forKey k: Key) throws -> Int8 { try read(t, k) }
        func decode(_ t: Int16.Type, forKey k: Key) throws -> Int16 { try read(t, k) }
        func decode(_ t: Int32.Type, forKey k: Key) throws -> Int32 { try read(t, k) }
        func decode(_ t: Int64.Type, forKey k: Key) throws -> Int64 { try read(t, k) }
        func decode(_ t: UInt.Type, forKey k: Key) throws -> UInt { try read(t, k) }
        func decode(_ t: UInt8.Type, forKey k: Key) throws -> UInt8 { try read(t, k) }
        func decode(_ t: UInt16.Type, forKey k: Key) throws -> UInt16 { try read(t, k) }
        func decode(_ t: UInt32.Type, forKey k: Key) throws -> UInt32 { try read(t, k) }
        func decode(_ t: UInt64.Type, forKey k: Key) throws -> UInt64 { try read(t, k) }
        func decodeIfPresent(_ t: Bool.Type, forKey k: Key) throws -> Bool? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: String.Type, forKey k: Key) throws -> String? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Double.Type, forKey k: Key) throws -> Double? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Float.Type, forKey k: Key) throws -> Float? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Int.Type, forKey k: Key) throws -> Int? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Int8.Type, forKey k: Key) throws -> Int8? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Int16.Type, forKey k: Key) throws -> Int16? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Int32.Type, forKey k: Key) throws -> Int32? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: Int64.Type, forKey k: Key) throws -> Int64? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: UInt.Type, forKey k: Key) throws -> UInt? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: UInt8.Type, forKey k: Key) throws -> UInt8? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: UInt16.Type, forKey k: Key) throws -> UInt16? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: UInt32.Type, forKey k: Key) throws -> UInt32? { try readIfPresent(t, k) }
        func decodeIfPresent(_ t: UInt64.Type, forKey k: Key) throws -> UInt64? { try readIfPresent(t, k) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            shape.required.insert(key.stringValue)
            return try ProbeDecoder(node: shape.node(key.stringValue), depth: depth + 1, codingPath: codingPath + [key])
                .container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            shape.required.insert(key.stringValue)
            return try ProbeDecoder(node: shape.node(key.stringValue), depth: depth + 1, codingPath: codingPath + [key])
                .unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder {
            guard let key = Key(stringValue: "super") else { throw Stop() }
            return try superDecoder(forKey: key)
        }

        func superDecoder(forKey key: Key) throws -> any Decoder {
            shape.required.insert(key.stringValue)
            return ProbeDecoder(node: shape.node(key.stringValue), depth: depth + 1, codingPath: codingPath + [key])
        }
    }

    /// An array: reports one element, whose shape is the items' schema.
    struct Unkeyed: UnkeyedDecodingContainer {
        let items: Node
        let depth: Int
        var codingPath: [any CodingKey]
        var count: Int? { 1 }
        var currentIndex = 0
        var isAtEnd: Bool { currentIndex >= 1 }

        init(items: Node, depth: Int, codingPath: [any CodingKey]) {
            self.items = items
            self.depth = depth
            self.codingPath = codingPath
        }

        mutating func decodeNil() throws -> Bool {
            let inner = items.schema
            items.kind = .leaf(inner.nullable())
            return false
        }

        mutating func read<T: Decodable>(_ type: T.Type) throws -> T {
            defer { currentIndex += 1 }
            guard currentIndex == 0 else { throw Stop() }
            if let p = SchemaProbe.primitive(type) {
                items.kind = .leaf(p.0)
                return p.1
            }
            return try SchemaProbe.decode(type, into: items, depth: depth, path: codingPath)
        }

        mutating func decode<T: Decodable>(_ t: T.Type) throws -> T { try read(t) }
        mutating func decode(_ t: Bool.Type) throws -> Bool { try read(t) }
        mutating func decode(_ t: String.Type) throws -> String { try read(t) }
        mutating func decode(_ t: Double.Type) throws -> Double { try read(t) }
        mutating func decode(_ t: Float.Type) throws -> Float { try read(t) }
        mutating func decode(_ t: Int.Type) throws -> Int { try read(t) }
        mutating func decode(_ t: Int8.Type) throws -> Int8 { try read(t) }
        mutating func decode(_ t: Int16.Type) throws -> Int16 { try read(t) }
        mutating func decode(_ t: Int32.Type) throws -> Int32 { try read(t) }
        mutating func decode(_ t: Int64.Type) throws -> Int64 { try read(t) }
        mutating func decode(_ t: UInt.Type) throws -> UInt { try read(t) }
        mutating func decode(_ t: UInt8.Type) throws -> UInt8 { try read(t) }
        mutating func decode(_ t: UInt16.Type) throws -> UInt16 { try read(t) }
        mutating func decode(_ t: UInt32.Type) throws -> UInt32 { try read(t) }
        mutating func decode(_ t: UInt64.Type) throws -> UInt64 { try read(t) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            currentIndex += 1
            return try ProbeDecoder(node: items, depth: depth + 1, codingPath: codingPath).container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            currentIndex += 1
            return try ProbeDecoder(node: items, depth: depth + 1, codingPath: codingPath).unkeyedContainer()
        }

        mutating func superDecoder() throws -> any Decoder {
            currentIndex += 1
            return ProbeDecoder(node: items, depth: depth + 1, codingPath: codingPath)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let node: Node
        let depth: Int
        var codingPath: [any CodingKey]

        /// Asked before any typed read: a free-form value (it probes what the JSON holds).
        func decodeNil() -> Bool {
            if case .unknown = node.kind {
                node.kind = .leaf(.any)
                return true
            }
            return false
        }

        func read<T: Decodable>(_ type: T.Type) throws -> T {
            if let p = SchemaProbe.primitive(type) {
                if case .unknown = node.kind { node.kind = .leaf(p.0) }
                return p.1
            }
            return try SchemaProbe.decode(type, into: node, depth: depth, path: codingPath)
        }

        func decode<T: Decodable>(_ t: T.Type) throws -> T { try read(t) }
        func decode(_ t: Bool.Type) throws -> Bool { try read(t) }
        func decode(_ t: String.Type) throws -> String { try read(t) }
        func decode(_ t: Double.Type) throws -> Double { try read(t) }
        func decode(_ t: Float.Type) throws -> Float { try read(t) }
        func decode(_ t: Int.Type) throws -> Int { try read(t) }
        func decode(_ t: Int8.Type) throws -> Int8 { try read(t) }
        func decode(_ t: Int16.Type) throws -> Int16 { try read(t) }
        func decode(_ t: Int32.Type) throws -> Int32 { try read(t) }
        func decode(_ t: Int64.Type) throws -> Int64 { try read(t) }
        func decode(_ t: UInt.Type) throws -> UInt { try read(t) }
        func decode(_ t: UInt8.Type) throws -> UInt8 { try read(t) }
        func decode(_ t: UInt16.Type) throws -> UInt16 { try read(t) }
        func decode(_ t: UInt32.Type) throws -> UInt32 { try read(t) }
        func decode(_ t: UInt64.Type) throws -> UInt64 { try read(t) }
    }
}

/// Lets the probe see through `Optional` (its value schema, plus `null`).
protocol ProbeOptional {
    static var wrappedType: any Decodable.Type { get }
    static var probeNone: Self { get }
}

extension Optional: ProbeOptional where Wrapped: Decodable {
    static var wrappedType: any Decodable.Type { Wrapped.self }
    static var probeNone: Self { nil }
}
