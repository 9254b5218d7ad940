import AsyncHTTPClient
import DstackAPI
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of `DstackExecutor`: the VMM to call, the default image, timeouts and log lines.
public struct DstackExecutorOptions: Sendable, Equatable {
    /// The VMM's base URL (e.g. `http://127.0.0.1:11530` or `evalnet vmm serve`'s URL).
    public var vmmURL: String
    /// OS image when the challenge does not name one.
    public var image: String
    /// Host interface the VM's evaluator port is mapped on (the validator connects there).
    public var hostAddress: String
    /// Limit for CreateVm → running → `/health` answering 200.
    public var bootTimeoutSeconds: Double
    /// Delay between GetInfo / health polls.
    public var pollIntervalSeconds: Double
    /// Time limit of each VMM call.
    public var requestTimeoutSeconds: Double
    /// Lines of the VM console log attached to a failed outcome.
    public var logLines: Int
    /// Sent as `no_tee` (nil: omitted, the VMM's default).
    public var noTee: Bool?

    public init(vmmURL: String, image: String = "dstack-0.5.2", hostAddress: String = "127.0.0.1",
                bootTimeoutSeconds: Double = 180, pollIntervalSeconds: Double = 0.25, requestTimeoutSeconds: Double = 30,
                logLines: Int = 40, noTee: Bool? = nil) {
        self.vmmURL = vmmURL
        self.image = image
        self.hostAddress = hostAddress
        self.bootTimeoutSeconds = bootTimeoutSeconds
        self.pollIntervalSeconds = pollIntervalSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.logLines = logLines
        self.noTee = noTee
    }
}

/// A per-job VM that answers on `baseURL`.
public struct JobVM: Sendable, Equatable {
    public let id: String
    public let name: String
    public let hostAddress: String
    public let hostPort: Int

    public var baseURL: String { "http://\(hostAddress):\(hostPort)" }
}

/// Why a dstack execution step failed.
public enum DstackExecutionError: Error, CustomStringConvertible, Sendable, Equatable {
    case vmm(VMMError)
    case vmGone(id: String)
    case vmExited(id: String, status: String, exitCode: Int?)
    case bootTimeout(id: String, seconds: Double)
    case evaluatorHTTP(status: Int, body: String)
    case evaluationTimeout
    case noFreePort(String)
    /// The job asks for more GPUs than the VMM reports free.
    case gpusUnavailable(wanted: Int, free: [String])

    public var description: String {
        switch self {
        case let .vmm(e): return e.description
        case let .vmGone(id): return "VM \(id) disappeared from the VMM"
        case let .vmExited(id, status, code):
            return "VM \(id) stopped before answering (status \(status)" + (code.map { ", exit code \($0)" } ?? "") + ")"
        case let .bootTimeout(id, s): return "VM \(id) was not ready within \(Int(s)) s"
        case let .evaluatorHTTP(status, body): return "evaluator service answered \(status): \(body)"
        case .evaluationTimeout: return "timeout"
        case let .noFreePort(why): return "no free host port: \(why)"
        case let .gpusUnavailable(wanted, free):
            return "the job needs \(wanted) GPU(s) but the VMM lists \(free.count) free"
                + (free.isEmpty ? "" : " (\(free.joined(separator: ", ")))")
        }
    }
}

/// Runs each job in its own VM through the dstack VMM API (seed: DstackExecutor).
///
/// `execute_job`: `create_vm` (CreateVm with the challenge's compose — verbatim when it
/// is an app-compose JSON, else wrapped into one — `stopped: true`, the job's vCPU /
/// memory / disk, and one TCP port mapping `hostAddress:freePort → vm_port`; StartVm;
/// GetInfo polled until `running`; `GET /health` on the mapped port until 200), then
/// `evaluate_submission` (`POST /evaluate` with the submission, bounded by the job's
/// timeout), and always `destroy_vm` (StopVm, wait for it to stop, RemoveVm) — also on
/// failure, timeout and cancellation. The VM's console log tail is attached to failures.
public final class DstackExecutor: Executor {
    public let name = "dstack"
    public let options: DstackExecutorOptions
    public let vmm: VMMClient
    let http: HTTPClient
    let logger: Logger

