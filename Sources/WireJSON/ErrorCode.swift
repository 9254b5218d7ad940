/// The machine-readable `code` of an error body (`{"detail": …, "code": …}`). Services
/// answer with codes declared once in a catalogue (`ErrorCode`'s common codes below,
/// `PoolErrorCode`, `PlatformErrorCode`, `DstackErrorCode`); clients read the body's code
/// as text, since a server of another implementation may send codes we do not know, and
/// compare it with the catalogue's constants.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static func == (text: String, code: ErrorCode) -> Bool { text == code.rawValue }
    public static func == (code: ErrorCode, text: String) -> Bool { text == code.rawValue }
    public static func == (text: String?, code: ErrorCode) -> Bool { text == code.rawValue }
    public static func != (text: String, code: ErrorCode) -> Bool { text != code.rawValue }
    public static func != (text: String?, code: ErrorCode) -> Bool { text != code.rawValue }
}

/// Codes every service may answer.
extension ErrorCode {
    /// The body is not the JSON the endpoint takes (422).
    public static let invalidBody = ErrorCode("invalid_body")
    /// A query parameter is missing, malformed or out of range (422).
    public static let invalidQuery = ErrorCode("invalid_query")
    /// Text in the request holds a NUL character (422).
    public static let invalidText = ErrorCode("invalid_text")
    /// The request body is larger than the route accepts (413).
    public static let bodyTooLarge = ErrorCode("body_too_large")
    /// A request the router could not read (400).
    public static let badRequest = ErrorCode("bad_request")
    /// The request head is larger than the server's limits (431).
    public static let headersTooLarge = ErrorCode("headers_too_large")
    /// The HTTP framing itself is malformed (400).
    public static let badHTTP = ErrorCode("bad_http")
    /// No such route or resource (404).
    public static let notFound = ErrorCode("not_found")
    /// The path exists under other methods (405, with `Allow`).
    public static let methodNotAllowed = ErrorCode("method_not_allowed")
    /// The replay ledger could not be reached to check a signature (503).
    public static let authUnavailable = ErrorCode("auth_unavailable")
    /// The database is unreachable (503 from readiness).
    public static let databaseUnavailable = ErrorCode("database_unavailable")
    /// The service is draining before a stop (503).
    public static let draining = ErrorCode("draining")
    /// A write conflict outlived its retries (503 with Retry-After).
    public static let writeConflict = ErrorCode("write_conflict")
    /// The request was cancelled by a shutdown (503).
    public static let cancelled = ErrorCode("cancelled")
    /// A server fault; the detail says nothing of its cause (500).
    public static let internalError = ErrorCode("internal_error")
}
