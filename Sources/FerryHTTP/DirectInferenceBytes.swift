import Foundation
import HTTPTypes
import NIOCore

/// What the bytes path reads of a request: a plain HTTP/1.1 POST to a V2 infer path or an online feature route
/// with a body of known length, or the news that only the HTTP decoder may read these bytes.
struct DirectRequestHead: Equatable {
    enum Target: Equatable {
        case infer(model: String, version: String?)
        /// `/api/v1/features/online`, or Feast's `/get-online-features`.
        case onlineFeatures(feast: Bool)
    }

    var target: Target
    var path: String
    var authorization: String?
    var apiKey: String?
    var jsonLength: String?
    /// Where the body starts, and the first byte after the request, counted from the first byte parsed.
    var bodyStart: Int
    var end: Int

    enum Parsed: Equatable {
        /// The bytes end before the request does.
        case incomplete
        /// Anything but a request the direct path may answer: a method, path, version or header it does not take
        /// (a chunked body, `Expect`, `Upgrade`, a deadline, an encoding, `Connection` other than keep-alive, a
        /// repeated header it reads), a head longer than `longestHead`, or bytes that are not plain HTTP. The HTTP
        /// decoder reads these bytes as it reads any, so its answers (errors included) are the server's.
        case notDirect
        case request(DirectRequestHead)
    }

    static let longestHead = 16 * 1024
    private static let start = Array("POST /".utf8)
    private static let version = Array(" HTTP/1.1".utf8)

    /// The first request in `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxBodyBytes: Int) -> Parsed {
        let n = bytes.count
        for i in 0..<min(n, start.count) where bytes[i] != start[i] { return .notDirect }
        guard n > start.count else { return .incomplete }
        let searched = min(n, longestHead)
        guard let headEnd = headEnd(bytes, searched: searched) else {
            // A line ended by a bare LF never ends the head with CR LF CR LF: the HTTP decoder reads it (waiting for
            // more would hold the connection until its idle timeout).
            return searched == longestHead || hasBareLineFeed(bytes, searched: searched) ? .notDirect : .incomplete
        }

