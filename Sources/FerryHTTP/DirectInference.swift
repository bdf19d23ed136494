import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// Answers V2 inference requests on the connection's event loop, without the router, when nothing they need has
/// to be waited for: the caller's API key (not a JWT) is known, the version is loaded and predicts in place, and
/// it reads no features. Authentication, access rules, rate limits, validation, metrics, cost, the prediction log
/// and every answer (errors included) are the router's; any request it cannot answer so goes to the router.
///
/// Going through the router costs two thread hops per request (event loop to task and back) and the generic
/// middleware chain: more than half the server's CPU per 1-row request.
public struct DirectInference: Sendable {
    let dataPlane: DataPlane
    let access: AccessControl
    let cost: CostMeter?
    let maxBodyBytes: Int
    /// The access rules of the V2 infer routes, without and with a version.
    let rules: (unversioned: RouteAccess, versioned: RouteAccess)
    let serverName: String?
    let logger: Logger
    let dates = HTTPDate()
    private let counter = Counter()

    /// Requests answered here since start (the rest went to the router).
    public var answered: UInt64 { counter.value.withLock { $0 } }

    public init(dataPlane: DataPlane, access: AccessControl, cost: CostMeter?, maxBodyBytes: Int, serverName: String?, logger: Logger) {
        self.dataPlane = dataPlane
        self.access = access
        self.cost = cost
        self.maxBodyBytes = maxBodyBytes
        self.serverName = serverName
        self.logger = logger
        func rule(_ path: String) -> RouteAccess { OpenAPIDocument.routes.first { $0.method == "post" && $0.path == path }!.access }
        rules = (rule("/v2/models/{name}/infer"), rule("/v2/models/{name}/versions/{version}/infer"))
    }

    /// An answer built in full: status, headers (Content-Type included) and body.
    struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: [UInt8]
    }

    /// The model and version a request's head names when it may be answered here: a POST to a V2 infer path
    /// with no body length over the limit, no deadline, no content encoding, no connection option but keep-alive;
    /// and request logging (debug) off.
    func target(_ head: HTTPRequest) -> (model: String, version: String?)? {
        guard head.method == .post, let path = head.path, path.hasPrefix("/v2/models/"), path.hasSuffix("/infer"),
              !path.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "?") }),
              head.headerFields[.contentLength].flatMap({ Int($0) }).map({ $0 <= maxBodyBytes }) ?? true,
              head.headerFields[.ferryTimeoutMs] == nil,
              head.headerFields[.connection].map({ $0.lowercased() == "keep-alive" }) ?? true,
              head.headerFields[.contentEncoding].map({ $0 == "identity" }) ?? true,
              logger.logLevel > .debug
        else { return nil }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "v2", "models", name, ("versions", version,) "infer"
        switch parts.count {
        case 5 where !parts[3].isEmpty:
            return (String(parts[3]), nil)
        case 7 where parts[4] == "versions" && !parts[3].isEmpty && !parts[5].isEmpty:
            return (String(parts[3]), String(parts[5]))
        default:
            return nil
        }
    }

    /// The answer to a whole request, or nil to hand it to the router (which then answers exactly as it would have).
    /// Nothing is counted or changed before it is certain that the answer is given here.
    func answer(_ head: HTTPRequest, model: String, version: String?, body: ByteBuffer) -> Answer? {
        var principal: Principal?
        let rule = version == nil ? rules.unversioned : rules.versioned
        if rule.permission != nil {
            if let authenticator = access.authenticator {
                guard let secret = AccessMiddleware.credentials(head.headerFields),
                      access.jwt == nil || !JWTVerifier.looksLikeJWT(secret),
                      let known = authenticator.principal(secret: secret)
                else { return nil }
                principal = known
            } else {
                principal = .anonymous
            }
            guard rule.decide(principal, model: model) == .allow else { return nil }
        }
        let started = CostMeter.start()
        var jsonLength: Int?
        if let header = head.headerFields[.inferenceHeaderContentLength] {
            guard let n = Int(header) else { return nil }
            jsonLength = n
        }
        guard let request = try? body.withUnsafeReadableBytes({ try V2Codec.decodeRequest($0, jsonLength: jsonLength) }),
              request.parameters["timeout_ms"] == nil,
              let ready = dataPlane.readyVersion(model: model, version: version), !ready.needsBackground(request)
        else { return nil }
        if let limiter = access.rateLimiter, let principal, let wait = limiter.admit(principal) {
            counter.value.withLock { $0 += 1 }
            let (message, seconds) = AccessMiddleware.rateLimited(principal, wait: wait)
            return Answer(status: .tooManyRequests, headers: [.contentType: "application/json", .retryAfter: seconds], body: errorBody(message))
        }
        counter.value.withLock { $0 += 1 }
        do {
            let response = try dataPlane.infer(ready, model: model, request: request)
            InferenceRoutes<FerryRequestContext>.recordCost(cost, response, model: model, principal: (principal ?? .anonymous).id, since: started)
            let (headers, bytes) = InferenceRoutes<FerryRequestContext>.answer(response, to: request)
            return Answer(status: .ok, headers: headers, body: bytes)
        } catch {
            var (status, message, headers) = ErrorMiddleware<FerryRequestContext>.resolve(
                error, method: head.method, path: head.path ?? "", requestID: RequestID().description, logger: logger)
            headers[.contentType] = "application/json"
            return Answer(status: status, headers: headers, body: errorBody(message))
        }
    }
}

