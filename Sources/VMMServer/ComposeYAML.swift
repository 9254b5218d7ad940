import Foundation
import Yams

/// A YAML node of a compose file, after anchors, aliases and merge keys are resolved:
/// what `ComposeLaunch` reads. Scalars keep their text (`8080`, `true`); a null (`~`,
/// `null`, an empty value) is `.null`.
public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(String)
    case null
    case sequence([YAMLNode])
    /// Entries in document order.
    case mapping([(String, YAMLNode)])

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool {
        switch (a, b) {
        case let (.scalar(x), .scalar(y)): return x == y
        case (.null, .null): return true
        case let (.sequence(x), .sequence(y)): return x == y
        case let (.mapping(x), .mapping(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> YAMLNode? {
        if case let .mapping(entries) = self { return entries.first { $0.0 == key }?.1 }
        return nil
    }

    public var string: String? {
        if case let .scalar(s) = self { return s }
        return nil
    }
}

/// Why `ComposeYAML.parse` refused a document.
public struct YAMLError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var description: String { message }
}

/// Reads compose YAML with Yams (libyaml): the whole YAML 1.1 syntax compose files use —
/// anchors and aliases (`&base` / `*base`), merge keys (`<<: *base`, `<<: [*a, *b]`; keys
/// written in the mapping win over merged ones, earlier merged mappings over later ones),
/// tags (`!!str 8080` is the text "8080"; compose's `!reset` drops the key it marks and
/// `!override` keeps the value as written), block and flow styles, block scalars. One
/// document per file (a second `---` document is an error, as in docker compose).
public enum ComposeYAML {
    public static func parse(_ text: String) throws -> YAMLNode {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw YAMLError(message: "YAML: \(error)")
        }
        guard let root else { return .null }
        return try convert(root, path: "")
    }

    static let resetTag = "!reset"

    /// The node's resolved tag (`tag:yaml.org,2002:null`, `!reset`, …).
    static func tagName(_ node: Node) -> String { node.tag.description }

    static func convert(_ node: Node, path: String) throws -> YAMLNode {
        switch node {
        case let .scalar(scalar):
            if tagName(node) == Tag.Name.null.rawValue { return .null }
            return .scalar(scalar.string)
        case let .sequence(sequence):
            return .sequence(try sequence.enumerated().compactMap { i, item in
                tagName(item) == resetTag ? nil : try convert(item, path: "\(path)[\(i)]")
            })
        case let .mapping(mapping):
            var explicit: [(String, YAMLNode)] = []
            var merged: [(String, YAMLNode)] = []
            var reset: Set<String> = []
            for (keyNode, valueNode) in mapping {
                guard case let .scalar(key) = keyNode else {
                    throw YAMLError(message: "YAML: \(path.isEmpty ? "the document" : path) has a key that is not a scalar")
                }
                if tagName(keyNode) == Tag.Name.merge.rawValue {
                    // `<<: *a` or `<<: [*a, *b]`: the first source that has a key wins.
                    let sources: [Node]
                    switch valueNode {
                    case .mapping: sources = [valueNode]
                    case let .sequence(items): sources = Array(items)
                    case .scalar:
                        throw YAMLError(message: "YAML: merge key << at \(path.isEmpty ? "the top level" : path) must name a mapping or a list of mappings")
                    }
                    for source in sources {
                        guard case .mapping = source,
                              case let .mapping(entries) = try convert(source, path: path + ".<<") else {
                            throw YAMLError(message: "YAML: merge key << at \(path.isEmpty ? "the top level" : path) must name a mapping or a list of mappings")
                        }
                        for (k, v) in entries where !merged.contains(where: { $0.0 == k }) { merged.append((k, v)) }
                    }
                    continue
                }
                let childPath = path.isEmpty ? key.string : "\(path).\(key.string)"
                if tagName(valueNode) == resetTag {
                    reset.insert(key.string)
                    continue
                }
                let value = try convert(valueNode, path: childPath)
                if let i = explicit.firstIndex(where: { $0.0 == key.string }) {
                    explicit[i].1 = value
                } else {
                    explicit.append((key.string, value))
                }
            }
            let explicitKeys = Set(explicit.map(\.0))
            let inherited = merged.filter { !explicitKeys.contains($0.0) && !reset.contains($0.0) }
            return .mapping(explicit + inherited)
        }
    }
}
