import FerryCore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceLifecycle

/// The gRPC server of `ferry serve --grpc-port`: HTTP/2 on NIO, TLS with the HTTP server's certificate when it has
/// one, stopped gracefully with the other services.
package struct GRPCInferenceServer: Service {
    package let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix

    /// `tls` names PEM files: the certificate chain and its private key.
    package init(host: String, port: Int, tls: (certificateChain: String, privateKey: String)?, service: InferenceService) {
        let security: HTTP2ServerTransport.Posix.TransportSecurity = tls.map {
            .tls(certificateChain: [.file(path: $0.certificateChain, format: .pem)], privateKey: .file(path: $0.privateKey, format: .pem))
        } ?? .plaintext
        let address: GRPCNIOTransportCore.SocketAddress = host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        transport = .http2NIOPosix(address: address, transportSecurity: security)
        server = GRPCServer(transport: transport, services: [service])
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
