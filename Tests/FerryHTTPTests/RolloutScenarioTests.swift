import FerryCore
import FerryEngine
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// Rollouts driven end to end under concurrent in-process load: every client request must succeed throughout.
struct RolloutScenarioTests {
    static let gates = #"{"min_requests": 30, "max_error_rate_increase": 0.01, "max_latency_ratio": 1000, "latency_slack_seconds": 1, "max_output_psi": 0.25}"#

    /// Registers fake versions of model "m" (3 features; predicts value + sum of the row) and an endpoint "ep" on v1.
    static func setUp(_ stack: TestStack, _ client: any TestClientProtocol, candidates: [FakeRuntime.Spec]) async throws {
        try await stack.registry.register(.init(model: "m", format: FakeRuntime.format, artifact: FakeRuntime.Spec(value: 0).artifact, createdBy: "t"))
        for spec in candidates {
            try await stack.registry.register(.init(model: "m", format: FakeRuntime.format, artifact: spec.artifact, createdBy: "t"))
        }
        let put = try await client.execute(
            uri: "/api/v1/endpoints/ep", method: .put, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"variants": [{"model": "m", "version": 1, "weight": 100}], "sticky_header": "X-Customer-Id"}"#))
        #expect(put.status == .ok, "\(put.text)")
    }