/// The inference requests of one connection: answered here when `DirectInference` can, handed on to the router
/// otherwise. While a request handed on is unanswered, later ones follow it, so answers keep the requests' order.
final class DirectInferenceHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        case idle
        /// Parts of the current request go to the router.
        case handingOn
        /// The current request may be answered here: its head and the body so far.
        case holding(HTTPRequest, model: String, version: String?, body: ByteBuffer)
    }

    private let direct: DirectInference
    private var state = State.idle
    /// Requests handed to the router whose answers have not been written.
    private var handedOn = 0

    init(_ direct: DirectInference) {
        self.direct = direct
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            if handedOn == 0, let (model, version) = direct.target(head) {
                state = .holding(head, model: model, version: version, body: context.channel.allocator.buffer(capacity: 0))
            } else {
                handedOn += 1
                state = .handingOn
                context.fireChannelRead(data)
            }
        case (.holding(let head, let model, let version, var body), .body(var chunk)):
            state = .idle
            if body.readableBytes == 0 { body = chunk } else { body.writeBuffer(&chunk) }
            if body.readableBytes > direct.maxBodyBytes {
                // A chunked body over the limit: the router refuses it.
                handedOn += 1
                state = .handingOn
                context.fireChannelRead(wrapInboundOut(.head(head)))
                context.fireChannelRead(wrapInboundOut(.body(body)))
            } else {
                state = .holding(head, model: model, version: version, body: body)
            }
        case (.holding(let head, let model, let version, let body), .end(let trailers)):
            state = .idle
            if let answer = direct.answer(head, model: model, version: version, body: body) {
                write(answer, context: context)
            } else {
                handedOn += 1
                context.fireChannelRead(wrapInboundOut(.head(head)))
                if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
                context.fireChannelRead(wrapInboundOut(.end(trailers)))
            }
        case (.handingOn, .end):
            state = .idle
            context.fireChannelRead(data)
        default:
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only the router's answers pass here; this handler's own are written below it.
        if case .end = unwrapOutboundIn(data) { handedOn = max(0, handedOn - 1) }
        context.write(data, promise: promise)
    }

    private func write(_ answer: DirectInference.Answer, context: ChannelHandlerContext) {
        var headers = answer.headers
        headers[.contentLength] = String(answer.body.count)
        headers[.date] = direct.dates.now()
        if let name = direct.serverName { headers[.server] = name }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: answer.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// HTTP/1.1 as Hummingbird's `HTTP1Channel` sets it up, with `Expect: 100-continue` answered and, after the
/// connection's idle and shutdown bookkeeping (which sees every request), the direct inference path.
public struct FerryHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let idleTimeout: TimeAmount?
    let direct: DirectInference?

    public init(responder: @escaping HTTPChannelHandler.Responder, idleTimeout: TimeAmount?, direct: DirectInference?) {
        self.responder = responder
        self.idleTimeout = idleTimeout
        self.direct = direct
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(ExpectContinueHandler())
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout.map { .init($0) }, logger: logger))
            if let direct { try pipeline.addHandler(DirectInferenceHandler(direct)) }
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

final class Counter: Sendable {
    let value = Mutex<UInt64>(0)
}

/// The `Date` header's text (RFC 9110's IMF-fixdate), formatted once per second.
final class HTTPDate: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    func now() -> String {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        let second = t.tv_sec
        return cached.withLock { c in
            if c.second != second { c = (second, Self.format(second)) }
            return c.text
        }
    }

    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
