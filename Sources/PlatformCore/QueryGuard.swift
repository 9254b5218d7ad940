import Foundation

/// Why a query was refused before reaching the database.
public struct QueryRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A query that passed the guard.
public struct CheckedQuery: Sendable, Equatable {
    /// The statement without a trailing semicolon, ready to be wrapped as a subquery.
    public let sql: String
    /// Number of `?` placeholders.
    public let placeholders: Int

    public init(sql: String, placeholders: Int) {
        self.sql = sql
        self.placeholders = placeholders
    }
}

/// The lexical guard of `POST /challenges/{id}/orm/query`. It is the first of two layers:
/// it gives clear 400 answers for hostile or unsupported input, while the database itself
/// enforces read-only access (PostgreSQL: read-only transaction, a per-challenge role and
/// statement timeout; SQLite: a read-only connection with an authorizer). Rules:
///
/// - one statement (one optional trailing `;`), at most `maxLength` bytes, balanced
///   parentheses, no unterminated string, identifier or comment;
/// - it starts with `SELECT`, `WITH`, `VALUES` or `(`;
/// - no write, DDL, transaction, session or extension keyword anywhere (INSERT, UPDATE,
///   DELETE, DROP, CREATE, ALTER, ATTACH, PRAGMA, COPY, SET, …), no `RECURSIVE`, no `INTO`;
/// - no catalog or server object: identifiers starting with `pg_` or `sqlite_`,
///   `information_schema`, and `reg*` object-identifier types;
/// - every function called is in `allowedFunctions` (aggregates, arithmetic, string, date
///   and JSON helpers, window functions) — so `pg_sleep`, `pg_read_file`, `lo_import`,
///   `set_config`, `dblink`, `query_to_xml`, `load_extension`, `randomblob` … are refused;
/// - no `$` (use `?` placeholders), no escape-string (`E'…'`) or Unicode-escape (`U&'…'`)
///   constants, no backslashes outside strings;
/// - quoted identifiers are read the way SQLite reads them — `"…"`, `` `…` `` and `[…]` — and
///   a `` `…` `` or `[…]` name may not contain quotes, `;` or comment markers (PostgreSQL
///   reads these characters as code, so both databases must agree on where the name ends).
public struct QueryGuard: Sendable {
    public var maxLength: Int

    public init(maxLength: Int = 16_384) {
        self.maxLength = maxLength
    }

    public static let allowedFunctions: Set<String> = [
        // aggregates
        "count", "sum", "avg", "min", "max", "total", "group_concat", "string_agg", "bool_and", "bool_or", "every",
        "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "percentile_cont", "percentile_disc",
        // numbers
        "abs", "round", "ceil", "ceiling", "floor", "trunc", "sign", "sqrt", "power", "pow", "exp", "ln", "log",
        "log10", "mod", "greatest", "least",
        // nulls and conditionals
        "coalesce", "ifnull", "nullif", "iif",
        // strings
        "length", "char_length", "character_length", "octet_length", "lower", "upper", "trim", "ltrim", "rtrim",
        "btrim", "substr", "substring", "replace", "instr", "position", "strpos", "left", "right", "concat",
        "concat_ws", "split_part", "reverse", "starts_with", "typeof", "hex",
        // dates
        "date", "time", "datetime", "julianday", "strftime", "unixepoch", "now", "date_trunc", "date_part",
        "extract", "to_char", "to_timestamp",
        // JSON
        "json", "json_extract", "json_array_length", "json_type", "json_valid", "json_object", "json_array",
        "json_group_array", "json_group_object", "json_extract_path", "json_extract_path_text", "json_typeof",
        "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_array_length", "jsonb_typeof",
        // window functions
        "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
        "last_value", "nth_value",
    ]

    /// Keywords that may be followed by `(` without being a function call.
    static let parenKeywords: Set<String> = [
        "select", "from", "where", "and", "or", "not", "in", "exists", "any", "all", "some", "as", "on", "using",
        "join", "when", "then", "else", "case", "by", "having", "over", "filter", "within", "values", "cast",
        "array", "row", "lateral", "union", "except", "intersect", "distinct", "is", "between", "like", "ilike",
        "escape", "limit", "offset", "group", "partition", "order", "with", "interval", "end", "asc", "desc",
    ]

