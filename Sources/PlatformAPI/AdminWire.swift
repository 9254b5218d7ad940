// The admin routes' bodies: challenges and validators.
import Foundation
import TimeText

/// `POST /admin/challenges`. Defaults: status `active`, validators_per_submission 1,
/// max_retries 3, claim_timeout_s 1800.
public struct CreateChallengeRequest: Codable, Sendable, Equatable {
    public var name: String
    public var githubRepo: String
    public var githubCommit: String
    public var composeHash: String
    public var mechanismId: Int
    public var emissionShare: Double
    public var status: String?
    public var validatorsPerSubmission: Int?
    public var maxRetries: Int?
    public var claimTimeoutS: Int?

    enum CodingKeys: String, CodingKey {
        case name, status
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
        case validatorsPerSubmission = "validators_per_submission"
        case maxRetries = "max_retries"
        case claimTimeoutS = "claim_timeout_s"
    }

    public init(name: String, githubRepo: String, githubCommit: String, composeHash: String, mechanismId: Int,
                emissionShare: Double, status: String? = nil, validatorsPerSubmission: Int? = nil,
                maxRetries: Int? = nil, claimTimeoutS: Int? = nil) {
        self.name = name
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.status = status
        self.validatorsPerSubmission = validatorsPerSubmission
        self.maxRetries = maxRetries
        self.claimTimeoutS = claimTimeoutS
    }
}

/// `PATCH /admin/challenges/{id}`: any subset of the fields; absent fields keep their value.
public struct UpdateChallengeRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var githubRepo: String?
    public var githubCommit: String?
    public var composeHash: String?
    public var mechanismId: Int?
    public var emissionShare: Double?
    public var validatorsPerSubmission: Int?
    public var maxRetries: Int?
    public var claimTimeoutS: Int?

    enum CodingKeys: String, CodingKey {
        case name
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
        case validatorsPerSubmission = "validators_per_submission"
        case maxRetries = "max_retries"
        case claimTimeoutS = "claim_timeout_s"
    }

    public init(name: String? = nil, githubRepo: String? = nil, githubCommit: String? = nil,
                composeHash: String? = nil, mechanismId: Int? = nil, emissionShare: Double? = nil,
                validatorsPerSubmission: Int? = nil, maxRetries: Int? = nil, claimTimeoutS: Int? = nil) {
        self.name = name
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.validatorsPerSubmission = validatorsPerSubmission
        self.maxRetries = maxRetries
        self.claimTimeoutS = claimTimeoutS
    }
}

/// A challenge with its configuration (admin views).
public struct ChallengeDetail: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var githubRepo: String
    public var githubCommit: String
    public var composeHash: String
    public var mechanismId: Int
    public var emissionShare: Double
    public var validatorsPerSubmission: Int
    public var maxRetries: Int
    public var claimTimeoutS: Int
    /// PostgreSQL schema (or SQLite file stem) holding the challenge's own tables.
    public var dataNamespace: String
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, status
        case githubRepo = "github_repo"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
        case mechanismId = "mechanism_id"
        case emissionShare = "emission_share"
        case validatorsPerSubmission = "validators_per_submission"
        case maxRetries = "max_retries"
        case claimTimeoutS = "claim_timeout_s"
        case dataNamespace = "data_namespace"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(id: String, name: String, status: String, githubRepo: String, githubCommit: String,
                composeHash: String, mechanismId: Int, emissionShare: Double, validatorsPerSubmission: Int,
                maxRetries: Int, claimTimeoutS: Int, dataNamespace: String, createdAt: String, updatedAt: String) {
        self.id = id
        self.name = name
        self.status = status
        self.githubRepo = githubRepo
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.mechanismId = mechanismId
        self.emissionShare = emissionShare
        self.validatorsPerSubmission = validatorsPerSubmission
        self.maxRetries = maxRetries
        self.claimTimeoutS = claimTimeoutS
        self.dataNamespace = dataNamespace
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The body of `GET /admin/challenges`.
public struct ChallengeListResponse: Codable, Sendable, Equatable {
    public var challenges: [ChallengeDetail]
    public init(challenges: [ChallengeDetail]) { self.challenges = challenges }
}

/// A registered validator, as `GET /admin/validators` lists it and `PUT /admin/validators/{hotkey}` answers.
public struct ValidatorEntry: Codable, Sendable, Equatable {
    public var hotkey: String
    /// `config` (from --validator) or `admin` (added through the API).
    public var source: String
    public var connected: Bool
    public var addedAt: String

    enum CodingKeys: String, CodingKey {
        case hotkey, source, connected
        case addedAt = "added_at"
    }

    public init(hotkey: String, source: String, connected: Bool, addedAt: String) {
        self.hotkey = hotkey
        self.source = source
        self.connected = connected
        self.addedAt = addedAt
    }
}

/// The body of `GET /admin/validators`.
public struct ValidatorListResponse: Codable, Sendable, Equatable {
    public var validators: [ValidatorEntry]
    public init(validators: [ValidatorEntry]) { self.validators = validators }
}
