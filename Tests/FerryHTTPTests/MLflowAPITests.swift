import FerryCore
@testable import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// MLflow's tracking and registry API as its client speaks it (the real client runs in `scripts/mlflow/run.sh`):
/// MLflow's error shape and codes, its access rules, and a model logged through the artifact routes registered and
/// served by Ferry's own registry.
struct MLflowAPITests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/mlflow/xgboost")

    static func headers(_ secret: String?, json: Bool = true) -> HTTPFields {
        var fields: HTTPFields = [:]
        if let secret { fields[.authorization] = "Bearer \(secret)" }
        if json { fields[.contentType] = "application/json" }
        return fields
    }

    /// Anonymous callers get 401, a viewer 403 on writes and MLflow's PERMISSION_DENIED, a deployer passes; a key
    /// restricted to some models cannot use the tracking API at all.
    @Test func everyRouteEnforcesItsAccess() async throws {
        try await withFerry(authenticated: true) { client, stack in
            let viewer = try await stack.authenticator.createKey(name: "v", role: .viewer, by: "t").secret
            let deployer = try await stack.authenticator.createKey(name: "d", role: .deployer, by: "t").secret
            let restricted = try await stack.authenticator.createKey(name: "r", role: .deployer, models: ["fraud"], by: "t").secret
            #expect(MLflowRoutes.routes.count > 40)
            for route in MLflowRoutes.routes {
                let uri = route.path.replacingOccurrences(of: "{model_id}", with: "m-1").replacingOccurrences(of: "**", with: "0/r/artifacts/x")
                let method = HTTPRequest.Method(route.method.uppercased())!
                func send(_ secret: String?) async throws -> TestResponse {
                    try await client.execute(uri: uri, method: method, headers: Self.headers(secret), body: method == .get ? nil : ByteBuffer(string: "{}"))
                }
                let anonymous = try await send(nil)
                #expect(anonymous.status == .unauthorized && anonymous.json["error_code"] as? String == "UNAUTHENTICATED", "\(route.method) \(route.path): \(anonymous.status) \(anonymous.text)")
                let asViewer = try await send(viewer)
                if route.access.permission == .read {
                    #expect(asViewer.status != .unauthorized && asViewer.status != .forbidden, "viewer reads \(route.path): \(asViewer.status)")
                } else {
                    #expect(asViewer.status == .forbidden && asViewer.json["error_code"] as? String == "PERMISSION_DENIED", "viewer writes \(route.path): \(asViewer.text)")
                }
                let asDeployer = try await send(deployer)
                #expect(asDeployer.status != .unauthorized && asDeployer.status != .forbidden, "deployer on \(route.path): \(asDeployer.status)")
                #expect(asDeployer.status.code < 500, "\(route.method) \(route.path) with an empty message: \(asDeployer.status) \(asDeployer.text)")
                #expect(try await send(restricted).status == .forbidden, "a restricted key on \(route.path)")
            }
        }
    }

    /// The codes MLflow's client branches on, with HTTP statuses that it does not retry.
    @Test func errorsComeInMLflowsShape() async throws {
        try await withFerry { client, _ in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: uri, method: method, headers: Self.headers(nil), body: body.map { ByteBuffer(string: $0) })
            }
            var r = try await call(.get, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fraud")
            #expect(r.status == .notFound && r.json["error_code"] as? String == "RESOURCE_DOES_NOT_EXIST", "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/experiments/create", #"{"name":"fraud"}"#)
            #expect(r.status == .ok && r.json["experiment_id"] as? String == "1", "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/experiments/create", #"{"name":"fraud"}"#)
            #expect(r.status == .badRequest && r.json["error_code"] as? String == "RESOURCE_ALREADY_EXISTS", "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/experiments/create", "{}")
            #expect(r.status == .badRequest && (r.json["message"] as? String)?.contains("'name'") == true, "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/runs/search", #"{"experiment_ids":["1"],"filter":"metrics.loss < 'a'"}"#)
            #expect(r.status == .badRequest && r.json["error_code"] as? String == "INVALID_PARAMETER_VALUE", "\(r.text)")
            // Numbers past Int64 are refused (before, they crashed the server, for a read-only key too).
            for body in [#"{"experiment_ids":["1"],"max_results":1e20}"#, #"{"experiment_ids":[9223372036854775808]}"#] {
                r = try await call(.post, "/api/2.0/mlflow/runs/search", body)
                #expect(r.status == .badRequest && r.json["error_code"] as? String == "INVALID_PARAMETER_VALUE", "\(body): \(r.text)")
            }
            // A batch of 60 params and 60 tags is within MLflow's limits (100 of each; before, 100 together were refused);
            // a param key twice in one batch is refused (before, the last value won).
            r = try await call(.post, "/api/2.0/mlflow/runs/create", #"{"experiment_id":"0"}"#)
            let runID = ((r.json["run"] as? [String: Any])?["info"] as? [String: Any])?["run_id"] as? String ?? ""
            let params = (0..<60).map { #"{"key":"p\#($0)","value":"v"}"# }.joined(separator: ","), tags = (0..<60).map { #"{"key":"t\#($0)","value":"v"}"# }.joined(separator: ",")
            r = try await call(.post, "/api/2.0/mlflow/runs/log-batch", #"{"run_id":"\#(runID)","params":[\#(params)],"tags":[\#(tags)]}"#)
            #expect(r.status == .ok, "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/runs/log-batch", #"{"run_id":"\#(runID)","params":[{"key":"zz","value":"1"},{"key":"zz","value":"2"}]}"#)
            #expect(r.status == .badRequest && (r.json["message"] as? String)?.contains("Duplicate parameter keys") == true, "\(r.text)")
            // Registered models and experiments in the order asked for, a page at a time (order_by, max_results and
            // page_token were ignored).
            for name in ["m-b", "m-c", "m-a"] { _ = try await call(.post, "/api/2.0/mlflow/registered-models/create", #"{"name":"\#(name)"}"#) }
            r = try await call(.post, "/api/2.0/mlflow/registered-models/search", #"{"filter":"name LIKE 'm-%'","order_by":["name DESC"],"max_results":2}"#)
            #expect((r.json["registered_models"] as? [[String: Any]])?.map { $0["name"] as? String } == ["m-c", "m-b"], "\(r.text)")
            let token = r.json["next_page_token"] as? String ?? ""
            r = try await call(.post, "/api/2.0/mlflow/registered-models/search", #"{"filter":"name LIKE 'm-%'","order_by":["name DESC"],"max_results":2,"page_token":"\#(token)"}"#)
            #expect((r.json["registered_models"] as? [[String: Any]])?.map { $0["name"] as? String } == ["m-a"] && r.json["next_page_token"] == nil, "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/registered-models/search", #"{"order_by":["bogus ASC"]}"#)
            #expect(r.status == .badRequest && r.json["error_code"] as? String == "INVALID_PARAMETER_VALUE", "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/experiments/search", #"{"order_by":["name ASC"]}"#)
            #expect((r.json["experiments"] as? [[String: Any]])?.map { $0["name"] as? String } == ["Default", "fraud"], "\(r.text)")
            // Deleting twice, restoring an active experiment, renaming a deleted one: refused, as MLflow refuses them.
            let gone = try await call(.post, "/api/2.0/mlflow/experiments/create", #"{"name":"gone"}"#).json["experiment_id"] as? String ?? ""
            #expect(try await call(.post, "/api/2.0/mlflow/experiments/delete", #"{"experiment_id":"\#(gone)"}"#).status == .ok)
            r = try await call(.post, "/api/2.0/mlflow/experiments/delete", #"{"experiment_id":"\#(gone)"}"#)
            #expect(r.status == .notFound && r.json["error_code"] as? String == "RESOURCE_DOES_NOT_EXIST", "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/experiments/update", #"{"experiment_id":"\#(gone)","new_name":"back"}"#)
            #expect(r.status == .badRequest && r.json["error_code"] as? String == "INVALID_STATE", "\(r.text)")
            #expect(try await call(.post, "/api/2.0/mlflow/experiments/restore", #"{"experiment_id":"\#(gone)"}"#).status == .ok)
            r = try await call(.post, "/api/2.0/mlflow/experiments/restore", #"{"experiment_id":"\#(gone)"}"#)
            #expect(r.status == .notFound, "\(r.text)")
            for reserved in ["latest", "v1"] {
                r = try await call(.post, "/api/2.0/mlflow/registered-models/alias", #"{"name":"m-a","alias":"\#(reserved)","version":"1"}"#)
                #expect(r.status == .badRequest && r.json["error_code"] as? String == "INVALID_PARAMETER_VALUE", "\(reserved): \(r.text)")
            }
            // A version of a registered model that does not exist is refused (before, the model was made).
            r = try await call(.post, "/api/2.0/mlflow/model-versions/create", #"{"name":"does-not-exist","source":"runs:/\#(runID)/model"}"#)
            #expect(r.status == .notFound && r.json["error_code"] as? String == "RESOURCE_DOES_NOT_EXIST", "\(r.text)")
            r = try await call(.post, "/api/2.0/mlflow/runs/frobnicate", "{}")
            #expect(r.status == .notFound && r.json["error_code"] as? String == "ENDPOINT_NOT_FOUND", "\(r.text)")
            r = try await call(.get, "/api/2.0/mlflow/registered-models/alias?name=nope&alias=champion")
            #expect(r.status == .notFound && r.json["error_code"] as? String == "RESOURCE_DOES_NOT_EXIST", "\(r.text)")
            r = try await call(.get, "/api/2.0/mlflow/experiments/get?experiment_id=abc")
            #expect(r.status == .badRequest && (r.json["message"] as? String)?.contains("valid integer") == true, "\(r.text)")
        }
    }

    /// A run logs params and metrics (NaN included), a model's files go up through the artifact routes, and
    /// model-versions/create registers them in Ferry's registry: served over V2, aliased through MLflow, with the
    /// run's params and metrics as lineage.
    @Test(arguments: ["sqlite", "postgres"])
    func aLoggedModelIsRegisteredAndServed(_ store: String) async throws {
        try await withFerry(postgres: store == "postgres") { client, stack in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> [String: Any] {
                let r = try await client.execute(uri: uri, method: method, headers: Self.headers(nil), body: body.map { ByteBuffer(string: $0) })
                #expect(r.status == .ok, "\(method) \(uri): \(r.status) \(r.text)")
                return r.json
            }
            let run = try await call(.post, "/api/2.0/mlflow/runs/create", #"{"experiment_id":"0","run_name":"r1","start_time":1700000000000}"#)
            let info = (run["run"] as? [String: Any])?["info"] as? [String: Any] ?? [:]
            let runID = info["run_id"] as? String ?? ""
            #expect(info["artifact_uri"] as? String == "mlflow-artifacts:/0/\(runID)/artifacts" && info["status"] as? String == "RUNNING")
            _ = try await call(.post, "/api/2.0/mlflow/runs/log-batch", #"""
                {"run_id":"\#(runID)","params":[{"key":"max_depth","value":"3"}],
                 "metrics":[{"key":"auc","value":0.91,"timestamp":1,"step":0},{"key":"odd","value":"NaN","timestamp":1,"step":0}]}
                """#)
            let got = try await call(.get, "/api/2.0/mlflow/runs/get?run_uuid=\(runID)&run_id=\(runID)")
            let metrics = ((got["run"] as? [String: Any])?["data"] as? [String: Any])?["metrics"] as? [[String: Any]] ?? []
            #expect(metrics.map { "\($0["key"]!)=\($0["value"]!)" } == ["auc=0.91", "odd=NaN"], "\(metrics)")
            let logged = try await call(.post, "/api/2.0/mlflow/logged-models", #"{"experiment_id":"0","name":"model","source_run_id":"\#(runID)"}"#)
            let model = (logged["model"] as? [String: Any])?["info"] as? [String: Any] ?? [:]
            let modelID = model["model_id"] as? String ?? ""
            let location = model["artifact_uri"] as? String ?? ""
            #expect(modelID.hasPrefix("m-") && location == "mlflow-artifacts:/0/models/\(modelID)/artifacts")
            let root = String(location.dropFirst("mlflow-artifacts:/".count))
            for file in try FileManager.default.contentsOfDirectory(atPath: Self.folder.path) {
                let bytes = try Data(contentsOf: Self.folder.appendingPathComponent(file))
                let put = try await client.execute(
                    uri: "/api/2.0/mlflow-artifacts/artifacts/\(root)/\(file)", method: .put, headers: [:], body: ByteBuffer(bytes: bytes))
                #expect(put.status == .ok)
            }
            let listing = try await call(.get, "/api/2.0/mlflow-artifacts/artifacts?path=\(root.replacingOccurrences(of: "/", with: "%2F"))")
            #expect((listing["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String }.contains("model.ubj") == true, "\(listing)")
            #expect(try await call(.get, "/api/2.0/mlflow-artifacts/artifacts?path=\(root)/MLmodel").isEmpty, "a file lists as {}")
            let mlmodel = try await client.get("/api/2.0/mlflow-artifacts/artifacts/\(root)/MLmodel")
            #expect(mlmodel.text == (try String(contentsOf: Self.folder.appendingPathComponent("MLmodel"), encoding: .utf8)))

            _ = try await call(.post, "/api/2.0/mlflow/registered-models/create", #"{"name":"fraud-mlflow"}"#)
            let created = try await call(.post, "/api/2.0/mlflow/model-versions/create", #"{"name":"fraud-mlflow","source":"models:/\#(modelID)","run_id":"\#(runID)"}"#)
            let mv = created["model_version"] as? [String: Any] ?? [:]
            #expect(mv["version"] as? String == "1" && mv["status"] as? String == "READY" && mv["run_id"] as? String == runID, "\(mv)")
            _ = try await call(.post, "/api/2.0/mlflow/registered-models/alias", #"{"name":"fraud-mlflow","alias":"champion","version":"1"}"#)
            let byAlias = try await call(.get, "/api/2.0/mlflow/registered-models/alias?name=fraud-mlflow&alias=champion")
            #expect((byAlias["model_version"] as? [String: Any])?["aliases"] as? [String] == ["champion"])
            let uri = try await call(.get, "/api/2.0/mlflow/model-versions/get-download-uri?name=fraud-mlflow&version=1")
            #expect(uri["artifact_uri"] as? String == location)

            // In Ferry's registry: the signature's columns are the inputs, the run is the lineage, and it serves.
            let version = try await stack.registry.version(model: "fraud-mlflow", number: 1)
            #expect(version.inputSchema.featureNames == ["amount", "distance_km", "hour", "velocity"])
            #expect(version.lineage.run == "mlflow:\(runID)" && version.params["max_depth"] == .string("3") && version.metrics == ["auc": 0.91])
            #expect(try await stack.registry.aliases(model: "fraud-mlflow").map(\.name) == ["champion"])
            let infer = try await client.execute(
                uri: "/v2/models/fraud-mlflow/versions/champion/infer", method: .post, headers: Self.headers(nil),
                body: ByteBuffer(string: #"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[120.5,3.2,23,4]}]}"#))
            #expect(infer.status == .ok, "\(infer.text)")

            // Stages as MLflow has them: an archived version leaves Production; Archived -> None brings it back;
            // archive_existing_versions archives the version that was in the stage.
            let second = try await call(.post, "/api/2.0/mlflow/model-versions/create", #"{"name":"fraud-mlflow","source":"models:/\#(modelID)","run_id":"\#(runID)"}"#)
            #expect((second["model_version"] as? [String: Any])?["version"] as? String == "2")
            func stage(_ version: Int, _ stage: String, archiveOthers: Bool = false) async throws -> String? {
                let body = #"{"name":"fraud-mlflow","version":"\#(version)","stage":"\#(stage)","archive_existing_versions":\#(archiveOthers)}"#
                return (try await call(.post, "/api/2.0/mlflow/model-versions/transition-stage", body)["model_version"] as? [String: Any])?["current_stage"] as? String
            }
            #expect(try await stage(1, "Production") == "Production")
            #expect(try await stage(1, "Archived") == "Archived")
            #expect(try await stack.registry.aliases(model: "fraud-mlflow").contains { $0.name == "production" } == false, "out of Production")
            #expect(try await stage(1, "None") == "None")
            #expect(try await stack.registry.version(model: "fraud-mlflow", number: 1).archived == false)
            #expect(try await stage(1, "Production") == "Production")
            #expect(try await stage(2, "Production", archiveOthers: true) == "Production")
            #expect(try await stack.registry.version(model: "fraud-mlflow", number: 1).archived, "the version that was in Production")
        }
    }
}
