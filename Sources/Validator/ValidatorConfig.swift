import Foundation
import Hotkeys
import Logging
import PlatformAPI

/// The validator's settings: `config.toml` (TOML, read with TOMLKit), then environment
/// overrides `EVALNET_VALIDATOR_<KEY>` where KEY is the dotted key upper-cased with dots
/// as underscores (`jobs.timeout_s` → `EVALNET_VALIDATOR_JOBS_TIMEOUT_S`). Unknown keys,
/// unknown `EVALNET_VALIDATOR_*` variables, wrong types and out-of-range values are all
/// reported together at start-up (`ConfigError`).
///
/// The seed's `config.toml` (`validator_hotkey`, `platform_api_url`, `dstack_vmm_url`,
/// `[resource_limits]`) is accepted as written. The secret never lives in the file: it comes
/// from `$EVALNET_VALIDATOR_SECRET_SEED` (hex mini-secret, as `subkey inspect` prints it) or
/// from `key_file`, and must belong to `validator_hotkey` when that is set.
public struct ValidatorConfig: Sendable, Equatable {
    /// Hotkey file (`evalnet keys generate`); used when `$EVALNET_VALIDATOR_SECRET_SEED` is unset.
    public var keyFile: String
    /// The seed's `validator_hotkey`: the SS58 hotkey the secret must belong to (nil: not checked).
    public var validatorHotkey: String?
    public var platformAPIURL: String
    /// dstack VMM (or `evalnet vmm serve`); absent → jobs run with the local executor.
    public var dstackVMMURL: String?
    /// Root of the validator's files: challenge checkouts, job working directories.
    public var workDir: String
    /// Seconds between polls of `/jobs/pending`.
    public var pollIntervalSeconds: Double
    /// Seconds between refreshes of `/challenges/active`.
    public var challengeSyncIntervalSeconds: Double
    /// The machine's capacity for jobs (quota).
    public var resourceLimits: ResourceLimits
    /// Wall-clock limit of one evaluation.
    public var jobTimeoutSeconds: Double
    /// Jobs evaluated at the same time.
    public var maxConcurrentJobs: Int
    /// Jobs claimed per poll at most.
    public var claimBatch: Int
    /// Jobs of one challenge evaluated at the same time.
    public var perChallengeConcurrency: Int
    public var network: NetworkPolicy
    /// `[sandbox] mode`: whether evaluators of the local executor run in bubblewrap.
    public var sandboxMode: SandboxMode
    /// `[sandbox] max_processes`: processes (and threads) of one evaluation.
    public var sandboxMaxProcesses: Int
    /// `[sandbox] read_only_paths`: extra host paths the sandbox shows read-only.
    public var sandboxReadOnlyPaths: [String]
    /// The `bwrap` to use; `nil` → found on `PATH` (not a config key: for embedding and tests).
    public var sandboxBubblewrapPath: String?
    public var maxStdoutBytes: Int
    public var maxStderrBytes: Int
    public var keepWorkDirs: Bool
    public var dstackImage: String
    public var dstackHostAddress: String
    public var dstackBootTimeoutSeconds: Double
    public var quota: QuotaParameters
    public var quotaRecomputeIntervalSeconds: Double

    public init() {
        keyFile = KeyFile.defaultPath
        validatorHotkey = nil
        platformAPIURL = PlatformDefaults.localURL
        dstackVMMURL = nil
        workDir = "data/validator"
        pollIntervalSeconds = 5
        challengeSyncIntervalSeconds = 60
        resourceLimits = ResourceLimits(cpuCores: max(1, ProcessInfo.processInfo.activeProcessorCount),
                                        memoryMb: max(1024, Int(ProcessInfo.processInfo.physicalMemory >> 20) / 2),
                                        diskMb: 20480, gpuCount: 0)
        jobTimeoutSeconds = 600
        maxConcurrentJobs = 4
        claimBatch = 4
        perChallengeConcurrency = 2
        network = .auto
        sandboxMode = .required
        sandboxMaxProcesses = 256
        sandboxReadOnlyPaths = []
        sandboxBubblewrapPath = nil
        maxStdoutBytes = 1 << 20
        maxStderrBytes = 64 << 10
        keepWorkDirs = false
        dstackImage = "dstack-0.5.2"
        dstackHostAddress = "127.0.0.1"
        dstackBootTimeoutSeconds = 180
        quota = QuotaParameters()
        quotaRecomputeIntervalSeconds = 5
    }

