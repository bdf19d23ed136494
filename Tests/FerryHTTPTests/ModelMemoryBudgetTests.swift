import FerryCore
@testable import FerryHTTP
import FerryEngine
import FerryRuntimes
import FerryTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
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
        let resident = metrics.split(separator: "\n").first { $0.hasPrefix("ferry_models_memory_bytes ") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        #expect(metrics.contains("\nferry_models_loaded 2\n") && resident > bytes && resident <= bytes * 2 + bytes / 2, "the residency the budget counts: \(resident)")
    }

    @Test func versionsIdleSinceRegistrationHaveNoSeriesOfTheirOwnButCountInTheTotals() async throws {
        let bytes = try await Self.modelBytes()
        let stack = try await TestStack { $0.modelMemoryBudget = bytes * 2 + bytes / 2 }  // room for two
        defer { stack.tearDown() }
        // Each registration loads its version; the third pushes the first out. Nothing asks for any of them.
        try await Self.register(stack, ["a", "b", "c"])
        var metrics = PrometheusExposition.render(stack.models.metrics)
        #expect(!metrics.contains(#"{model="a",version="1"}"#), "a, loaded once and unloaded, idle: no series")
        #expect(metrics.contains(#"ferry_model_loaded{model="c",version="1"} 1"#))
        #expect(metrics.contains("\nferry_models_loads_total 3\n") && metrics.contains("\nferry_models_unloads_total 1\n"), "\(metrics.prefix(3000))")
        // Asked for, a has its series again.
        _ = try await stack.dataPlane.predict(model: "a", version: nil, instances: [.values(Array(repeating: .number(0), count: 12))])
        metrics = PrometheusExposition.render(stack.models.metrics)
        #expect(metrics.contains(#"ferry_inference_requests_total{model="a",version="1"} 1"#))
        #expect(metrics.contains(#"ferry_model_loads_total{model="a",version="1"} 2"#))
    }

    /// At start, aliased versions load first, and loading stops at the first version that does not fit: before, the
    /// check was "the budget is full", which unloading kept from ever holding, so every version loaded and unloaded.
    @Test func aWarmStartLoadsAliasedVersionsFirstAndStopsWhenTheBudgetIsFull() async throws {
        let bytes = try await Self.modelBytes()
        let stack = try await TestStack()
        defer { stack.tearDown() }
        try await Self.register(stack, ["a", "b", "c", "d", "e"])
        try await Self.register(stack, ["z"], alias: true)
        let restarted = ModelManager(
            store: stack.store, artifacts: stack.artifacts, runtimes: RuntimeCatalog([XGBoostRuntime()]), logger: .init(label: "t"),
            memoryBudget: bytes * 2 + bytes / 2)  // room for two
        await restarted.warmStart()
        let loaded = restarted.loadedVersions.map(\.model)
        #expect(loaded.count == 2 && loaded.contains("z"), "the aliased version first, then until one did not fit: \(loaded)")
        let metrics = PrometheusExposition.render(restarted.metrics)
        #expect(metrics.contains("\nferry_models_loads_total 2\n") && metrics.contains("\nferry_models_unloads_total 0\n"), "two loads, not six loads and four unloads: \(metrics.split(separator: "\n").filter { $0.hasPrefix("ferry_models_") })")
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

    /// A request for a version that is not in memory waits for its load at most `coldLoadWait`, then gets 503 with
    /// Retry-After; the load goes on, and a later request finds the version ready. Requests arriving during one load
    /// share it (one load is counted). Metadata is answered without loading.
    @Test func aSlowColdLoadAnswers503WithRetryAfterAndFinishesInTheBackground() async throws {
        try await withFerry(serving: ServingPolicy(coldLoadWait: 0.05), example: false) { client, stack in
            let spec = FakeRuntime.Spec(loadDelayMillis: 2000)
            try await stack.registry.register(.init(model: "slow", format: FakeRuntime.format, artifact: spec.artifact, createdBy: "t"))
            stack.models.unload(model: "slow", version: 1)
            let metadata = try await client.get("/v2/models/slow")
            #expect(metadata.status == .ok && metadata.json["name"] as? String == "slow", "\(metadata.text)")
            #expect(try await !stack.models.isLoaded(model: "slow", selector: .number(1)), "metadata needs no load (it would unload another version)")
            let row = #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}"#
            async let first = client.post("/v2/models/slow/infer", row)
            async let second = client.post("/v2/models/slow/infer", row)
            for cold in try await [first, second] {
                #expect(cold.status == .serviceUnavailable && cold.headers[.retryAfter] == "1", "\(cold.status) \(cold.text)")
                #expect(cold.errorMessage.contains("version 1 of model 'slow' is loading") && cold.errorMessage.contains("0.05 s"), "\(cold.text)")
            }
            var loaded = false
            for _ in 0..<1000 where !loaded {
                try await Task.sleep(for: .milliseconds(10))
                loaded = try await stack.models.isLoaded(model: "slow", selector: .number(1))
            }
            #expect(loaded, "the load went on after the requests gave up")
            let warm = try await client.post("/v2/models/slow/infer", row)
            #expect(warm.status == .ok, "\(warm.text)")
            let loads = PrometheusExposition.render(stack.models.metrics).split(separator: "\n")
                .first { $0.hasPrefix(#"ferry_model_loads_total{model="slow",version="1"} "#) }
            #expect(loads?.hasSuffix(" 2") == true, "one load at registration and one shared by both cold requests: \(loads ?? "none")")
        }
    }
}
