// The WebSocket messages pushed to validators and the ones they send.
import Foundation
import TimeText

/// The `type` of each WebSocket message between the platform and a validator.
public enum PlatformMessageType {
    public static let newJob = "new_job"
    public static let challengeUpdated = "challenge_updated"
    public static let jobCancelled = "job_cancelled"
    public static let welcome = "welcome"
    public static let ping = "ping"
    public static let pong = "pong"
    public static let error = "error"
    public static let reconnect = "reconnect"
}

/// The WebSocket close code a draining server sends after `reconnect` (RFC 6455 registry:
/// 1012 "Service Restart").
public let platformServiceRestartCloseCode: UInt16 = 1012

/// A job the validator may claim now (a wake-up: claim it over HTTP; a 409 means another
/// validator was faster).
public struct NewJobMessage: Codable, Sendable, Equatable {
    public var type: String
    public var jobId: String
    public var challengeId: String
    /// Event sequence number; pass the last one received as `since` when reconnecting.
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case type, seq
        case jobId = "job_id"
        case challengeId = "challenge_id"
    }

    public init(jobId: String, challengeId: String, seq: Int64? = nil) {
        self.type = PlatformMessageType.newJob
        self.jobId = jobId
        self.challengeId = challengeId
        self.seq = seq
    }
}

/// A challenge's code or compose changed, or it was activated/deactivated: re-read
/// `GET /challenges/active`.
public struct ChallengeUpdatedMessage: Codable, Sendable, Equatable {
    public var type: String
    public var challengeId: String
    public var githubCommit: String
    public var composeHash: String?
    public var status: String?
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case type, seq, status
        case challengeId = "challenge_id"
        case githubCommit = "github_commit"
        case composeHash = "compose_hash"
    }

    public init(challengeId: String, githubCommit: String, composeHash: String? = nil, status: String? = nil,
                seq: Int64? = nil) {
        self.type = PlatformMessageType.challengeUpdated
        self.challengeId = challengeId
        self.githubCommit = githubCommit
        self.composeHash = composeHash
        self.status = status
        self.seq = seq
    }
}

/// Stop working on this job: the claim expired or an admin cancelled it.
public struct JobCancelledMessage: Codable, Sendable, Equatable {
    public var type: String
    public var jobId: String
    public var reason: String?
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case type, seq, reason
        case jobId = "job_id"
    }

    public init(jobId: String, reason: String? = nil, seq: Int64? = nil) {
        self.type = PlatformMessageType.jobCancelled
        self.jobId = jobId
        self.reason = reason
        self.seq = seq
    }
}

/// First message on every connection. `lastSeq` is the newest event at connect time;
/// `replayed` how many catch-up messages follow before live events.
public struct WelcomeMessage: Codable, Sendable, Equatable {
    public var type: String
    public var validatorHotkey: String
    public var lastSeq: Int64
    public var replayed: Int
    /// `since` (resume after the client's last seq) or `snapshot` (all claimable pending jobs).
    public var mode: String

    enum CodingKeys: String, CodingKey {
        case type, replayed, mode
        case validatorHotkey = "validator_hotkey"
        case lastSeq = "last_seq"
    }

    public init(validatorHotkey: String, lastSeq: Int64, replayed: Int, mode: String) {
        self.type = PlatformMessageType.welcome
        self.validatorHotkey = validatorHotkey
        self.lastSeq = lastSeq
        self.replayed = replayed
        self.mode = mode
    }
}

/// Answer to a client `{"type":"ping"}` (application-level keep-alive; the server also
/// sends WebSocket protocol pings).
public struct PongMessage: Codable, Sendable, Equatable {
    public var type: String
    public var ts: Double?

    public init(ts: Double? = nil) {
        self.type = PlatformMessageType.pong
        self.ts = ts
    }
}

/// The server is shutting down (a replica draining behind a load balancer): reconnect now,
/// with `since` = the last seq received, and the catch-up fills any gap. The connection is
/// closed next with code 1012.
public struct ReconnectMessage: Codable, Sendable, Equatable {
    public var type: String
    public var reason: String?

    public init(reason: String? = nil) {
        self.type = PlatformMessageType.reconnect
        self.reason = reason
    }
}

/// Client → server message (`{"type":"ping"}`).
public struct ClientMessage: Codable, Sendable, Equatable {
    public var type: String
    public var ts: Double?

    public init(type: String, ts: Double? = nil) {
        self.type = type
        self.ts = ts
    }
}

/// Any server → validator message, decoded by its `type`.
public enum PlatformServerMessage: Sendable, Equatable {
    case newJob(NewJobMessage)
    case challengeUpdated(ChallengeUpdatedMessage)
    case jobCancelled(JobCancelledMessage)
    case welcome(WelcomeMessage)
    case pong(PongMessage)
    case reconnect(ReconnectMessage)
    case other(type: String)

    private struct Envelope: Decodable { let type: String }

    public static func decode(_ text: String) throws -> PlatformServerMessage {
        let data = Data(text.utf8)
        let d = JSONDecoder()
        let type = try d.decode(Envelope.self, from: data).type
        switch type {
        case PlatformMessageType.newJob: return .newJob(try d.decode(NewJobMessage.self, from: data))
        case PlatformMessageType.challengeUpdated:
            return .challengeUpdated(try d.decode(ChallengeUpdatedMessage.self, from: data))
        case PlatformMessageType.jobCancelled: return .jobCancelled(try d.decode(JobCancelledMessage.self, from: data))
        case PlatformMessageType.welcome: return .welcome(try d.decode(WelcomeMessage.self, from: data))
        case PlatformMessageType.pong: return .pong(try d.decode(PongMessage.self, from: data))
        case PlatformMessageType.reconnect: return .reconnect(try d.decode(ReconnectMessage.self, from: data))
        default: return .other(type: type)
        }
    }

    /// The event sequence number, for messages that carry one.
    public var seq: Int64? {
        switch self {
        case let .newJob(m): return m.seq
        case let .challengeUpdated(m): return m.seq
        case let .jobCancelled(m): return m.seq
        default: return nil
        }
    }
}