    /// Sends `count` requests from 8 concurrent clients; returns the statuses and who served them.
    static func load(_ client: any TestClientProtocol, _ count: Int) async throws -> (failures: [String], servedBy: [String: Int]) {
        let results = try await withThrowingTaskGroup(of: [(String?, String)].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mine: [(String?, String)] = []
                    for i in stride(from: worker, to: count, by: 8) {
                        let row = (0..<3).map { _ in String(Double.random(in: 0..<1)) }.joined(separator: ",")
                        let body = #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[\#(row)]}]}"#
                        let response = try await client.post(
                            "/v2/models/ep/infer", body,
                            headers: [.contentType: "application/json", HTTPField.Name("X-Customer-Id")!: "c\(i)"])
                        mine.append((response.status == .ok ? nil : "\(response.status): \(response.text)",
                                     response.headers[HTTPField.Name("Ferry-Served-By")!] ?? "?"))
                    }
                    return mine
                }
            }
            var all: [(String?, String)] = []
            for try await part in group { all += part }
            return all
        }
        var servedBy: [String: Int] = [:]
        for (_, who) in results { servedBy[who, default: 0] += 1 }
        return (results.compactMap(\.0), servedBy)
    }

    static func start(_ client: any TestClientProtocol, _ body: String) async throws -> TestResponse {
        try await client.post("/api/v1/endpoints/ep/rollout", body)
    }

    static func events(_ client: any TestClientProtocol) async throws -> [[String: Any]] {
        try await client.get("/api/v1/endpoints/ep/rollout/events").json["items"] as? [[String: Any]] ?? []
    }

    @Test func aHealthyCandidateIsPromotedStepByStep() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0.001)])
            let started = try await Self.start(client, #"{"version": 2, "steps": [5, 25, 50, 100], "bake_seconds": 0, "gates": \#(Self.gates)}"#)
            #expect(started.status == .created, "\(started.text)")
            var failures: [String] = []
            for _ in 0..<100 {
                let round = try await Self.load(client, 200)
                failures += round.failures
                await stack.endpoints.tick()
                if stack.endpoints.rollout(endpoint: "ep")?.status != .running { break }
            }
            #expect(failures.isEmpty, "\(failures.prefix(3))")
            let rollout = stack.endpoints.rollout(endpoint: "ep")
            #expect(rollout?.status == .promoted, "\(String(describing: rollout))")
            let actions = try await Self.events(client).map { $0["action"] as? String ?? "" }
            #expect(actions == ["started", "advanced", "advanced", "advanced", "promoted"], "\(actions)")
            let percents = try await Self.events(client).map { $0["to_percent"] as? Double ?? -1 }
            #expect(percents == [5, 25, 50, 100, 100])
            let after = try await Self.load(client, 50)
            #expect(after.failures.isEmpty && after.servedBy == ["m/2": 50], "\(after.servedBy)")
        }
    }

    @Test(arguments: [
        (FakeRuntime.Spec(value: 0, failRequests: true), "error_rate"),
        (FakeRuntime.Spec(value: 5), "output_psi"),
    ])
    func aBadCandidateIsRolledBackAtTheFirstGate(_ candidate: FakeRuntime.Spec, _ gate: String) async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [candidate])
            let started = try await Self.start(client, #"{"version": 2, "steps": [20, 50, 100], "bake_seconds": 0, "gates": \#(Self.gates)}"#)
            #expect(started.status == .created, "\(started.text)")
            var failures: [String] = []
            for _ in 0..<40 {
                failures += try await Self.load(client, 200).failures
                await stack.endpoints.tick()
                if stack.endpoints.rollout(endpoint: "ep")?.status != .running { break }
            }
            #expect(failures.isEmpty, "a failing candidate's requests are answered by the stable version: \(failures.prefix(3))")
            let rollout = try #require(stack.endpoints.rollout(endpoint: "ep"))
            #expect(rollout.status == .rolledBack && rollout.reason?.contains("gate failed at 20%: \(gate)") == true, "\(rollout)")
            let events = try await Self.events(client)
            #expect(events.map { $0["action"] as? String } == ["started", "rolled_back"])
            let failed = (events.last?["gates"] as? [[String: Any]])?.first { $0["gate"] as? String == gate }
            #expect(failed?["passed"] as? Bool == false, "the event keeps the numbers: \(String(describing: events.last))")
            let after = try await Self.load(client, 50)
            #expect(after.failures.isEmpty && after.servedBy == ["m/1": 50], "\(after.servedBy)")
        }
    }

    /// Same outputs, same errors, same latency: only ground truth tells the candidate is worse. Labels posted as
    /// feedback make the stable version always right and the candidate always wrong; the accuracy gate rolls back.
    @Test func aCandidateWorseOnFeedbackIsRolledBackByTheAccuracyGate() async throws {
        try await withFerry(example: false) { client, stack in
            let classifier = FakeRuntime.Spec(value: 0, task: "binary_classification")
            try await stack.registry.register(.init(model: "m", format: FakeRuntime.format, artifact: classifier.artifact, createdBy: "t"))
            try await stack.registry.register(.init(model: "m", format: FakeRuntime.format, artifact: classifier.artifact, createdBy: "t"))
            try await Self.putEndpoint(client)
            let started = try await Self.start(client, #"{"version": 2, "steps": [20, 100], "bake_seconds": 0, "gates": {"min_requests": 30, "min_labels": 20, "max_accuracy_drop": 0.1, "max_latency_ratio": 1000, "latency_slack_seconds": 1}}"#)
            #expect(started.status == .created, "\(started.text)")
            var failures = 0
            for _ in 0..<10 {
                var feedback: [String] = []
                for i in 0..<300 {
                    let row = (0..<3).map { _ in String(Double.random(in: 0..<0.33)) }.joined(separator: ",")
                    let response = try await client.post(
                        "/v2/models/ep/infer", #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[\#(row)]}]}"#,
                        headers: [.contentType: "application/json", HTTPField.Name("X-Customer-Id")!: "c\(i)"])
                    guard response.status == .ok, let parameters = response.json["parameters"] as? [String: Any],
                          let id = parameters["prediction_id"] as? String,
                          let p = ((response.json["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.first else {
                        failures += 1
                        continue
                    }
                    let right = p >= 0.5 ? 1 : 0
                    let label = parameters["served_by"] as? String == "m/1" ? right : 1 - right
                    feedback.append(#"{"prediction_id": "\#(id)", "label": \#(label)}"#)
                }
                await stack.predictionLogger.flush()
                let posted = try await client.post("/api/v1/feedback", "[\(feedback.joined(separator: ","))]")
                #expect(posted.status == .ok, "\(posted.text)")
                await stack.endpoints.tick()
                if stack.endpoints.rollout(endpoint: "ep")?.status != .running { break }
            }
            #expect(failures == 0)
            let rollout = try #require(stack.endpoints.rollout(endpoint: "ep"))
            #expect(rollout.status == .rolledBack && rollout.reason?.contains("accuracy_drop 1 over the limit 0.1") == true, "\(rollout)")
        }
    }

    static func putEndpoint(_ client: any TestClientProtocol) async throws {
        let put = try await client.execute(
            uri: "/api/v1/endpoints/ep", method: .put, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"variants": [{"model": "m", "version": 1, "weight": 100}], "sticky_header": "X-Customer-Id"}"#))
        #expect(put.status == .ok, "\(put.text)")
    }

    /// A second rollout starts with no verdicts (not the previous one's), its events are numbered from 1 for its
    /// endpoint, and a promoted candidate that was shadowed is no longer shadowed.
    @Test func aNewRolloutStartsCleanAndAPromotedShadowIsDropped() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0, failRequests: true), FakeRuntime.Spec(value: 0.001)])
            let other = try await client.execute(
                uri: "/api/v1/endpoints/other", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"variants": [{"model": "m", "version": 1, "weight": 100}]}"#))
            #expect(other.status == .ok)
            #expect(try await Self.start(client, #"{"version": 2, "steps": [20, 100], "bake_seconds": 0, "gates": \#(Self.gates)}"#).status == .created)
            for _ in 0..<40 {
                _ = try await Self.load(client, 200)
                await stack.endpoints.tick()
                if stack.endpoints.rollout(endpoint: "ep")?.status != .running { break }
            }
            #expect(stack.endpoints.rollout(endpoint: "ep")?.status == .rolledBack)
            #expect(!stack.endpoints.lastEvaluation(endpoint: "ep").gates.isEmpty, "the failed rollout was judged")
            // Something on the other endpoint, so a global counter would show.
            #expect(try await client.post("/api/v1/endpoints/other/rollout", #"{"version": 3, "strategy": "blue-green"}"#).status == .created)

            let shadowed = try await client.execute(
                uri: "/api/v1/endpoints/ep", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"variants": [{"model": "m", "version": 1, "weight": 100}], "shadows": [{"model": "m", "version": 3, "share": 1}]}"#))
            #expect(shadowed.status == .ok, "\(shadowed.text)")
            let fresh = try await Self.start(client, #"{"version": 3, "steps": [50, 100], "bake_seconds": 3600, "gates": \#(Self.gates)}"#)
            #expect(fresh.status == .created, "\(fresh.text)")
            #expect((fresh.json["gates"] as? [Any])?.isEmpty ?? true, "no verdicts before the first evaluation: \(fresh.text)")
            let status = try await client.get("/api/v1/endpoints/ep")
            #expect(((status.json["rollout"] as? [String: Any])?["gates"] as? [Any])?.isEmpty == true, "\(status.text)")
            let events = try await Self.events(client)
            #expect(events.map { $0["sequence"] as? Int } == [1, 2, 3], "per-endpoint numbers: \(events)")

            let promoted = try await client.post("/api/v1/endpoints/ep/rollout/promote", "")
            #expect(promoted.status == .ok, "\(promoted.text)")
            let endpoint = try await client.get("/api/v1/endpoints/ep")
            #expect(((endpoint.json["endpoint"] as? [String: Any])?["shadows"] as? [Any])?.isEmpty == true, "\(endpoint.text)")
        }
    }

    @Test func blueGreenSwitchesAtOnceAndRollsBackInstantly() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0.001)])
            let started = try await Self.start(client, #"{"version": 2, "strategy": "blue-green", "bake_seconds": 3600}"#)
            #expect(started.status == .created && started.json["candidate_percent"] as? Double == 100, "\(started.text)")
            let switched = try await Self.load(client, 100)
            #expect(switched.failures.isEmpty && switched.servedBy == ["m/2": 100], "\(switched.servedBy)")
            #expect(try await stack.models.isLoaded(model: "m", selector: .number(1)), "the old version stays loaded")
            let back = try await client.post("/api/v1/endpoints/ep/rollout/rollback", "")
            #expect(back.status == .ok && (back.json["rollout"] as? [String: Any])?["status"] as? String == "rolled_back", "\(back.text)")
            let reverted = try await Self.load(client, 100)
            #expect(reverted.failures.isEmpty && reverted.servedBy == ["m/1": 100], "\(reverted.servedBy)")
            let again = try await client.post("/api/v1/endpoints/ep/rollout/promote", "")
            #expect(again.status == .conflict && again.errorMessage.contains("already been rolled back"))
        }
    }

    @Test func shadowsSeeTrafficButNeverAnswer() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0.5), FakeRuntime.Spec(value: 0, failRequests: true)])
            let put = try await client.execute(
                uri: "/api/v1/endpoints/ep", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"variants": [{"model": "m", "version": 1, "weight": 1}], "shadows": [{"model": "m", "version": 2, "share": 1}, {"model": "m", "version": 3, "share": 0.5}]}"#))
            #expect(put.status == .ok, "\(put.text)")
            let result = try await Self.load(client, 300)
            #expect(result.failures.isEmpty && result.servedBy == ["m/1": 300], "\(result.servedBy)")
            // Mirrors run off the request path; wait until they have all reported (bounded, not a timing assertion).
            var reports: [[String: Any]] = []
            for _ in 0..<500 {
                reports = try await client.get("/api/v1/endpoints/ep/shadow").json["items"] as? [[String: Any]] ?? []
                let done = reports.reduce(0) { $0 + ($1["compared"] as? Int ?? 0) + ($1["shadow_errors"] as? Int ?? 0) + ($1["skipped"] as? Int ?? 0) }
                if done >= 300 + 100 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let good = try #require(reports.first { ($0["shadow"] as? [String: Any])?["version"] as? Int == 2 })
            #expect((good["compared"] as? Int ?? 0) + (good["skipped"] as? Int ?? 0) == 300, "\(good)")
            #expect(abs((good["mean_abs_difference"] as? Double ?? 0) - 0.5) < 1e-6, "\(good)")
            #expect(good["shadow_errors"] as? Int == 0)
            let failing = try #require(reports.first { ($0["shadow"] as? [String: Any])?["version"] as? Int == 3 })
            #expect((failing["shadow_errors"] as? Int ?? 0) > 50 && failing["compared"] as? Int == 0, "\(failing)")
        }
    }

    @Test func stickyCallersKeepTheirVariant() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0.001)])
            let put = try await client.execute(
                uri: "/api/v1/endpoints/ep", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"variants": [{"model": "m", "version": 2, "weight": 50}, {"model": "m", "version": 1, "weight": 50}], "sticky_header": "X-Customer-Id"}"#))
            #expect(put.status == .ok, "\(put.text)")
            var seen: [String: Set<String>] = [:]
            for round in 0..<5 {
                for customer in 0..<40 {
                    let response = try await client.post(
                        "/v1/models/ep:predict", #"{"instances": [[\#(round), 1, 2]]}"#,
                        headers: [.contentType: "application/json", HTTPField.Name("X-Customer-Id")!: "customer-\(customer)"])
                    #expect(response.status == .ok)
                    seen["customer-\(customer)", default: []].insert(response.json["served_by"] as? String ?? "?")
                }
            }
            #expect(seen.values.allSatisfy { $0.count == 1 }, "each caller always hits the same variant")
            let metadata = try await client.get("/v2/models/ep")
            #expect(metadata.status == .ok && metadata.json["name"] as? String == "ep", "endpoints describe themselves: \(metadata.text)")
            let split = Set(seen.values.compactMap(\.first))
            #expect(split == ["m/1", "m/2"], "callers spread over both variants: \(split)")
        }
    }

    @Test func endpointsAndRolloutsSurviveARestart() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0.001)])
            _ = try await Self.start(client, #"{"version": 2, "steps": [10, 100], "bake_seconds": 600}"#)
            _ = try await client.post("/api/v1/endpoints/ep/rollout/pause", "")
            let reopened = Endpoints(store: stack.store, models: stack.models, monitor: nil, logger: .init(label: "t"))
            try await reopened.load()
            #expect(reopened.rollout(endpoint: "ep")?.status == .paused)
            #expect(reopened.endpoint(named: "ep")?.variants.map(\.weight) == [10, 90])
            #expect(reopened.endpoint(named: "ep")?.stickyHeader == "X-Customer-Id")
            let audit = try await stack.audit.all().map(\.action)
            #expect(audit.suffix(3) == ["endpoint.put", "rollout.started", "rollout.paused"], "\(audit)")
        }
    }

    @Test(arguments: [
        (#"{"version": 9}"#, 404, "model 'm' has no version 9"),
        (#"{"version": 1}"#, 409, "m/1 already serves endpoint 'ep'"),
        (#"{"version": 2, "strategy": "rainbow"}"#, 400, "field 'strategy'"),
        (#"{"version": 2, "steps": [50, 10]}"#, 400, "field 'steps'"),
        (#"{"version": 2, "gates": {"min_requests": 0}}"#, 400, "gates.min_requests"),
        (#"{"steps": [5]}"#, 400, "field 'version' is required"),
    ])
    func badRolloutRequestsNameTheProblem(_ body: String, _ status: Int, _ message: String) async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(stack, client, candidates: [FakeRuntime.Spec(value: 0.001)])
            let response = try await Self.start(client, body)
            #expect(Int(response.status.code) == status && response.errorMessage.contains(message), "\(response.status) \(response.text)")
        }
    }
}
