import FerryCore
import Foundation

/// The behaviour every `MetadataStore` must show, as async checks any test framework can run.
///
/// A store's test target runs each case against a fresh, empty store:
/// `@Test(arguments: MetadataStoreConformance.cases) func conformance(_ c: ConformanceCase<any MetadataStore>)`.
public enum MetadataStoreConformance {
    public static let cases: [ConformanceCase<any MetadataStore>] = [
        .init("models are created, listed by name and refused twice") { store in
            try await store.createModel(Fixtures.model("zeta"))
            try await store.createModel(Fixtures.model("alpha", description: "first", tags: ["team": "risk"]))
            let all = try await store.models()
            try expect(all.map(\.name) == ["alpha", "zeta"], "models() is ordered by name: \(all.map(\.name))")
            let alpha = try await store.model(named: "alpha")
            try expect(alpha == Fixtures.model("alpha", description: "first", tags: ["team": "risk"]), "round trip: \(String(describing: alpha))")
            try await expectError(.alreadyExists) { try await store.createModel(Fixtures.model("alpha")) }
            try expect(try await store.model(named: "missing") == nil, "unknown model is nil")
        },
        .init("model summaries come in pages by name with the newest version and the aliases") { store in
            for name in ["c", "a", "d", "b"] { try await store.createModel(Fixtures.model(name)) }
            for _ in 0..<3 { _ = try await store.addVersion(Fixtures.version("b")) }
            _ = try await store.addVersion(Fixtures.version("c"))
            try await store.setAlias(model: "b", alias: "staging", version: 3, by: "t", at: Fixtures.time, reason: "", audit: nil)
            try await store.setAlias(model: "b", alias: "production", version: 2, by: "t", at: Fixtures.time, reason: "", audit: nil)
            let first = try await store.modelSummaries(after: nil, limit: 2)
            try expect(first.map(\.model.name) == ["a", "b"] && first.map(\.latestVersion) == [nil, 3], "\(first)")
            try expect(first[1].aliases.map { "\($0.name)=\($0.version)" } == ["production=2", "staging=3"] && first[0].aliases.isEmpty, "\(first)")
            try expect(first[0].model == Fixtures.model("a"), "the model round-trips: \(first[0].model)")
            let rest = try await store.modelSummaries(after: "b", limit: 2)
            try expect(rest.map(\.model.name) == ["c", "d"] && rest.map(\.latestVersion) == [1, nil] && rest.allSatisfy(\.aliases.isEmpty), "\(rest)")
            try expect(try await store.modelSummaries(after: "d", limit: 2).isEmpty, "after the last")
        },
        .init("model description and tags can be updated") { store in
            try await store.createModel(Fixtures.model("m"))
            var m = Fixtures.model("m")
            m.description = "new"
            m.tags = ["k": "v"]
            try await store.updateModel(m)
            try expect(try await store.model(named: "m") == m, "update kept")
            try await expectError(.notFound) { try await store.updateModel(Fixtures.model("other")) }
        },
        .init("versions are numbered from 1 per model and round-trip every field") { store in
            try await store.createModel(Fixtures.model("a"))
            try await store.createModel(Fixtures.model("b"))
            let a1 = try await store.addVersion(Fixtures.version("a"))
            let a2 = try await store.addVersion(Fixtures.version("a", digest: "bb"))
            let b1 = try await store.addVersion(Fixtures.version("b"))
            try expect([a1.version, a2.version, b1.version] == [1, 2, 1], "numbers: \([a1.version, a2.version, b1.version])")
            var expected = Fixtures.version("a", digest: "bb")
            expected.version = 2
            try expect(try await store.version(model: "a", number: 2) == expected, "round trip of every field")
            try expect(a2 == expected, "addVersion returns what is stored")
            try expect(try await store.versions(model: "a").map(\.version) == [1, 2], "ascending")
            try expect(try await store.version(model: "a", number: 3) == nil, "unknown version is nil")
            try await expectError(.notFound) { _ = try await store.addVersion(Fixtures.version("nope")) }
        },
        .init("concurrent version registrations get distinct numbers") { store in
            try await store.createModel(Fixtures.model("c"))
            let numbers = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<20 { group.addTask { try await store.addVersion(Fixtures.version("c", digest: "d\(i)")).version } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            try expect(numbers.sorted() == Array(1...20), "numbers \(numbers.sorted())")
        },
        .init("versions are found by artifact digest") { store in
            try await store.createModel(Fixtures.model("a"))
            try await store.createModel(Fixtures.model("b"))
            _ = try await store.addVersion(Fixtures.version("a", digest: "shared"))
            _ = try await store.addVersion(Fixtures.version("b", digest: "shared"))
            _ = try await store.addVersion(Fixtures.version("b", digest: "other"))
            let found = try await store.versions(artifactSHA256: "shared")
            try expect(found.map { "\($0.model)/\($0.version)" } == ["a/1", "b/1"], "found \(found.map { "\($0.model)/\($0.version)" })")
        },
        .init("archiving flags a version and can be undone") { store in
            try await store.createModel(Fixtures.model("a"))
            _ = try await store.addVersion(Fixtures.version("a"))
            try expect(try await store.setArchived(model: "a", number: 1, archived: true).archived, "archived")
            try expect(try await store.version(model: "a", number: 1)?.archived == true, "archived persisted")
            try expect(try await store.setArchived(model: "a", number: 1, archived: false).archived == false, "unarchived")
            try await expectError(.notFound) { _ = try await store.setArchived(model: "a", number: 9, archived: true) }
        },
        .init("an archived version takes no alias (checked in the alias's transaction)") { store in
            try await store.createModel(Fixtures.model("a"))
            _ = try await store.addVersion(Fixtures.version("a"))
            _ = try await store.setArchived(model: "a", number: 1, archived: true)
            try await expectError(.failedPrecondition) {
                try await store.setAlias(model: "a", alias: "staging", version: 1, by: "ann", at: Fixtures.time, reason: "")
            }
            try expect(try await store.aliases(model: "a").isEmpty, "no alias")
        },
        .init("aliases move and every move is kept in order") { store in
            try await store.createModel(Fixtures.model("a"))
            for i in 0..<3 { _ = try await store.addVersion(Fixtures.version("a", digest: "v\(i)")) }
            let t = Fixtures.time
            let e1 = try await store.setAlias(model: "a", alias: "production", version: 1, by: "ann", at: t, reason: "first")
            try await store.setAlias(model: "a", alias: "staging", version: 3, by: "bob", at: t.addingTimeInterval(1), reason: "")
            let e3 = try await store.setAlias(model: "a", alias: "production", version: 2, by: "ann", at: t.addingTimeInterval(2), reason: "better")
            try expect(e1.from == nil && e1.to == 1, "creation event \(e1)")
            try expect(e3.from == 1 && e3.to == 2 && e3.sequence > e1.sequence, "move event \(e3)")
            let aliases = try await store.aliases(model: "a")
            try expect(aliases.map { "\($0.name)=\($0.version)" } == ["production=2", "staging=3"], "aliases \(aliases)")
            try expect(aliases[0].updatedBy == "ann" && aliases[0].updatedAt == t.addingTimeInterval(2), "who and when")
            let history = try await store.aliasHistory(model: "a", alias: "production")
            try expect(history.map(\.to) == [1, 2] && history.map(\.reason) == ["first", "better"], "history \(history)")
            try expect(history[1].at == t.addingTimeInterval(2) && history[1].by == "ann", "event time and actor")
            try expect(try await store.aliasHistory(model: "a", alias: nil).count == 3, "all aliases' history")
        },
        .init("a version registered with aliases commits with them, or neither commits") { store in
            try await store.createModel(Fixtures.model("a"))
            _ = try await store.addVersion(Fixtures.version("a"))
            try await store.setAlias(model: "a", alias: "production", version: 1, by: "ann", at: Fixtures.time, reason: "")
            let v2 = try await store.addVersion(Fixtures.version("a", digest: "v2"), aliases: ["production", "staging"], reason: "set at registration", audit: nil)
            let aliases = try await store.aliases(model: "a")
            try expect(aliases.map { "\($0.name)=\($0.version)" } == ["production=2", "staging=2"], "aliases \(aliases)")
            let history = try await store.aliasHistory(model: "a", alias: "production")
            try expect(history.map(\.from) == [nil, 1] && history.last?.to == v2.version, "history \(history)")
            try expect(history.last?.by == Fixtures.version("a").createdBy && history.last?.reason == "set at registration", "who and why")
            struct Refused: Error {}
            do {
                _ = try await store.addVersion(Fixtures.version("a", digest: "v3"), aliases: ["production"], reason: "", audit: { _ in throw Refused() })
                throw ConformanceFailure(description: "a failing audit builder did not abort addVersion")
            } catch is Refused {}
            try expect(try await store.versions(model: "a").count == 2, "the refused version was not stored")
            try expect(try await store.aliases(model: "a").first?.version == 2, "the alias did not move")
            try expect(try await store.aliasHistory(model: "a", alias: nil).count == 3, "no history for the refused move")
        },
        .init("reference profiles are stored per version and replaced") { store in
            try await store.createModel(Fixtures.model("a"))
            _ = try await store.addVersion(Fixtures.version("a"))
            let first = ReferenceProfile(
                rows: 3, features: [DistributionProfile.numeric("x", [1, 2, .nan])], outputs: [DistributionProfile.categorical("y", ["a", nil])],
                createdBy: "t", createdAt: Fixtures.time)
            try await store.setReferenceProfile(model: "a", version: 1, profile: first)
            try expect(try await store.referenceProfile(model: "a", version: 1) == first, "round trip")
            var second = first
            second.rows = 9
            try await store.setReferenceProfile(model: "a", version: 1, profile: second)
            try expect(try await store.referenceProfile(model: "a", version: 1)?.rows == 9, "replaced")
            try expect(try await store.referenceProfile(model: "a", version: 2) == nil, "none for another version")
            try await expectError(.notFound) { try await store.setReferenceProfile(model: "a", version: 5, profile: first) }
        },
        .init("removing an alias is recorded; bad targets are refused") { store in
            try await store.createModel(Fixtures.model("a"))
            _ = try await store.addVersion(Fixtures.version("a"))
            try await store.setAlias(model: "a", alias: "staging", version: 1, by: "x", at: Fixtures.time, reason: "")
            let removal = try await store.setAlias(model: "a", alias: "staging", version: nil, by: "y", at: Fixtures.time, reason: "")
            try expect(removal.from == 1 && removal.to == nil, "removal event \(removal)")
            try expect(try await store.aliases(model: "a").isEmpty, "alias gone")
            try expect(try await store.aliasHistory(model: "a", alias: "staging").count == 2, "history kept")
            try await expectError(.notFound) {
                try await store.setAlias(model: "a", alias: "staging", version: nil, by: "y", at: Fixtures.time, reason: "")
            }
            try await expectError(.notFound) {
                try await store.setAlias(model: "a", alias: "p", version: 7, by: "y", at: Fixtures.time, reason: "")
            }
            try await expectError(.notFound) {
                try await store.setAlias(model: "zz", alias: "p", version: 1, by: "y", at: Fixtures.time, reason: "")
            }
        },
    ]
}

/// One named conformance check, run against a fresh instance of the port it tests.
public struct ConformanceCase<Subject>: Sendable, CustomStringConvertible {
    public let description: String
    public let run: @Sendable (Subject) async throws -> Void

    public init(_ description: String, run: @escaping @Sendable (Subject) async throws -> Void) {
        self.description = description
        self.run = run
    }
}

/// A failed conformance expectation.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(description: message()) }
}

func expectError(_ code: FerryError.Code, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as FerryError {
        try expect(error.code == code, "expected a \(code) error, got \(error.code): \(error.message)")
        return
    }
    throw ConformanceFailure(description: "expected a \(code) error, got success")
}
