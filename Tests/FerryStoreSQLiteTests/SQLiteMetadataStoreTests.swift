import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryStoreSQLite

struct SQLiteMetadataStoreTests {
    @Test(arguments: MetadataStoreConformance.cases)
    func conformanceInMemory(_ check: ConformanceCase<any MetadataStore>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: MetadataStoreConformance.cases)
    func conformanceOnDisk(_ check: ConformanceCase<any MetadataStore>) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await check.run(try SQLiteMetadataStore(path: dir.appendingPathComponent("ferry.sqlite").path))
    }

    @Test func dataSurvivesReopening() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ferry.sqlite").path
        do {
            let store = try SQLiteMetadataStore(path: path)
            try await store.createModel(Fixtures.model("m"))
            _ = try await store.addVersion(Fixtures.version("m"))
            try await store.setAlias(model: "m", alias: "production", version: 1, by: "t", at: Fixtures.time, reason: "")
        }
        let reopened = try SQLiteMetadataStore(path: path)
        #expect(try await reopened.versions(model: "m").count == 1)
        #expect(try await reopened.aliases(model: "m").first?.version == 1)
    }
}
