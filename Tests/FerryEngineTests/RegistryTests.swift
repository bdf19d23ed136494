import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryEngine

struct RegistryTests {
    func value(_ stack: TestStack, _ model: String, _ version: String? = nil) async throws -> (Int, Float) {
        let response = try await stack.dataPlane.infer(
            model: model, version: version,
            request: InferenceRequest(inputs: [Tensor(name: "input", datatype: .fp32, shape: [1, 3], data: .float32([0, 0, 0]))]))
        guard case .float32(let v) = response.outputs[0].data else { throw FerryError(.internal, "not fp32") }
        return (Int(response.modelVersion!)!, v[0])
    }

    @Test func defaultRouteIsProductionAliasElseNewest() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        try await stack.registerFake("m", value: 1)
        #expect(try await value(stack, "m") == (1, 1))
        try await stack.registerFake("m", value: 2)
        #expect(try await value(stack, "m") == (2, 2), "newest version without an alias")
        try await stack.registry.setAlias(model: "m", alias: "production", version: 1, by: "t")
        #expect(try await value(stack, "m") == (1, 1), "production alias wins")
        try await stack.registerFake("m", value: 3)
        #expect(try await value(stack, "m") == (1, 1), "a new version does not move production")
        #expect(try await value(stack, "m", "3") == (3, 3), "explicit version")
        try await stack.registry.setAlias(model: "m", alias: "staging", version: 3, by: "t")
        #expect(try await value(stack, "m", "staging") == (3, 3), "alias as version")
        try await stack.registry.removeAlias(model: "m", alias: "production", by: "t")
        #expect(try await value(stack, "m") == (3, 3), "back to newest")
    }

    @Test func aliasHistoryKeepsEveryMove() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        for v in 1...3 { try await stack.registerFake("m", value: Float(v)) }
        try await stack.registry.setAlias(model: "m", alias: "production", version: 1, by: "ann", reason: "launch")
        try await stack.registry.setAlias(model: "m", alias: "production", version: 3, by: "bob", reason: "better")
        try await stack.registry.setAlias(model: "m", alias: "production", version: 2, by: "ann", reason: "rollback")
        let history = try await stack.registry.aliasHistory(model: "m", alias: "production")
        #expect(history.map(\.from) == [nil, 1, 3])
        #expect(history.map(\.to) == [1, 3, 2])
        #expect(history.map(\.by) == ["ann", "bob", "ann"])
    }

    @Test func versionsAreImmutableAndNumbered() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let v1 = try await stack.registerFake("m", value: 1)
        let v2 = try await stack.registerFake("m", value: 2)
        #expect((v1.version, v2.version) == (1, 2))
        #expect(v1.artifact.sha256 != v2.artifact.sha256)
        #expect(try await stack.registry.version(model: "m", number: 1) == v1)
    }

    @Test func archivingKeepsArtifactsAndCanBeUndone() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let v1 = try await stack.registerFake("m", value: 1)
        let v2 = try await stack.registerFake("m", value: 2)
        try await stack.registry.setAlias(model: "m", alias: "production", version: 1, by: "t")
        _ = try await stack.registry.archive(model: "m", number: 1, by: "t")
        #expect(try await stack.artifacts.contains(sha256: v1.artifact.sha256), "aliased artifact kept")
        #expect(try await value(stack, "m") == (1, 1), "production still serves the archived version")
        _ = try await stack.registry.archive(model: "m", number: 2, by: "t")
        #expect(try await stack.artifacts.contains(sha256: v2.artifact.sha256), "kept too: archiving by mistake loses nothing")
        await #expect(throws: FerryError.self) {
            try await stack.registry.setAlias(model: "m", alias: "staging", version: 2, by: "t")
        }
        await #expect(throws: FerryError.self) { _ = try await value(stack, "m", "2") }
        // Out of the archive: served by number, and it can take an alias, again.
        #expect(try await stack.registry.unarchive(model: "m", number: 2, by: "t").archived == false)
        #expect(try await value(stack, "m", "2") == (2, 2))
        try await stack.registry.setAlias(model: "m", alias: "staging", version: 2, by: "t")
    }

    @Test func unsupportedModelsAreRefusedAtRegistration() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let linear = try Data(contentsOf: TestStack.repositoryRoot.appendingPathComponent(
            "Tests/FerryRuntimesTests/Fixtures/xgboost/unsupported/gblinear.model.json"))
        do {
            _ = try await stack.registry.register(.init(model: "d", artifact: linear, createdBy: "t"))
            Issue.record("gblinear was accepted")
        } catch let error as FerryError {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("gblinear"))
        }
        #expect(try await stack.registry.models().isEmpty, "nothing half-registered")
    }

    @Test func schemaOverrideMustMatchTheModel() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let model = try TestStack.exampleModel()
        let names = try TestStack.exampleExpectations().feature_names
        var features = names.map { FeatureSpec(name: $0) }
        features[0].nullable = false
        let v = try await stack.registry.register(.init(model: "f", artifact: model, inputSchema: InputSchema(features: features), createdBy: "t"))
        #expect(v.inputSchema.features[0].nullable == false)
        features[1].name = "renamed"
        await #expect(throws: FerryError.self) {
            _ = try await stack.registry.register(.init(model: "f", artifact: model, inputSchema: InputSchema(features: features), createdBy: "t"))
        }
    }

    @Test func aTamperedArtifactIsRefusedAtLoad() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        try await stack.registerFake("a", value: 1)
        let v2 = try await stack.registry.register(.init(
            model: "b", format: FakeRuntime.format, artifact: FakeRuntime.Spec(value: 5).artifact, createdBy: "t"))
        // A fresh engine over the same files, so nothing is cached in memory.
        let file = stack.folder.appendingPathComponent("artifacts/sha256/\(v2.artifact.sha256.prefix(2))/\(v2.artifact.sha256)")
        try FakeRuntime.Spec(value: 6).artifact.write(to: file)
        let fresh = ModelManager(store: stack.store, artifacts: stack.artifacts,
                                 runtimes: RuntimeCatalog([FakeRuntime()]), logger: .init(label: "t"))
        do {
            _ = try await fresh.served(model: "b", selector: .default)
            Issue.record("tampered artifact loaded")
        } catch let error as FerryError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("failed verification"))
        }
    }

    @Test func aVersionThatCannotLoadDoesNotTakeTheAlias() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        try await stack.registerFake("m", value: 1)
        try await stack.registry.setAlias(model: "m", alias: "production", version: 1, by: "t")
        // Version 2 fails every prediction, so its warm-up fails.
        _ = try await stack.registry.register(.init(
            model: "m", format: FakeRuntime.format, artifact: FakeRuntime.Spec(fail: true).artifact, createdBy: "t"))
        await #expect(throws: FerryError.self) {
            try await stack.registry.setAlias(model: "m", alias: "production", version: 2, by: "t")
        }
        #expect(try await stack.registry.aliases(model: "m").first?.version == 1)
        #expect(try await value(stack, "m") == (1, 1))
    }

    @Test func aliasMovesUnderConcurrentLoadFailNoRequest() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        for v in 1...4 { try await stack.registerFake("m", value: Float(v)) }
        try await stack.registry.setAlias(model: "m", alias: "production", version: 1, by: "t")
        let seen = try await withThrowingTaskGroup(of: Set<Int>.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var versions = Set<Int>()
                    for _ in 0..<200 {
                        let (version, v) = try await value(stack, "m")
                        #expect(Float(version) == v, "version \(version) answered with \(v)")
                        versions.insert(version)
                    }
                    return versions
                }
            }
            group.addTask {
                for target in [2, 3, 4, 1, 2] {
                    try await stack.registry.setAlias(model: "m", alias: "production", version: target, by: "t")
                }
                return []
            }
            return try await group.reduce(into: Set<Int>()) { $0.formUnion($1) }
        }
        #expect(seen.isSubset(of: [1, 2, 3, 4]))
        #expect(try await value(stack, "m").0 == 2)
    }

    @Test func modelNamesAreValidated() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        for bad in ["", "a/b", "../x", "123", "with space", String(repeating: "x", count: 200)] {
            await #expect(throws: FerryError.self, "\(bad)") { _ = try await stack.registry.createModel(name: bad, by: "t") }
        }
    }
}

