import FerryCore
import FerryEngine
import FerryRuntimes
import FerryServer
import FerryStoreSQLite
import Foundation
import Logging

/// A complete in-process Ferry server on real components, built by the same composition root as `ferry serve`:
/// SQLite in memory, artifacts in a temporary folder, the XGBoost and LightGBM runtimes and the fake runtime.
/// Authentication is off unless `authenticated` is set.
public struct TestStack: Sendable {
    public let server: FerryServer
    public let folder: URL
    public var store: any FerryStore { server.store }
    public var artifacts: any ArtifactStore { server.artifacts }
    public var models: ModelManager { server.models }
    public var registry: Registry { server.registry }
    public var audit: AuditTrail { server.audit }
    public var authenticator: Authenticator { server.authenticator }
    public var dataPlane: DataPlane { server.dataPlane }
    public var endpoints: Endpoints { server.endpoints }
    public var predictionLogger: PredictionLogger { server.predictionLogger! }
    public var predictionLog: any PredictionLog { server.predictionLogger!.log }
    public var monitor: ModelMonitor { server.monitor! }
    public var alerts: AlertManager { server.alerts! }

    public init(
        limits: InferenceLimits = InferenceLimits(), signatures: SignaturePolicy = .none, serving: ServingPolicy = ServingPolicy(),
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-test-\(UUID().uuidString)")
        var configuration = ServerConfiguration(
            store: .memory, dataDirectory: folder, serverVersion: "test", authentication: false, signatures: signatures,
            serving: serving, inference: limits, webhookRetryDelays: [.milliseconds(20), .milliseconds(20)],
            extraRuntimes: [FakeRuntime()], trainers: ["sh", "python"])
        // Tests read feature sources from fixture and temporary folders; FeatureSourceFolderTests narrows this.
        configuration.featureSourceDirectories = ["/"]
        configure(&configuration)
        var logger = Logger(label: "ferry-test")
        logger.logLevel = .critical
        server = try await FerryServer.build(configuration, logger: logger)
    }

    /// Removes the temporary artifact folder.
    public func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Registers a fake model version predicting `value + sum(row)` over `features` features.
    @discardableResult
    public func registerFake(_ model: String, value: Float, features: Int = 3, fail: Bool = false) async throws -> ModelVersion {
        try await registry.register(Registry.NewVersion(
            model: model, format: FakeRuntime.format,
            artifact: FakeRuntime.Spec(features: features, value: value, fail: fail).artifact, createdBy: "test"))
    }

    /// The repository's example fraud model and its expected outputs (computed by xgboost).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    public static func exampleModel() throws -> Data {
        try Data(contentsOf: repositoryRoot.appendingPathComponent("examples/fraud/model.json"))
    }

    public struct ExampleExpectations: Decodable, Sendable {
        public var feature_names: [String]
        public var rows: [[Double?]]
        public var probabilities: [Double]
    }

    public static func exampleExpectations() throws -> ExampleExpectations {
        try JSONDecoder().decode(
            ExampleExpectations.self,
            from: Data(contentsOf: repositoryRoot.appendingPathComponent("examples/fraud/expected.json")))
    }
}
