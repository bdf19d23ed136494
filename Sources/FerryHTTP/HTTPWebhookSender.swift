import AsyncHTTPClient
import FerryEngine
import Foundation
import NIOCore
import NIOHTTP1

/// Delivers alert notifications with AsyncHTTPClient (10-second timeout per attempt).
public struct HTTPWebhookSender: WebhookSender {
    public init() {}

    public func post(url: String, body: Data, headers: [String: String]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try? await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}
