import Foundation
import Testing
@testable import Validator

@Suite("ValidatorConfig")
struct ConfigTests {
    static let full = """
        key_file = "/etc/evalnet/validator.json"
        platform_api_url = "https://platform.example.org"
        dstack_vmm_url = "http://127.0.0.1:8090"
        work_dir = "/var/lib/evalnet"
        poll_interval_s = 2.5
        challenge_sync_interval_s = 30

        [resource_limits]
        cpu_cores = 16
        memory_mb = 65536
        disk_mb = 500000
        gpu_count = 2

        [jobs]
        timeout_s = 900
        max_concurrent = 8
        claim_batch = 3
        per_challenge_concurrency = 4

        [local_executor]
        network = "required"
        max_stdout_bytes = 2097152
        keep_work_dirs = true

        [dstack]
        image = "dstack-dev-0.5.3"
        host_address = "127.0.0.1"
        boot_timeout_s = 240

        [quota]
        alpha = 0.2
        min_floor = 0.1
        recompute_interval_s = 10
        """

    func problems(_ toml: String, env: [String: String] = [:]) -> [String] {
        do {
            _ = try ValidatorConfig.parse(toml: toml, source: "config.toml", environment: env)
            return []
        } catch let e as ConfigError {
            return e.problems
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test("a full file is read")
    func full() throws {
        let c = try ValidatorConfig.parse(toml: Self.full)
        #expect(c.keyFile == "/etc/evalnet/validator.json")
        #expect(c.platformAPIURL == "https://platform.example.org")
        #expect(c.dstackVMMURL == "http://127.0.0.1:8090")
        #expect(c.usesDstack)
        #expect(c.workDir == "/var/lib/evalnet")
        #expect(c.pollIntervalSeconds == 2.5)
        #expect(c.resourceLimits == ResourceLimits(cpuCores: 16, memoryMb: 65536, diskMb: 500_000, gpuCount: 2))
        #expect(c.jobTimeoutSeconds == 900)
        #expect(c.maxConcurrentJobs == 8)
        #expect(c.claimBatch == 3)
        #expect(c.perChallengeConcurrency == 4)
        #expect(c.network == .required)
        #expect(c.maxStdoutBytes == 2 << 20)
        #expect(c.keepWorkDirs)
        #expect(c.dstackImage == "dstack-dev-0.5.3")
        #expect(c.dstackBootTimeoutSeconds == 240)
        #expect(c.quota.alpha == 0.2)
        #expect(c.quota.minFloor == 0.1)
        #expect(c.quotaRecomputeIntervalSeconds == 10)
        #expect(c.challengeCacheDirectory.path == "/var/lib/evalnet/challenges")
        #expect(c.makeExecutor(logger: .init(label: "t")).name == "dstack")
    }

    @Test("the example config in examples/validator parses")
    func exampleConfig() throws {
        let url = Example.directory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("validator/config.toml")
        let c = try ValidatorConfig.load(path: url.path, environment: [:])
        #expect(c.keyFile == NSHomeDirectory() + "/.evalnet/hotkey.json")
        #expect(c.resourceLimits == ResourceLimits(cpuCores: 4, memoryMb: 8192, diskMb: 20480, gpuCount: 0))
        #expect(!c.usesDstack)
    }

    @Test("defaults: no VMM URL means the local executor")
    func defaults() throws {
        let c = try ValidatorConfig.parse(toml: "")
        #expect(c.dstackVMMURL == nil)
        #expect(!c.usesDstack)
        #expect(c.makeExecutor(logger: .init(label: "t")).name == "local")
        #expect(c.jobTimeoutSeconds == 600)
        #expect(c.network == .auto)
        let empty = try ValidatorConfig.parse(toml: "dstack_vmm_url = \"\"")
        #expect(empty.dstackVMMURL == nil)
    }

    @Test("environment overrides the file")
    func environment() throws {
        let c = try ValidatorConfig.parse(toml: Self.full, environment: [
            "EVALNET_VALIDATOR_PLATFORM_API_URL": "http://10.0.0.1:3000",
            "EVALNET_VALIDATOR_JOBS_TIMEOUT_S": "42",
            "EVALNET_VALIDATOR_RESOURCE_LIMITS_CPU_CORES": "3",
            "EVALNET_VALIDATOR_LOCAL_EXECUTOR_KEEP_WORK_DIRS": "false",
            "EVALNET_VALIDATOR_LOCAL_EXECUTOR_NETWORK": "off",
            "EVALNET_VALIDATOR_CONFIG": "/ignored/by/parse",
            "UNRELATED": "x",
        ])
        #expect(c.platformAPIURL == "http://10.0.0.1:3000")
        #expect(c.jobTimeoutSeconds == 42)
        #expect(c.resourceLimits.cpuCores == 3)
        #expect(!c.keepWorkDirs)
        #expect(c.network == .off)
        #expect(ValidatorConfig.environmentName(for: "jobs.timeout_s") == "EVALNET_VALIDATOR_JOBS_TIMEOUT_S")
    }

    @Test("[sandbox]: mode (default required), max_processes, read_only_paths; environment; unsafe paths refused")
    func sandbox() throws {
        let d = try ValidatorConfig.parse(toml: "")
        #expect(d.sandboxMode == .required)
        #expect(d.localExecutorOptions.sandbox == .required)
        #expect(d.sandboxMaxProcesses == 256)
        let c = try ValidatorConfig.parse(toml: """
            key_file = "/srv/evalnet/hotkey.json"
            work_dir = "/srv/evalnet/data"
            [sandbox]
            mode = "auto"
            max_processes = 512
            read_only_paths = ["/opt/swift", "/srv/models"]
            """)
        #expect(c.sandboxMode == .auto)
        #expect(c.localExecutorOptions.maxProcesses == 512)
        #expect(c.localExecutorOptions.readOnlyPaths == ["/opt/swift", "/srv/models"])
        let e = try ValidatorConfig.parse(toml: "", environment: [
            "EVALNET_VALIDATOR_SANDBOX_MODE": "off", "EVALNET_VALIDATOR_SANDBOX_READ_ONLY_PATHS": "/opt/a:/opt/b",
        ])
        #expect(e.sandboxMode == .off)
        #expect(e.sandboxReadOnlyPaths == ["/opt/a", "/opt/b"])
        let p = problems("""
            key_file = "/srv/evalnet/keys/hotkey.json"
            work_dir = "/srv/evalnet/data"
            [sandbox]
            mode = "maybe"
            max_processes = 2
            read_only_paths = ["relative", "/", "/srv/evalnet/keys", "/srv", "/srv/evalnet/data/challenges", "/tmp/x", "/etc"]
            """)
        #expect(p.contains { $0.contains("sandbox.mode") && $0.contains("\"maybe\" is not one of") })
        #expect(p.contains { $0.contains("sandbox.max_processes") && $0.contains("out of range") })
        #expect(p.contains { $0.contains("\"relative\" is not an absolute path") })
        #expect(p.contains { $0.contains("\"/\" would show the whole host") })
        #expect(p.contains { $0.contains("\"/srv/evalnet/keys\" would show the validator's key file") })
        #expect(p.contains { $0.contains("\"/srv\" would show the validator's key file") })
        #expect(p.contains { $0.contains("\"/srv/evalnet/data/challenges\" would show the validator's work_dir") })
        #expect(p.contains { $0.contains("\"/tmp/x\" collides with /tmp") })
        #expect(p.contains { $0.contains("\"/etc\" collides with /etc/passwd") })
        #expect(p.count == 9, "\(p)")
    }

    @Test("the isolation report names the executor and, for the local one, the sandbox")
    func isolationReport() throws {
        var c = try ValidatorConfig.parse(toml: "")
        c.sandboxMode = .off
        let off = c.isolationReport()
        #expect(off.summary.hasPrefix("executor local: WARNING: NO SANDBOX"))
        #expect(off.refusal == nil)
        c.dstackVMMURL = "http://127.0.0.1:8090"
        #expect(c.isolationReport().summary.hasPrefix("executor dstack"))
    }

    @Test("unknown keys are reported with a hint")
    func unknownKeys() {
        let p = problems("platform_api_ur = \"http://x\"\n[jobs]\ntimeout = 5\n[resources]\ncpu_cores = 2\n")
        #expect(p.count == 3)
        #expect(p.contains { $0.hasPrefix("platform_api_ur (config.toml): unknown key") })
        #expect(p.contains { $0.hasPrefix("jobs.timeout (config.toml): unknown key") })
        #expect(p.contains { $0.contains("resources.cpu_cores") && $0.contains("did you mean resource_limits.cpu_cores") })
    }

    @Test("bad values are reported, all at once")
    func badValues() {
        let p = problems("""
            platform_api_url = "ftp://nope"
            poll_interval_s = "fast"
            [resource_limits]
            cpu_cores = 0
            memory_mb = 1.5
            [jobs]
            max_concurrent = -1
            [local_executor]
            network = "sometimes"
            keep_work_dirs = "yes"
            """)
        #expect(p.count == 7, "\(p)")
        #expect(p.contains { $0.contains("platform_api_url") && $0.contains("not an http(s) URL") })
        #expect(p.contains { $0.contains("poll_interval_s") && $0.contains("expected a number, got a string") })
        #expect(p.contains { $0.contains("resource_limits.cpu_cores") && $0.contains("out of range") })
        #expect(p.contains { $0.contains("resource_limits.memory_mb") && $0.contains("expected an integer, got a float") })
        #expect(p.contains { $0.contains("jobs.max_concurrent") && $0.contains("out of range") })
        #expect(p.contains { $0.contains("local_executor.network") && $0.contains("\"sometimes\" is not one of") })
        #expect(p.contains { $0.contains("local_executor.keep_work_dirs") && $0.contains("expected true or false") })
    }

    @Test("bad environment values and unknown variables are reported with their variable name")
    func badEnvironment() {
        let p = problems("", env: ["EVALNET_VALIDATOR_JOBS_TIMEOUT_S": "soon", "EVALNET_VALIDATOR_TYPO": "1"])
        #expect(p.count == 2)
        #expect(p.contains { $0.contains("environment EVALNET_VALIDATOR_JOBS_TIMEOUT_S") && $0.contains("expected a number") })
        #expect(p.contains { $0.hasPrefix("environment EVALNET_VALIDATOR_TYPO: unknown setting") })
    }

    @Test("TOML syntax errors name the line")
    func syntax() {
        let p = problems("platform_api_url = \"http://x\"\n[jobs\ntimeout_s = 3\n")
        #expect(p.count == 1)
        #expect(p.first?.contains("TOML syntax error at line 2") == true, "\(p)")
    }

    @Test("load reads the file named by EVALNET_VALIDATOR_CONFIG, and says when it is missing")
    func load() throws {
        let tmp = try TempDir("cfg")
        defer { tmp.cleanup() }
        let file = tmp.sub("config.toml")
        try Data("[jobs]\ntimeout_s = 77\n".utf8).write(to: file)
        let c = try ValidatorConfig.load(environment: ["EVALNET_VALIDATOR_CONFIG": file.path])
        #expect(c.jobTimeoutSeconds == 77)
        #expect(throws: ConfigError.self) { try ValidatorConfig.load(path: tmp.sub("missing.toml").path, environment: [:]) }
    }
}

@Suite("Evaluator contract")
struct EvaluatorContractTests {
    @Test("the example's evalnet.toml declares its evaluator")
    func exampleDeclaration() throws {
        let d = try EvaluatorDeclaration.parse(try Example.file("evalnet.toml"))
        #expect(d.compose == "compose.yaml")
        #expect(d.command == ["python3", "{challenge_dir}/evaluator.py"])
        #expect(d.submissionFilename == "submission.py")
        #expect(d.maxSubmissionBytes == 65536)
        #expect(d.timeoutSeconds == 60)
        #expect(d.resources == ResourceLimits(cpuCores: 1, memoryMb: 512, diskMb: 256, gpuCount: 0))
        #expect(d.vmPort == 8080)
    }

    @Test("declaration errors are reported together")
    func declarationErrors() {
        #expect {
            try EvaluatorDeclaration.parse("""
                compose = "../outside.yaml"
                [evaluator]
                command = []
                submission_filename = "a/b"
                colour = "blue"
                env = { EVALNET_JOB_ID = "x", OK = "1" }
                [dstack]
                vm_port = 70000
                """)
        } throws: { error in
            guard let e = error as? ConfigError else { return false }
            return e.problems.count == 6
        }
    }

    @Test("result parsing: required score, typed fields, log caps")
    func results() throws {
        let r = try EvaluatorResult.parse(Array(#"{"score": 0.5, "metrics": {"a": 1}, "logs": ["x"], "error": null}"#.utf8))
        #expect(r.score == 0.5)
        #expect(r.metrics == ["a": .number(1)])
        #expect(r.logs == ["x"])
        #expect(throws: EvaluatorResultError.self) { try EvaluatorResult.parse(Array(#"{"metrics": {}}"#.utf8)) }
        #expect(throws: EvaluatorResultError.self) { try EvaluatorResult.parse(Array(#"{"score": "high"}"#.utf8)) }
        #expect(throws: EvaluatorResultError.self) { try EvaluatorResult.parse(Array("[1]".utf8)) }
        let errorOnly = try EvaluatorResult.parse(Array(#"{"error": "bad input"}"#.utf8))
        #expect(errorOnly.score == nil && errorOnly.error == "bad input")
        let many = try EvaluatorResult.parse(Array(("{\"score\": 1, \"logs\": [" + (0..<600).map { "\"l\($0)\"" }.joined(separator: ",") + "]}").utf8))
        #expect(many.logs.count == EvaluatorLimits.maxLogLines + 1)
        let fromStdout = try EvaluatorResult.fromStdout("progress 1\nprogress 2\n{\"score\": 0.25}\n")
        #expect(fromStdout.score == 0.25)
    }
}
