import FerryCore
@testable import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

struct ControlPlaneRouteTests {
    /// With authentication off, changes are recorded as made by "anonymous" (SecurityRouteTests covers real actors).
    let actor: HTTPFields = [.contentType: "application/json"]

    @Test func registerListShowAliasAndHistory() async throws {
        let artifact = try TestStack.exampleModel().base64EncodedString()
        try await withFerry { client, _ in
            let created = try await client.post("/api/v1/models", #"{"name": "churn", "description": "d", "tags": {"team": "growth"}}"#, headers: actor)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.json["created_by"] as? String == "anonymous")
            let register = try await client.post("/api/v1/models/churn/versions", """
                {"artifact": "\(artifact)", "description": "first", "params": {"eta": 0.1}, "metrics": {"auc": 0.91},
                 "lineage": {"training_data": "s3://bucket/train.parquet", "training_data_digest": "sha256:ab", "code": "git:1234"},
                 "aliases": ["staging"]}
                """, headers: actor)
            #expect(register.status == .created, "\(register.text)")
            #expect(register.json["version"] as? Int == 1)
            #expect(register.json["aliases"] as? [String] == ["staging"])
            #expect((register.json["lineage"] as? [String: Any])?["training_data_digest"] as? String == "sha256:ab")
            #expect((register.json["metrics"] as? [String: Any])?["auc"] as? Double == 0.91)
            let features = (register.json["input_schema"] as? [String: Any])?["features"] as? [[String: Any]]
            #expect(features?.count == 12)

            // Raw upload of the same bytes: a second version with the same digest.
            let raw = try await client.execute(
                uri: "/api/v1/models/churn/versions?description=raw&alias=candidate", method: .post,
                headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: try TestStack.exampleModel()))
            #expect(raw.status == .created, "\(raw.text)")
            #expect(raw.json["version"] as? Int == 2)
            #expect(raw.json["description"] as? String == "raw")

            let list = try await client.get("/api/v1/models")
            let names = (list.json["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["churn", "fraud"] && list.json["next_page_token"] == nil, "everything, no token: \(list.text)")
            let churn = (list.json["items"] as? [[String: Any]])?.first
            #expect(churn?["latest_version"] as? Int == 2 && churn?["aliases"] as? [String: Int] == ["staging": 1, "candidate": 2], "\(list.text)")

            // One page at a time, following the tokens.
            let page = try await client.get("/api/v1/models?max_results=1")
            let token = try #require(page.json["next_page_token"] as? String)
            #expect((page.json["items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["churn"])
            let last = try await client.get("/api/v1/models?max_results=1&page_token=\(token)")
            #expect((last.json["items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["fraud"], "\(last.text)")
            let end = try await client.get("/api/v1/models?max_results=1&page_token=\(try #require(last.json["next_page_token"] as? String))")
            #expect((end.json["items"] as? [Any])?.isEmpty == true && end.json["next_page_token"] == nil, "\(end.text)")
            for (query, field) in [("max_results=0", "max_results"), ("max_results=x", "max_results"), ("page_token=%21%21", "page_token")] {
                let bad = try await client.get("/api/v1/models?\(query)")
                #expect(bad.status == .badRequest && bad.errorMessage.contains("query '\(field)'"), "\(query): \(bad.text)")
            }

            let moved = try await client.execute(uri: "/api/v1/models/churn/aliases/production", method: .put,
                                                 headers: actor, body: ByteBuffer(string: #"{"version": 2, "reason": "go"}"#))
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.json["to"] as? Int == 2)
            let served = try await client.get("/v2/models/churn")
            #expect((served.json["parameters"] as? [String: Any])?["version"] as? String == "2")

            let history = try await client.get("/api/v1/models/churn/alias-history?alias=production")
            let events = history.json["items"] as? [[String: Any]] ?? []
            #expect(events.count == 1 && events[0]["by"] as? String == "anonymous" && events[0]["reason"] as? String == "go")
            let all = try await client.get("/api/v1/models/churn/alias-history")
            #expect((all.json["items"] as? [Any])?.count == 3)

            let removed = try await client.execute(uri: "/api/v1/models/churn/aliases/candidate", method: .delete)
            #expect(removed.status == .ok && removed.json["from"] as? Int == 2)
            let archived = try await client.post("/api/v1/models/churn/versions/1/archive", "")
            #expect(archived.status == .ok && archived.json["archived"] as? Bool == true)
            let versions = try await client.get("/api/v1/models/churn/versions")
            #expect((versions.json["items"] as? [[String: Any]])?.map { $0["archived"] as? Bool } == [true, false])
            let patched = try await client.execute(uri: "/api/v1/models/churn", method: .patch, body: ByteBuffer(string: #"{"description": "new"}"#))
            #expect(patched.json["description"] as? String == "new")
        }
    }

    @Test(arguments: [
        ("POST", "/api/v1/models", #"{"description": "x"}"#, 400, "field 'name' is required"),
        ("POST", "/api/v1/models", #"{"name": 5}"#, 400, "field 'name' has the wrong type: expected a string"),
        ("POST", "/api/v1/models", #"{"name": "bad name"}"#, 400, "is not valid"),
        ("POST", "/api/v1/models", #"{"name": "fraud"}"#, 409, "already exists"),
        ("POST", "/api/v1/models", "not json", 400, "not valid JSON"),
        ("POST", "/api/v1/models/fraud/versions", #"{"artifact": "%%%"}"#, 400, "not valid base64"),
        ("POST", "/api/v1/models/fraud/versions", #"{"artifact": "e30="}"#, 400, "not a valid XGBoost JSON model"),
        ("POST", "/api/v1/models/fraud/versions", #"{"artifact": "e30=", "format": "pmml"}"#, 400, "model format 'pmml' is not supported"),
        ("POST", "/api/v1/models/fraud/versions", #"{"artifact": "e30=", "format": "onnx"}"#, 400, "not a valid ONNX model"),
        ("POST", "/api/v1/models/fraud/versions", #"{"format": "xgboost-json"}"#, 400, "field 'artifact' is required"),
        ("POST", "/api/v1/models/fraud/versions", #"{"artifact": "e30=", "metrics": {"auc": "high"}}"#, 400, "field 'metrics.auc' has the wrong type"),
        ("PUT", "/api/v1/models/fraud/aliases/production", #"{"version": 9}"#, 404, "has no version 9"),
        ("PUT", "/api/v1/models/fraud/aliases/production", #"{"version": "one"}"#, 400, "field 'version' has the wrong type"),
        ("PUT", "/api/v1/models/fraud/aliases/bad%20alias", #"{"version": 1}"#, 400, "alias 'bad alias' is not valid"),
        ("POST", "/api/v1/models/my%20model/versions", #"{"artifact": "e30="}"#, 400, "model name 'my model' is not valid"),
        ("PUT", "/api/v1/models/nope/aliases/production", #"{"version": 1}"#, 404, "model 'nope' is not registered"),
        ("GET", "/api/v1/models/nope", "", 404, "model 'nope' is not registered"),
        ("GET", "/api/v1/models/fraud/versions/abc", "", 400, "version 'abc' is not a version number"),
        ("GET", "/api/v1/models/fraud/versions/5", "", 404, "has no version 5"),
        ("DELETE", "/api/v1/models/fraud/aliases/staging", "", 404, "has no alias 'staging'"),
    ] as [(String, String, String, Int, String)])
    func badRequestsAreRefusedWithAClearMessage(_ method: String, _ uri: String, _ body: String, _ status: Int, _ expected: String) async throws {
        try await withFerry { client, _ in
            let response = try await client.execute(
                uri: uri, method: HTTPRequest.Method(method)!, headers: [.contentType: "application/json"],
                body: body.isEmpty ? nil : ByteBuffer(string: body))
            #expect(response.status.code == status, "\(method) \(uri): \(response.status) \(response.text)")
            #expect(response.errorMessage.contains(expected), "\(method) \(uri): \(response.errorMessage)")
        }
    }

    /// A key limited to some models gets full pages of them: before, pages were cut before the filter, so it walked
    /// empty pages (and a client stopping at an empty one missed its models).
    @Test func aKeyLimitedToSomeModelsGetsFullPagesOfThem() async throws {
        try await withFerry(authenticated: true) { client, stack in
            for name in ["a", "b", "c", "d", "e"] {
                _ = try await stack.registry.register(.init(model: name, artifact: try TestStack.exampleModel(), createdBy: "t"))
            }
            let key = try await stack.authenticator.createKey(name: "few", role: .viewer, models: ["b", "e", "fraud"], by: "t").secret
            func page(_ query: String) async throws -> (names: [String], token: String?) {
                let response = try await client.execute(uri: "/api/v1/models?\(query)", method: .get, headers: [.authorization: "Bearer \(key)"])
                #expect(response.status == .ok, "\(response.text)")
                return ((response.json["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? [], response.json["next_page_token"] as? String)
            }
            let first = try await page("max_results=2")
            #expect(first.names == ["b", "e"] && first.token != nil, "\(first)")
            let second = try await page("max_results=2&page_token=\(first.token ?? "")")
            #expect(second.names == ["fraud"] && second.token == nil, "\(second)")
        }
    }
}

struct OpenAPITests {
    @Test func documentDescribesExactlyTheRoutesTheRouterServes() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let router = stack.server.router
        let served = Set(router.routes.map { "\($0.method.rawValue.lowercased()) \($0.path)" })
        let app = Application(router: router)
        try await app.test(.router) { client in
            let response = try await client.get("/openapi.json")
            #expect(response.status == .ok)
            let document = response.json
            #expect(document["openapi"] as? String == "3.0.3")
            let paths = document["paths"] as? [String: [String: Any]] ?? [:]
            var described = Set<String>()
            for (path, operations) in paths {
                for (method, operation) in operations {
                    described.insert("\(method) \(path)")
                    let declared = ((operation as? [String: Any])?["parameters"] as? [[String: Any]] ?? [])
                        .filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String }
                    let inPath = path.split(separator: "{").dropFirst().compactMap { $0.split(separator: "}").first.map(String.init) }
                    #expect(Set(declared) == Set(inPath), "\(method) \(path) declares \(declared)")
                }
            }
            // MLflow's API is served beside the document (its protos describe it), with its own access table.
            let mlflow = Set(MLflowRoutes.routes.map { "\($0.method) \($0.path)" })
            #expect(described.isDisjoint(with: mlflow))
            let all = described.union(mlflow)
            #expect(all == served, "only described: \(all.subtracting(served)); only served: \(served.subtracting(all))")
            // Every schema reference resolves.
            let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
            let text = response.text
            var rest = Substring(text)
            while let range = rest.range(of: "#/components/schemas/") {
                let name = rest[range.upperBound...].prefix { $0 != "\"" }
                #expect(schemas[String(name)] != nil, "dangling $ref \(name)")
                rest = rest[range.upperBound...]
            }
        }
    }
}

struct LightGBMServingTests {
    /// A LightGBM model registered without naming its format is detected, served and explained.
    @Test func lightgbmModelIsDetectedServedAndExplained() async throws {
        let directory = TestStack.repositoryRoot.appendingPathComponent("Tests/FerryRuntimesTests/Fixtures/lightgbm")
        let model = try Data(contentsOf: directory.appendingPathComponent("multiclass_iris.model.txt"))
        struct Expected: Decodable { var rows: [[Double?]]; var predictions: [[Double]] }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("multiclass_iris.expected.json")))
        let rows = expected.rows.map { $0.map { $0.map { String($0) } ?? "null" }.joined(separator: ",") }
        let predictions = expected.predictions
        try await withFerry { client, _ in
            let raw = try await client.execute(uri: "/api/v1/models/iris/versions", method: .post,
                                               headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: model))
            #expect(raw.status == .created, "\(raw.text)")
            #expect(raw.json["format"] as? String == "lightgbm-text")
            let body = #"{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP64","data":[[\#(rows[0])],[\#(rows[1])]]}]}"#
            let response = try await client.post("/v2/models/iris/infer", body)
            #expect(response.status == .ok, "\(response.text)")
            let output = (response.json["outputs"] as? [[String: Any]])?.first
            #expect(output?["shape"] as? [Int] == [2, 3])
            let got = output?["data"] as? [Double] ?? []
            for (g, w) in zip(got, predictions.prefix(2).flatMap { $0 }) { #expect(abs(g - w) <= 1e-9 * max(abs(w), 1)) }
            let explained = try await client.post("/v1/models/iris:explain", #"{"instances": [[\#(rows[0])]]}"#)
            #expect(explained.status == .ok, "\(explained.text)")
            #expect((explained.json["explanations"] as? [[Any]])?.first?.count == 3, "one explanation per class")
        }
    }
}
