import Foundation
import HummingbirdWebSocket
import Logging
import PlatformAPI
import ServiceLifecycle
import Store

/// Wakes the event pump after a commit that recorded events (pokes coalesce).
final class EventSignal: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func poke() { continuation.yield() }
}

/// The validators' WebSocket connections and what each has been sent.
///
/// Delivery guarantee, per connection: a `welcome`, then the catch-up (`PlatformStore.replay`),
/// then every later event addressed to the validator, each exactly once and in sequence
/// order. Events that arrive while the catch-up is being computed are held and only the ones
/// after its `upTo` are sent, so nothing is sent twice and nothing is skipped. A client that
/// cannot keep up (more than `maxQueued` unsent messages) is disconnected and resumes with
/// `since` on reconnect.
public actor EventHub {
    struct Connection {
        let hotkey: String
        let continuation: AsyncStream<String>.Continuation
        var live = false
        var held: [EventRecord] = []
        /// Highest seq covered for this connection.
        var floor: Int64 = 0
    }

    private var connections: [UUID: Connection] = [:]
    let maxQueued: Int
    /// Set by `drainAll`: the process is shutting down.
    public private(set) var isDraining = false

    public init(maxQueued: Int = 10_000) {
        self.maxQueued = maxQueued
    }

    /// Registers a connection; events are held until `goLive`.
    func register(hotkey: String) -> (UUID, AsyncStream<String>, AsyncStream<String>.Continuation) {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(maxQueued))
        let id = UUID()
        connections[id] = Connection(hotkey: hotkey, continuation: continuation)
        return (id, stream, continuation)
    }

    /// Sends the welcome and catch-up, then the held events after `upTo`, and switches to live.
    func goLive(_ id: UUID, welcome: String, replay: [EventRecord], upTo: Int64) {
        guard var c = connections[id] else { return }
        var ok = c.continuation.yield(welcome).accepted
        for r in replay where ok && r.isSent { ok = c.continuation.yield(r.message()).accepted }
        for r in c.held where ok && r.seq > upTo && r.isFor(c.hotkey) {
            if r.kind == EventDraft.validatorRemoved { ok = false } else { ok = c.continuation.yield(r.message()).accepted }
        }
        c.floor = max(upTo, c.held.last?.seq ?? 0)
        c.held = []
        c.live = true
        connections[id] = c
        if !ok { drop(id) }
    }

    /// Fans out events (in sequence order) from the pump.
    func deliver(_ events: [EventRecord]) {
        for (id, var c) in connections {
            if !c.live {
                c.held.append(contentsOf: events)
                connections[id] = c
                continue
            }
            var ok = true
            for e in events where ok && e.seq > c.floor {
                c.floor = e.seq
                guard e.isFor(c.hotkey) else { continue }
                // Unregistered (through this replica or another): close the socket.
                if e.kind == EventDraft.validatorRemoved { ok = false } else { ok = c.continuation.yield(e.message()).accepted }
            }
            connections[id] = c
            if !ok { drop(id) }
        }
    }

    func unregister(_ id: UUID) {
        connections.removeValue(forKey: id)?.continuation.finish()
    }

    /// Closes every connection of `hotkey` (it was removed from the registry).
    public func disconnect(hotkey: String) {
        for (id, c) in connections where c.hotkey == hotkey { unregister(id) }
    }

    public func connectedHotkeys() -> Set<String> { Set(connections.values.map(\.hotkey)) }

    public func connectionCount() -> Int { connections.count }

    /// Tells every connected validator to reconnect (`{"type":"reconnect"}`, then its socket
    /// is closed with 1012) and ends the connections' streams; returns how many there were.
    /// Each connection leaves the hub when its session has sent the close frame.
    public func drainAll() -> Int {
        isDraining = true
        let message = (try? PlatformStore.encodeJSON(ReconnectMessage(reason: "service restart")))
            ?? "{\"type\":\"reconnect\"}"
        for c in connections.values {
            c.continuation.yield(message)
            c.continuation.finish()
        }
        return connections.count
    }

    private func drop(_ id: UUID) { unregister(id) }
}