    /// Environment variable naming the config file (read by `load` when no path is given).
    public static let configPathVariable = "EVALNET_VALIDATOR_CONFIG"
    public static let environmentPrefix = "EVALNET_VALIDATOR_"
    /// Environment variable holding the validator's secret: the 32-byte sr25519 mini-secret
    /// as hex (`0x…` optional) — the "Secret seed" `subkey inspect` prints. Not a config key:
    /// secrets are never read from `config.toml`.
    public static let secretSeedVariable = "EVALNET_VALIDATOR_SECRET_SEED"

    /// Every key (dotted) a config file may contain.
    public static let keys: [String] = [
        "validator_hotkey", "key_file", "platform_api_url", "dstack_vmm_url", "work_dir", "poll_interval_s", "challenge_sync_interval_s",
        "resource_limits.cpu_cores", "resource_limits.memory_mb", "resource_limits.disk_mb", "resource_limits.gpu_count",
        "jobs.timeout_s", "jobs.max_concurrent", "jobs.claim_batch", "jobs.per_challenge_concurrency",
        "local_executor.network", "local_executor.max_stdout_bytes", "local_executor.max_stderr_bytes",
        "local_executor.keep_work_dirs", "sandbox.mode", "sandbox.max_processes", "sandbox.read_only_paths",
        "dstack.image", "dstack.host_address", "dstack.boot_timeout_s",
        "quota.alpha", "quota.demand_weight", "quota.min_floor", "quota.decay", "quota.recompute_interval_s",
    ]

