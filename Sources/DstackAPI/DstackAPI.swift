/// # DstackAPI
///
/// Owns the wire format of the dstack VMM "prpc" JSON API (dstack v0.5.x,
/// `vmm/rpc/proto/vmm_rpc.proto`): every call is `POST {vmm_url}/prpc/{Method}?json`
/// with a JSON body (`{}` for Empty); success is 200 with the response message, an RPC
/// error is 400 `{"error": "..."}`. One definition serves both the validator's client
/// (`DstackExecutor`) and the local stand-in server (`evalnet vmm serve`). Also the
/// dstack app-compose document (`compose_file`) and the VM status strings.
/// Foundation only.
import Foundation

/// The prpc methods used by the network.
public enum VMMMethod: String, Sendable, CaseIterable {
    case createVm = "CreateVm"
    case getInfo = "GetInfo"
    case startVm = "StartVm"
    case stopVm = "StopVm"
    case shutdownVm = "ShutdownVm"
    case removeVm = "RemoveVm"
    /// dstack's name for "list VMs".
    case status = "Status"
    /// The seed's name for `Status`; `evalnet vmm serve` answers both.
    case listVms = "ListVms"
    case version = "Version"
    /// The host's GPUs and whether each is free (to fill `gpus` of CreateVm).
    case listGpus = "ListGpus"

    /// `/prpc/{Method}?json`
    public var path: String { "/prpc/\(rawValue)?json" }
    /// The path without the query string (what a router matches).
    public var routePath: String { "/prpc/\(rawValue)" }
}

/// VM status strings as dstack reports them (`VmInfo.status`), plus the local server's
/// transient `creating`.
public enum VMStatus: String, Sendable, Codable, CaseIterable {
    /// Started and its process is running.
    case running
    /// Started, but the process ended on its own (see `exit_code` on the local server).
    case exited
    /// Stop requested, process still ending.
    case stopping
    /// Not started (created with `stopped: true`, or after StopVm).
    case stopped
    /// Being set up (local server only).
    case creating
    /// Removal in progress (newer dstack).
    case removing
}

/// One port forwarded from the host to the VM.
public struct PortMapping: Codable, Sendable, Equatable {
    /// "tcp" or "udp".
    public var `protocol`: String
    public var hostPort: Int
    public var vmPort: Int
    /// Host interface to bind; "" means the VMM's default.
    public var hostAddress: String

    public init(protocol: String = "tcp", hostPort: Int, vmPort: Int, hostAddress: String = "127.0.0.1") {
        self.protocol = `protocol`
        self.hostPort = hostPort
        self.vmPort = vmPort
        self.hostAddress = hostAddress
    }

    enum CodingKeys: String, CodingKey {
        case `protocol`
        case hostPort = "host_port"
        case vmPort = "vm_port"
        case hostAddress = "host_address"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        `protocol` = try c.decodeIfPresent(String.self, forKey: .protocol) ?? "tcp"
        hostPort = try c.decode(Int.self, forKey: .hostPort)
        vmPort = try c.decode(Int.self, forKey: .vmPort)
        hostAddress = try c.decodeIfPresent(String.self, forKey: .hostAddress) ?? ""
    }
}

/// GPU attachment (`gpus` of VmConfiguration).
public struct GpuConfig: Codable, Sendable, Equatable {
    /// One GPU to attach, by its PCI `slot` (as `ListGpus` reports it).
    public struct Slot: Codable, Sendable, Equatable {
        public var slot: String
        public init(slot: String) { self.slot = slot }
    }

    /// "listed" or "all".
    public var attachMode: String
    public var gpus: [Slot]

    public init(attachMode: String = "listed", gpus: [Slot] = []) {
        self.attachMode = attachMode
        self.gpus = gpus
    }

    enum CodingKeys: String, CodingKey {
        case attachMode = "attach_mode"
        case gpus
    }
}

