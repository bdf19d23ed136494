import FerryCore
import FerryEngine
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting

/// Runs `body` against Ferry's HTTP server on a fresh in-process stack with the example fraud model as 'fraud'
/// (unless `example` is false).
///
/// `postgres` keeps the server's state in a fresh database of a real PostgreSQL instead of SQLite.
/// `direct: false` has the router answer every inference request (`DirectInference` off).
/// `authenticated` turns API-key authentication on (create keys with `stack.authenticator`); `rateLimits` are
/// requests per second per role. `inputFolders` are the server's `--job-input-dir` folders.
func withFerry(
    limits: HTTPLimits = HTTPLimits(), inference: InferenceLimits = InferenceLimits(), authenticated: Bool = false,
    rateLimits: [Role: Double] = [:], signatures: SignaturePolicy = .none, serving: ServingPolicy = ServingPolicy(), example: Bool = true,
    postgres: Bool = false, direct: Bool = true, idleTimeout: Duration = .seconds(60), inputFolders: [String] = [],
    _ body: @Sendable (any TestClientProtocol, TestStack) async throws -> Void
) async throws {
    let database = postgres ? try await PostgresTestServer.shared.freshDatabase() : nil
    let stack = try await TestStack(limits: inference, signatures: signatures, serving: serving) {
        if let database { $0.store = .postgres(url: database) }
        $0.authentication = authenticated
        $0.rateLimits = rateLimits
        $0.http = limits
        $0.port = 0
        $0.directInference = direct
        $0.idleTimeout = idleTimeout
        $0.jobInputDirectories = inputFolders
    }
    defer { stack.tearDown() }
    if example {
        let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
    }
    // Over a real connection to the server as `ferry serve` builds it, so requests take the path they take in
    // production (inference answered on the event loop where it can be).
    try await stack.server.application().test(.live) { client in try await body(client, stack) }
}

extension TestClientProtocol {
    func post(_ uri: String, _ json: String, headers: HTTPFields = [.contentType: "application/json"]) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: headers)
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

/// Predicts the example rows of 'fraud' in one V1 request, posts `label(row)` for each as ground truth and flushes
/// the prediction log; returns the prediction id.
@discardableResult
func predictExampleRowsWithLabels(_ client: any TestClientProtocol, _ stack: TestStack, label: (Int) -> Double) async throws -> String {
    let expected = try TestStack.exampleExpectations()
    let instances = expected.rows.map { "[" + $0.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]" }.joined(separator: ",")
    let predicted = try await client.post("/v1/models/fraud:predict", #"{"instances": [\#(instances)]}"#)
    guard let id = predicted.json["prediction_id"] as? String else { throw FerryError.invalid("no prediction id: \(predicted.text)") }
    let items = expected.rows.indices.map { #"{"prediction_id": "\#(id)", "row": \#($0), "label": \#(label($0))}"# }
    let feedback = try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]")
    guard feedback.status == .ok else { throw FerryError.invalid("feedback refused: \(feedback.text)") }
    await stack.predictionLogger.flush()
    return id
}
