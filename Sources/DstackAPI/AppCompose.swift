// The dstack app-compose document passed as `compose_file`.
import Foundation

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