/// `CreateVm` request (dstack `VmConfiguration`). Memory in MB, disk in GB.
public struct VmConfiguration: Codable, Sendable, Equatable {
    /// Characters `[A-Za-z0-9-_. @~!$^()]`.
    public var name: String
    /// OS image, e.g. "dstack-0.5.2".
    public var image: String
    /// The app-compose JSON string (see `AppCompose`); dstack measures its SHA-256.
    public var composeFile: String
    public var vcpu: Int
    /// MB.
    public var memory: Int
    /// GB.
    public var diskSize: Int
    public var ports: [PortMapping]
    /// Hex of the dstack encrypted-env blob.
    public var encryptedEnv: String?
    /// Defaults to the first 40 hex characters of SHA-256(compose_file).
    public var appId: String?
    /// Delivered to the guest as `/dstack/.user-config`.
    public var userConfig: String?
    public var hugepages: Bool?
    public var pinNuma: Bool?
    public var gpus: GpuConfig?
    public var kmsUrls: [String]?
    public var gatewayUrls: [String]?
    /// Create without starting (then call StartVm).
    public var stopped: Bool?
    /// A non-TEE VM (dstack ≥ 2025-11).
    public var noTee: Bool?

    public init(name: String, image: String, composeFile: String, vcpu: Int, memory: Int, diskSize: Int,
                ports: [PortMapping] = [], encryptedEnv: String? = nil, appId: String? = nil, userConfig: String? = nil,
                hugepages: Bool? = nil, pinNuma: Bool? = nil, gpus: GpuConfig? = nil, kmsUrls: [String]? = nil,
                gatewayUrls: [String]? = nil, stopped: Bool? = nil, noTee: Bool? = nil) {
        self.name = name
        self.image = image
        self.composeFile = composeFile
        self.vcpu = vcpu
        self.memory = memory
        self.diskSize = diskSize
        self.ports = ports
        self.encryptedEnv = encryptedEnv
        self.appId = appId
        self.userConfig = userConfig
        self.hugepages = hugepages
        self.pinNuma = pinNuma
        self.gpus = gpus
        self.kmsUrls = kmsUrls
        self.gatewayUrls = gatewayUrls
        self.stopped = stopped
        self.noTee = noTee
    }

    enum CodingKeys: String, CodingKey {
        case name, image, vcpu, memory, ports, hugepages, gpus, stopped
        case composeFile = "compose_file"
        case diskSize = "disk_size"
        case encryptedEnv = "encrypted_env"
        case appId = "app_id"
        case userConfig = "user_config"
        case pinNuma = "pin_numa"
        case kmsUrls = "kms_urls"
        case gatewayUrls = "gateway_urls"
        case noTee = "no_tee"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        composeFile = try c.decode(String.self, forKey: .composeFile)
        vcpu = try c.decodeIfPresent(Int.self, forKey: .vcpu) ?? 1
        memory = try c.decodeIfPresent(Int.self, forKey: .memory) ?? 1024
        diskSize = try c.decodeIfPresent(Int.self, forKey: .diskSize) ?? 20
        ports = try c.decodeIfPresent([PortMapping].self, forKey: .ports) ?? []
        encryptedEnv = try c.decodeIfPresent(String.self, forKey: .encryptedEnv)
        appId = try c.decodeIfPresent(String.self, forKey: .appId)
        userConfig = try c.decodeIfPresent(String.self, forKey: .userConfig)
        hugepages = try c.decodeIfPresent(Bool.self, forKey: .hugepages)
        pinNuma = try c.decodeIfPresent(Bool.self, forKey: .pinNuma)
        gpus = try c.decodeIfPresent(GpuConfig.self, forKey: .gpus)
        kmsUrls = try c.decodeIfPresent([String].self, forKey: .kmsUrls)
        gatewayUrls = try c.decodeIfPresent([String].self, forKey: .gatewayUrls)
        stopped = try c.decodeIfPresent(Bool.self, forKey: .stopped)
        noTee = try c.decodeIfPresent(Bool.self, forKey: .noTee)
    }
}

/// `{id}`: the request of GetInfo/StartVm/StopVm/ShutdownVm/RemoveVm and the response of CreateVm.
public struct VmId: Codable, Sendable, Equatable {
    public var id: String
    public init(id: String) { self.id = id }
}

/// Empty message (`{}`).
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}

/// A guest or VMM event on a VM.
public struct VmEvent: Codable, Sendable, Equatable {
    public var event: String
    public var body: String
    /// Unix milliseconds.
    public var timestamp: Int64

    public init(event: String, body: String, timestamp: Int64) {
        self.event = event
        self.body = body
        self.timestamp = timestamp
    }
}

