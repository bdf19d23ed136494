import FerryCore
@testable import FerryHTTP
import FerryEngine
import FerryTesting
import Foundation
import Testing

/// `--model-memory-budget`: past the budget the least recently used versions are unloaded, the next request loads
/// them again, loads and unloads are counted, and `--pin-aliased` keeps aliased versions.
struct ModelMemoryBudgetTests {
    static func register(_ stack: TestStack, _ names: [String], alias: Bool = false) async throws {
        for name in names {
            let version = try await stack.registry.register(.init(model: name, artifact: try TestStack.exampleModel(), createdBy: "test"))
            if alias { try await stack.registry.setAlias(model: name, alias: "production", version: version.version, by: "test") }
        }
    }

    static func loaded(_ stack: TestStack, _ names: [String]) async throws -> [String] {
        var out: [String] = []
        for name in names where try await stack.models.isLoaded(model: name, selector: .number(1)) { out.append(name) }
        return out
    }

    /// The memory one loaded example model holds.
    static func modelBytes() async throws -> Int {
        let probe = try await TestStack()
        defer { probe.tearDown() }
        try await register(probe, ["probe"])
        return try await probe.models.served(model: "probe", selector: .number(1)).predictor.memoryBytes
    }

    @Test func theLeastRecentlyUsedVersionsAreUnloadedAndReloadOnTheirNextRequest() async throws {
        let bytes = try await Self.modelBytes()
        #expect(bytes > 0)
        let stack = try await TestStack { $0.modelMemoryBudget = bytes * 2 + bytes / 2 }  // room for two
        defer { stack.tearDown() }
        let names = ["a", "b", "c"]
        try await Self.register(stack, names)
        for name in ["a", "b", "c"] { _ = try await stack.models.served(model: name, selector: .number(1)) }
        #expect(try await Self.loaded(stack, names) == ["b", "c"], "a, used least recently, made room for c")
        _ = try await stack.models.served(model: "b", selector: .number(1))
        let again = try await stack.models.served(model: "a", selector: .number(1))
        #expect(try again.predictor.predict(FeatureMatrix(rows: 1, columns: 12, values: .init(repeating: 0, count: 12))).count > 0)
        #expect(try await Self.loaded(stack, names) == ["a", "b"], "a reloaded; c, now least recently used, went")
        // Registration loads a version too, so count from the figures: every unload of a was followed by a load.
        let metrics = PrometheusExposition.render(stack.models.metrics)
        func count(_ name: String, _ model: String) -> Int? {
            metrics.split(separator: "\n").first { $0.hasPrefix("\(name){model=\"\(model)\",version=\"1\"} ") }
                .flatMap { Int($0.split(separator: " ").last ?? "") }
        }
        let (loads, unloads) = (count("ferry_model_loads_total", "a") ?? 0, count("ferry_model_unloads_total", "a") ?? 0)
        #expect(unloads >= 1 && loads == unloads + 1, "a: \(loads) loads, \(unloads) unloads")
        #expect((count("ferry_model_unloads_total", "c") ?? 0) >= 1 && count("ferry_model_loaded", "c") == 0)
    }

    @Test func aliasedVersionsArePinnedWhenAsked() async throws {
        let bytes = try await Self.modelBytes()
        let stack = try await TestStack {
            $0.modelMemoryBudget = bytes + bytes / 2  // room for one
            $0.pinAliased = true
        }
        defer { stack.tearDown() }
        try await Self.register(stack, ["pinned"], alias: true)
        try await Self.register(stack, ["b", "c"])
        for name in ["pinned", "b", "c"] { _ = try await stack.models.served(model: name, selector: .number(1)) }
        #expect(try await Self.loaded(stack, ["pinned", "b", "c"]) == ["pinned", "c"], "over budget rather than unload the aliased version")
    }
}
