import Foundation

/// Headless Chromium for the dashboards' browser tests (Debian's `chromium` package).
///
/// Tests are enabled when a binary is found; with `EVALNET_REQUIRE_CHROMIUM=1` (CI) a missing
/// binary is a failure instead of a skip. `EVALNET_CHROMIUM` names another binary.
public enum Chromium {
    public static let skipNote =
        "chromium not found (apt-get install chromium, or scripts/ensure-deps.sh --with-browser); browser test skipped"

    public static var binary: String? {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["EVALNET_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static var required: Bool { ProcessInfo.processInfo.environment["EVALNET_REQUIRE_CHROMIUM"] == "1" }

    /// Whether a browser test runs: a binary exists, or one is required (then its absence fails).
    public static var enabled: Bool { binary != nil || required }

    public struct Missing: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "EVALNET_REQUIRE_CHROMIUM=1 but no chromium binary was found" }
    }

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// The DOM after the page's scripts ran for `budgetMs` of virtual time.
    public static func dumpDOM(_ url: String, budgetMs: Int = 3000, width: Int = 1280, height: Int = 900) async throws -> String {
        let out = try await run(["--virtual-time-budget=\(budgetMs)", "--window-size=\(width),\(height)", "--dump-dom", url])
        return String(decoding: out, as: UTF8.self)
    }

    /// Saves a PNG of the page (`width`×`height`) at `path`.
    public static func screenshot(_ url: String, to path: String, width: Int, height: Int, budgetMs: Int = 2000) async throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: path)
        _ = try await run(["--virtual-time-budget=\(budgetMs)", "--window-size=\(width),\(height)", "--hide-scrollbars",
                           "--screenshot=\(path)", url])
        guard FileManager.default.fileExists(atPath: path) else { throw Failed(description: "chromium wrote no screenshot at \(path)") }
    }

    /// Runs chromium headless (as root it needs `--no-sandbox`) with a throwaway profile; stdout.
    static func run(_ arguments: [String], timeoutSeconds: Double = 90) async throws -> Data {
        guard let binary else { throw Missing() }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                             "--user-data-dir=\(profile.path)"] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The blocking reads and waits run on a Dispatch thread, never on the cooperative pool:
        // the server under test answers the browser from that pool (two cores = two threads).
        let deadline = DispatchTime.now() + timeoutSeconds
        DispatchQueue.global().asyncAfter(deadline: deadline) { if process.isRunning { process.terminate() } }
        let data = await ChildProcess.output(of: process, reading: stdout)
        guard process.terminationStatus == 0 else {
            throw Failed(description: "chromium exited with status \(process.terminationStatus) for \(arguments.last ?? "")")
        }
        return data
    }
}

/// Reading values out of a dumped dashboard DOM.
public enum DashboardDOM {
    /// The text of the first element with `data-k="key"`.
    public static func value(_ html: String, _ key: String) -> String? {
        guard let r = html.range(of: "data-k=\"\(key)\">") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "<" })
    }

    /// The texts of every element with `data-k="key"`, in document order.
    public static func values(_ html: String, _ key: String) -> [String] {
        html.components(separatedBy: "data-k=\"\(key)\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }

    /// The `data-x` of every chart point of `series`, in document order.
    public static func pointXs(_ html: String, series: String) -> [Int64] {
        html.components(separatedBy: "<circle class=\"pt\" data-series=\"\(series)\" data-x=\"").dropFirst().compactMap {
            Int64($0.prefix { $0 != "\"" })
        }
    }

    /// The `data-y` of every chart point of `series`, in document order.
    public static func pointYs(_ html: String, series: String) -> [Double] {
        html.components(separatedBy: "<circle class=\"pt\" data-series=\"\(series)\" data-x=\"").dropFirst().compactMap { part in
            guard let r = part.range(of: "data-y=\"") else { return nil }
            return Double(part[r.upperBound...].prefix { $0 != "\"" })
        }
    }
}
