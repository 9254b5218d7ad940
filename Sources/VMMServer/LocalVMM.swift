import DstackAPI
import Foundation
import Logging
import ProcessKit
import WireJSON

/// Why a VMM call is refused (answered as HTTP 400 with `error`, like dstack).
public struct VMMFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: ErrorCode
    public var message: String
    public var description: String { message }

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// The codes of the local VMM's refusals (dstack itself answers only `error` text).
public enum VMMErrorCode {
    public static let createFailed = ErrorCode("create_failed")
    public static let invalidCompose = ErrorCode("invalid_compose")
    public static let invalidDiskSize = ErrorCode("invalid_disk_size")
    public static let invalidMemory = ErrorCode("invalid_memory")
    public static let invalidName = ErrorCode("invalid_name")
    public static let invalidPort = ErrorCode("invalid_port")
    public static let invalidVcpu = ErrorCode("invalid_vcpu")
    public static let noGpus = ErrorCode("no_gpus")
    public static let portConflict = ErrorCode("port_conflict")
    public static let startFailed = ErrorCode("start_failed")
    public static let vmNotFound = ErrorCode("vm_not_found")
    public static let vmRunning = ErrorCode("vm_running")
    public static let invalidRequest = ErrorCode("invalid_request")
}


/// The VMs of `evalnet vmm serve`: each is a host process group started from its compose
/// file (see `ComposeLaunch`), with its files under `<state-dir>/vms/<id>/`. No TDX, no
/// isolation beyond a process group and an address-space limit.
public actor LocalVMM {
    struct VM {
        var id: String
        var config: VmConfiguration
        var launch: ComposeLaunch
        var status: VMStatus
        var createdAt: Date
        var startedAt: Date?
        var exitedAt: Date?
        var exitCode: Int?
        var events: [VmEvent]
        var group: ProcessGroup?
        var generation = 0
    }

    public let stateDirectory: URL
    let logger: Logger
    private var vms: [String: VM] = [:]
    private var order: [String] = []

    public init(stateDirectory: URL, logger: Logger = Logger(label: "evalnet.vmm")) {
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. @~!$^()")

    func vmDirectory(_ id: String) -> URL { stateDirectory.appendingPathComponent("vms").appendingPathComponent(id) }
    func rootDirectory(_ id: String) -> URL { vmDirectory(id).appendingPathComponent("root") }
    func consolePath(_ id: String) -> String { vmDirectory(id).appendingPathComponent("console.log").path }

    // MARK: prpc calls

    public func createVm(_ config: VmConfiguration) throws -> VmId {
        let name = config.name
        guard !name.isEmpty, name.count <= 128, name.allSatisfy({ Self.nameCharacters.contains($0) }) else {
            throw VMMFailure(VMMErrorCode.invalidName, "Invalid VM name \"\(name)\": use 1-128 of [A-Za-z0-9-_. @~!$^()]")
        }
        guard config.vcpu >= 1, config.vcpu <= 1024 else { throw VMMFailure(VMMErrorCode.invalidVcpu, "vcpu must be 1...1024") }
        guard config.memory >= 16 else { throw VMMFailure(VMMErrorCode.invalidMemory, "memory must be at least 16 MB") }
        guard config.diskSize >= 1 else { throw VMMFailure(VMMErrorCode.invalidDiskSize, "disk_size must be at least 1 GB") }
        if let gpus = config.gpus, !gpus.gpus.isEmpty || gpus.attachMode == "all" {
            throw VMMFailure(VMMErrorCode.noGpus, "This VMM has no GPUs (ListGpus is empty); cannot attach \(gpus.attachMode == "all" ? "all GPUs" : "GPU slots " + gpus.gpus.map(\.slot).joined(separator: ", "))")
        }
        var seen = Set<Int>()
        for p in config.ports {
            guard ["tcp", "udp"].contains(p.protocol.lowercased()) else {
                throw VMMFailure(VMMErrorCode.invalidPort, "Invalid protocol \"\(p.protocol)\" (tcp or udp)")
            }
            guard (1...65535).contains(p.hostPort), (1...65535).contains(p.vmPort) else {
                throw VMMFailure(VMMErrorCode.invalidPort, "Ports must be 1...65535 (host_port \(p.hostPort), vm_port \(p.vmPort))")
            }
            guard seen.insert(p.hostPort).inserted else {
                throw VMMFailure(VMMErrorCode.portConflict, "host_port \(p.hostPort) is mapped twice")
            }
            if let other = vms.values.first(where: { $0.config.ports.contains { $0.hostPort == p.hostPort } }) {
                throw VMMFailure(VMMErrorCode.portConflict, "host_port \(p.hostPort) is already mapped by VM \(other.id)")
            }
        }
        let launch: ComposeLaunch
        do { launch = try ComposeLaunch.parse(composeFile: config.composeFile) } catch {
            throw VMMFailure(VMMErrorCode.invalidCompose, "\(error)")
        }
        let id = UUID().uuidString.lowercased()
        let fm = FileManager.default
        do {
            let root = rootDirectory(id)
            try fm.createDirectory(at: root, withIntermediateDirectories: true)
            for (path, content) in launch.files {
                let url = root.appendingPathComponent(path)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(content.utf8).write(to: url)
            }
            if !launch.workingDir.isEmpty {
                try fm.createDirectory(at: root.appendingPathComponent(launch.workingDir), withIntermediateDirectories: true)
            }
            try Data((config.userConfig ?? "").utf8).write(to: vmDirectory(id).appendingPathComponent(".user-config"))
            try Data(config.composeFile.utf8).write(to: vmDirectory(id).appendingPathComponent("compose_file"))
            _ = fm.createFile(atPath: consolePath(id), contents: nil)
        } catch {
            try? fm.removeItem(at: vmDirectory(id))
            throw VMMFailure(VMMErrorCode.createFailed, "Cannot prepare the VM directory: \(error)")
        }
        let now = Date()
        vms[id] = VM(id: id, config: config, launch: launch, status: .stopped, createdAt: now,
                     events: [VmEvent(event: "created", body: "service \(launch.serviceName)", timestamp: Self.ms(now))])
        order.append(id)
        logger.info("VM created", metadata: ["vm": "\(id)", "name": "\(name)"])
        if config.stopped != true { try startVm(id) }
        return VmId(id: id)
    }

    public func startVm(_ id: String) throws {
        guard var vm = vms[id] else { throw VMMFailure(VMMErrorCode.vmNotFound, "VM not found: \(id)") }
        if vm.status == .running || vm.status == .stopping {
            throw VMMFailure(VMMErrorCode.vmRunning, "VM \(id) is already running")
        }
        vm.status = .creating
        vms[id] = vm
        let root = rootDirectory(id)
        let workDir = vm.launch.workingDir.isEmpty ? root : root.appendingPathComponent(vm.launch.workingDir)
        var env = vm.launch.environment
        env["PATH"] = env["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        env["HOME"] = root.path
        env["LANG"] = env["LANG"] ?? "C.UTF-8"
        env["EVALNET_VM_ID"] = id
        env["EVALNET_VM_NAME"] = vm.config.name
        env["EVALNET_VM_ROOT"] = root.path
        env["EVALNET_HOST"] = "127.0.0.1"
        env["EVALNET_USER_CONFIG"] = vmDirectory(id).appendingPathComponent(".user-config").path
        for p in vm.config.ports { env["EVALNET_PORT_\(p.vmPort)"] = String(p.hostPort) }
        if let first = vm.config.ports.first(where: { $0.protocol.lowercased() == "tcp" }) ?? vm.config.ports.first {
            env["PORT"] = String(first.hostPort)
            env["EVALNET_VM_PORT"] = String(first.vmPort)
        }
        let request = SpawnRequest(
            command: vm.launch.argv, environment: env, workingDirectory: workDir.path,
            limits: ResourceRLimits(addressSpaceKiB: vm.config.memory * 1024, fileSizeBytes: vm.config.diskSize << 30),
            stdout: .file(consolePath(id)), stderr: .file(consolePath(id)))
        let group: ProcessGroup
        do { group = try ProcessGroup.spawn(request) } catch {
            vm.status = .exited
            vm.exitCode = 127
            vm.events.append(VmEvent(event: "boot_error", body: "\(error)", timestamp: Self.ms(Date())))
            vms[id] = vm
            throw VMMFailure(VMMErrorCode.startFailed, "Cannot start VM \(id): \(error)")
        }
        let now = Date()
        vm.group = group
        vm.status = .running
        vm.startedAt = now
        vm.exitedAt = nil
        vm.exitCode = nil
        vm.generation += 1
        vm.events.append(VmEvent(event: "started", body: "pid \(group.pid)", timestamp: Self.ms(now)))
        vms[id] = vm
        let generation = vm.generation
        logger.info("VM started", metadata: ["vm": "\(id)", "pid": "\(group.pid)", "argv": "\(vm.launch.argv)"])
        Task.detached { [weak self] in
            _ = await group.waitForLeader(until: .now + .seconds(100 * 365 * 86_400))
            let (status, _) = await group.terminate(grace: .zero)
            await self?.processEnded(id, generation: generation, status: status)
        }
    }

    /// Hard stop (dstack StopVm): the whole process group gets SIGTERM, then SIGKILL after 2 s.
    public func stopVm(_ id: String, grace: Duration = .seconds(2)) async throws {
        guard var vm = vms[id] else { throw VMMFailure(VMMErrorCode.vmNotFound, "VM not found: \(id)") }
        guard let group = vm.group, vm.status == .running || vm.status == .stopping || vm.status == .creating else {
            vm.status = .stopped
            vms[id] = vm
            return
        }
        vm.status = .stopping
        vm.generation += 1
        vms[id] = vm
        let (status, _) = await group.terminate(grace: grace)
        guard var after = vms[id] else { return }
        after.status = .stopped
        after.group = nil
        after.exitCode = Self.code(status)
        after.exitedAt = Date()
        after.events.append(VmEvent(event: "stopped", body: status.description, timestamp: Self.ms(Date())))
        vms[id] = after
        logger.info("VM stopped", metadata: ["vm": "\(id)"])
    }

    /// Deletes a stopped VM and its files; a running one is refused (like dstack).
    public func removeVm(_ id: String) throws {
        guard let vm = vms[id] else { throw VMMFailure(VMMErrorCode.vmNotFound, "VM not found: \(id)") }
        if vm.status == .running || vm.status == .stopping || vm.status == .creating {
            throw VMMFailure(VMMErrorCode.vmRunning, "VM is running, stop it first")
        }
        vms[id] = nil
        order.removeAll { $0 == id }
        try? FileManager.default.removeItem(at: vmDirectory(id))
        logger.info("VM removed", metadata: ["vm": "\(id)"])
    }

    public func info(_ id: String) -> VmInfo? {
        vms[id].map(info)
    }

    public func list(_ request: StatusRequest) -> StatusResponse {
        var all = order.compactMap { vms[$0] }
        if let ids = request.ids, !ids.isEmpty { all = all.filter { ids.contains($0.id) } }
        if let k = request.keyword, !k.isEmpty { all = all.filter { $0.config.name.contains(k) || $0.id.contains(k) } }
        let total = all.count
        if let size = request.pageSize, size > 0 {
            let page = max(1, request.page ?? 1)
            all = Array(all.dropFirst((page - 1) * size).prefix(size))
        }
        let brief = request.brief ?? false
        return StatusResponse(vms: all.map { vm in
            var i = info(vm)
            if brief { i.configuration = nil; i.events = [] }
            return i
        }, portMappingEnabled: true, total: total)
    }

    /// The last `lines` lines of a VM's console (stdout and stderr of its process).
    public func logs(_ id: String, lines: Int) throws -> String {
        guard vms[id] != nil else { throw VMMFailure(VMMErrorCode.vmNotFound, "VM not found: \(id)") }
        guard let data = FileManager.default.contents(atPath: consolePath(id)) else { return "" }
        let text = String(decoding: data.suffix(1 << 20), as: UTF8.self)
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = all.last == "" ? all.dropLast() : all[...]
        return trimmed.suffix(max(0, lines)).joined(separator: "\n") + (trimmed.isEmpty ? "" : "\n")
    }

    /// Stops every running VM (server shutdown).
    public func shutdown() async {
        for id in order where vms[id]?.group != nil {
            try? await stopVm(id, grace: .seconds(1))
        }
    }

    // MARK: internals

    private func processEnded(_ id: String, generation: Int, status: ExitStatus) {
        guard var vm = vms[id], vm.generation == generation else { return }
        vm.status = .exited
        vm.group = nil
        vm.exitCode = Self.code(status)
        vm.exitedAt = Date()
        vm.events.append(VmEvent(event: "exited", body: status.description, timestamp: Self.ms(Date())))
        vms[id] = vm
        logger.info("VM exited", metadata: ["vm": "\(id)", "status": "\(status)"])
    }

    private func info(_ vm: VM) -> VmInfo {
        var uptime = ""
        if vm.status == .running, let s = vm.startedAt { uptime = Self.human(Date().timeIntervalSince(s)) }
        let formatter = ISO8601DateFormatter()
        return VmInfo(
            id: vm.id, name: vm.config.name, status: vm.status.rawValue, uptime: uptime, appUrl: nil,
            appId: vm.config.appId ?? "", instanceId: vm.status == .running ? vm.id : "", configuration: vm.config,
            exitedAt: vm.exitedAt.map { formatter.string(from: $0) },
            bootProgress: vm.status == .running ? "running" : (vm.status == .exited ? "exited" : "N/A"),
            bootError: "", shutdownProgress: vm.status == .stopping ? "stopping" : "", imageVersion: vm.config.image,
            events: vm.events, exitCode: vm.status == .exited || vm.status == .stopped ? vm.exitCode : nil)
    }

    static func code(_ s: ExitStatus) -> Int {
        switch s {
        case let .exited(c): return Int(c)
        case let .signaled(sig): return -Int(sig)
        }
    }

    static func ms(_ d: Date) -> Int64 { Int64(d.timeIntervalSince1970 * 1000) }

    static func human(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        return "\(s / 3600)h \((s % 3600) / 60)m"
    }
}
