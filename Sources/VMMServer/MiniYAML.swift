import Foundation

/// A YAML node of the subset compose files use.
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

public struct YAMLError: Error, CustomStringConvertible, Sendable, Equatable {
    public var line: Int
    public var message: String
    public var description: String { "YAML line \(line): \(message)" }
}

/// A small YAML reader for compose files: block mappings and sequences (including
/// `- key: value` items and sequences at their key's indentation), flow `[...]` and
/// `{...}` on one line, plain / single- / double-quoted scalars, block scalars
/// (`|`, `>`, with `-`/`+` chomping), comments and a leading `---`. Anchors, aliases,
/// tags and multi-document streams are not supported (anchors and tags read as text).
public enum MiniYAML {
    public static func parse(_ text: String) throws -> YAMLNode {
        var p = Parser(lines: text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n"))
        return try p.document()
    }

    struct Parser {
        var lines: [String]
        var i = 0

        init(lines: [String]) { self.lines = lines }

        static func indent(of line: String) -> Int { line.prefix { $0 == " " }.count }

        static func isBlank(_ line: String) -> Bool {
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.isEmpty || t.hasPrefix("#")
        }

        mutating func skipBlank() {
            while i < lines.count && Self.isBlank(lines[i]) { i += 1 }
        }

        mutating func document() throws -> YAMLNode {
            skipBlank()
            if i < lines.count && lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("---") {
                let rest = lines[i].trimmingCharacters(in: .whitespaces).dropFirst(3).trimmingCharacters(in: .whitespaces)
                if !rest.isEmpty && !rest.hasPrefix("#") { throw YAMLError(line: i + 1, message: "content after --- is not supported") }
                i += 1
                skipBlank()
            }
            guard i < lines.count else { return .null }
            if lines[i].contains("\t") && lines[i].prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                throw YAMLError(line: i + 1, message: "tabs are not allowed for indentation")
            }
            let node = try block(indent: Self.indent(of: lines[i]))
            skipBlank()
            if i < lines.count {
                let t = lines[i].trimmingCharacters(in: .whitespaces)
                if t != "..." && !t.hasPrefix("---") {
                    throw YAMLError(line: i + 1, message: "unexpected indentation or content: \(t)")
                }
                if t.hasPrefix("---") { throw YAMLError(line: i + 1, message: "multiple documents are not supported") }
            }
            return node
        }

        mutating func block(indent: Int) throws -> YAMLNode {
            skipBlank()
            guard i < lines.count else { return .null }
            let t = lines[i].dropFirst(indent)
            if t == "-" || t.hasPrefix("- ") { return try sequence(indent: indent) }
            return try mapping(indent: indent)
        }

        mutating func sequence(indent: Int) throws -> YAMLNode {
            var items: [YAMLNode] = []
            while true {
                skipBlank()
                guard i < lines.count, Self.indent(of: lines[i]) == indent else { break }
                let t = lines[i].dropFirst(indent)
                guard t == "-" || t.hasPrefix("- ") else { break }
                let rest = t.dropFirst(1).drop { $0 == " " }
                if rest.isEmpty || rest.hasPrefix("#") {
                    i += 1
                    skipBlank()
                    if i < lines.count && Self.indent(of: lines[i]) > indent {
                        items.append(try block(indent: Self.indent(of: lines[i])))
                    } else {
                        items.append(.null)
                    }
                    continue
                }
                let column = lines[i].count - rest.count
                if Self.splitKey(String(rest)) != nil && !rest.hasPrefix("[") && !rest.hasPrefix("{")
                    && !rest.hasPrefix("\"") && !rest.hasPrefix("'") || Self.startsQuotedKey(String(rest)) {
                    // "- key: value": a mapping starting at the item's content column.
                    lines[i] = String(repeating: " ", count: column) + rest
                    items.append(try mapping(indent: column))
                } else if rest.hasPrefix("- ") || rest == "-" {
                    lines[i] = String(repeating: " ", count: column) + rest
                    items.append(try sequence(indent: column))
                } else {
                    let line = i + 1
                    i += 1
                    items.append(try inlineValue(String(rest), line: line, parentIndent: indent))
                }
            }
            return .sequence(items)
        }

        mutating func mapping(indent: Int) throws -> YAMLNode {
            var entries: [(String, YAMLNode)] = []
            while true {
                skipBlank()
                guard i < lines.count else { break }
                let lineIndent = Self.indent(of: lines[i])
                if lineIndent < indent { break }
                if lineIndent > indent { throw YAMLError(line: i + 1, message: "unexpected indentation") }
                let t = String(lines[i].dropFirst(indent))
                if t == "-" || t.hasPrefix("- ") { break }
                if t == "..." || t.hasPrefix("---") { break }
                guard let (rawKey, rawValue) = Self.splitKey(t) else {
                    throw YAMLError(line: i + 1, message: "expected \"key: value\", got \(t)")
                }
                let key = try Self.scalarText(rawKey, line: i + 1)
                if entries.contains(where: { $0.0 == key }) { throw YAMLError(line: i + 1, message: "duplicate key \(key)") }
                let valueText = Self.stripComment(rawValue)
                let line = i + 1
                i += 1
                if valueText.isEmpty {
                    skipBlank()
                    if i < lines.count {
                        let next = Self.indent(of: lines[i])
                        let nt = lines[i].dropFirst(next)
                        if next > indent {
                            entries.append((key, try block(indent: next)))
                            continue
                        }
                        if next == indent && (nt == "-" || nt.hasPrefix("- ")) {
                            entries.append((key, try sequence(indent: indent)))
                            continue
                        }
                    }
                    entries.append((key, .null))
                } else {
                    entries.append((key, try inlineValue(valueText, line: line, parentIndent: indent)))
                }
            }
            return .mapping(entries)
        }

        /// A value on the same line as its key or dash (the line is already consumed).
        mutating func inlineValue(_ text: String, line: Int, parentIndent: Int) throws -> YAMLNode {
            let v = Self.stripComment(text)
            if v.hasPrefix("|") || v.hasPrefix(">") { return try blockScalar(header: v, parentIndent: parentIndent, line: line) }
            if v.hasPrefix("[") || v.hasPrefix("{") {
                var source = v
                // Flow collections may continue on following lines until balanced.
                while !Self.balanced(source) && i < lines.count {
                    source += " " + Self.stripComment(lines[i].trimmingCharacters(in: .whitespaces))
                    i += 1
                }
                var f = FlowParser(chars: Array(source), line: line)
                let node = try f.value()
                f.skipSpaces()
                guard f.pos == f.chars.count else { throw YAMLError(line: line, message: "unexpected text after flow collection") }
                return node
            }
            if v == "~" || v == "null" || v == "Null" || v == "NULL" { return .null }
            return .scalar(try Self.scalarText(v, line: line))
        }

        mutating func blockScalar(header: String, parentIndent: Int, line: Int) throws -> YAMLNode {
            let folded = header.hasPrefix(">")
            let flags = header.dropFirst()
            let chomp: Character? = flags.first { $0 == "-" || $0 == "+" }
            let explicit = flags.first { $0.isNumber }.flatMap { Int(String($0)) }
            var body: [String] = []
            var contentIndent: Int?
            if let explicit { contentIndent = parentIndent + explicit }
            while i < lines.count {
                let l = lines[i]
                if l.trimmingCharacters(in: .whitespaces).isEmpty {
                    body.append("")
                    i += 1
                    continue
                }
                let ind = Self.indent(of: l)
                if contentIndent == nil {
                    guard ind > parentIndent else { break }
                    contentIndent = ind
                }
                guard let ci = contentIndent, ind >= ci else { break }
                body.append(String(l.dropFirst(ci)))
                i += 1
            }
            // Trailing blank lines belong to chomping, not content.
            var trailing = 0
            while let last = body.last, last.isEmpty {
                body.removeLast()
                trailing += 1
            }
            var text: String
            if folded {
                text = ""
                for (n, l) in body.enumerated() {
                    if n > 0 { text += (l.isEmpty || body[n - 1].isEmpty || l.hasPrefix(" ")) ? "\n" : " " }
                    text += l
                }
            } else {
                text = body.joined(separator: "\n")
            }
            switch chomp {
            case "-": break
            case "+": text += String(repeating: "\n", count: trailing + (body.isEmpty ? 0 : 1))
            default: if !body.isEmpty { text += "\n" }
            }
            _ = line
            return .scalar(text)
        }

        static func startsQuotedKey(_ s: String) -> Bool {
            guard let q = s.first, q == "\"" || q == "'" else { return false }
            guard let (k, _) = splitKey(s) else { return false }
            return k.first == q
        }

        /// Splits "key: value" / "key:" at the first ": " (or final ":") outside quotes.
        static func splitKey(_ s: String) -> (String, String)? {
            let chars = Array(s)
            var quote: Character?
            var k = 0
            while k < chars.count {
                let c = chars[k]
                if let q = quote {
                    if c == q {
                        if q == "'" && k + 1 < chars.count && chars[k + 1] == "'" { k += 2; continue }
                        quote = nil
                    } else if c == "\\" && q == "\"" { k += 1 }
                } else if (c == "\"" || c == "'") && k == 0 {
                    quote = c
                } else if c == "#" && k > 0 && chars[k - 1] == " " {
                    return nil
                } else if c == ":" && (k + 1 == chars.count || chars[k + 1] == " ") {
                    let key = String(chars[0..<k]).trimmingCharacters(in: .whitespaces)
                    if key.isEmpty { return nil }
                    return (key, String(chars[(k + 1)...]).trimmingCharacters(in: .whitespaces))
                } else if (c == "[" || c == "{") && k == 0 {
                    return nil
                }
                k += 1
            }
            return nil
        }

        /// Removes a " #" comment outside quotes.
        static func stripComment(_ s: String) -> String {
            let chars = Array(s)
            var quote: Character?
            for (k, c) in chars.enumerated() {
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == "\"" || c == "'" {
                    if k == 0 || chars[k - 1] == " " || chars[k - 1] == "[" || chars[k - 1] == "{" || chars[k - 1] == "," { quote = c }
                } else if c == "#" && (k == 0 || chars[k - 1] == " ") {
                    return String(chars[0..<k]).trimmingCharacters(in: .whitespaces)
                }
            }
            return s.trimmingCharacters(in: .whitespaces)
        }

        static func balanced(_ s: String) -> Bool {
            var depth = 0
            var quote: Character?
            for c in s {
                if let q = quote { if c == q { quote = nil }; continue }
                switch c {
                case "\"", "'": quote = c
                case "[", "{": depth += 1
                case "]", "}": depth -= 1
                default: break
                }
            }
            return depth <= 0
        }

        static func scalarText(_ s: String, line: Int) throws -> String {
            guard let first = s.first else { return "" }
            if first == "\"" {
                guard s.count >= 2, s.last == "\"" else { throw YAMLError(line: line, message: "unterminated double-quoted string") }
                return try unescapeDouble(String(s.dropFirst().dropLast()), line: line)
            }
            if first == "'" {
                guard s.count >= 2, s.last == "'" else { throw YAMLError(line: line, message: "unterminated single-quoted string") }
                return String(s.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
            }
            return s
        }

        static func unescapeDouble(_ s: String, line: Int) throws -> String {
            var out = ""
            var it = Array(s)[...]
            while let c = it.popFirst() {
                guard c == "\\" else { out.append(c); continue }
                guard let e = it.popFirst() else { throw YAMLError(line: line, message: "dangling backslash") }
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "0": out.append("\0")
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "/": out.append("/")
                case " ": out.append(" ")
                case "u", "x":
                    let n = e == "u" ? 4 : 2
                    let hex = String(it.prefix(n))
                    guard hex.count == n, let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else {
                        throw YAMLError(line: line, message: "bad \\\(e) escape")
                    }
                    it = it.dropFirst(n)
                    out.unicodeScalars.append(scalar)
                default: throw YAMLError(line: line, message: "unknown escape \\\(e)")
                }
            }
            return out
        }
    }

