/// A statement whose text and binds are written together: each interpolated value becomes a
/// `?` placeholder with its bind, in order, so a value can never be spliced into the text.
///
///     tx.fetch("SELECT id FROM algorithms WHERE task_type = \(taskType) AND id IN (\(list: ids))")
///
/// SQL text that is not a value (a lock clause, a placeholder list built elsewhere) goes in
/// with `\(sql: …)`; another `SQLQuery` goes in whole, binds and all.
public struct SQLQuery: Sendable, ExpressibleByStringInterpolation {
    public private(set) var sql: String
    public private(set) var binds: [SQLValue]

    public init(sql: String, binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(sql: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(sql: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// Builds the text and binds of an interpolated statement.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [SQLValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + 2 * interpolationCount)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) { sql += literal }

        /// One bound value.
        public mutating func appendInterpolation(_ value: SQLValue) {
            sql += "?"
            binds.append(value)
        }

        public mutating func appendInterpolation(_ value: String) { appendInterpolation(SQLValue.text(value)) }
        public mutating func appendInterpolation(_ value: Int64) { appendInterpolation(SQLValue.int(value)) }
        public mutating func appendInterpolation(_ value: Int) { appendInterpolation(SQLValue.int(Int64(value))) }
        public mutating func appendInterpolation(_ value: Double) { appendInterpolation(SQLValue.double(value)) }
        public mutating func appendInterpolation(_ value: Bool) { appendInterpolation(SQLValue.bool(value)) }
        public mutating func appendInterpolation(_ value: String?) { appendInterpolation(SQLValue.from(value)) }
        public mutating func appendInterpolation(_ value: Double?) { appendInterpolation(SQLValue.from(value)) }
        public mutating func appendInterpolation(_ value: Int?) { appendInterpolation(SQLValue.from(value)) }
        public mutating func appendInterpolation(_ value: Int64?) { appendInterpolation(value.map { SQLValue.int($0) } ?? .null) }

        /// `?,?,?` bound to `values` in order (the inside of an `IN (…)`).
        public mutating func appendInterpolation(list values: [SQLValue]) {
            sql += SQLText.list(values.count)
            binds += values
        }

        public mutating func appendInterpolation(list values: [Int64]) { appendInterpolation(list: values.map { SQLValue.int($0) }) }
        public mutating func appendInterpolation(list values: [String]) { appendInterpolation(list: values.map { SQLValue.text($0) }) }

        /// `(?,?),(?,?)` bound row by row (the `VALUES` of a multi-row insert or update);
        /// every row must have the same number of values.
        public mutating func appendInterpolation(rows: [[SQLValue]]) {
            sql += rows.map { "(" + SQLText.list($0.count) + ")" }.joined(separator: ",")
            binds += rows.flatMap { $0 }
        }

        /// SQL text that is not a value: a clause the dialect decides, a table name.
        public mutating func appendInterpolation(sql text: String) { sql += text }

        /// Another statement fragment, its binds after the ones before it.
        public mutating func appendInterpolation(_ fragment: SQLQuery) {
            sql += fragment.sql
            binds += fragment.binds
        }
    }
}

extension SQLExecutor {
    /// Runs `statement`, returning its rows.
    @discardableResult
    public func fetch(_ statement: SQLQuery) async throws -> [SQLRow] {
        try await query(statement.sql, statement.binds)
    }

    /// Runs `statement`, returning its first row.
    public func fetchOne(_ statement: SQLQuery) async throws -> SQLRow? {
        try await query(statement.sql, statement.binds).first
    }

    /// Runs the data-modifying `writes` (INSERT / UPDATE / DELETE, no rows wanted), then
    /// `statement`, returning its rows. On PostgreSQL all of it is one statement — one round
    /// trip — with each write in a `WITH` (which runs to completion whether or not it is read;
    /// `statement` sees the database as before the writes, so it must not read what they
    /// write); on SQLite, which has no data-modifying `WITH`, one statement after another.
    @discardableResult
    public func fetch(after writes: [SQLQuery], _ statement: SQLQuery) async throws -> [SQLRow] {
        guard dialect == .postgres, !writes.isEmpty else {
            for w in writes { try await fetch(w) }
            return try await fetch(statement)
        }
        let with = writes.enumerated().map { "w\($0.offset) AS (\($0.element.sql))" }.joined(separator: ", ")
        return try await query("WITH \(with) \(statement.sql)", writes.flatMap(\.binds) + statement.binds)
    }
}