extension AsyncStream.Continuation.YieldResult {
    var accepted: Bool {
        if case .enqueued = self { return true }
        return false
    }
}

/// Reads new events from the outbox in sequence order and hands them to the hub. Woken by
/// `EventSignal` after local commits; on PostgreSQL by a NOTIFY on `PlatformStore.eventChannel`,
/// which every writer sends in the transaction that records events (delivered on commit, to
/// every replica: one dedicated LISTEN connection each, reconnected if dropped, with a
/// catch-up read after every (re)connection); and every `pollInterval` as a safety net.
public struct EventPump: Service {
    let store: PlatformStore
    let hub: EventHub
    let startAfter: Int64
    let pollInterval: Duration
    let logger: Logger
    let listenerName: String

    public init(store: PlatformStore, hub: EventHub, startAfter: Int64, pollInterval: Duration = .seconds(5), logger: Logger,
                listenerName: String = "evalnet-events") {
        self.store = store
        self.hub = hub
        self.startAfter = startAfter
        self.pollInterval = pollInterval
        self.logger = logger
        self.listenerName = String(listenerName.prefix(63))
    }

    public func run() async throws {
        let signal = store.signal
        let interval = pollInterval
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                signal.poke()
            }
        }
        defer { ticker.cancel() }
        let listener = (store.db as? PostgresStore).map { [listenerName] pg in
            Task {
                await pg.listen(channel: PlatformStore.eventChannel, applicationName: listenerName,
                                onListening: { signal.poke() }, onNotification: { _ in signal.poke() })
            }
        }
        defer { listener?.cancel() }
        let store = self.store, hub = self.hub, logger = self.logger, start = startAfter
        await cancelWhenGracefulShutdown {
            var last = start
            for await _ in signal.stream {
                do {
                    while true {
                        let events = try await store.events(after: last)
                        guard let newest = events.last else { break }
                        await hub.deliver(events)
                        last = newest.seq
                    }
                } catch {
                    logger.warning("event pump failed; retrying", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// One validator's WebSocket session: welcome + catch-up + live events out; `{"type":"ping"}`
/// in → `{"type":"pong"}` out. Protocol-level pings are sent by the server (auto-ping) and a
/// peer that stops answering them is disconnected.
func serveValidatorSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, hotkey: String,
                          since: Int64?, store: PlatformStore, hub: EventHub, logger: Logger) async throws {
    let (id, stream, continuation) = await hub.register(hotkey: hotkey)
    do {
        let replay = try await store.replay(for: hotkey, since: since)
        let welcome = try PlatformStore.encodeJSON(WelcomeMessage(
            validatorHotkey: hotkey, lastSeq: replay.upTo, replayed: replay.records.count, mode: replay.mode))
        await hub.goLive(id, welcome: welcome, replay: replay.records, upTo: replay.upTo)
    } catch {
        await hub.unregister(id)
        throw error
    }
    let pong = (try? PlatformStore.encodeJSON(PongMessage())) ?? "{\"type\":\"pong\"}"
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await text in stream { try await outbound.write(.text(text)) }
                // Drained (the replica is shutting down): close with 1012 "service restart".
                if await hub.isDraining {
                    try await outbound.close(.unknown(platformServiceRestartCloseCode), reason: "service restart")
                }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case let .text(text) = message,
                        let m = try? JSONDecoder().decode(ClientMessage.self, from: Data(text.utf8))
                    else { continue }
                    if m.type == PlatformMessageType.ping {
                        continuation.yield((try? PlatformStore.encodeJSON(PongMessage(ts: m.ts))) ?? pong)
                    }
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    } catch {
        logger.debug("validator socket ended", metadata: ["hotkey": "\(hotkey)", "error": "\(error)"])
    }
    await hub.unregister(id)
}
