import ArgumentParser
import Foundation

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Register, list and inspect models and their versions.",
        subcommands: [Register.self, List.self, Show.self, Card.self, Archive.self, Unarchive.self]
    )

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a model file as a new version (creating the model if needed).",
            discussion: """
                Example: ferry models register fraud examples/fraud/model.json --alias staging

                An MLflow model folder (the one with the MLmodel file) registers its xgboost, lightgbm or onnx \
                flavor, with the signature's named columns as the input schema and the run id, params and \
                metrics as lineage: ferry models register fraud mlruns/1/models/m-…/artifacts

                A version served by a remote Open Inference Protocol server (Triton, MLServer, KServe, another \
                Ferry) names it instead of a file; its inputs and outputs are read from the remote's metadata: \
                ferry models register fraud --remote http://gpu-node:8000 --remote-model fraud \
                --remote-header 'Authorization: Bearer ${TRITON_TOKEN}'
                """
        )

        @Argument(help: "Model name.") var name: String
        @Argument(help: "Path of the model artifact (XGBoost model.json / model.ubj, LightGBM model.txt, model.onnx) or of an MLflow model folder.") var file: String?
        @Option(help: "URL of a remote Open Inference Protocol server that serves this version (instead of a file).") var remote: String?
        @Option(name: .customLong("remote-model"), help: "The model's name on the remote server (default: NAME).") var remoteModel: String?
        @Option(name: .customLong("remote-version"), help: "The model version on the remote server (default: its own default).") var remoteVersion: String?
        @Option(name: .customLong("remote-timeout-ms"), help: "Timeout of each call to the remote, in milliseconds (default 5000).") var remoteTimeoutMs: Int?
        @Option(name: .customLong("remote-header"), help: "Header sent to the remote, 'Name: value' (repeatable); ${VAR} is read from the server's environment.") var remoteHeader: [String] = []
        @Option(name: .customLong("remote-ca-file"), help: "PEM file, on the server, of the authorities that sign an https remote's certificate (default: the system's).") var remoteCaFile: String?
        @Option(help: "Model format: xgboost-json (JSON or UBJSON), lightgbm-text or onnx (default: detected from the file).") var format: String?
        @Option(help: "Description of this version.") var description: String?
        @Option(help: "Alias to point at the new version (repeatable).") var alias: [String] = []
        @Option(help: "JSON file with an input schema ({\"features\": [{\"name\": ..., \"nullable\": ...}]}).") var schema: String?
        @Option(help: "Training parameters as a JSON object.") var params: String?
        @Option(help: "Evaluation metrics as a JSON object of numbers.") var metrics: String?
        @Option(name: .customLong("training-data"), help: "Where the training data lives.") var trainingData: String?
        @Option(name: .customLong("training-data-digest"), help: "Digest of the training data.") var trainingDataDigest: String?
        @Option(help: "Code reference (e.g. git commit) that trained the model.") var code: String?
        @Option(help: "Signature file from `ferry sign` (FILE.sig.json).") var signature: String?
        @Option(help: "Feature references the feature store supplies at inference, view:feature (comma-separated); requests then send the views' join keys instead.") var features: String?
        @Option(help: "A sensitive input, NAME or NAME=hash|redact (repeatable; default hash): the prediction log keeps it hashed (fairness still groups by it) or not at all.") var sensitive: [String] = []
        @Option(name: .customLong("runtime-option"), help: "Runtime option key=value (repeatable), e.g. iterations=best to use an XGBoost model's early-stopping best iteration.") var runtimeOption: [String] = []
        @OptionGroup var options: ClientOptions

        /// The remote backend's descriptor: where it is and how to call it (the server adds its inputs and outputs).
        func remoteDescriptor(url: String) throws -> Data {
            var remote: [String: Any] = ["url": url, "model": remoteModel ?? name]
            if let remoteVersion { remote["version"] = remoteVersion }
            if let remoteTimeoutMs { remote["timeout_ms"] = remoteTimeoutMs }
            if let remoteCaFile { remote["ca_file"] = remoteCaFile }
            var headers: [String: String] = [:]
            for header in remoteHeader {
                guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
                    throw ValidationError("--remote-header '\(header)' must look like 'Name: value'")
                }
                headers[String(header[..<colon]).trimmingCharacters(in: .whitespaces)] =
                    String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
            if !headers.isEmpty { remote["headers"] = headers }
            return try JSONSerialization.data(withJSONObject: ["remote": remote], options: [.sortedKeys])
        }

        func run() async throws {
            let artifact: Data
            var mlflow: MLflowModel?
            if let remote {
                guard file == nil else { throw ValidationError("give a model file or --remote, not both") }
                artifact = try remoteDescriptor(url: remote)
            } else if let file {
                mlflow = MLflowModel.isFolder(file) ? try MLflowModel(folder: file) : nil
                guard let read = mlflow?.artifact ?? FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read model file '\(file)'")
                }
                artifact = read
            } else {
                throw ValidationError("give a model file (or an MLflow model folder), or --remote URL")
            }
            var body: [String: Any] = ["artifact": artifact.base64EncodedString()]
            if let format = format ?? mlflow?.format ?? (remote != nil ? "remote-v2" : nil) { body["format"] = format }
            if let features = mlflow?.features, schema == nil { body["input_schema"] = ["features": features] }
            if let mlflow, !mlflow.params.isEmpty { body["params"] = mlflow.params }
            if let mlflow, !mlflow.metrics.isEmpty { body["metrics"] = mlflow.metrics }
            if let description { body["description"] = description }
            if !alias.isEmpty { body["aliases"] = alias }
            if let schema {
                guard let data = FileManager.default.contents(atPath: schema),
                      let object = try? JSONSerialization.jsonObject(with: data) else {
                    throw ValidationError("--schema '\(schema)' is not a readable JSON file")
                }
                body["input_schema"] = object
            }
            if let params { body["params"] = try Self.jsonObject(params, option: "--params") }
            if let metrics { body["metrics"] = try Self.jsonObject(metrics, option: "--metrics") }
            var lineage: [String: String] = [:]
            if let run = mlflow?.runID { lineage["run"] = "mlflow:\(run)" }
            if let trainingData { lineage["training_data"] = trainingData }
            if let trainingDataDigest { lineage["training_data_digest"] = trainingDataDigest }
            if let code { lineage["code"] = code }
            if !lineage.isEmpty { body["lineage"] = lineage }
            if !runtimeOption.isEmpty {
                var options: [String: String] = [:]
                for item in runtimeOption {
                    guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                        throw ValidationError("--runtime-option '\(item)' must look like key=value")
                    }
                    options[String(item[..<eq])] = String(item[item.index(after: eq)...])
                }
                body["runtime_options"] = options
            }
            if let signature {
                guard let data = FileManager.default.contents(atPath: signature),
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    throw ValidationError("--signature '\(signature)' is not a readable signature file from `ferry sign`")
                }
                body["signature"] = object
            }
            if let features { body["features"] = features.split(separator: ",").map(String.init) }
            if !sensitive.isEmpty {
                var named: [String: String] = [:]
                for item in sensitive {
                    let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                    let (input, mode) = (parts[0], parts.count == 2 ? parts[1] : "hash")
                    guard !input.isEmpty, !mode.isEmpty else {
                        throw ValidationError("--sensitive '\(item)' must be INPUT or INPUT=hash|redact")
                    }
                    guard named[input] == nil else { throw ValidationError("--sensitive names the input '\(input)' twice") }
                    named[input] = mode
                }
                body["sensitive"] = named
            }
            let request = try JSONSerialization.data(withJSONObject: body)
            let data = try await options.client.send(.POST, "/api/v1/models/\(APIClient.segment(name))/versions", json: request)
            if options.json { return Output.printJSON(data) }
            let v = try Output.object(data)
            let digest = (v["artifact"] as? [String: Any])?["sha256"] as? String ?? "-"
            print("registered \(name) version \(Output.text(v["version"])) (sha256:\(digest.prefix(12))…)")
            if let aliases = v["aliases"] as? [String], !aliases.isEmpty { print("aliases: \(aliases.joined(separator: ", "))") }
        }

        static func jsonObject(_ text: String, option: String) throws -> Any {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), object is [String: Any] else {
                throw ValidationError("\(option) must be a JSON object, e.g. '{\"eta\": 0.1}'")
            }
            return object
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered models.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/models")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no models registered; add one with `ferry models register NAME FILE`") }
            Output.table(["NAME", "LATEST", "ALIASES", "DESCRIPTION"], items.map { m in
                let aliases = (m["aliases"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
                    .map { "\($0.key)=\(Output.text($0.value))" }.joined(separator: ",")
                return [Output.text(m["name"]), Output.text(m["latest_version"]), aliases.isEmpty ? "-" : aliases, Output.text(m["description"])]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a model and its versions, or one version in detail.")
        @Argument(help: "Model name.") var name: String
        @Option(help: "Show this version in detail.") var version: Int?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let path = "/api/v1/models/\(APIClient.segment(name))"
            if let version {
                let data = try await options.client.get("\(path)/versions/\(version)")
                if options.json { return Output.printJSON(data) }
                let v = try Output.object(data)
                let artifact = v["artifact"] as? [String: Any] ?? [:]
                print("model:       \(name)")
                print("version:     \(version)\(v["archived"] as? Bool == true ? " (archived)" : "")")
                print("format:      \(Output.text(v["format"]))")
                print("artifact:    sha256:\(Output.text(artifact["sha256"])) (\(Output.text(artifact["size"])) bytes)")
                print("aliases:     \(Output.text(v["aliases"]))")
                print("created:     \(Output.text(v["created_at"])) by \(Output.text(v["created_by"]))")
                print("description: \(Output.text(v["description"]))")
                print("metrics:     \(Output.pairs(v["metrics"]))")
                print("params:      \(Output.pairs(v["params"]))")
                print("lineage:     \(Output.pairs(v["lineage"]))")
                print("signed by:   \(Output.text((v["signature"] as? [String: Any])?["key_id"]))")
                print("features:    \(Output.text(v["features"]))")
                if let blocked = v["serving_blocked"] as? String { print("NOT SERVED:  \(blocked)") }
                let details = (v["details"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
                for (k, value) in details { print("  \(k): \(Output.text(value))") }
                let features = ((v["input_schema"] as? [String: Any])?["features"] as? [[String: Any]]) ?? []
                print("inputs (\(features.count)): \(features.map { Output.text($0["name"]) }.joined(separator: ", "))")
                let outputs = ((v["output_schema"] as? [String: Any])?["outputs"] as? [[String: Any]]) ?? []
                for o in outputs { print("output \(Output.text(o["name"])): \(Output.text(o["datatype"])) \(Output.text(o["description"]))") }
                return
            }
            let model = try await options.client.get(path)
            let versions = try await options.client.get("\(path)/versions")
            if options.json {
                var combined = try Output.object(model)
                combined["versions"] = try Output.object(versions)["items"]
                return Output.printJSON(try JSONSerialization.data(withJSONObject: combined))
            }
            let m = try Output.object(model)
            print("model:       \(name)")
            print("description: \(Output.text(m["description"]))")
            let tags = (m["tags"] as? [String: Any] ?? [:]).map { "\($0.key)=\(Output.text($0.value))" }.sorted()
            print("tags:        \(tags.isEmpty ? "-" : tags.joined(separator: ", "))")
            print("")
            let items = try Output.object(versions)["items"] as? [[String: Any]] ?? []
            Output.table(["VERSION", "ALIASES", "FORMAT", "CREATED", "BY", "SHA256", "STATUS", "METRICS", "LINEAGE"], items.map { v in
                let sha = ((v["artifact"] as? [String: Any])?["sha256"] as? String ?? "").prefix(12)
                let aliases = (v["aliases"] as? [String]) ?? []
                let status = v["serving_blocked"] != nil ? "blocked" : v["archived"] as? Bool == true ? "archived" : "active"
                return [Output.text(v["version"]), aliases.isEmpty ? "-" : aliases.joined(separator: ","),
                        Output.text(v["format"]), Output.text(v["created_at"]), Output.text(v["created_by"]), String(sha),
                        status, Output.pairs(v["metrics"]), Output.pairs(v["lineage"])]
            })
        }
    }

    struct Card: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A version's model card (Markdown, or HTML with --html): lineage, metrics, inputs, aliases, drift, performance and fairness.")
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version number.") var version: Int
        @Flag(help: "Write a standalone HTML page instead of Markdown.") var html = false
        @Option(help: "Write the card to this file instead of printing it.") var out: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let path = "/api/v1/models/\(APIClient.segment(name))/versions/\(version)/card?format=\(html ? "html" : "markdown")"
            let data = try await options.client.send(.GET, path)
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: data) else { throw ValidationError("cannot write '\(out)'") }
                print("wrote the card of \(name) version \(version) to \(out)")
            } else {
                print(String(decoding: data, as: UTF8.self), terminator: "")
            }
        }
    }

    /// `ferry models archive` and `unarchive`: the same arguments, one POST each.
    struct VersionArgs: ParsableArguments {
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version number.") var version: Int
        @OptionGroup var options: ClientOptions

        /// POSTs `.../versions/{version}/{action}` and says it was `done`.
        func post(_ action: String, done: String) async throws {
            let data = try await options.client.send(.POST, "/api/v1/models/\(APIClient.segment(name))/versions/\(version)/\(action)")
            if options.json { return Output.printJSON(data) }
            print("\(done) \(name) version \(version)")
        }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Archive a version: no longer served by number or as the default (its artifact is kept; `ferry models unarchive` brings it back); an alias that points at it keeps serving it until moved. Refused while an endpoint uses it.")
        @OptionGroup var version: VersionArgs

        func run() async throws { try await version.post("archive", done: "archived") }
    }

    struct Unarchive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a version out of the archive: served by number, and as the default when it is the newest, again.")
        @OptionGroup var version: VersionArgs

        func run() async throws { try await version.post("unarchive", done: "unarchived") }
    }
}
