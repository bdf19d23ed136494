import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Every answer a route gives matches the schema `/openapi.json` declares for it: no field the document does not
/// name, every required field present, every value of the declared type. The bodies come from real requests, so
/// the document cannot drift from what the routes encode.
struct OpenAPIBodyTests {
    /// Checks `value` against `schema`, resolving `$ref`s in `schemas`; returns the problems, with JSON paths.
    static func problems(_ value: JSONValue, _ schema: JSONValue, _ schemas: [String: JSONValue], at path: String = "$") -> [String] {
        guard case .object(let s) = schema else { return [] }
        if case .string(let ref)? = s["$ref"] {
            let name = String(ref.split(separator: "/").last ?? "")
            guard let target = schemas[name] else { return ["\(path): unknown schema \(ref)"] }
            return problems(value, target, schemas, at: path)
        }
        if case .array(let options)? = s["oneOf"] {
            return options.contains { problems(value, $0, schemas, at: path).isEmpty } ? [] : ["\(path): matches none of oneOf"]
        }
        if value == .null, s["nullable"] == .bool(true) { return [] }
        if case .array(let allowed)? = s["enum"], !allowed.contains(value) { return ["\(path): \(value) is not one of \(allowed)"] }
        guard case .string(let type)? = s["type"] else { return [] }
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("number", .number):
            return []
        case ("integer", .number(let n)):
            return n.rounded() == n ? [] : ["\(path): \(n) is not an integer"]
        case ("array", .array(let items)):
            guard let itemSchema = s["items"] else { return [] }
            return items.enumerated().flatMap { problems($0.element, itemSchema, schemas, at: "\(path)[\($0.offset)]") }
        case ("object", .object(let members)):
            var found: [String] = []
            let properties: [String: JSONValue]? = if case .object(let p)? = s["properties"] { p } else { nil }
            if case .array(let required)? = s["required"] {
                // A required field may be null only where its schema says it is nullable.
                func nullable(_ name: String) -> Bool { if case .object(let p)? = properties?[name] { p["nullable"] == .bool(true) } else { false } }
                for case .string(let name) in required where members[name] == nil || (members[name] == .null && !nullable(name)) {
                    found.append("\(path): required field '\(name)' is missing")
                }
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties?[name] {
                    if member != .null { found += problems(member, property, schemas, at: "\(path).\(name)") }
                } else if let additional = s["additionalProperties"] {
                    found += problems(member, additional, schemas, at: "\(path).\(name)")
                } else if properties != nil {
                    found.append("\(path): field '\(name)' is not in the schema")
                }
            }
            return found
        default:
            return ["\(path): expected \(type), got \(value)"]
        }
    }

    /// The whole API on each store: SQLite, and PostgreSQL (every route of the tour through the shared store).
    @Test(arguments: ["sqlite", "postgres"])
    func everyAnswerMatchesItsDeclaredSchema(_ store: String) async throws {
        try await withFerry(authenticated: true, postgres: store == "postgres") { client, stack in
            let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test").secret
            let document = try JSONDecoder().decode(
                JSONValue.self, from: Data(buffer: try await client.get("/openapi.json", headers: [.authorization: "Bearer \(admin)"]).body))
            guard case .object(let schemas)? = document["components"]?["schemas"], case .object(let paths)? = document["paths"] else {
                Issue.record("no schemas or paths in /openapi.json")
                return
            }
            var checked: Set<String> = []
            /// Sends a request to a route given as its template, checks the answer against the declared schema.
            @discardableResult
            func call(_ method: HTTPRequest.Method, _ template: String, _ uri: String? = nil, _ body: String? = nil, as key: String? = nil) async throws -> JSONValue {
                let response = try await client.execute(
                    uri: uri ?? template, method: method, headers: [.contentType: "application/json", .authorization: "Bearer \(key ?? admin)"],
                    body: body.map { ByteBuffer(string: $0) })
                let key = method.rawValue.lowercased()
                let operation = paths[template]?[key]
                let status = String(response.status.code)
                #expect(response.status.code < 300, "\(method) \(uri ?? template): \(response.status) \(String(buffer: response.body))")
                guard let schema = operation?["responses"]?[status]?["content"]?["application/json"]?["schema"] else {
                    Issue.record("\(method) \(template) answered \(status), which /openapi.json does not describe")
                    return .null
                }
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
                let found = Self.problems(value, schema, schemas)
                #expect(found.isEmpty, "\(method) \(template): \(found.joined(separator: "; "))")
                checked.insert("\(key) \(template)")
                return value
            }
            let row = "[1,2,3,4,5,6,7,8,9,10,11,12]"
            let v2 = #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":\#(row)}]}"#
            let v1 = #"{"instances":[\#(row),\#(row)]}"#

            try await call(.get, "/v2/health/live")
            try await call(.get, "/v2/health/ready")
            try await call(.get, "/v2")
            try await call(.get, "/v2/models/{name}", "/v2/models/fraud")
            try await call(.get, "/v2/models/{name}/ready", "/v2/models/fraud/ready")
            let inferred = try await call(.post, "/v2/models/{name}/infer", "/v2/models/fraud/infer", v2)
            try await call(.post, "/v2/models/{name}/versions/{version}/infer", "/v2/models/fraud/versions/1/infer", v2)
            try await call(.post, "/v1/models/{name}:predict", "/v1/models/fraud:predict", v1)
            try await call(.post, "/v1/models/{name}:explain", "/v1/models/fraud:explain", v1)

            try await call(.post, "/api/v1/models", nil, #"{"name": "other", "description": "d", "tags": {"team": "risk"}}"#)
            try await call(.patch, "/api/v1/models/{name}", "/api/v1/models/other", #"{"description": "e"}"#)
            let artifact = try TestStack.exampleModel().base64EncodedString()
            try await call(.post, "/api/v1/models/{name}/versions", "/api/v1/models/fraud/versions",
                           #"{"artifact": "\#(artifact)", "aliases": ["staging"], "metrics": {"auc": 0.9}, "params": {"eta": 0.1}, "lineage": {"code": "git:1"}}"#)
            try await call(.get, "/api/v1/models")
            try await call(.get, "/api/v1/models/{name}", "/api/v1/models/fraud")
            try await call(.get, "/api/v1/models/{name}/versions", "/api/v1/models/fraud/versions")
            try await call(.get, "/api/v1/models/{name}/versions/{version}", "/api/v1/models/fraud/versions/2")
            try await call(.put, "/api/v1/models/{name}/aliases/{alias}", "/api/v1/models/fraud/aliases/canary", #"{"version": 2, "reason": "r"}"#)
            try await call(.get, "/api/v1/models/{name}/aliases", "/api/v1/models/fraud/aliases")
            try await call(.delete, "/api/v1/models/{name}/aliases/{alias}", "/api/v1/models/fraud/aliases/canary")
            try await call(.get, "/api/v1/models/{name}/alias-history", "/api/v1/models/fraud/alias-history")

            let reference = (0..<20).map { i in "[\((0..<12).map { String(Double(i * 12 + $0) / 7) }.joined(separator: ","))]" }.joined(separator: ",")
            try await call(.put, "/api/v1/models/{name}/versions/{version}/reference", "/api/v1/models/fraud/versions/1/reference", #"{"instances": [\#(reference)]}"#)
            try await call(.get, "/api/v1/models/{name}/versions/{version}/reference", "/api/v1/models/fraud/versions/1/reference")
            await stack.predictionLogger.flush()
            try await call(.get, "/api/v1/models/{name}/drift", "/api/v1/models/fraud/drift?every=3600")
            let id = inferred["parameters"]?["prediction_id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "none"
            try await call(.get, "/api/v1/models/{name}/predictions", "/api/v1/models/fraud/predictions")
            try await call(.get, "/api/v1/predictions/{id}", "/api/v1/predictions/\(id)")
            try await call(.post, "/api/v1/feedback", nil, #"{"prediction_id": "\#(id)", "label": 1}"#)
            try await call(.get, "/api/v1/models/{name}/performance", "/api/v1/models/fraud/performance?segment_by=hour&every=3600")
            try await call(.get, "/api/v1/models/{name}/traffic", "/api/v1/models/fraud/traffic?every=60")
            try await call(.get, "/api/v1/models/{name}/fairness", "/api/v1/models/fraud/fairness?attribute=is_night")

            try await call(.put, "/api/v1/models/{name}/alerts/{alert}", "/api/v1/models/fraud/alerts/slow",
                           #"{"metric": "latency_p99_seconds", "comparison": ">", "threshold": 0, "window_seconds": 3600}"#)
            try await call(.get, "/api/v1/models/{name}/alerts", "/api/v1/models/fraud/alerts")
            try await call(.put, "/api/v1/models/{name}/retrain/policy", "/api/v1/models/fraud/retrain/policy",
                           #"{"command": ["python", "train.py"], "alerts": ["slow"], "every_seconds": 86400, "gate": {"metric": "log_loss"}}"#)
            try await call(.get, "/api/v1/models/{name}/retrain/policy", "/api/v1/models/fraud/retrain/policy")
            let queued = try await call(.post, "/api/v1/models/{name}/retrain", "/api/v1/models/fraud/retrain")
            let job = queued["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
            try await call(.get, "/api/v1/models/{name}/retrain/jobs", "/api/v1/models/fraud/retrain/jobs")
            try await call(.get, "/api/v1/models/{name}/retrain/jobs/{id}", "/api/v1/models/fraud/retrain/jobs/\(job)")
            try await call(.post, "/api/v1/models/{name}/retrain/jobs/{id}/cancel", "/api/v1/models/fraud/retrain/jobs/\(job)/cancel")
            // A batch job on an uploaded file, scored, then its files.
            let e = try TestStack.exampleExpectations()
            let rows = e.rows.map { $0.map { $0.map { "\($0)" } ?? "" }.joined(separator: ",") }.joined(separator: "\n")
            let uploaded = try await call(.post, "/api/v1/jobs/uploads", nil, e.feature_names.joined(separator: ",") + "\n" + rows + "\n")
            let upload = uploaded["upload"].map { value -> String in
                guard case .object(let o) = value, case .string(let sha)? = o["sha256"], case .number(let size)? = o["size"] else { return "" }
                return #"{"sha256": "\#(sha)", "size": \#(Int(size))}"#
            } ?? ""
            let submitted = try await call(.post, "/api/v1/jobs", nil, #"{"model": "fraud", "version": 1, "input": {"upload": \#(upload)}}"#)
            let batch = submitted["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
            await stack.server.jobs.tick()
            try await call(.get, "/api/v1/jobs")
            try await call(.get, "/api/v1/jobs/{id}", "/api/v1/jobs/\(batch)")
            for file in ["results", "errors"] {
                let answer = try await client.execute(uri: "/api/v1/jobs/\(batch)/\(file)", method: .get, headers: [.authorization: "Bearer \(admin)"])
                #expect(answer.status == .ok && answer.headers[.contentType]?.hasPrefix("text/csv") == true && String(buffer: answer.body).hasPrefix("row,"))
                checked.insert("get /api/v1/jobs/{id}/\(file)")
            }
            let another = try await call(.post, "/api/v1/jobs", nil, #"{"model": "fraud", "input": {"upload": \#(upload)}}"#)
            let queuedJob = another["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
            try await call(.post, "/api/v1/jobs/{id}/cancel", "/api/v1/jobs/\(queuedJob)/cancel")

            // A webhook trainer's job, waiting for its report with its data kept.
            try await call(.put, "/api/v1/models/{name}/retrain/policy", "/api/v1/models/fraud/retrain/policy", #"{"webhook": {"url": "https://orchestrator.test/train"}}"#)
            let kept = try await stack.artifacts.put(Data("amount,label\n1,0\n".utf8))
            try await stack.store.createRetrainJob(
                RetrainJob(id: "rt_hook", model: "fraud", trigger: "manual", state: .running, createdBy: "t", createdAt: Date(), dataDigest: "sha256:" + kept.sha256, dataBytes: kept.size),
                audit: nil)
            let trainingData = try await client.execute(uri: "/api/v1/models/fraud/retrain/jobs/rt_hook/data", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(trainingData.status == .ok && trainingData.headers[.contentType]?.hasPrefix("text/csv") == true && String(buffer: trainingData.body) == "amount,label\n1,0\n")
            checked.insert("get /api/v1/models/{name}/retrain/jobs/{id}/data")
            try await call(.post, "/api/v1/models/{name}/retrain/jobs/{id}/report", "/api/v1/models/fraud/retrain/jobs/rt_hook/report", #"{"version": 1}"#)
            try await call(.delete, "/api/v1/models/{name}/retrain/policy", "/api/v1/models/fraud/retrain/policy")
            try await call(.post, "/api/v1/alerts/evaluate")
            try await call(.get, "/api/v1/alerts/events")
            try await call(.delete, "/api/v1/models/{name}/alerts/{alert}", "/api/v1/models/fraud/alerts/slow")

            try await call(.put, "/api/v1/endpoints/{name}", "/api/v1/endpoints/ep",
                           #"{"variants": [{"model": "fraud", "version": 1, "weight": 1}], "shadows": [{"model": "fraud", "version": 2, "share": 1}], "sticky_header": "X-Id", "timeout_ms": 1000, "fallback": {"value": 0}, "cache": {"max_entries": 10, "ttl_seconds": 60}}"#)
            try await call(.get, "/api/v1/endpoints")
            try await call(.post, "/v2/models/{name}/infer", "/v2/models/ep/infer", v2)
            try await call(.post, "/api/v1/endpoints/{name}/rollout", "/api/v1/endpoints/ep/rollout", #"{"version": 2, "steps": [50, 100], "bake_seconds": 0}"#)
            await stack.endpoints.tick()
            try await call(.get, "/api/v1/endpoints/{name}", "/api/v1/endpoints/ep")
            try await call(.get, "/api/v1/endpoints/{name}/rollout", "/api/v1/endpoints/ep/rollout")
            try await call(.post, "/api/v1/endpoints/{name}/rollout/{action}", "/api/v1/endpoints/ep/rollout/promote")
            try await call(.get, "/api/v1/endpoints/{name}/rollout/events", "/api/v1/endpoints/ep/rollout/events")
            try await call(.get, "/api/v1/endpoints/{name}/shadow", "/api/v1/endpoints/ep/shadow")
            try await call(.put, "/api/v1/endpoints/{name}", "/api/v1/endpoints/gone", #"{"variants": [{"model": "fraud", "version": 1, "weight": 1}]}"#)
            try await call(.delete, "/api/v1/endpoints/{name}", "/api/v1/endpoints/gone")

            // Data validation: derived expectations, edited ones, a file checked, its report and quarantine.
            try await call(.get, "/api/v1/models/{name}/versions/{version}/expectations", "/api/v1/models/fraud/versions/1/expectations")
            try await call(.put, "/api/v1/models/{name}/versions/{version}/expectations", "/api/v1/models/fraud/versions/1/expectations",
                           #"{"columns": [{"name": "amount", "min": 0, "max": 100, "max_null_rate": 0.1}, {"name": "country", "kind": "categorical", "categories": ["DE"]}], "unique_key": ["amount"], "min_rows": 1}"#)
            let validated = try await call(.post, "/api/v1/models/{name}/validations", "/api/v1/models/fraud/validations?source=f.csv", "amount,country\n5,DE\n500,FR\n5,DE\n")
            let run = validated["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "none"
            try await call(.get, "/api/v1/models/{name}/validations", "/api/v1/models/fraud/validations")
            try await call(.get, "/api/v1/models/{name}/validations/{id}", "/api/v1/models/fraud/validations/\(run)")
            let quarantine = try await client.execute(uri: "/api/v1/models/fraud/validations/\(run)/quarantine", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(quarantine.status == .ok && String(buffer: quarantine.body).hasPrefix("row,rules,amount,country\n2,"))
            checked.insert("get /api/v1/models/{name}/validations/{id}/quarantine")
            try await call(.delete, "/api/v1/models/{name}/versions/{version}/expectations", "/api/v1/models/fraud/versions/1/expectations")
            try await call(.post, "/api/v1/models/{name}/versions/{version}/unarchive", "/api/v1/models/fraud/versions/1/unarchive")

            // Four eyes: a protected alias and endpoint; a change files a request, a second admin decides it.
            let second = try await stack.authenticator.createKey(name: "second", role: .admin, by: "test").secret
            func requestID(_ answer: JSONValue) -> String {
                answer["approval"]?["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "none"
            }
            try await call(.put, "/api/v1/models/{name}/aliases/{alias}/protection", "/api/v1/models/fraud/aliases/guarded/protection", #"{"expires_after_seconds": 3600}"#)
            try await call(.put, "/api/v1/endpoints/{name}/protection", "/api/v1/endpoints/ep/protection", #"{"preapproved": ["retrain"]}"#)
            try await call(.get, "/api/v1/protections")
            let asked = requestID(try await call(.put, "/api/v1/models/{name}/aliases/{alias}", "/api/v1/models/fraud/aliases/guarded", #"{"version": 2, "reason": "r"}"#))
            try await call(.get, "/api/v1/approvals")
            try await call(.get, "/api/v1/approvals/{id}", "/api/v1/approvals/\(asked)")
            try await call(.post, "/api/v1/approvals/{id}/approve", "/api/v1/approvals/\(asked)/approve", #"{"comment": "ok"}"#, as: second)
            let removal = requestID(try await call(.delete, "/api/v1/models/{name}/aliases/{alias}", "/api/v1/models/fraud/aliases/guarded"))
            try await call(.post, "/api/v1/approvals/{id}/reject", "/api/v1/approvals/\(removal)/reject", #"{"comment": "no"}"#, as: second)
            let rollout = requestID(try await call(.post, "/api/v1/endpoints/{name}/rollout", "/api/v1/endpoints/ep/rollout", #"{"version": 1, "reason": "back"}"#))
            try await call(.post, "/api/v1/approvals/{id}/cancel", "/api/v1/approvals/\(rollout)/cancel")
            let redefine = requestID(try await call(.put, "/api/v1/endpoints/{name}", "/api/v1/endpoints/ep", #"{"variants": [{"model": "fraud", "version": 1, "weight": 1}]}"#))
            try await call(.post, "/api/v1/approvals/{id}/cancel", "/api/v1/approvals/\(redefine)/cancel")
            let deletion = requestID(try await call(.delete, "/api/v1/endpoints/{name}", "/api/v1/endpoints/ep"))
            try await call(.post, "/api/v1/approvals/{id}/cancel", "/api/v1/approvals/\(deletion)/cancel")
            try await call(.delete, "/api/v1/endpoints/{name}/protection", "/api/v1/endpoints/ep/protection")
            try await call(.delete, "/api/v1/models/{name}/aliases/{alias}/protection", "/api/v1/models/fraud/aliases/guarded/protection")

            try await call(.get, "/api/v1/cost")
            try await call(.get, "/api/v1/whoami")
            let created = try await call(.post, "/api/v1/keys", nil, #"{"name": "svc", "role": "predictor", "models": ["fraud"], "rate_limit": 10}"#)
            try await call(.get, "/api/v1/keys")
            let keyID = created["key"]?["id"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "none"
            try await call(.delete, "/api/v1/keys/{id}", "/api/v1/keys/\(keyID)")
            try await call(.get, "/api/v1/audit")
            try await call(.get, "/api/v1/audit/verify")
            try await call(.get, "/api/v1/cluster")
            try await call(.post, "/api/v1/models/{name}/versions", "/api/v1/models/other/versions", #"{"artifact": "\#(artifact)"}"#)
            try await call(.post, "/api/v1/models/{name}/versions/{version}/archive", "/api/v1/models/other/versions/1/archive")

            let source = stack.folder.appendingPathComponent("card_stats.csv")
            try FileManager.default.createDirectory(at: stack.folder, withIntermediateDirectories: true)
            try "card_id,event_timestamp,count\n1,2024-01-01T00:00:00Z,3\n".write(to: source, atomically: true, encoding: .utf8)
            try await call(.post, "/api/v1/features/apply", nil, #"""
                {"entities": [{"name": "card", "join_keys": [{"name": "card_id", "type": "int64"}]}],
                 "feature_views": [{"name": "card_stats", "entities": ["card"], "ttl": "1d", "features": [{"name": "count", "type": "int64"}],
                                    "source": {"path": "\#(source.path)"}, "owner": "o", "tags": {"t": "v"}}]}
                """#)
            try await call(.get, "/api/v1/features/entities")
            try await call(.get, "/api/v1/features/views")
            try await call(.get, "/api/v1/features/views/{name}", "/api/v1/features/views/card_stats")
            try await call(.post, "/api/v1/features/materialize", nil, #"{"start": "2023-01-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"}"#)
            try await call(.post, "/api/v1/features/materialize-incremental", nil, #"{"end": "2024-07-01T00:00:00Z"}"#)
            try await call(.post, "/api/v1/features/push", nil, #"{"view": "card_stats", "rows": [{"card_id": 2, "event_timestamp": "2024-01-01T00:00:00Z", "count": 4}]}"#)
            try await call(.post, "/api/v1/features/online", nil, #"{"features": ["card_stats:count"], "entities": {"card_id": [1, 2, 3]}}"#)
            try await call(.post, "/get-online-features", nil, #"{"features": ["card_stats:count"], "entities": {"card_id": [1, 2, 3]}}"#)
            let training = try await client.execute(
                uri: "/api/v1/features/training-set?features=card_stats:count", method: .post,
                headers: [.contentType: "text/csv", .authorization: "Bearer \(admin)"], body: ByteBuffer(string: "card_id,event_timestamp\n1,2024-01-02T00:00:00Z\n"))
            #expect(training.status == .ok && String(buffer: training.body) == "card_id,event_timestamp,count\n1,2024-01-02T00:00:00Z,3\n", "\(String(buffer: training.body))")
            checked.insert("post /api/v1/features/training-set")
            let card = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/card", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(card.status == .ok && card.headers[.contentType]?.hasPrefix("text/markdown") == true && String(buffer: card.body).hasPrefix("# fraud version 1"))
            checked.insert("get /api/v1/models/{name}/versions/{version}/card")
            let data = try await client.execute(uri: "/api/v1/models/fraud/data", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(data.status == .ok && data.headers[.contentType]?.hasPrefix("text/csv") == true && String(buffer: data.body).hasPrefix("prediction_id,row,at,"))
            checked.insert("get /api/v1/models/{name}/data")
            // The console's files: public, with a policy that allows scripts and styles from this server only.
            for (path, type) in [("/ui", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")] {
                let file = try await client.execute(uri: path, method: .get)
                #expect(file.status == .ok && file.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                #expect(file.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("script-src 'self'") == true && file.body.readableBytes > 500)
                checked.insert("get \(path)")
            }
            // Every JSON route was exercised (the document is served above, the metrics are text).
            let declared = Set(paths.flatMap { path, operations in
                guard case .object(let byMethod) = operations else { return [String]() }
                return byMethod.keys.map { "\($0) \(path)" }
            }).subtracting(["get /openapi.json", "get /metrics"])
            let versionedV1 = ["post /v1/models/{name}/versions/{version}:predict", "post /v1/models/{name}/versions/{version}:explain",
                               "get /v2/models/{name}/versions/{version}", "get /v2/models/{name}/versions/{version}/ready"]
            #expect(declared.subtracting(checked).subtracting(versionedV1).isEmpty, "not exercised: \(declared.subtracting(checked).sorted())")
        }
    }
}