    /// Keywords that change data, schema, session or server state.
    static let forbiddenKeywords: Set<String> = [
        "insert", "update", "delete", "merge", "upsert", "drop", "create", "alter", "truncate", "grant", "revoke",
        "copy", "attach", "detach", "pragma", "vacuum", "reindex", "analyze", "analyse", "set", "reset", "do",
        "call", "execute", "exec", "prepare", "deallocate", "listen", "notify", "unlisten", "lock", "commit",
        "rollback", "begin", "savepoint", "release", "into", "load", "explain", "refresh", "cluster", "checkpoint",
        "discard", "declare", "fetch", "security", "owner", "returning",
    ]

    static let objectIdentifierTypes: Set<String> = [
        "regclass", "regproc", "regprocedure", "regoper", "regoperator", "regtype", "regrole", "regnamespace",
        "regconfig", "regdictionary", "regcollation",
    ]

    enum Token: Equatable {
        case word(String)        // unquoted identifier or keyword, lowercased
        case quoted(String)      // quoted identifier, lowercased for checks
        case string
        case number
        case placeholder
        case semicolon
        case punct(String)
    }

    public func check(_ sql: String) throws(QueryRejection) -> CheckedQuery {
        let bytes = Array(sql.utf8)
        guard bytes.count <= maxLength else {
            throw QueryRejection("query is \(bytes.count) bytes; the limit is \(maxLength)")
        }
        var tokens: [(token: Token, start: Int)] = []
        try tokenize(bytes, into: &tokens)

        // One statement: a single trailing semicolon is tolerated.
        var end = bytes.count
        if let last = tokens.last, last.token == .semicolon {
            end = last.start
            tokens.removeLast()
        }
        if tokens.contains(where: { $0.token == .semicolon }) {
            throw QueryRejection("only one statement is allowed (found ';' inside the query)")
        }
        guard let first = tokens.first else { throw QueryRejection("query is empty") }
        switch first.token {
        case .word("select"), .word("with"), .word("values"), .punct("("): break
        case let .word(w): throw QueryRejection("only SELECT queries are allowed (query starts with '\(w.uppercased())')")
        default: throw QueryRejection("only SELECT queries are allowed")
        }

        var depth = 0
        var placeholders = 0
        for (i, entry) in tokens.enumerated() {
            switch entry.token {
            case .punct("("): depth += 1
            case .punct(")"):
                depth -= 1
                if depth < 0 { throw QueryRejection("unbalanced parentheses") }
            case .placeholder: placeholders += 1
            case let .word(w):
                if Self.forbiddenKeywords.contains(w) {
                    throw QueryRejection("'\(w.uppercased())' is not allowed: this endpoint is read-only")
                }
                if w == "recursive" { throw QueryRejection("recursive queries are not allowed") }
                try checkName(w)
                if Self.objectIdentifierTypes.contains(w) {
                    throw QueryRejection("object identifier types such as \(w) are not allowed")
                }
                try checkCall(name: w, at: i, tokens: tokens, keywordAllowed: true)
            case let .quoted(name):
                try checkName(name)
                try checkCall(name: name, at: i, tokens: tokens, keywordAllowed: false)
            default: break
            }
        }
        if depth != 0 { throw QueryRejection("unbalanced parentheses") }
        let text = String(decoding: bytes[0..<end], as: UTF8.self)
        return CheckedQuery(sql: text.trimmingCharacters(in: .whitespacesAndNewlines), placeholders: placeholders)
    }

    private func checkName(_ name: String) throws(QueryRejection) {
        if name.hasPrefix("pg_") || name.hasPrefix("sqlite_") || name == "information_schema" {
            throw QueryRejection("system catalogs and server functions are not accessible ('\(name)')")
        }
    }