/// dstack `VmInfo`. Decoding tolerates absent optional fields (older VMMs omit some).
public struct VmInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// A `VMStatus` raw value (kept as a string: a newer VMM may report others).
    public var status: String
    /// Human-readable ("3m 2s").
    public var uptime: String
    public var appUrl: String?
    public var appId: String
    /// May be empty until the guest reports it.
    public var instanceId: String?
    public var configuration: VmConfiguration?
    public var exitedAt: String?
    public var bootProgress: String
    public var bootError: String
    public var shutdownProgress: String
    public var imageVersion: String
    public var events: [VmEvent]
    /// Extension of `evalnet vmm serve`: the exit code once `status` is `exited`
    /// (negative: killed by that signal). A real dstack VMM never sends it.
    public var exitCode: Int?

    public init(id: String, name: String, status: String, uptime: String = "", appUrl: String? = nil, appId: String = "",
                instanceId: String? = nil, configuration: VmConfiguration? = nil, exitedAt: String? = nil,
                bootProgress: String = "", bootError: String = "", shutdownProgress: String = "",
                imageVersion: String = "", events: [VmEvent] = [], exitCode: Int? = nil) {
        self.id = id
        self.name = name
        self.status = status
        self.uptime = uptime
        self.appUrl = appUrl
        self.appId = appId
        self.instanceId = instanceId
        self.configuration = configuration
        self.exitedAt = exitedAt
        self.bootProgress = bootProgress
        self.bootError = bootError
        self.shutdownProgress = shutdownProgress
        self.imageVersion = imageVersion
        self.events = events
        self.exitCode = exitCode
    }

    /// `status` as a known value, if it is one.
    public var vmStatus: VMStatus? { VMStatus(rawValue: status) }

    enum CodingKeys: String, CodingKey {
        case id, name, status, uptime, configuration, events
        case appUrl = "app_url"
        case appId = "app_id"
        case instanceId = "instance_id"
        case exitedAt = "exited_at"
        case bootProgress = "boot_progress"
        case bootError = "boot_error"
        case shutdownProgress = "shutdown_progress"
        case imageVersion = "image_version"
        case exitCode = "exit_code"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        status = try c.decode(String.self, forKey: .status)
        uptime = try c.decodeIfPresent(String.self, forKey: .uptime) ?? ""
        appUrl = try c.decodeIfPresent(String.self, forKey: .appUrl)
        appId = try c.decodeIfPresent(String.self, forKey: .appId) ?? ""
        instanceId = try c.decodeIfPresent(String.self, forKey: .instanceId)
        configuration = try c.decodeIfPresent(VmConfiguration.self, forKey: .configuration)
        exitedAt = try c.decodeIfPresent(String.self, forKey: .exitedAt)
        bootProgress = try c.decodeIfPresent(String.self, forKey: .bootProgress) ?? ""
        bootError = try c.decodeIfPresent(String.self, forKey: .bootError) ?? ""
        shutdownProgress = try c.decodeIfPresent(String.self, forKey: .shutdownProgress) ?? ""
        imageVersion = try c.decodeIfPresent(String.self, forKey: .imageVersion) ?? ""
        events = try c.decodeIfPresent([VmEvent].self, forKey: .events) ?? []
        exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode)
    }
}

/// `GetInfo` response.
public struct GetInfoResponse: Codable, Sendable, Equatable {
    public var found: Bool
    public var info: VmInfo?

    public init(found: Bool, info: VmInfo? = nil) {
        self.found = found
        self.info = info
    }
}

/// `Status` / `ListVms` request (all fields optional; `{}` lists everything).
public struct StatusRequest: Codable, Sendable, Equatable {
    public var ids: [String]?
    public var brief: Bool?
    public var keyword: String?
    public var page: Int?
    public var pageSize: Int?

    public init(ids: [String]? = nil, brief: Bool? = nil, keyword: String? = nil, page: Int? = nil, pageSize: Int? = nil) {
        self.ids = ids
        self.brief = brief
        self.keyword = keyword
        self.page = page
        self.pageSize = pageSize
    }

    enum CodingKeys: String, CodingKey {
        case ids, brief, keyword, page
        case pageSize = "page_size"
    }
}

/// `Status` / `ListVms` response.
public struct StatusResponse: Codable, Sendable, Equatable {
    public var vms: [VmInfo]
    public var portMappingEnabled: Bool
    public var total: Int

    public init(vms: [VmInfo], portMappingEnabled: Bool, total: Int) {
        self.vms = vms
        self.portMappingEnabled = portMappingEnabled
        self.total = total
    }

