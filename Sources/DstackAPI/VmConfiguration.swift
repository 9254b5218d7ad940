// What CreateVm takes: the VM configuration with its port mappings and GPUs.
import Foundation

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