    /// An identifier followed by `(` is a function call unless it is a keyword, a column list
    /// after AS, a type modifier after `::`, or a CTE column list (its `)` is followed by AS).
    private func checkCall(name: String, at i: Int, tokens: [(token: Token, start: Int)], keywordAllowed: Bool)
        throws(QueryRejection)
    {
        guard i + 1 < tokens.count, tokens[i + 1].token == .punct("(") else { return }
        if keywordAllowed, Self.parenKeywords.contains(name) { return }
        if i > 0, tokens[i - 1].token == .word("as") || tokens[i - 1].token == .punct("::") { return }
        if let close = matchingParen(from: i + 1, in: tokens), isCTEBody(after: close, in: tokens) { return }
        guard Self.allowedFunctions.contains(name) else {
            throw QueryRejection("function '\(name)' is not allowed in read-only queries")
        }
    }

    /// `name(cols) AS [NOT] [MATERIALIZED] (SELECT|WITH|VALUES|( …` — a CTE column list.
    private func isCTEBody(after close: Int, in tokens: [(token: Token, start: Int)]) -> Bool {
        var j = close + 1
        guard j < tokens.count, tokens[j].token == .word("as") else { return false }
        j += 1
        if j < tokens.count, tokens[j].token == .word("not") { j += 1 }
        if j < tokens.count, tokens[j].token == .word("materialized") { j += 1 }
        guard j + 1 < tokens.count, tokens[j].token == .punct("(") else { return false }
        switch tokens[j + 1].token {
        case .word("select"), .word("with"), .word("values"), .punct("("): return true
        default: return false
        }
    }

    private func matchingParen(from open: Int, in tokens: [(token: Token, start: Int)]) -> Int? {
        var depth = 0
        for j in open..<tokens.count {
            if tokens[j].token == .punct("(") { depth += 1 }
            if tokens[j].token == .punct(")") {
                depth -= 1
                if depth == 0 { return j }
            }
        }
        return nil
    }