    /// `[a, b]` / `{k: v}` on one logical line.
    struct FlowParser {
        let chars: [Character]
        var pos = 0
        let line: Int

        init(chars: [Character], line: Int) {
            self.chars = chars
            self.line = line
        }

        mutating func skipSpaces() { while pos < chars.count && chars[pos] == " " { pos += 1 } }

        mutating func value() throws -> YAMLNode {
            skipSpaces()
            guard pos < chars.count else { throw YAMLError(line: line, message: "unexpected end of flow collection") }
            switch chars[pos] {
            case "[":
                pos += 1
                var items: [YAMLNode] = []
                skipSpaces()
                if pos < chars.count && chars[pos] == "]" { pos += 1; return .sequence(items) }
                while true {
                    items.append(try value())
                    skipSpaces()
                    guard pos < chars.count else { throw YAMLError(line: line, message: "unterminated [") }
                    if chars[pos] == "," {
                        pos += 1
                        skipSpaces()
                        if pos < chars.count && chars[pos] == "]" { pos += 1; return .sequence(items) }
                        continue
                    }
                    if chars[pos] == "]" { pos += 1; return .sequence(items) }
                    throw YAMLError(line: line, message: "expected , or ] in flow sequence")
                }
            case "{":
                pos += 1
                var entries: [(String, YAMLNode)] = []
                skipSpaces()
                if pos < chars.count && chars[pos] == "}" { pos += 1; return .mapping(entries) }
                while true {
                    guard case let .scalar(key) = try scalar(stopAtColon: true) else {
                        throw YAMLError(line: line, message: "flow mapping keys must be scalars")
                    }
                    skipSpaces()
                    guard pos < chars.count, chars[pos] == ":" else { throw YAMLError(line: line, message: "expected : in flow mapping") }
                    pos += 1
                    skipSpaces()
                    let v: YAMLNode = (pos < chars.count && (chars[pos] == "," || chars[pos] == "}")) ? .null : try value()
                    entries.append((key, v))
                    skipSpaces()
                    guard pos < chars.count else { throw YAMLError(line: line, message: "unterminated {") }
                    if chars[pos] == "," { pos += 1; skipSpaces(); continue }
                    if chars[pos] == "}" { pos += 1; return .mapping(entries) }
                    throw YAMLError(line: line, message: "expected , or } in flow mapping")
                }
            default:
                return try scalar(stopAtColon: false)
            }
        }

