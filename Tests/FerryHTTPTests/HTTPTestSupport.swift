import FerryCore
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting

/// Runs `body` against Ferry's router on a fresh in-process stack with the example fraud model as 'fraud'.
func withFerry(
    limits: HTTPLimits = HTTPLimits(), inference: InferenceLimits = InferenceLimits(),
    _ body: @Sendable (any TestClientProtocol, TestStack) async throws -> Void
) async throws {
    let stack = try TestStack(limits: inference)
    defer { stack.tearDown() }
    let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
    try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
    let app = Application(router: makeRouter(dataPlane: stack.dataPlane, registry: stack.registry, limits: limits))
    try await app.test(.router) { client in try await body(client, stack) }
}

extension TestClientProtocol {
    func post(_ uri: String, _ json: String, headers: HTTPFields = [.contentType: "application/json"]) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func get(_ uri: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get)
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed])) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: body) }
    var errorMessage: String { json["error"] as? String ?? "<no error field in \(text)>" }
}

func relativeError(_ a: Double, _ b: Double) -> Double {
    abs(a - b) / max(abs(b), 1e-12)
}
