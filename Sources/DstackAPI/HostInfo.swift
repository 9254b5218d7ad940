// The host-side calls' bodies: version, GPUs, and the prpc error body.
import Foundation

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