    /// The environment variable that overrides `key`.
    public static func environmentName(for key: String) -> String {
        environmentPrefix + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Loads `path` (or `$EVALNET_VALIDATOR_CONFIG`, or `./config.toml` when present; else
    /// defaults) and applies the environment.
    public static func load(path: String? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ValidatorConfig {
        let chosen = path ?? environment[configPathVariable]
        if let chosen {
            guard let data = FileManager.default.contents(atPath: chosen) else {
                throw ConfigError(["\(chosen): cannot read the configuration file"])
            }
            return try parse(toml: String(decoding: data, as: UTF8.self), source: chosen, environment: environment)
        }
        if let data = FileManager.default.contents(atPath: "config.toml") {
            return try parse(toml: String(decoding: data, as: UTF8.self), source: "config.toml", environment: environment)
        }
        return try parse(toml: "", source: "defaults", environment: environment)
    }

    /// Parses config text and applies the environment overrides.
    public static func parse(toml: String, source: String = "config.toml",
                             environment: [String: String] = [:]) throws -> ValidatorConfig {
        var r = ConfigReader()
        r.add(try TOMLFlattener.flatten(toml, source: source), origin: source)
        let byVariable = Dictionary(uniqueKeysWithValues: keys.map { (environmentName(for: $0), $0) })
        for (name, value) in environment
        where name.hasPrefix(environmentPrefix) && name != configPathVariable && name != secretSeedVariable {
            if let key = byVariable[name] {
                r.addEnvironment(key: key, value: value, variable: name)
            } else {
                r.problems.append("environment \(name): unknown setting (known: \(keys.map(environmentName(for:)).joined(separator: ", ")))")
            }
        }
        var c = ValidatorConfig()
        if let v = r.string("key_file") { c.keyFile = (v as NSString).expandingTildeInPath }
        if let v = r.string("validator_hotkey"), let e = r.entries["validator_hotkey"] {
            let trimmed = v.trimmingCharacters(in: .whitespaces)
            do {
                _ = try SS58.decode(trimmed)
                c.validatorHotkey = trimmed
            } catch {
                r.fail("validator_hotkey", e, "\"\(v)\" is not an SS58 hotkey (\(error))")
            }
        }
        if let v = url(&r, "platform_api_url") { c.platformAPIURL = v }
        if let e = r.entries["dstack_vmm_url"], case let .string(s) = e.value, s.isEmpty {
            _ = r.raw("dstack_vmm_url")
            c.dstackVMMURL = nil
        } else if let v = url(&r, "dstack_vmm_url") {
            c.dstackVMMURL = v
        }
        if let v = r.string("work_dir") { c.workDir = (v as NSString).expandingTildeInPath }
        if let v = r.double("poll_interval_s", range: 0.05...3600) { c.pollIntervalSeconds = v }
        if let v = r.double("challenge_sync_interval_s", range: 1...86_400) { c.challengeSyncIntervalSeconds = v }
        if let v = r.int("resource_limits.cpu_cores", range: 1...4096) { c.resourceLimits.cpuCores = v }
        if let v = r.int("resource_limits.memory_mb", range: 64...(64 << 20)) { c.resourceLimits.memoryMb = v }
        if let v = r.int("resource_limits.disk_mb", range: 1...(1 << 30)) { c.resourceLimits.diskMb = v }
        if let v = r.int("resource_limits.gpu_count", range: 0...256) { c.resourceLimits.gpuCount = v }
        if let v = r.double("jobs.timeout_s", range: 1...86_400) { c.jobTimeoutSeconds = v }
        if let v = r.int("jobs.max_concurrent", range: 1...1024) { c.maxConcurrentJobs = v }
        if let v = r.int("jobs.claim_batch", range: 1...1024) { c.claimBatch = v }
        if let v = r.int("jobs.per_challenge_concurrency", range: 1...1024) { c.perChallengeConcurrency = v }
        if let v = r.choice("local_executor.network", NetworkPolicy.allCases.map(\.rawValue)), let p = NetworkPolicy(rawValue: v) {
            c.network = p
        }
        if let v = r.choice("sandbox.mode", SandboxMode.allCases.map(\.rawValue)), let m = SandboxMode(rawValue: v) {
            c.sandboxMode = m
        }
        if let v = r.int("sandbox.max_processes", range: 8...65536) { c.sandboxMaxProcesses = v }
        if let v = r.stringArray("sandbox.read_only_paths", environmentSeparator: ":") { c.sandboxReadOnlyPaths = v }
        if let v = r.int("local_executor.max_stdout_bytes", range: 1024...(64 << 20)) { c.maxStdoutBytes = v }
        if let v = r.int("local_executor.max_stderr_bytes", range: 1024...(64 << 20)) { c.maxStderrBytes = v }
        if let v = r.bool("local_executor.keep_work_dirs") { c.keepWorkDirs = v }
        if let v = r.string("dstack.image") { c.dstackImage = v }
        if let v = r.string("dstack.host_address") { c.dstackHostAddress = v }
        if let v = r.double("dstack.boot_timeout_s", range: 1...3600) { c.dstackBootTimeoutSeconds = v }
        if let v = r.double("quota.alpha", range: 0...1) { c.quota.alpha = v }
        if let v = r.double("quota.demand_weight", range: 0...100) { c.quota.demandWeight = v }
        if let v = r.double("quota.min_floor", range: 0...1) { c.quota.minFloor = v }
        if let v = r.double("quota.decay", range: 0...1) { c.quota.decay = v }
        if let v = r.double("quota.recompute_interval_s", range: 0.1...3600) { c.quotaRecomputeIntervalSeconds = v }
        if let e = r.entries["sandbox.read_only_paths"] {
            for problem in readOnlyPathProblems(c.sandboxReadOnlyPaths, keyFile: c.keyFile, workDir: c.workDir) {
                r.fail("sandbox.read_only_paths", e, problem)
            }
        }
        for (key, origin) in r.unknownKeys() {
            let hint = suggestion(for: key)
            r.problems.append("\(key) (\(origin)): unknown key" + (hint.map { "; did you mean \($0)?" } ?? ""))
        }
        if c.claimBatch > c.maxConcurrentJobs && r.problems.isEmpty {
            // Not an error: claims beyond free slots would only be waited on.
            c.claimBatch = c.maxConcurrentJobs
        }
        if !r.problems.isEmpty { throw ConfigError(r.problems.sorted()) }
        return c
    }

    /// A known key close to `key`: same last component, or at most 2 edits away.
    static func suggestion(for key: String) -> String? {
        let last = key.split(separator: ".").last.map(String.init) ?? key
        if let same = keys.first(where: { $0.split(separator: ".").last.map(String.init) == last }) { return same }
        return keys.map { ($0, editDistance($0, key)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var row = Array(0...y.count)
        for i in 1...max(1, x.count) where !x.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: y.count, by: 1) {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return x.isEmpty ? y.count : row[y.count]
    }

    /// Paths inside the sandbox that the executor itself provides.
    static let sandboxReservedPaths = ["/job", "/challenge", "/.evalnet", "/tmp", "/proc", "/dev", "/etc/passwd", "/etc/group",
                                       "/etc/hosts"]

    /// Why each of `paths` may not be bound into the sandbox: not absolute, the root, a place
    /// the sandbox provides itself, or one that would show the key file or the work directory
    /// (challenge checkouts, other jobs).
    static func readOnlyPathProblems(_ paths: [String], keyFile: String, workDir: String) -> [String] {
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String {
            URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        }
        func inside(_ p: String, _ dir: String) -> Bool { p == dir || dir == "/" || p.hasPrefix(dir + "/") }
        var problems: [String] = []
        for raw in paths {
            guard raw.hasPrefix("/") else {
                problems.append("\"\(raw)\" is not an absolute path")
                continue
            }
            let p = URL(fileURLWithPath: raw).standardizedFileURL.path
            if p == "/" {
                problems.append("\"/\" would show the whole host")
            } else if let reserved = sandboxReservedPaths.first(where: { inside($0, p) || inside(p, $0) }) {
                problems.append("\"\(raw)\" collides with \(reserved), which the sandbox provides itself")
            } else if inside(absolute(keyFile), p) {
                problems.append("\"\(raw)\" would show the validator's key file \(keyFile)")
            } else if inside(absolute(workDir), p) || inside(p, absolute(workDir)) {
                problems.append("\"\(raw)\" would show the validator's work_dir (challenge checkouts, other jobs)")
            }
        }
        return problems
    }

    private static func url(_ r: inout ConfigReader, _ key: String) -> String? {
        guard let s = r.string(key), let e = r.entries[key] else { return nil }
        guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = u.host, !host.isEmpty else {
            r.fail(key, e, "\"\(s)\" is not an http(s) URL")
            return nil
        }
        return s
    }

    /// True when jobs go to a dstack VMM.
    public var usesDstack: Bool { dstackVMMURL != nil }

    public var challengeCacheDirectory: URL { URL(fileURLWithPath: workDir).appendingPathComponent("challenges") }
    public var jobsDirectory: URL { URL(fileURLWithPath: workDir).appendingPathComponent("jobs") }

    public var localExecutorOptions: LocalExecutorOptions {
        LocalExecutorOptions(workRoot: jobsDirectory, network: network, sandbox: sandboxMode,
                             maxProcesses: sandboxMaxProcesses, readOnlyPaths: sandboxReadOnlyPaths,
                             bubblewrapPath: sandboxBubblewrapPath,
                             maxStdoutBytes: maxStdoutBytes, maxStderrBytes: maxStderrBytes, keepWorkDirs: keepWorkDirs)
    }

    public var dstackExecutorOptions: DstackExecutorOptions? {
        dstackVMMURL.map {
            DstackExecutorOptions(vmmURL: $0, image: dstackImage, hostAddress: dstackHostAddress,
                                  bootTimeoutSeconds: dstackBootTimeoutSeconds)
        }
    }

    /// The executor the configuration asks for: dstack when `dstack_vmm_url` is set, else local.
    public func makeExecutor(logger: Logger) -> any Executor {
        if let options = dstackExecutorOptions { return DstackExecutor(options: options, logger: logger) }
        return LocalExecutor(options: localExecutorOptions, logger: logger)
    }

    /// One line for the operator on how jobs will be isolated (printed at start), and the
    /// reason jobs would be refused, if any (local executor only).
    public func isolationReport() -> (summary: String, refusal: String?) {
        if let options = dstackExecutorOptions {
            return ("executor dstack (\(options.vmmURL)): each job in its own VM", nil)
        }
        let isolation = LocalExecutor(options: localExecutorOptions).isolation
        return ("executor local: " + isolation.summary, isolation.refusal)
    }

    /// The validator's keypair: from `$EVALNET_VALIDATOR_SECRET_SEED` when set, else from
    /// `key_file`. When `validator_hotkey` is set the keypair must be that hotkey's
    /// (`KeySourceError.hotkeyMismatch` otherwise) — a validator never signs as a hotkey
    /// other than the one its configuration names.
    public func loadKeypair(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> SR25519Keypair
    {
        let keypair: SR25519Keypair
        let source: String
        if let seed = environment[Self.secretSeedVariable], !seed.trimmingCharacters(in: .whitespaces).isEmpty {
            source = "environment \(Self.secretSeedVariable)"
            keypair = try Self.keypair(fromSecretSeed: seed)
        } else {
            source = "key file \(keyFile)"
            guard FileManager.default.fileExists(atPath: keyFile) else {
                throw KeySourceError.noSecret(keyFile: keyFile, hotkey: validatorHotkey)
            }
            keypair = try KeyFile.load(from: keyFile)
        }
        if let expected = validatorHotkey {
            let actual = keypair.publicKey.ss58Address
            let expectedKey = (try? SS58.decode(expected).publicKey) ?? []
            if expectedKey != keypair.publicKey.bytes {
                throw KeySourceError.hotkeyMismatch(configured: expected, actual: actual, source: source)
            }
        }
        return keypair
    }

    /// A keypair from hex mini-secret text (`0x` prefix and surrounding space allowed).
    static func keypair(fromSecretSeed text: String) throws -> SR25519Keypair {
        var hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if hex.hasPrefix("0x") || hex.hasPrefix("0X") { hex.removeFirst(2) }
        let bytes: [UInt8]
        do { bytes = try Hex.decode(hex) } catch {
            throw KeySourceError.badSecretSeed("not hex (\(error))")
        }
        guard bytes.count == 32 else {
            throw KeySourceError.badSecretSeed("\(bytes.count) bytes; a mini-secret is 32 bytes (64 hex digits)")
        }
        do { return try SR25519Keypair(seed: bytes) } catch {
            throw KeySourceError.badSecretSeed("\(error)")
        }
    }
}

/// Why the validator has no usable key.
public enum KeySourceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Neither `$EVALNET_VALIDATOR_SECRET_SEED` nor the key file exists.
    case noSecret(keyFile: String, hotkey: String?)
    /// `$EVALNET_VALIDATOR_SECRET_SEED` is not a 32-byte hex mini-secret.
    case badSecretSeed(String)
    /// The secret belongs to another hotkey than `validator_hotkey`.
    case hotkeyMismatch(configured: String, actual: String, source: String)

    public var description: String {
        switch self {
        case let .noSecret(keyFile, hotkey):
            return "no secret for the validator" + (hotkey.map { " hotkey \($0)" } ?? "")
                + ": set \(ValidatorConfig.secretSeedVariable) to its hex secret seed, or key_file to a key file "
                + "(`evalnet keys generate`); \(keyFile) does not exist"
        case let .badSecretSeed(why):
            return "\(ValidatorConfig.secretSeedVariable) is not a usable secret seed: \(why)"
        case let .hotkeyMismatch(configured, actual, source):
            return "validator_hotkey is \(configured) but the secret from \(source) belongs to \(actual); "
                + "set validator_hotkey to \(actual) or give the secret of \(configured)"
        }
    }
}
