/// # TestSupport
///
/// Owns helpers shared by the test targets (never linked into the product): fresh,
/// isolated databases on each backend — a temporary SQLite file, or a new PostgreSQL
/// database created on the server named by `EVALNET_TEST_POSTGRES_URL` — so the same
/// store tests run against both.
import Foundation
import Logging
import Store

/// A database backend the store tests run on.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres
    public var description: String { rawValue }
}

/// Fresh, isolated test databases on each available backend.
public enum TestDatabases {
    public static var postgresURL: String? {
        let v = ProcessInfo.processInfo.environment["EVALNET_TEST_POSTGRES_URL"]
        return (v?.isEmpty ?? true) ? nil : v
    }

    /// Backends to test: SQLite always; PostgreSQL when a server is configured. With
    /// `EVALNET_REQUIRE_POSTGRES=1` (CI) a missing server is an error, not a skip.
    public static var available: [Backend] {
        if postgresURL != nil { return [.sqlite, .postgres] }
        if ProcessInfo.processInfo.environment["EVALNET_REQUIRE_POSTGRES"] == "1" {
            fatalError("EVALNET_REQUIRE_POSTGRES=1 but EVALNET_TEST_POSTGRES_URL is not set")
        }
        FileHandle.standardError.write(Data("note: EVALNET_TEST_POSTGRES_URL not set; PostgreSQL store tests skipped\n".utf8))
        return [.sqlite]
    }

    public static let logger: Logger = {
        var l = Logger(label: "evalnet.test")
        l.logLevel = .warning
        return l
    }()

    /// A database URL for a fresh, empty database on `backend`.
    public static func freshURL(_ backend: Backend) async throws -> String {
        switch backend {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-tests", isDirectory: true)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return "sqlite:" + dir.appendingPathComponent("\(UUID().uuidString).db").path
        case .postgres:
            guard let base = postgresURL, case let .postgres(settings) = try DatabaseLocation.parse(base) else {
                throw StoreError.badURL(postgresURL ?? "")
            }
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let admin = try await PostgresStore.open(settings, logger: logger, maxConnections: 1)
            try await admin.execute("CREATE DATABASE \(name)")
            await admin.shutdown()
            return settings.url(database: String(name))
        }
    }

    /// Runs `body` with a fresh database and shuts it down afterwards, whether `body` returned
    /// or threw.
    public static func withFresh<T: Sendable>(_ backend: Backend, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let db = try await fresh(backend)
        do {
            let result = try await body(db)
            await db.shutdown()
            return result
        } catch {
            await db.shutdown()
            throw error
        }
    }

    /// A fresh database; close it with `shutdown()`.
    public static func fresh(_ backend: Backend) async throws -> any SQLDatabase {
        try await openDatabase(try DatabaseLocation.parse(try await freshURL(backend)), logger: logger)
    }
}