        func lineEnd(from i: Int) -> Int {
            var j = i
            while !(bytes[j] == 13 && bytes[j + 1] == 10) { j += 1 }
            return j
        }
        // The request line: POST, the path (visible characters), HTTP/1.1.
        let firstEnd = lineEnd(from: 0)
        guard firstEnd >= 5 + version.count else { return .notDirect }
        for k in 0..<version.count where bytes[firstEnd - version.count + k] != version[k] { return .notDirect }
        let pathBytes = UnsafeRawBufferPointer(rebasing: bytes[5..<(firstEnd - version.count)])
        guard pathBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .notDirect }
        let target: Target
        if pathBytes.elementsEqual("/api/v1/features/online".utf8) {
            target = .onlineFeatures(feast: false)
        } else if pathBytes.elementsEqual("/get-online-features".utf8) {
            target = .onlineFeatures(feast: true)
        } else if let (model, version) = DirectInference.target(path: pathBytes) {
            target = .infer(model: model, version: version)
        } else {
            return .notDirect
        }
        let path = String(decoding: pathBytes, as: UTF8.self)

        var head = DirectRequestHead(target: target, path: path, bodyStart: headEnd, end: headEnd)
        var contentLength: Int?
        var line = firstEnd + 2
        while line < headEnd - 2 {
            let end = lineEnd(from: line)
            // A name of token characters, a colon, the value without surrounding blanks; no folded lines.
            var colon = line
            while colon < end, isToken(bytes[colon]) { colon += 1 }
            guard colon > line, colon < end, bytes[colon] == UInt8(ascii: ":") else { return .notDirect }
            var from = colon + 1, to = end
            while from < to, bytes[from] == 32 || bytes[from] == 9 { from += 1 }
            while to > from, bytes[to - 1] == 32 || bytes[to - 1] == 9 { to -= 1 }
            let valueBytes = UnsafeRawBufferPointer(rebasing: bytes[from..<to])
            guard valueBytes.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 9 }) else { return .notDirect }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[line..<colon]), as: UTF8.self).lowercased()
            let value = String(decoding: valueBytes, as: UTF8.self)
            switch name {
            case "content-length":
                guard contentLength == nil, !valueBytes.isEmpty, valueBytes.count <= 12,
                      valueBytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(value), length <= maxBodyBytes
                else { return .notDirect }
                contentLength = length
            case "authorization":
                guard head.authorization == nil else { return .notDirect }
                head.authorization = value
            case "x-api-key":
                guard head.apiKey == nil else { return .notDirect }
                head.apiKey = value
            case "inference-header-content-length":
                guard head.jsonLength == nil else { return .notDirect }
                head.jsonLength = value
            case "connection":
                guard value.lowercased() == "keep-alive" else { return .notDirect }
            case "content-encoding":
                guard value == "identity" else { return .notDirect }
            case "transfer-encoding", "expect", "upgrade", "ferry-timeout-ms":
                return .notDirect
            default:
                break
            }
            line = end + 2
        }
        head.end = headEnd + (contentLength ?? 0)
        return n >= head.end ? .request(head) : .incomplete
    }

    /// The first byte after the first CR LF CR LF in the first `searched` bytes.
    private static func headEnd(_ bytes: UnsafeRawBufferPointer, searched: Int) -> Int? {
        var i = 0
        while i + 3 < searched {
            guard let cr = memchr(bytes.baseAddress! + i, 13, searched - 3 - i) else { return nil }
            i = bytes.baseAddress!.distance(to: UnsafeRawPointer(cr))
            if bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// Whether an LF not preceded by CR is among the first `searched` bytes.
    private static func hasBareLineFeed(_ bytes: UnsafeRawBufferPointer, searched: Int) -> Bool {
        var i = 0
        while i < searched, let lf = memchr(bytes.baseAddress! + i, 10, searched - i) {
            i = bytes.baseAddress!.distance(to: UnsafeRawPointer(lf))
            if i == 0 || bytes[i - 1] != 13 { return true }
            i += 1
        }
        return false
    }

    /// RFC 9110's `tchar`.
    private static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// The first handler of a connection: while every request on it is one `DirectInference` answers (V2 inference,
/// online feature reads), it reads the requests from the connection's bytes and writes the answers as bytes, with
/// no HTTP decoder, encoder or handler chain in between (those cost about as much CPU as the inference itself). At the first request it does not
/// answer, it adds the HTTP handlers behind itself and hands them every byte from that request on; from then on
/// the connection is an ordinary one. Answers keep the requests' order: every answer written here is written
/// before the first request is handed on.
///
/// While it answers, it keeps the connection's idle timeout and closes the connection when the server quiesces
/// (as the HTTP handlers would, which see no request meanwhile).
final class DirectBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let direct: DirectInference
    private let idleTimeout: TimeAmount?
    /// Adds the HTTP handlers right behind this one.
    private let addHTTPHandlers: (ChannelPipeline.SynchronousOperations, DirectBytesHandler) throws -> Void
    /// Bytes received and not yet answered.
    private var received: ByteBuffer?
    private var handedOn = false
    private var quiescing = false
    private var unflushed = false
    private var lastActive = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    init(_ direct: DirectInference, idleTimeout: TimeAmount?,
         addHTTPHandlers: @escaping (ChannelPipeline.SynchronousOperations, DirectBytesHandler) throws -> Void) {
        self.direct = direct
        self.idleTimeout = idleTimeout
        self.addHTTPHandlers = addHTTPHandlers
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { scheduleIdleCheck(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
    }

    func channelActive(context: ChannelHandlerContext) {
        scheduleIdleCheck(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !handedOn else { return context.fireChannelRead(data) }
        var chunk = unwrapInboundIn(data)
        lastActive = .now()
        if received == nil || received?.readableBytes == 0 {
            received = chunk
        } else {
            received!.writeBuffer(&chunk)
        }
        answerReceived(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !handedOn, event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // A request partly received is answered first; the connection closes after it.
        if (received?.readableBytes ?? 0) > 0 {
            quiescing = true
        } else {
            context.close(promise: nil)
        }
    }

    /// Answers every whole request received, in order, until one is not for this path.
    private func answerReceived(context: ChannelHandlerContext) {
        while var bytes = received, bytes.readableBytes > 0 {
            let parsed = bytes.withUnsafeReadableBytes { DirectRequestHead.parse($0, maxBodyBytes: direct.maxBodyBytes) }
            switch parsed {
            case .incomplete:
                return
            case .notDirect:
                return handOn(context: context)
            case .request(let head):
                let body = bytes.getSlice(at: bytes.readerIndex + head.bodyStart, length: head.end - head.bodyStart)!
                let credentials = AccessControl.credentials(authorization: head.authorization, apiKey: head.apiKey)
                let answer = switch head.target {
                case .infer(let model, let version):
                    direct.answer(
                        model: model, version: version, credentials: credentials, jsonLength: head.jsonLength, method: .post,
                        path: head.path, body: body)
                case .onlineFeatures(let feast):
                    direct.answerFeatures(feast: feast, credentials: credentials, path: head.path, body: body)
                }
                guard let answer else { return handOn(context: context) }
                write(answer, context: context)
                bytes.moveReaderIndex(forwardBy: head.end)
                received = bytes.readableBytes > 0 ? bytes : nil
                // A client that sends faster than it reads gets the HTTP handlers' backpressure.
                if !context.channel.isWritable { return handOn(context: context) }
            }
        }
        if quiescing {
            flush(context: context)
            context.close(promise: nil)
        }
    }

    /// Adds the HTTP handlers and hands them the bytes not answered here, and everything after.
    private func handOn(context: ChannelHandlerContext) {
        handedOn = true
        idleCheck?.cancel()
        flush(context: context)
        do {
            try addHTTPHandlers(context.pipeline.syncOperations, self)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        if let bytes = received, bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
        received = nil
        // After the bytes: the HTTP handlers then close the connection once the request they got is answered.
        if quiescing { context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    private func write(_ answer: DirectInference.Answer, context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: answer.body.count + 128 + answer.headers.count * 48)
        out.writeString("HTTP/1.1 \(answer.status.code) \(answer.status.reasonPhrase)\r\n")
        // The headers `DirectInference.headers(of:)` gives, written without building them.
        func field(_ name: String, _ value: String) {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        for header in answer.headers { field(header.name.rawName, header.value) }
        field(HTTPField.Name.contentLength.rawName, String(answer.body.count))
        field(HTTPField.Name.date.rawName, direct.dates.now())
        if let name = direct.serverName { field(HTTPField.Name.server.rawName, name) }
        out.writeStaticString("\r\n")
        out.writeBytes(answer.body)
        context.write(wrapOutboundOut(out), promise: nil)
        unflushed = true
        lastActive = .now()
    }

    private func flush(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    /// Closes the connection once it has been silent for the idle timeout, while no request has been handed on.
    private func scheduleIdleCheck(_ context: ChannelHandlerContext) {
        guard let idleTimeout, idleCheck == nil, !handedOn else { return }
        idleCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActive + idleTimeout) { [self] in
            idleCheck = nil
            guard !handedOn else { return }
            if NIODeadline.now() >= lastActive + idleTimeout {
                context.close(promise: nil)
            } else {
                scheduleIdleCheck(context)
            }
        }
    }
}
