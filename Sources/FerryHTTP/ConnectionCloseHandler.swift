import NIOCore
import NIOHTTP1

/// Gives a request that does not keep its connection alive the exact `Connection: close` the server's request loop
/// closes on: an HTTP/1.0 request without `Connection: keep-alive` (RFC 9112 §9.3), or a `Connection` header that says
/// `close` in any case or among other options. Otherwise the connection stayed open after the answer until the idle
/// timeout, and an HTTP/1.0 client that reads to the end of the connection waited that long.
final class ConnectionCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive, head.headers["connection"] != ["close"] {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
            return
        }
        context.fireChannelRead(data)
    }
}