    enum CodingKeys: String, CodingKey {
        case vms, total
        case portMappingEnabled = "port_mapping_enabled"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vms = try c.decodeIfPresent([VmInfo].self, forKey: .vms) ?? []
        portMappingEnabled = try c.decodeIfPresent(Bool.self, forKey: .portMappingEnabled) ?? false
        total = try c.decodeIfPresent(Int.self, forKey: .total) ?? vms.count
    }
}

/// `Version` response.
public struct VersionResponse: Codable, Sendable, Equatable {
    public var version: String
    public var rev: String

    public init(version: String, rev: String) {
        self.version = version
        self.rev = rev
    }
}

/// One GPU of the host (`ListGpus`).
public struct GpuInfo: Codable, Sendable, Equatable {
    /// PCI slot, e.g. "18:00.0": what `GpuConfig.gpus[].slot` names.
    public var slot: String
    public var productId: String
    public var description: String
    /// Not attached to any VM.
    public var isFree: Bool

    public init(slot: String, productId: String = "", description: String = "", isFree: Bool = true) {
        self.slot = slot
        self.productId = productId
        self.description = description
        self.isFree = isFree
    }

    enum CodingKeys: String, CodingKey {
        case slot, description
        case productId = "product_id"
        case isFree = "is_free"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        slot = try c.decode(String.self, forKey: .slot)
        productId = try c.decodeIfPresent(String.self, forKey: .productId) ?? ""
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        isFree = try c.decodeIfPresent(Bool.self, forKey: .isFree) ?? false
    }
}

/// `ListGpus` response.
public struct ListGpusResponse: Codable, Sendable, Equatable {
    public var gpus: [GpuInfo]
    /// The VMM accepts `attach_mode: "all"`.
    public var allowAttachAll: Bool

    public init(gpus: [GpuInfo] = [], allowAttachAll: Bool = false) {
        self.gpus = gpus
        self.allowAttachAll = allowAttachAll
    }

    enum CodingKeys: String, CodingKey {
        case gpus
        case allowAttachAll = "allow_attach_all"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        gpus = try c.decodeIfPresent([GpuInfo].self, forKey: .gpus) ?? []
        allowAttachAll = try c.decodeIfPresent(Bool.self, forKey: .allowAttachAll) ?? false
    }
}

/// The body of a prpc error (HTTP 400). `evalnet vmm serve` adds ServiceKit's
/// `detail`/`code` next to `error`.
public struct VMMErrorBody: Codable, Sendable, Equatable {
    public var error: String?
    public var detail: String?
    public var code: String?

    public init(error: String?, detail: String? = nil, code: String? = nil) {
        self.error = error
        self.detail = detail
        self.code = code
    }

    /// The human message, whichever field carries it.
    public var message: String { error ?? detail ?? "unknown VMM error" }
}

/// dstack app-compose (manifest v2): the document passed as `compose_file`, whose exact
/// bytes dstack hashes into the `compose-hash` measurement.
public struct AppCompose: Codable, Sendable, Equatable {
    public var manifestVersion: Int
    public var name: String
    /// "docker-compose".
    public var runner: String
    /// The docker compose YAML text.
    public var dockerComposeFile: String
    public var kmsEnabled: Bool
    public var gatewayEnabled: Bool
    public var publicLogs: Bool
    public var publicSysinfo: Bool
    public var publicTcbinfo: Bool
    public var localKeyProviderEnabled: Bool
    public var allowedEnvs: [String]
    public var noInstanceId: Bool
    public var secureTime: Bool
    public var preLaunchScript: String?

    public init(name: String, dockerComposeFile: String, kmsEnabled: Bool = false, gatewayEnabled: Bool = false,
                publicLogs: Bool = false, publicSysinfo: Bool = false, publicTcbinfo: Bool = true,
                localKeyProviderEnabled: Bool = false, allowedEnvs: [String] = [], noInstanceId: Bool = false,
                secureTime: Bool = true, preLaunchScript: String? = nil) {
        manifestVersion = 2
        self.name = name
        runner = "docker-compose"
        self.dockerComposeFile = dockerComposeFile
        self.kmsEnabled = kmsEnabled
        self.gatewayEnabled = gatewayEnabled
        self.publicLogs = publicLogs
        self.publicSysinfo = publicSysinfo
        self.publicTcbinfo = publicTcbinfo
        self.localKeyProviderEnabled = localKeyProviderEnabled
        self.allowedEnvs = allowedEnvs
        self.noInstanceId = noInstanceId
        self.secureTime = secureTime
        self.preLaunchScript = preLaunchScript
    }