    private static func isWordStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c >= 0x80
    }

    private static func isWordChar(_ c: UInt8) -> Bool { isWordStart(c) || (c >= 0x30 && c <= 0x39) || c == 0x24 }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// The content of a `[ ]` or `` ` ` `` quoted identifier: no quote of any kind, no comment
    /// marker and no `;`, so that SQLite (a name) and PostgreSQL (code) agree on its extent.
    private static func checkInert(_ name: ArraySlice<UInt8>, quoting: String) throws(QueryRejection) {
        var previous: UInt8 = 0
        for c in name {
            let comment = (previous == 0x2D && c == 0x2D) || (previous == 0x2F && c == 0x2A)
            if comment || c == 0x27 || c == 0x22 || c == 0x60 || c == 0x5B || c == 0x3B || c == 0x00 {
                throw QueryRejection("identifiers quoted with \(quoting) may not contain quotes, '[', ';' or comment markers")
            }
            previous = c
        }
    }

    private func tokenize(_ b: [UInt8], into tokens: inout [(token: Token, start: Int)]) throws(QueryRejection) {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            // whitespace
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
                i += 1
                continue
            }
            if c == 0x00 { throw QueryRejection("NUL bytes are not allowed") }
            // -- comment
            if c == 0x2D, i + 1 < n, b[i + 1] == 0x2D {
                while i < n, b[i] != 0x0A { i += 1 }
                continue
            }
            // /* comment */ (not nested; PostgreSQL nests them, which only hides more text from
            // the database than from this guard)
            if c == 0x2F, i + 1 < n, b[i + 1] == 0x2A {
                var j = i + 2
                var closed = false
                while j + 1 < n {
                    if b[j] == 0x2A, b[j + 1] == 0x2F {
                        closed = true
                        break
                    }
                    j += 1
                }
                guard closed else { throw QueryRejection("unterminated comment") }
                i = j + 2
                continue
            }
            let adjacentPrefix = i > 0 ? b[i - 1] : 0x20
            // 'string'
            if c == 0x27 {
                // U&'…' or E'…': escape processing differs between databases.
                let escapePrefix = (adjacentPrefix == 0x65 || adjacentPrefix == 0x45) && tokens.last?.token == .word("e")
                if adjacentPrefix == 0x26 || escapePrefix {
                    throw QueryRejection("escape and Unicode-escape string constants are not allowed")
                }
                var j = i + 1
                var closed = false
                while j < n {
                    if b[j] == 0x27 {
                        if j + 1 < n, b[j + 1] == 0x27 {
                            j += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    j += 1
                }
                guard closed else { throw QueryRejection("unterminated string") }
                tokens.append((.string, i))
                i = j + 1
                continue
            }
            // "identifier" (both databases) or `identifier` (SQLite; PostgreSQL reads ` as an
            // operator character, so the name must not hide anything from that reading either)
            if c == 0x22 || c == 0x60 {
                if adjacentPrefix == 0x26 { throw QueryRejection("Unicode-escape identifiers are not allowed") }
                var j = i + 1
                var name: [UInt8] = []
                var closed = false
                while j < n {
                    if b[j] == c {
                        if j + 1 < n, b[j + 1] == c {
                            name.append(c)
                            j += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    name.append(b[j])
                    j += 1
                }
                guard closed else { throw QueryRejection("unterminated quoted identifier") }
                if c == 0x60 { try Self.checkInert(name[...], quoting: "` `") }
                tokens.append((.quoted(String(decoding: name, as: UTF8.self).lowercased()), i))
                i = j + 1
                continue
            }
            // [identifier]: SQLite reads everything up to the first `]` as a name (no escapes);
            // PostgreSQL reads `[` as an array subscript and its content as code. Both readings
            // agree on where the brackets end only when the content holds no quote, comment
            // marker or `;` — otherwise `SELECT 1 AS [--], …` would hide the rest of the line
            // from this guard while SQLite runs it.
            if c == 0x5B {
                guard let close = b[(i + 1)...].firstIndex(of: 0x5D) else {
                    throw QueryRejection("unterminated '[' (bracket-quoted identifier or subscript)")
                }
                let inner = b[(i + 1)..<close]
                try Self.checkInert(inner, quoting: "[ ]")
                if let first = inner.first, Self.isWordStart(first), inner.allSatisfy(Self.isWordChar) {
                    // A plain name: SQLite's quoted identifier (also a valid PostgreSQL subscript).
                    tokens.append((.quoted(String(decoding: inner, as: UTF8.self).lowercased()), i))
                    i = close + 1
                } else {
                    // Anything else is tokenized as code (a subscript such as `[1:2]`), so every
                    // keyword, name and call inside is checked as well.
                    tokens.append((.punct("["), i))
                    i += 1
                }
                continue
            }
            if Self.isWordStart(c) {
                var j = i
                while j < n, Self.isWordChar(b[j]) { j += 1 }
                tokens.append((.word(String(decoding: b[i..<j], as: UTF8.self).lowercased()), i))
                i = j
                continue
            }
            if Self.isDigit(c) || (c == 0x2E && i + 1 < n && Self.isDigit(b[i + 1])) {
                var j = i
                while j < n {
                    let d = b[j]
                    if Self.isDigit(d) || d == 0x2E || d == 0x5F || Self.isWordStart(d) {
                        j += 1
                    } else if (d == 0x2B || d == 0x2D), j > i, b[j - 1] == 0x65 || b[j - 1] == 0x45 {
                        j += 1
                    } else {
                        break
                    }
                }
                tokens.append((.number, i))
                i = j
                continue
            }
            switch c {
            case 0x3F: tokens.append((.placeholder, i))
            case 0x3B: tokens.append((.semicolon, i))
            case 0x24: throw QueryRejection("'$' is not allowed; use ? placeholders and plain strings")
            case 0x5C: throw QueryRejection("backslashes are only allowed inside strings")
            case 0x3A where i + 1 < n && b[i + 1] == 0x3A:
                tokens.append((.punct("::"), i))
                i += 2
                continue
            default: tokens.append((.punct(String(UnicodeScalar(c))), i))
            }
            i += 1
        }
    }
}
