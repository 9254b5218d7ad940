// VM identity, events, info and the status/list calls' bodies.
import Foundation

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