    public init(options: DstackExecutorOptions, httpClient: HTTPClient = .shared,
                logger: Logger = Logger(label: "evalnet.validator.dstack")) {
        self.options = options
        self.http = httpClient
        self.vmm = VMMClient(baseURL: options.vmmURL, httpClient: httpClient, timeoutSeconds: options.requestTimeoutSeconds)
        self.logger = logger
    }

    public func execute(job: EvaluationJob, challenge: ProvisionedChallenge) async -> JobOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        func elapsed() -> Int64 { milliseconds(clock.now - start) }
        if job.submission.content.count > challenge.declaration.maxSubmissionBytes {
            return JobOutcome(status: .rejected, score: 0, executionTimeMs: elapsed(),
                              error: "submission is \(job.submission.content.count) bytes; the challenge accepts at most \(challenge.declaration.maxSubmissionBytes)")
        }
        var vm: JobVM?
        var outcome: JobOutcome
        do {
            let created = try await createVM(job: job, challenge: challenge)
            vm = created
            let result = try await evaluateSubmission(vm: created, job: job, challenge: challenge)
            let code = Int32(clamping: result.exitCode ?? 0)
            outcome = OutcomeRules.outcome(exitCode: code, exitDescription: "exit status \(code) (in VM)",
                                           result: .success(result), stderrTail: [], elapsedMs: elapsed())
        } catch {
            if Task.isCancelled || error is CancellationError {
                outcome = JobOutcome(status: .cancelled, executionTimeMs: elapsed(), error: "cancelled")
            } else if case DstackExecutionError.evaluationTimeout = error {
                outcome = JobOutcome(status: .timeout, executionTimeMs: elapsed(), error: "timeout")
            } else if case DstackExecutionError.evaluatorHTTP(504, _) = error {
                outcome = JobOutcome(status: .timeout, executionTimeMs: elapsed(), error: "timeout")
            } else if case let DstackExecutionError.evaluatorHTTP(_, body) = error,
                      let parsed = try? EvaluatorResult.parse(Array(body.utf8)) {
                outcome = OutcomeRules.outcome(exitCode: Int32(clamping: parsed.exitCode ?? 1),
                                               exitDescription: "exit status \(parsed.exitCode ?? 1) (in VM)",
                                               result: .success(parsed), stderrTail: [], elapsedMs: elapsed())
            } else if let boot = error as? DstackBootFailure {
                outcome = JobOutcome(status: .failed, logs: boot.console, executionTimeMs: elapsed(), error: boot.description)
            } else {
                outcome = JobOutcome(status: .failed, executionTimeMs: elapsed(), error: "\(error)")
                if let id = vm?.id { outcome.logs = capLogs(await consoleTail(id)) }
            }
        }
        if let vm { await destroyVMDetached(vm) }
        outcome.executionTimeMs = elapsed()
        return outcome
    }

    /// Creates and boots the job's VM and waits until its evaluator answers `/health`.
    /// On any failure the VM is destroyed before this throws.
    public func createVM(job: EvaluationJob, challenge: ProvisionedChallenge) async throws -> JobVM {
        let hostPort = try HostPorts.reserve(host: options.hostAddress)
        let vmName = String("evalnet-\(safeName(challenge.spec.name).prefix(24))-\(safeName(job.jobId))".prefix(96))
        let composeFile: String
        if AppCompose.parse(challenge.composeText) != nil {
            composeFile = challenge.composeText
        } else {
            composeFile = try AppCompose(name: "evalnet-\(safeName(challenge.spec.name))",
                                         dockerComposeFile: challenge.composeText).jsonString()
        }
        let userConfig: [String: String] = ["job_id": job.jobId, "challenge_id": job.challengeId,
                                            "submission_id": job.submissionId, "miner_hotkey": job.minerHotkey]
        let userConfigJSON = String(decoding: (try? JSONEncoder().encode(userConfig)) ?? Data("{}".utf8), as: UTF8.self)
        let id: String
        do {
            let gpus = try await gpuAttachment(count: job.resources.gpuCount)
            let configuration = VmConfiguration(
                name: vmName, image: challenge.declaration.image ?? options.image, composeFile: composeFile,
                vcpu: max(1, job.resources.cpuCores), memory: max(64, job.resources.memoryMb),
                diskSize: max(1, (job.resources.diskMb + 1023) / 1024),
                ports: [PortMapping(protocol: "tcp", hostPort: hostPort, vmPort: challenge.declaration.vmPort,
                                    hostAddress: options.hostAddress)],
                userConfig: userConfigJSON, gpus: gpus, stopped: true, noTee: options.noTee)
            id = try await vmm.createVm(configuration)
        } catch {
            HostPorts.release(hostPort)
            if let e = error as? VMMError { throw DstackExecutionError.vmm(e) }
            throw error
        }
        let vm = JobVM(id: id, name: vmName, hostAddress: options.hostAddress, hostPort: hostPort)
        logger.debug("created VM", metadata: ["vm": "\(id)", "name": "\(vmName)", "port": "\(hostPort)"])
        do {
            do { try await vmm.startVm(id: id) } catch let e as VMMError { throw DstackExecutionError.vmm(e) }
            try await waitUntilReady(vm)
            return vm
        } catch {
            let failure = error
            if !(failure is CancellationError) && !Task.isCancelled, let tagged = failure as? DstackExecutionError {
                // Keep the console output: it is why the VM did not come up.
                let tail = await consoleTail(id)
                await destroyVMDetached(vm)
                throw DstackBootFailure(error: tagged, vmId: id, console: tail)
            }
            await destroyVMDetached(vm)
            throw failure
        }
    }

    /// `gpus` of CreateVm for a job granted `count` GPUs (its challenge's `[resources]
    /// gpu_count`, admitted by the quota against `resource_limits.gpu_count`): nil for none,
    /// else the first `count` free slots of `ListGpus` (`attach_mode: "listed"`). Fewer free
    /// GPUs than asked is an error — a GPU job never silently runs without its GPUs.
    public func gpuAttachment(count: Int) async throws -> GpuConfig? {
        guard count > 0 else { return nil }
        let listed: ListGpusResponse
        do { listed = try await vmm.listGpus() } catch let e as VMMError { throw DstackExecutionError.vmm(e) }
        let free = listed.gpus.filter(\.isFree).map(\.slot)
        guard free.count >= count else { throw DstackExecutionError.gpusUnavailable(wanted: count, free: free) }
        return GpuConfig(attachMode: "listed", gpus: free.prefix(count).map { GpuConfig.Slot(slot: $0) })
    }

    /// Sends the submission to the VM's evaluator and returns its result document.
    public func evaluateSubmission(vm: JobVM, job: EvaluationJob, challenge: ProvisionedChallenge) async throws
        -> EvaluatorResult
    {
        var timeout = max(0.1, job.timeoutSeconds)
        if let own = challenge.declaration.timeoutSeconds { timeout = min(timeout, own) }
        let body = EvaluateRequest(
            jobId: job.jobId, challengeId: job.challengeId, submissionId: job.submissionId, minerHotkey: job.minerHotkey,
            submissionFilename: safeName(job.submission.filename ?? challenge.declaration.submissionFilename),
            submissionBase64: job.submission.content.base64EncodedString(), timeoutSeconds: timeout)
        var request = HTTPClientRequest(url: vm.baseURL + EvaluatorService.evaluatePath)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            bytes = try await response.body.collect(upTo: EvaluatorLimits.maxResultBytes + 1)
        } catch {
            try Task.checkCancellation()
            if let e = error as? HTTPClientError, e == .deadlineExceeded || e == .readTimeout {
                throw DstackExecutionError.evaluationTimeout
            }
            if let e = error as? NIOTooManyBytesError {
                throw DstackExecutionError.evaluatorHTTP(status: 200, body: "result larger than \(EvaluatorLimits.maxResultBytes) bytes (\(e))")
            }
            throw DstackExecutionError.evaluatorHTTP(status: 0, body: "\(error)")
        }
        let text = String(buffer: bytes)
        guard response.status == .ok else {
            throw DstackExecutionError.evaluatorHTTP(status: Int(response.status.code), body: String(text.prefix(4000)))
        }
        do { return try EvaluatorResult.parse(Array(bytes.readableBytesView)) } catch {
            throw DstackExecutionError.evaluatorHTTP(status: 200, body: "invalid result: \(error)")
        }
    }

    /// StopVm, wait (≤ 15 s) for the VM to leave `running`/`stopping`, RemoveVm. Errors
    /// are logged, never thrown; an unknown id is already gone.
    public func destroyVM(id: String) async {
        do { try await vmm.stopVm(id: id) } catch {
            if case VMMError.rpc = error {} else { logger.warning("StopVm failed", metadata: ["vm": "\(id)", "error": "\(error)"]) }
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            guard let info = try? await vmm.getInfo(id: id) else { break }
            if info.status != VMStatus.running.rawValue && info.status != VMStatus.stopping.rawValue { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        for attempt in 0..<3 {
            do {
                try await vmm.removeVm(id: id)
                logger.debug("removed VM", metadata: ["vm": "\(id)"])
                return
            } catch {
                if (try? await vmm.getInfo(id: id)) == nil { return }
                if attempt == 2 {
                    logger.warning("RemoveVm failed", metadata: ["vm": "\(id)", "error": "\(error)"])
                } else {
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }

    /// `destroyVM` in a task of its own, so a cancelled job still cleans up.
    func destroyVMDetached(id: String) async {
        await Task.detached { [self] in await self.destroyVM(id: id) }.value
    }

    /// Destroys the VM and frees its host port for reuse.
    func destroyVMDetached(_ vm: JobVM) async {
        await destroyVMDetached(id: vm.id)
        HostPorts.release(vm.hostPort)
    }

    private func waitUntilReady(_ vm: JobVM) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.bootTimeoutSeconds * 1000))
        let poll = Duration.milliseconds(Int64(max(0.01, options.pollIntervalSeconds) * 1000))
        while true {
            try Task.checkCancellation()
            let info: VmInfo?
            do { info = try await vmm.getInfo(id: vm.id) } catch let e as VMMError { throw DstackExecutionError.vmm(e) }
            guard let info else { throw DstackExecutionError.vmGone(id: vm.id) }
            switch info.vmStatus {
            case .running?:
                if await healthy(vm) { return }
            case .exited?, .stopped?, .removing?:
                throw DstackExecutionError.vmExited(id: vm.id, status: info.status, exitCode: info.exitCode)
            default:
                break
            }
            if ContinuousClock.now >= deadline {
                throw DstackExecutionError.bootTimeout(id: vm.id, seconds: options.bootTimeoutSeconds)
            }
            try await Task.sleep(for: poll)
        }
    }

    private func healthy(_ vm: JobVM) async -> Bool {
        var request = HTTPClientRequest(url: vm.baseURL + EvaluatorService.healthPath)
        request.method = .GET
        guard let response = try? await http.execute(request, timeout: .seconds(2)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }

    private func consoleTail(_ id: String) async -> [String] {
        guard let text = try? await vmm.logs(id: id, lines: options.logLines) else { return [] }
        let lines = tailLines(text, options.logLines)
        return lines.isEmpty ? [] : ["--- VM \(id) console (last \(lines.count) lines) ---"] + lines
    }
}

/// A boot failure with the VM's console output (the VM is already destroyed).
public struct DstackBootFailure: Error, CustomStringConvertible, Sendable {
    public let error: DstackExecutionError
    public let vmId: String
    public let console: [String]
    public var description: String { error.description }
}

/// Host ports handed to VMs of this process and not yet released: the OS would happily
/// give a port out again while the VM that should listen on it is still booting.
enum HostPorts {
    static let reserved = Mutex<Set<Int>>([])

    static func reserve(host: String) throws -> Int {
        for _ in 0..<64 {
            let port = try freeTCPPort(host: host)
            if reserved.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw DstackExecutionError.noFreePort("every port offered by the OS is already reserved")
    }

    static func release(_ port: Int) {
        _ = reserved.withLock { $0.remove(port) }
    }
}

/// A TCP port on `host` that was free a moment ago (the OS picks it).
func freeTCPPort(host: String) throws -> Int {
    #if canImport(Darwin)
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #else
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #endif
    guard fd >= 0 else { throw DstackExecutionError.noFreePort("socket: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    let address = host.isEmpty || host == "0.0.0.0" ? "127.0.0.1" : host
    guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else {
        throw DstackExecutionError.noFreePort("\(host) is not an IPv4 address")
    }
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw DstackExecutionError.noFreePort("bind \(address): errno \(errno)") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw DstackExecutionError.noFreePort("getsockname: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
