import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// An error answer for a request that never reaches a route (a refused WebSocket
/// upgrade): sent as an outbound user event to `HTTPRefusalResponder`.
public struct HTTPRefusal: Sendable {
    public let error: APIError
    public init(_ error: APIError) { self.error = error }
}

/// Gives requests that never reach the router the same JSON error as every other refusal,
/// where Hummingbird would answer a bare 400 with an empty body:
/// - a request the HTTP parser refused (an oversized head: 431; broken framing: 400) is
///   answered here and the connection closed;
/// - a refused WebSocket upgrade (an `HTTPRefusal` event) is held until Hummingbird writes
///   its own answer, which `RefusalRewriter` replaces — answering at once would race the
///   client's close against Hummingbird's upgrade machinery.
/// It sits right after the HTTP/1 decoder, so it writes NIOHTTP1 response parts.
final class HTTPRefusalResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = HTTPServerResponsePart

    private var answered = false
    private(set) var pendingRefusal: APIError?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch parserError {
        case .headerOverflow:
            respond(context, APIError(.init(code: 431, reasonPhrase: "Request Header Fields Too Large"), ErrorCode.headersTooLarge,
                                      "The request head exceeds the server's limits (80 KiB of headers, 1,000 fields)"))
        default:
            respond(context, APIError(.badRequest, ErrorCode.badHTTP, "The request is not valid HTTP/1.1 (\(parserError))"))
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let refusal = event as? HTTPRefusal else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        pendingRefusal = refusal.error
        promise?.succeed(())
    }

    private func respond(_ context: ChannelHandlerContext, _ refusal: APIError) {
        guard !answered else { return }
        answered = true
        let (status, headers, body) = refusal.wire(allocator: context.channel.allocator)
        var fields = HTTPHeaders()
        for field in headers { fields.add(name: field.name.rawName, value: field.value) }
        let head = HTTPResponseHead(version: .http1_1,
                                    status: .init(statusCode: Int(status.code), reasonPhrase: status.reasonPhrase),
                                    headers: fields)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        // Once the answer is out, tell what follows in the pipeline that no more input comes
        // (an upgrade handler then ends its negotiation quietly), and close.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            bound.value.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            bound.value.close(promise: nil)
        }
    }
}

/// Replaces Hummingbird's bare 400 for a refused WebSocket upgrade with the refusal that
/// `HTTPRefusalResponder` holds for the connection. It sits in the plain-HTTP pipeline
/// (HTTPTypes parts), which exists only once an upgrade did not happen.
final class RefusalRewriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOHTTPTypes.HTTPResponsePart
    typealias OutboundOut = NIOHTTPTypes.HTTPResponsePart

    private var replacing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case let .head(head) where head.status == .badRequest && head.headerFields[.contentLength] == "0":
            guard let refusal = try? context.pipeline.syncOperations.handler(type: HTTPRefusalResponder.self).pendingRefusal
            else {
                context.write(data, promise: promise)
                return
            }
            replacing = true
            let (status, headers, body) = refusal.wire(allocator: context.channel.allocator)
            context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: promise)
        case .body where replacing:
            promise?.succeed(())
        default:
            context.write(data, promise: promise)
        }
    }
}

extension APIError {
    /// The status, headers and body of this error as a connection-closing answer.
    func wire(allocator: ByteBufferAllocator) -> (HTTPResponse.Status, HTTPFields, ByteBuffer) {
        var fields: [String: JSONValue] = ["detail": .string(detail), "code": .string(code.rawValue)]
        if let retryAfterSeconds { fields["retry_after_s"] = .number(Double(retryAfterSeconds)) }
        let bytes = JSONValue.object(fields).encoded()
        var body = allocator.buffer(capacity: bytes.count)
        body.writeBytes(bytes)
        var headers: HTTPFields = [.contentType: "application/json", .contentLength: String(bytes.count), .connection: "close"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return (status, headers, body)
    }
}

/// A Hummingbird child channel with `HTTPRefusalResponder` placed right after the HTTP/1
/// request decoder that `inner` set up. Every service serves through one; a service with
/// WebSocket upgrades also puts `refusalRewriters()` in its HTTP/1 configuration.
public struct RefusingChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    let inner: Inner

    public init(_ inner: Inner) { self.inner = inner }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Inner.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let ops = channel.pipeline.syncOperations
            let decoder = try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try ops.addHandler(HTTPRefusalResponder(), position: .after(decoder))
            return value
        }
    }

    public func handle(value: Inner.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// The handlers a WebSocket-upgrading service adds to its plain-HTTP pipeline.
public func refusalRewriters() -> [any RemovableChannelHandler] { [RefusalRewriter()] }

extension HTTPServerBuilder {
    /// HTTP/1.1 with JSON answers to requests that never reach the router.
    public static func http1Refusing(configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in RefusingChildChannel(HTTP1Channel(responder: responder, configuration: configuration)) }
    }
}

extension Channel {
    /// Refuses the WebSocket upgrade on this connection with `error`, answered as JSON
    /// in place of Hummingbird's bare 400.
    public func refuse(_ error: APIError) async {
        let promise = eventLoop.makePromise(of: Void.self)
        triggerUserOutboundEvent(HTTPRefusal(error), promise: promise)
        try? await promise.futureResult.get()
    }
}
