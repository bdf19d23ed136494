import FerryCore
import FerryEngine
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The retraining loop end to end on the example model: labelled traffic, a policy, a trainer program, the
/// candidate registered with lineage and judged on held-out rows; and each way a trainer fails.
struct RetrainScenarioTests {
    /// A trainer script in a fresh folder inside the stack's own (removed with it).
    static func trainer(_ body: String, in stack: TestStack) throws -> String {
        let folder = stack.folder.appendingPathComponent("trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("train.sh").path
        try ("#!/bin/sh\nset -e\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// 2 × the example rows predicted, every row labelled (both classes present).
    static func labelledTraffic(_ client: any TestClientProtocol, _ stack: TestStack) async throws {
        let expected = try TestStack.exampleExpectations()
        let instances = expected.rows.map { "[" + $0.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]" }.joined(separator: ",")
        for _ in 0..<2 {
            let predicted = try await client.post("/v1/models/fraud:predict", #"{"instances": [\#(instances)]}"#)
            let id = try #require(predicted.json["prediction_id"] as? String)
            let items = expected.rows.indices.map { #"{"prediction_id": "\#(id)", "row": \#($0), "label": \#(expected.probabilities[$0] > 0.5 ? 1 : 0)}"# }
            #expect(try await client.post("/api/v1/feedback", "[\(items.joined(separator: ","))]").status == .ok)
        }
        await stack.predictionLogger.flush()
    }

    @Test func aCandidateIsTrainedRegisteredJudgedAndAliased() async throws {
        try await withFerry { client, stack in
            try await Self.labelledTraffic(client, stack)
            let model = TestStack.repositoryRoot.appendingPathComponent("examples/fraud/model.json").path
            let script = try Self.trainer("""
                test -s "$FERRY_TRAINING_DATA"
                echo "training on $(wc -l < "$FERRY_TRAINING_DATA") lines for $FERRY_MODEL from version $FERRY_CHAMPION_VERSION"
                cp "\(model)" "$FERRY_OUTPUT_DIR/model.json"
                """, in: stack)
            let policy = #"{"command": ["sh", "\#(script)"], "holdout_fraction": 0.5, "gate": {"metric": "roc_auc", "max_latency_ratio": 1000}}"#
            let set = try await client.execute(uri: "/api/v1/models/fraud/retrain/policy", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: policy))
            #expect(set.status == .ok && set.json["window_rows"] as? Int == 100_000, "\(set.text)")
            let queued = try await client.post("/api/v1/models/fraud/retrain", "")
            #expect(queued.status == .accepted && queued.json["state"] as? String == "queued", "\(queued.text)")
            let again = try await client.post("/api/v1/models/fraud/retrain", "")
            #expect(again.status == .conflict && again.errorMessage.contains("already has a retraining job"), "one at a time: \(again.text)")
            await stack.server.retrainer!.tick()

            let id = try #require(queued.json["id"] as? String)
            let job = try await client.get("/api/v1/models/fraud/retrain/jobs/\(id)").json
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect((job["logs"] as? String)?.contains("from version 1") == true && job["training_rows"] as? Int == job["holdout_rows"] as? Int)
            let evaluation = job["evaluation"] as? [String: Any] ?? [:]
            #expect(evaluation["metric"] as? String == "roc_auc" && evaluation["improvement"] as? Double == 0, "the same model: \(evaluation)")
            #expect(job["candidate"] as? Int == 2 && job["champion"] as? Int == 1)
            let candidate = try await stack.registry.version(model: "fraud", number: 2)
            #expect(candidate.lineage.trainingDataDigest?.hasPrefix("sha256:") == true && candidate.params["retrain_job"] == .string(id))
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "challenger" }?.version == 2)
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "production" }?.version == 1, "the champion still serves")

            // The same candidate against a gate that wants a confident gain is rejected, and stays registered.
            let strict = #"{"command": ["sh", "\#(script)"], "holdout_fraction": 0.5, "gate": {"metric": "roc_auc", "require_confidence": true, "max_latency_ratio": 1000}}"#
            _ = try await client.execute(uri: "/api/v1/models/fraud/retrain/policy", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: strict))
            let second = try await stack.server.retrainer!.trigger(model: "fraud", by: "test")
            let judged = await stack.server.retrainer!.execute(second)
            #expect(judged.state == .rejected && judged.reason.contains("does not lie above 0") && judged.candidate == 3, "\(judged.reason)")
            let list = try await client.get("/api/v1/models/fraud/retrain/jobs").json["items"] as? [[String: Any]] ?? []
            #expect(list.compactMap { $0["state"] as? String } == ["rejected", "succeeded"])
            let actions = try await stack.store.auditEntries(after: 0, limit: 1000).map(\.action).filter { $0.hasPrefix("retrain.") }
            #expect(actions.filter { $0 == "retrain.finish" }.count == 2 && actions.contains("retrain.policy.set"), "\(actions)")
        }
    }

    @Test func aWinnerIntoAProtectedAliasWaitsForApprovalUnlessRetrainingIsPreapproved() async throws {
        try await withFerry { client, stack in
            try await Self.labelledTraffic(client, stack)
            let model = TestStack.repositoryRoot.appendingPathComponent("examples/fraud/model.json").path
            let script = try Self.trainer(#"cp "\#(model)" "$FERRY_OUTPUT_DIR/model.json""#, in: stack)
            let policy = #"{"command": ["sh", "\#(script)"], "holdout_fraction": 0.5, "gate": {"metric": "roc_auc", "max_latency_ratio": 1000}}"#
            _ = try await client.execute(uri: "/api/v1/models/fraud/retrain/policy", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: policy))
            let challenger = ProtectedTarget.alias(model: "fraud", alias: "challenger")
            _ = try await stack.server.approvals.protect(challenger, expiresAfterSeconds: nil, preapproved: [], by: "root")
            let retrainer = stack.server.retrainer!
            let waiting = await retrainer.execute(try await retrainer.trigger(model: "fraud", by: "test"))
            let pending = try await stack.server.approvals.requests(state: .pending, limit: 10)
            #expect(waiting.state == .succeeded && pending.count == 1 && waiting.reason.contains("waits for approval request \(pending.first?.id ?? "?")"), "\(waiting.reason)")
            #expect(pending.first?.change == .setAlias(version: 2, from: nil) && pending.first?.requestedBy == "retrain:\(waiting.id)")
            #expect(try await stack.registry.aliases(model: "fraud").contains { $0.name == "challenger" } == false)

            _ = try await stack.server.approvals.cancel(id: pending[0].id, by: .anonymous)
            _ = try await stack.server.approvals.protect(challenger, expiresAfterSeconds: nil, preapproved: ["retrain"], by: "root")
            let through = await retrainer.execute(try await retrainer.trigger(model: "fraud", by: "test"))
            #expect(through.state == .succeeded && through.reason.contains("points at version 3"), "\(through.reason)")
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "challenger" }?.version == 3)
        }
    }

    @Test(arguments: [
        ("exit 3", "exited with status 3"),
        ("echo nothing to see", "wrote no model into FERRY_OUTPUT_DIR"),
        ("sleep 30", "ran past the policy's timeout of 1 s"),
        ("cp \"\(TestStack.repositoryRoot.path)/Tests/FerryHTTPTests/Fixtures/mlflow/xgboost/model.ubj\" \"$FERRY_OUTPUT_DIR/model.ubj\"", "not the champion's"),
    ])
    func aTrainerThatFailsEndsTheJobAndTheChampionServes(_ body: String, _ reason: String) async throws {
        try await withFerry { client, stack in
            try await Self.labelledTraffic(client, stack)
            let retrainer = stack.server.retrainer!
            _ = try await retrainer.setPolicy(
                RetrainPolicy(model: "fraud", trainer: .command(["sh", try Self.trainer(body, in: stack)]), holdoutFraction: 0.5, timeoutSeconds: 1), by: "test")
            let job = await retrainer.execute(try await retrainer.trigger(model: "fraud", by: "test"))
            #expect(job.state == .failed && job.reason.contains(reason), "\(job.reason)")
            #expect(try await stack.registry.versions(model: "fraud").count == 1, "nothing registered")
            #expect(try await client.post("/v1/models/fraud:predict", #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#).status == .ok)
        }
    }

    @Test func policiesAreRefusedByField() async throws {
        try await withFerry { client, _ in
            func put(_ body: String) async throws -> TestResponse {
                try await client.execute(uri: "/api/v1/models/fraud/retrain/policy", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            }
            let cases: [(String, String)] = [
                (#"{"command": []}"#, "field 'command'"),
                (#"{"alerts": []}"#, "exactly one of field 'command'"),
                (#"{"command": ["sh"], "webhook": {"url": "https://x.test/"}}"#, "exactly one of field 'command'"),
                (#"{"webhook": {"url": "ftp://x.test/"}}"#, "field 'webhook.url'"),
                (#"{"command": ["sh"], "alerts": ["nope"]}"#, "'nope', which is not an alert rule"),
                (#"{"command": ["sh"], "gate": {"metric": "vibes"}}"#, "gate.metric"),
                (#"{"command": ["sh"], "endpoint": "nowhere"}"#, "not an endpoint"),
            ]
            for (body, message) in cases {
                let response = try await put(body)
                #expect(response.status == .badRequest && response.errorMessage.contains(message), "\(response.text)")
            }
            let unlisted = try await put(#"{"command": ["rm", "-rf", "/"]}"#)
            #expect(unlisted.status == .badRequest && unlisted.errorMessage.contains("does not allow as a trainer"), "\(unlisted.text)")
            #expect(try await client.post("/api/v1/models/fraud/retrain", "").status == .notFound, "no policy yet")
            #expect(try await client.get("/api/v1/models/fraud/retrain/jobs/rt_nope").status == .notFound)
        }
    }

    /// Sets a webhook policy on `fraud`, starts a job and waits for the receiver to get the call.
    static func startWebhookJob(
        _ client: any TestClientProtocol, _ stack: TestStack, url: String, timeout: Int = 30
    ) async throws -> (job: RetrainJob, running: Task<RetrainJob, Never>) {
        let policy = #"{"webhook": {"url": "\#(url)", "secret": "s3cret"}, "holdout_fraction": 0.5, "timeout_seconds": \#(timeout), "gate": {"max_latency_ratio": 1000}}"#
        let set = try await client.execute(uri: "/api/v1/models/fraud/retrain/policy", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: policy))
        #expect(set.status == .ok && (set.json["webhook"] as? [String: Any])?["secret"] as? String == "********", "the secret is not echoed: \(set.text)")
        let retrainer = stack.server.retrainer!
        let job = try await retrainer.trigger(model: "fraud", by: "test")
        return (job, Task { await retrainer.execute(job) })
    }

    static func firstDelivery(_ receiver: WebhookReceiver) async throws -> WebhookReceiver.Delivery {
        for _ in 0..<1000 {
            if let delivery = receiver.deliveries.withLock({ $0.first }) { return delivery }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw FerryError(.deadlineExceeded, "the webhook was not called")
    }

    @Test(arguments: [false, true])
    func aWebhookTrainerGetsASignedCallAndTheDataAndReportsItsVersion(postgres: Bool) async throws {
        let receiver = WebhookReceiver(failures: 1)
        try await receiver.run { url in
            try await withFerry(postgres: postgres) { client, stack in
                try await Self.labelledTraffic(client, stack)
                let (job, running) = try await Self.startWebhookJob(client, stack, url: url)
                let hook = try await Self.firstDelivery(receiver)
                let timestamp = try #require(hook.headers[HTTPField.Name("Ferry-Timestamp")!])
                #expect(hook.headers[HTTPField.Name("Ferry-Signature")!] == AlertManager.signature(secret: "s3cret", timestamp: timestamp, body: hook.body), "signed as alert webhooks are, after a retry")
                let payload = try #require(try JSONSerialization.jsonObject(with: hook.body) as? [String: Any])
                #expect(payload["job"] as? String == job.id && payload["champion_version"] as? Int == 1 && payload["event"] as? String == "retrain.requested")
                let data = try #require(payload["training_data"] as? [String: Any])
                let reportURL = try #require(payload["report_url"] as? String), dataURL = try #require(data["url"] as? String)
                let report = URL(string: reportURL)?.path ?? reportURL
                #expect(report == "/api/v1/models/fraud/retrain/jobs/\(job.id)/report" && payload["tracking_uri"] == nil, "no address to give on port 0 (the test server's)")

                let csv = try await client.get(URL(string: dataURL)?.path ?? dataURL)
                let lines = csv.text.split(separator: "\n")
                #expect(csv.status == .ok && lines.count == (data["rows"] as? Int ?? -1) + 1, "\(csv.status) \(lines.count) lines")
                #expect(lines.first.map(String.init) == ((data["columns"] as? [String]) ?? []).joined(separator: ","), "the header names the columns")

                let unknown = try await client.post(report, #"{"version": 9}"#)
                #expect(unknown.status == .badRequest && unknown.errorMessage.contains("field 'version'"), "\(unknown.text)")
                let neither = try await client.post(report, #"{}"#)
                #expect(neither.status == .badRequest && neither.errorMessage.contains("exactly one of field 'version'"), "\(neither.text)")
                let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "orchestrator"))
                let reported = try await client.post(report, #"{"version": \#(version.version)}"#)
                #expect(reported.status == .ok && reported.json["reported_version"] as? Int == version.version, "\(reported.text)")
                let twice = try await client.post(report, #"{"error": "late"}"#)
                #expect(twice.status == .conflict, "one report per job: \(twice.text)")

                let ended = await running.value
                #expect(ended.state == .succeeded && ended.candidate == version.version && ended.report == .version(version.version), "\(ended.reason)")
                #expect(ended.evaluation?.improvement == 0 && ended.dataDigest == "sha256:" + LocalArtifactStore.sha256(Data(csv.text.utf8)))
                let actions = try await stack.store.auditEntries(after: 0, limit: 1000).map(\.action)
                #expect(actions.contains("retrain.report"), "\(actions)")
            }
        }
    }

    @Test func aWebhookTrainerThatFailsRefusesOrNeverAnswersEndsTheJob() async throws {
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.run { url in
            try await withFerry { client, stack in
                try await Self.labelledTraffic(client, stack)
                // It reports an error.
                let (first, running) = try await Self.startWebhookJob(client, stack, url: url)
                _ = try await Self.firstDelivery(receiver)
                #expect(try await client.post("/api/v1/models/fraud/retrain/jobs/\(first.id)/report", #"{"error": "out of GPUs"}"#).status == .ok)
                let failed = await running.value
                #expect(failed.state == .failed && failed.reason.contains("reported that it failed: out of GPUs"), "\(failed.reason)")

                // It reports a model of other inputs.
                let (second, other) = try await Self.startWebhookJob(client, stack, url: url)
                let foreign = try Data(contentsOf: TestStack.repositoryRoot.appendingPathComponent("Tests/FerryHTTPTests/Fixtures/mlflow/xgboost/model.ubj"))
                let version = try await stack.registry.register(.init(model: "fraud", artifact: foreign, createdBy: "orchestrator"))
                for _ in 0..<500 where try await stack.server.retrainer!.job(id: second.id).dataDigest == nil { try await Task.sleep(for: .milliseconds(10)) }
                #expect(try await client.post("/api/v1/models/fraud/retrain/jobs/\(second.id)/report", #"{"version": \#(version.version)}"#).status == .ok)
                let mismatched = await other.value
                #expect(mismatched.state == .failed && mismatched.reason.contains("which the trainer reported, takes the inputs"), "\(mismatched.reason)")

                // It never reports.
                let (_, silent) = try await Self.startWebhookJob(client, stack, url: url, timeout: 1)
                let waited = await silent.value
                #expect(waited.state == .failed && waited.reason.contains("reported no model within the policy's timeout of 1 s"), "\(waited.reason)")
                #expect(try await client.post("/v1/models/fraud:predict", #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#).status == .ok, "the champion serves")
            }
        }
        // It refuses every attempt.
        let refusing = WebhookReceiver(failures: 100)
        try await refusing.run { url in
            try await withFerry { client, stack in
                try await Self.labelledTraffic(client, stack)
                let (_, running) = try await Self.startWebhookJob(client, stack, url: url)
                let refused = await running.value
                #expect(refused.state == .failed && refused.reason.contains("did not take the job after 3 attempts (it answered HTTP 500)"), "\(refused.reason)")
            }
        }
    }
}
