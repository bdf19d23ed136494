import FerryCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle

/// The gRPC server of `ferry serve --grpc-port`: HTTP/2 on NIO, TLS with the HTTP server's certificate when it has
/// one, stopped gracefully with the other services.
package struct GRPCInferenceServer: Service {
    package let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix

    /// `tls` names PEM files: the certificate chain and its private key. `host` is an address or a name (resolved
    /// here, as the HTTP server resolves it); requests may be as large as `maxRequestBytes` (the HTTP server's
    /// `--max-body-mb`), compressed with gzip or deflate or not.
    package init(
        host: String, port: Int, tls: (certificateChain: String, privateKey: String)?, maxRequestBytes: Int, service: InferenceService
    ) throws {
        let security: HTTP2ServerTransport.Posix.TransportSecurity = tls.map {
            .tls(certificateChain: [.file(path: $0.certificateChain, format: .pem)], privateKey: .file(path: $0.privateKey, format: .pem))
        } ?? .plaintext
        transport = .http2NIOPosix(
            address: try Self.address(host, port: port), transportSecurity: security,
            config: .defaults {
                $0.rpc.maxRequestPayloadSize = maxRequestBytes
                $0.compression.enabledAlgorithms = .all
            })
        server = GRPCServer(transport: transport, services: [service])
    }

    /// The address to listen on: `host` itself when it is an IP address, else the first address its name resolves to.
    package static func address(_ host: String, port: Int) throws -> GRPCNIOTransportCore.SocketAddress {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return .ipv4(host: host, port: port) }
        if inet_pton(AF_INET6, host, &v6) == 1 { return .ipv6(host: host, port: port) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &found)
        defer { if found != nil { freeaddrinfo(found) } }
        var entry = status == 0 ? found : nil
        while let info = entry?.pointee {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            func written() -> String { String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            if info.ai_family == AF_INET, let sockaddr = info.ai_addr {
                var a = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                if inet_ntop(AF_INET, &a, &text, socklen_t(text.count)) != nil { return .ipv4(host: written(), port: port) }
            } else if info.ai_family == AF_INET6, let sockaddr = info.ai_addr {
                var a = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                if inet_ntop(AF_INET6, &a, &text, socklen_t(text.count)) != nil { return .ipv6(host: written(), port: port) }
            }
            entry = info.ai_next
        }
        let reason = status == 0 ? "it has no IP address" : String(cString: gai_strerror(status))
        throw FerryError.invalid("--host '\(host)' cannot be resolved for the gRPC server (\(reason)); give an address, or --grpc-port 0")
    }

    package func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }

    /// The port the server listens on, once it is bound (useful with port 0).
    package var port: Int {
        get async throws {
            let address = try await transport.listeningAddress
            if let v4 = address.ipv4 { return v4.port }
            if let v6 = address.ipv6 { return v6.port }
            throw FerryError(.internal, "the gRPC server is not listening on an IP address")
        }
    }
}