    enum CodingKeys: String, CodingKey {
        case name, runner
        case manifestVersion = "manifest_version"
        case dockerComposeFile = "docker_compose_file"
        case kmsEnabled = "kms_enabled"
        case gatewayEnabled = "gateway_enabled"
        case publicLogs = "public_logs"
        case publicSysinfo = "public_sysinfo"
        case publicTcbinfo = "public_tcbinfo"
        case localKeyProviderEnabled = "local_key_provider_enabled"
        case allowedEnvs = "allowed_envs"
        case noInstanceId = "no_instance_id"
        case secureTime = "secure_time"
        case preLaunchScript = "pre_launch_script"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        manifestVersion = try c.decodeIfPresent(Int.self, forKey: .manifestVersion) ?? 2
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        runner = try c.decodeIfPresent(String.self, forKey: .runner) ?? "docker-compose"
        dockerComposeFile = try c.decode(String.self, forKey: .dockerComposeFile)
        kmsEnabled = try c.decodeIfPresent(Bool.self, forKey: .kmsEnabled) ?? false
        gatewayEnabled = try c.decodeIfPresent(Bool.self, forKey: .gatewayEnabled) ?? false
        publicLogs = try c.decodeIfPresent(Bool.self, forKey: .publicLogs) ?? false
        publicSysinfo = try c.decodeIfPresent(Bool.self, forKey: .publicSysinfo) ?? false
        publicTcbinfo = try c.decodeIfPresent(Bool.self, forKey: .publicTcbinfo) ?? false
        localKeyProviderEnabled = try c.decodeIfPresent(Bool.self, forKey: .localKeyProviderEnabled) ?? false
        allowedEnvs = try c.decodeIfPresent([String].self, forKey: .allowedEnvs) ?? []
        noInstanceId = try c.decodeIfPresent(Bool.self, forKey: .noInstanceId) ?? false
        secureTime = try c.decodeIfPresent(Bool.self, forKey: .secureTime) ?? false
        preLaunchScript = try c.decodeIfPresent(String.self, forKey: .preLaunchScript)
    }

    /// The JSON string to send as `compose_file` (sorted keys, no escaped slashes).
    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads `compose_file`: an app-compose JSON document, or `nil` when the text is not one
    /// (e.g. bare docker compose YAML).
    public static func parse(_ composeFile: String) -> AppCompose? {
        let trimmed = composeFile.drop { $0.isWhitespace }
        guard trimmed.first == "{" else { return nil }
        return try? JSONDecoder().decode(AppCompose.self, from: Data(composeFile.utf8))
    }
}

/// The convention between a per-job VM's evaluator service and the validator (see
/// docs/evaluator-contract.md): an HTTP server on `vm_port` inside the VM answering
/// `GET /health` (200 when ready) and `POST /evaluate` (`EvaluateRequest` →
/// the evaluator's result JSON).
public enum EvaluatorService {
    public static let healthPath = "/health"
    public static let evaluatePath = "/evaluate"
    /// The port the evaluator listens on inside the VM when the challenge does not say.
    public static let defaultVMPort = 8080
}

/// Body of `POST /evaluate` on a per-job VM.
public struct EvaluateRequest: Codable, Sendable, Equatable {
    public var jobId: String
    public var challengeId: String
    public var submissionId: String
    public var minerHotkey: String
    /// The submission file's name (no directories).
    public var submissionFilename: String
    /// The submission bytes, base64.
    public var submissionBase64: String
    /// Wall-clock budget the evaluator should respect, seconds.
    public var timeoutSeconds: Double

    public init(jobId: String, challengeId: String, submissionId: String, minerHotkey: String, submissionFilename: String,
                submissionBase64: String, timeoutSeconds: Double) {
        self.jobId = jobId
        self.challengeId = challengeId
        self.submissionId = submissionId
        self.minerHotkey = minerHotkey
        self.submissionFilename = submissionFilename
        self.submissionBase64 = submissionBase64
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case jobId = "job_id"
        case challengeId = "challenge_id"
        case submissionId = "submission_id"
        case minerHotkey = "miner_hotkey"
        case submissionFilename = "submission_filename"
        case submissionBase64 = "submission_b64"
        case timeoutSeconds = "timeout_s"
    }
}
