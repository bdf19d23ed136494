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
    /// Online feature reads are answered here too, when the store reads without suspending.
    let features: FeatureService?
    let access: AccessControl
    let cost: CostMeter?
    let maxBodyBytes: Int
    /// The access rules of the V2 infer routes, without and with a version.
    let rules: (unversioned: RouteAccess, versioned: RouteAccess)
    /// The access rule of the online feature routes (Ferry's and Feast's share it).
    let featuresRule: RouteAccess
    let serverName: String?
    let logger: Logger
    let dates = HTTPDate()
    private let counter = Counter()

    /// Requests answered here since start (the rest went to the router).
    public var answered: UInt64 { counter.value.withLock { $0 } }

    public init(
        dataPlane: DataPlane, features: FeatureService? = nil, access: AccessControl, cost: CostMeter?, maxBodyBytes: Int, serverName: String?,
        logger: Logger
    ) {
        self.dataPlane = dataPlane
        self.features = features
        self.access = access
        self.cost = cost
        self.maxBodyBytes = maxBodyBytes
        self.serverName = serverName
        self.logger = logger
        func rule(_ path: String) -> RouteAccess { OpenAPIDocument.routes.first { $0.method == "post" && $0.path == path }!.access }
        rules = (rule("/v2/models/{name}/infer"), rule("/v2/models/{name}/versions/{version}/infer"))
        featuresRule = rule("/api/v1/features/online")
        precondition(featuresRule == rule("/get-online-features"), "the online feature routes share one access rule")
    }

    /// An answer built in full: status, headers (Content-Type included) and body.
    struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: [UInt8]
    }

    /// The caller when `rule` lets them in with an API key known here (nil for a route open to anyone); nil
    /// (`.none`) when only the router can tell: no credentials, a JWT, an unknown key or one the rule refuses.
    private func allowed(_ rule: RouteAccess, model: String?, credentials: Substring?) -> Principal?? {
        guard rule.permission != nil else { return .some(nil) }
        let principal: Principal
        if let authenticator = access.authenticator {
            guard let secret = credentials,
                  access.jwt == nil || !JWTVerifier.looksLikeJWT(secret),
                  let known = authenticator.principal(secret: secret)
            else { return nil }
            principal = known
        } else {
            principal = .anonymous
        }
        return rule.decide(principal, model: model) == .allow ? .some(principal) : nil
    }

    /// The answer to an online feature read (`POST /api/v1/features/online`, or Feast's `POST /get-online-features`
    /// with `feast`), or nil to hand it to the router: the same access rule, rate limit, answers and errors.
    func answerFeatures(feast: Bool, credentials: Substring?, path: String, body: ByteBuffer) -> Answer? {
        guard let features, features.answersOnlineNow,
              case .some(let principal) = allowed(featuresRule, model: nil, credentials: credentials)
        else { return nil }
        counter.value.withLock { $0 += 1 }
        if let limiter = access.rateLimiter, let principal, let wait = limiter.admit(principal) {
            let (message, seconds) = AccessMiddleware.rateLimited(principal, wait: wait)
            return Answer(status: .tooManyRequests, headers: [.contentType: "application/json", .retryAfter: seconds], body: errorBody(message))
        }
        do {
            let request = try API.OnlineFeaturesRequest(json: body)
            let (refs, rows) = try request.parsed()
            if feast { try FeatureRoutes.checkFeastColumns(refs, entities: request.entities.keys.sorted(), fullFeatureNames: request.fullFeatureNames ?? false) }
            guard let values = try features.onlineNow(features: refs, entities: rows) else {
                throw FerryError(.unavailable, "the feature store's definitions are being read again; retry")
            }
            let bytes = feast
                ? FeatureRoutes.feastAnswer(refs, request.entities, values, fullFeatureNames: request.fullFeatureNames ?? false)
                : FeatureRoutes.ferryAnswer(refs, rows, values)
            return Answer(status: .ok, headers: [.contentType: "application/json"], body: bytes)
        } catch {
            return errorAnswer(error, method: .post, path: path)
        }
    }

    /// An error answered as the router's `ErrorMiddleware` answers it.
    private func errorAnswer(_ error: any Error, method: HTTPRequest.Method, path: String) -> Answer {
        var (status, message, headers) = ErrorMiddleware<FerryRequestContext>.resolve(
            error, method: method, path: path, requestID: RequestID().description, logger: logger)
        headers[.contentType] = "application/json"
        return Answer(status: status, headers: headers, body: errorBody(message))
    }

    /// An answer's headers as written: its own, then Content-Length, Date and Server.
    func headers(of answer: Answer) -> HTTPFields {
        var headers = answer.headers
        headers[.contentLength] = String(answer.body.count)
        headers[.date] = dates.now()
        if let serverName { headers[.server] = serverName }
        return headers
    }

    /// The model and version a request's head names when it may be answered here: a POST to a V2 infer path
    /// with no body length over the limit, no deadline, no content encoding, no connection option but keep-alive;
    /// and request logging (debug) off.
    func target(_ head: HTTPRequest) -> (model: String, version: String?)? {
        guard head.method == .post, let path = head.path,
              head.headerFields[.contentLength].flatMap({ Int($0) }).map({ $0 <= maxBodyBytes }) ?? true,
              head.headerFields[.ferryTimeoutMs] == nil,
              head.headerFields[.connection].map({ $0.lowercased() == "keep-alive" }) ?? true,
              head.headerFields[.contentEncoding].map({ $0 == "identity" }) ?? true,
              logger.logLevel > .debug
        else { return nil }
        return Self.target(path: path)
    }

    /// The model and version of a V2 infer path with nothing escaped and no query, else nil.
    static func target(path: String) -> (model: String, version: String?)? {
        var path = path
        return path.withUTF8 { target(path: UnsafeRawBufferPointer($0)) }
    }

    /// `/v2/models/NAME/infer` or `/v2/models/NAME/versions/VERSION/infer`, NAME and VERSION not empty and
    /// without `/`, `%` or `?`.
    static func target(path: UnsafeRawBufferPointer) -> (model: String, version: String?)? {
        let start = "/v2/models/".utf8, end = "/infer".utf8, versions = "/versions/".utf8
        guard path.count > start.count + end.count, path.starts(with: start), path.suffix(end.count).elementsEqual(end),
              !path.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "?") })
        else { return nil }
        let middle = path[start.count..<(path.count - end.count)]
        guard let slash = middle.firstIndex(of: UInt8(ascii: "/")) else {
            return (String(decoding: middle, as: UTF8.self), nil)
        }
        guard slash > middle.startIndex, middle[slash...].starts(with: versions) else { return nil }
        let version = middle[(slash + versions.count)...]
        guard !version.isEmpty, !version.contains(UInt8(ascii: "/")) else { return nil }
        return (String(decoding: middle[..<slash], as: UTF8.self), String(decoding: version, as: UTF8.self))
    }

    /// The answer to a whole request, or nil to hand it to the router (which then answers exactly as it would have).
    /// Nothing is counted or changed before it is certain that the answer is given here.
    func answer(_ head: HTTPRequest, model: String, version: String?, body: ByteBuffer) -> Answer? {
        let fields = head.headerFields
        return answer(
            model: model, version: version, credentials: AccessMiddleware.credentials(fields),
            jsonLength: fields[.inferenceHeaderContentLength], method: head.method, path: head.path ?? "", body: body)
    }

    /// The answer to a request given by what the direct path reads of it: the caller's credentials, the
    /// `Inference-Header-Content-Length` header, the method and path (for the log) and the body.
    func answer(model: String, version: String?, credentials: Substring?, jsonLength header: String?,
                method: HTTPRequest.Method, path: String, body: ByteBuffer) -> Answer? {
        guard case .some(let principal) = allowed(version == nil ? rules.unversioned : rules.versioned, model: model, credentials: credentials)
        else { return nil }
        let started = CostMeter.start()
        var jsonLength: Int?
        if let header {
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
            return errorAnswer(error, method: method, path: path)
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
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: direct.headers(of: answer)))), promise: nil)
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
            let pipeline = channel.pipeline.syncOperations
            if let direct, direct.logger.logLevel > .debug {
                // The HTTP handlers are added when the first request the bytes path does not answer arrives.
                try pipeline.addHandler(DirectBytesHandler(direct, idleTimeout: idleTimeout) { pipeline, first in
                    try addHTTPHandlers(pipeline, after: first, logger: logger)
                })
            } else {
                try addHTTPHandlers(pipeline, after: nil, logger: logger)
            }
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    /// The HTTP decoder and encoder, `Connection: close` made plain, the conversion to HTTP types, `Expect: 100-continue`, the idle timeout and
    /// quiescing, and the direct path for parts; at the end of the pipeline, or right behind `first`.
    func addHTTPHandlers(_ pipeline: ChannelPipeline.SynchronousOperations, after first: (any ChannelHandler)?, logger: Logger) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 80 * 1024
        limits.maxHeaderListSize = 80 * 1024
        limits.maxHeaderFieldCount = 1000
        var handlers: [any ChannelHandler] = [
            ConnectionCloseHandler(), HTTP1ToHTTPServerCodec(secure: false), ExpectContinueHandler(),
            HTTPConnectionStateHandler(idleTimeout: idleTimeout.map { .init($0) }, logger: logger),
        ]
        if let direct { handlers.append(DirectInferenceHandler(direct)) }
        func addCodec(_ position: ChannelPipeline.SynchronousOperations.Position) throws {
            try pipeline.configureHTTPServerPipeline(
                position: position, withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
        }
        if let first {
            // Each is added right behind `first` in turn, so the last added comes first.
            for handler in handlers.reversed() { try pipeline.addHandler(handler, position: .after(first)) }
            try addCodec(.after(first))
        } else {
            try addCodec(.last)
            for handler in handlers { try pipeline.addHandler(handler) }
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
