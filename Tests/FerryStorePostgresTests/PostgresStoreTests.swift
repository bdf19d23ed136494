import FerryCore
import FerryEngine
@testable import FerryStorePostgres
import FerryTesting
import Foundation
import Logging
import Testing

/// The conformance suites the SQLite store passes, against a real PostgreSQL: each case on a fresh database.
struct PostgresMetadataStoreTests {
    static func withStore(_ body: (PostgresMetadataStore) async throws -> Void) async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let store = try await PostgresMetadataStore(url: url, logger: Logger(label: "ferry-test"))
        defer { store.shutdown() }
        try await body(store)
    }

    @Test(arguments: MetadataStoreConformance.cases)
    func conformance(_ check: ConformanceCase<any MetadataStore>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    @Test(arguments: ValidationStoreConformance.cases)
    func validationConformance(_ check: ConformanceCase<ValidationStoreConformance.Store>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    @Test(arguments: ApprovalStoreConformance.cases)
    func approvalConformance(_ check: ConformanceCase<ApprovalStoreConformance.Store>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    @Test(arguments: BatchJobStoreConformance.cases)
    func batchJobConformance(_ check: ConformanceCase<BatchJobStoreConformance.Store>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    @Test(arguments: RetrainStoreConformance.cases)
    func retrainConformance(_ check: ConformanceCase<RetrainStoreConformance.Store>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    @Test(arguments: TrackingStoreConformance.cases)
    func trackingConformance(_ check: ConformanceCase<TrackingStoreConformance.Store>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    @Test(arguments: SecurityStoreConformance.cases)
    func securityConformance(_ check: ConformanceCase<SecurityStoreConformance.Store>) async throws {
        try await Self.withStore { try await check.run($0) }
    }

    /// Replicas that start together migrate once: the advisory lock makes the others wait, then find nothing to do.
    @Test func concurrentStartsMigrateOnce() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase(migrated: false)
        let stores = try await withThrowingTaskGroup(of: PostgresMetadataStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresMetadataStore(url: url, logger: Logger(label: "t")) } }
            var all: [PostgresMetadataStore] = []
            for try await store in group { all.append(store) }
            return all
        }
        defer { stores.forEach { $0.shutdown() } }
        try await stores[0].createModel(Fixtures.model("m"))
        #expect(try await stores[3].model(named: "m") != nil)
    }

    /// A replica on an older binary than the schema refuses to start and says which versions.
    @Test func aNewerSchemaIsRefused() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let store = try await PostgresMetadataStore(url: url, logger: Logger(label: "t"))
        let future = PostgresMigrations.all.count + 1
        try await store.database.transaction { c in
            try await PostgresDatabase.execute(c, "INSERT INTO ferry_migration (version, name, applied_at) VALUES (\(future), 'future', 0)", store.database.logger)
        }
        store.shutdown()
        await #expect {
            _ = try await PostgresMetadataStore(url: url, logger: Logger(label: "t"))
        } throws: { error in
            (error as? FerryError)?.message.contains("schema is at version \(future), newer than this Ferry build knows (\(future - 1))") == true
        }
    }

    /// A server that does not answer fails the start with a message, instead of a silent wait.
    @Test func anUnreachableServerFailsTheStart() async {
        await #expect {
            _ = try await PostgresMetadataStore(
                url: "postgres://ferry:secret@127.0.0.1:9/ferry?sslmode=disable", logger: Logger(label: "t"), connectTimeout: .seconds(1))
        } throws: { error in
            let message = (error as? FerryError)?.message ?? ""
            return message.contains("did not answer within") && message.contains("ferry:****@127.0.0.1:9") && !message.contains("secret")
        }
    }

    @Test func aMalformedURLIsRefusedByName() async {
        await #expect {
            _ = try await PostgresMetadataStore(url: "mysql://localhost/db", logger: Logger(label: "t"))
        } throws: { error in
            (error as? FerryError)?.message.contains("is not postgres://") == true
        }
    }
}

struct PostgresEndpointAlertStoreTests {
    @Test(arguments: FeatureStoreConformance.cases)
    func featureConformance(_ check: ConformanceCase<FeatureStoreConformance.Store>) async throws {
        try await PostgresMetadataStoreTests.withStore { try await check.run($0) }
    }

    @Test(arguments: EndpointStoreConformance.cases)
    func endpointConformance(_ check: ConformanceCase<EndpointStoreConformance.Store>) async throws {
        try await PostgresMetadataStoreTests.withStore { try await check.run($0) }
    }

    @Test(arguments: AlertStoreConformance.cases)
    func alertConformance(_ check: ConformanceCase<AlertStoreConformance.Store>) async throws {
        try await PostgresMetadataStoreTests.withStore { try await check.run($0) }
    }
}

struct PostgresPredictionLogTests {
    @Test(arguments: PredictionLogConformance.cases)
    func conformance(_ check: ConformanceCase<any PredictionLog>) async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let log = try await PostgresPredictionLog(url: url, logger: Logger(label: "ferry-test"))
        defer { log.shutdown() }
        try await check.run(log)
    }
}

/// Artifacts in the database, reached from every replica through its own cache.
struct PostgresArtifactStoreTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("ferry-test-\(UUID().uuidString)")
    }

    @Test func anArtifactStoredByOneReplicaLoadsOnAnotherAndIsVerified() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let store = try await PostgresMetadataStore(url: url, logger: Logger(label: "t"))
        defer { store.shutdown() }
        let folders = [Self.folder(), Self.folder(), Self.folder()]
        defer { folders.forEach { try? FileManager.default.removeItem(at: $0) } }
        let caches = try folders.map { try LocalArtifactStore(root: $0) }
        let a = PostgresArtifactStore(sharing: store, cache: caches[0])
        let b = PostgresArtifactStore(sharing: store, cache: caches[1])
        // Three chunks, the last one partial.
        let bytes = Data((0..<(2 * PostgresArtifactStore.chunkSize + 12345)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        let ref = try await a.put(bytes)
        #expect(try await a.put(bytes) == ref, "storing the same bytes again is a no-op")
        #expect(try await !caches[1].contains(sha256: ref.sha256))
        #expect(try await b.get(ref) == bytes, "the other replica assembles it from its chunks")
        #expect(try await caches[1].contains(sha256: ref.sha256), "and keeps it in its cache")
        #expect(try await b.contains(sha256: ref.sha256))

        // Damaged in the database: a replica without a cached copy refuses the bytes.
        try await store.database.transaction { c in
            try await PostgresDatabase.execute(
                c, "UPDATE artifact_chunk SET bytes = bytes || '\\x00'::bytea WHERE sha256 = \(ref.sha256) AND chunk = 1",
                store.database.logger)
        }
        let c = PostgresArtifactStore(sharing: store, cache: caches[2])
        await #expect {
            _ = try await c.get(ref)
        } throws: { error in
            (error as? FerryError)?.code == .integrity && (error as? FerryError)?.message.contains("failed verification") == true
        }
        #expect(try await !caches[2].contains(sha256: ref.sha256), "nothing damaged stays in the cache")

        try await a.delete(sha256: ref.sha256)
        #expect(try await !b.contains(sha256: ref.sha256))
        await #expect { _ = try await c.get(ref) } throws: { error in (error as? FerryError)?.code == .notFound }
    }
}