        mutating func scalar(stopAtColon: Bool) throws -> YAMLNode {
            skipSpaces()
            guard pos < chars.count else { throw YAMLError(line: line, message: "missing value") }
            let q = chars[pos]
            if q == "\"" || q == "'" {
                var k = pos + 1
                var raw = ""
                while k < chars.count {
                    if chars[k] == "\\" && q == "\"" && k + 1 < chars.count {
                        raw.append(chars[k]); raw.append(chars[k + 1]); k += 2; continue
                    }
                    if chars[k] == q {
                        if q == "'" && k + 1 < chars.count && chars[k + 1] == "'" { raw += "''"; k += 2; continue }
                        break
                    }
                    raw.append(chars[k])
                    k += 1
                }
                guard k < chars.count else { throw YAMLError(line: line, message: "unterminated string") }
                pos = k + 1
                return .scalar(try Parser.scalarText(String(q) + raw + String(q), line: line))
            }
            var k = pos
            while k < chars.count {
                let c = chars[k]
                if c == "," || c == "]" || c == "}" { break }
                if stopAtColon && c == ":" && (k + 1 == chars.count || chars[k + 1] == " ") { break }
                k += 1
            }
            let text = String(chars[pos..<k]).trimmingCharacters(in: .whitespaces)
            pos = k
            if text == "~" || text == "null" { return .null }
            return .scalar(text)
        }
    }
}