struct LocalArtifactStoreTests {
    @Test func storesContentAddressedAndVerifiesOnRead() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-art-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try LocalArtifactStore(root: folder)
        let data = Data("hello".utf8)
        let ref = try await store.put(data)
        #expect(ref.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try await store.put(data) == ref, "idempotent")
        #expect(try await store.get(ref) == data)
        let file = folder.appendingPathComponent("sha256/2c/\(ref.sha256)")
        try Data("hellO".utf8).write(to: file)
        await #expect(throws: FerryError.self) { _ = try await store.get(ref) }
        try await store.delete(sha256: ref.sha256)
        #expect(try await store.contains(sha256: ref.sha256) == false)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("tmp").path)
        #expect(leftovers.isEmpty, "no temporary files left behind")
    }

    /// A write refused for want of space (here a real one, to /dev/full) is said as such, as unavailable (503): not an
    /// internal error. scripts/robustness/full-disk.sh fills a real artifact folder.
    @Test func aFullDiskIsSaidAsSuch() throws {
        let full = open("/dev/full", O_WRONLY)
        try #require(full >= 0, "/dev/full is needed")
        defer { close(full) }
        #expect(write(full, "x", 1) == -1)
        let error = LocalArtifactStore.posixError("write /dev/full")
        #expect(error.code == .unavailable && error.message.contains(String(cString: strerror(ENOSPC))), "\(error)")
        errno = EACCES
        #expect(LocalArtifactStore.posixError("write x").code == .internal, "other failures stay internal")
    }
}
