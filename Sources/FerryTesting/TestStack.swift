import FerryCore
import FerryEngine
import FerryRuntimes
import FerryStoreSQLite
import Foundation
import Logging

/// A complete in-process Ferry engine on real components: SQLite in memory, artifacts in a temporary folder,
/// the XGBoost runtime and the fake runtime.
public struct TestStack: Sendable {
    public let store: SQLiteMetadataStore
    public let artifacts: LocalArtifactStore
    public let models: ModelManager
    public let registry: Registry
    public let audit: AuditTrail
    public let authenticator: Authenticator
    public let dataPlane: DataPlane
    public let endpoints: Endpoints
    public let predictionLog: SQLitePredictionLog
    public let predictionLogger: PredictionLogger
    public let folder: URL

    public init(limits: InferenceLimits = InferenceLimits(), signatures: SignaturePolicy = .none, serving: ServingPolicy = ServingPolicy()) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-test-\(UUID().uuidString)")
        store = try SQLiteMetadataStore()
        artifacts = try LocalArtifactStore(root: folder.appendingPathComponent("artifacts"))
        let runtimes = RuntimeCatalog([XGBoostRuntime(), LightGBMRuntime(), FakeRuntime()])
        var logger = Logger(label: "ferry-test")
        logger.logLevel = .critical
        models = ModelManager(store: store, artifacts: artifacts, runtimes: runtimes, logger: logger, signatures: signatures, serving: serving)
        audit = AuditTrail(store: store, logger: logger)
        authenticator = Authenticator(store: store, logger: logger)
        registry = Registry(store: store, artifacts: artifacts, runtimes: runtimes, models: models, audit: audit, logger: logger)
        predictionLog = try SQLitePredictionLog()
        predictionLogger = PredictionLogger(log: predictionLog, logger: logger)
        endpoints = Endpoints(
            store: store, models: models, monitor: ModelMonitor(registry: registry, models: models, log: predictionLog), logger: logger)
        dataPlane = DataPlane(
            models: models, limits: limits, serverVersion: "test", predictionLog: predictionLogger, endpoints: endpoints)
        dataPlane.setReady(true)
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
