import ArgumentParser
import FerryCore
import Foundation
import Yams

struct Features: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "The feature store: definitions, point-in-time training sets, materialization and online reads.",
        subcommands: [Apply.self, List.self, Materialize.self, MaterializeIncremental.self, Push.self, Online.self, TrainingSet.self]
    )

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply entities and feature views from a YAML or JSON file.",
            discussion: """
                The file has `entities` (name, join_keys: [{name, type}], description) and `feature_views` (name,
                entities, features: [{name, type}], source: {path, timestamp_field, created_timestamp_field}, ttl,
                owner, description, tags). A relative source path is read from the file's folder. Types: int64,
                int32, float64, float32, string, bool. See README "Feature store".
                """)
        @Argument(help: "Definitions file (.yaml, .yml or .json).") var file: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let body = try Definitions.read(file)
            let data = try await options.client.send(.POST, "/api/v1/features/apply", json: body)
            if options.json { return Output.printJSON(data) }
            let object = try Output.object(data)
            for entity in object["entities"] as? [[String: Any]] ?? [] {
                print("entity \(Output.text(entity["name"])) v\(Output.text(entity["version"]))")
            }
            for view in object["feature_views"] as? [[String: Any]] ?? [] {
                print("feature view \(Output.text(view["name"])) v\(Output.text(view["version"]))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entities and feature views.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let entities = try await options.client.get("/api/v1/features/entities")
            let views = try await options.client.get("/api/v1/features/views")
            if options.json {
                // One document, as the definitions file has them: {"entities": [...], "feature_views": [...]}.
                let both: [String: Any] = ["entities": try Output.object(entities)["items"] ?? [], "feature_views": try Output.object(views)["items"] ?? []]
                return Output.printJSON(try JSONSerialization.data(withJSONObject: both))
            }
            Output.table(["ENTITY", "VERSION", "JOIN KEYS"], (try Output.object(entities)["items"] as? [[String: Any]] ?? []).map { e in
                [Output.text(e["name"]), Output.text(e["version"]),
                 (e["join_keys"] as? [[String: Any]] ?? []).map { "\(Output.text($0["name"])):\(Output.text($0["type"]))" }.joined(separator: ",")]
            })
            print("")
            Output.table(["VIEW", "VERSION", "ENTITIES", "TTL", "FEATURES", "OWNER"], (try Output.object(views)["items"] as? [[String: Any]] ?? []).map { v in
                [Output.text(v["name"]), Output.text(v["version"]), Output.text(v["entities"]), (v["ttl"] as? Int).map { $0 == 0 ? "none" : "\($0)s" } ?? Output.text(v["ttl"]),
                 (v["features"] as? [[String: Any]] ?? []).map { Output.text($0["name"]) }.joined(separator: ","), Output.text(v["owner"])]
            })
        }
    }

    struct Materialize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load the latest values with event time in [start, end] into the online store.")
        @Option(help: "Start (ISO 8601).") var start: String
        @Option(help: "End (ISO 8601).") var end: String
        @Option(help: "Only these views (comma-separated).") var views: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["start": start, "end": end]
            if let views { body["views"] = views.split(separator: ",").map(String.init) }
            try Features.report(try await options.client.send(.POST, "/api/v1/features/materialize", json: try JSONSerialization.data(withJSONObject: body)), options)
        }
    }

    struct MaterializeIncremental: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "materialize-incremental", abstract: "Materialize each view from where its last materialization ended to end.")
        @Option(help: "End (ISO 8601).") var end: String
        @Option(help: "Only these views (comma-separated).") var views: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["end": end]
            if let views { body["views"] = views.split(separator: ",").map(String.init) }
            try Features.report(
                try await options.client.send(.POST, "/api/v1/features/materialize-incremental", json: try JSONSerialization.data(withJSONObject: body)), options)
        }
    }

    static func report(_ data: Data, _ options: ClientOptions) throws {
        if options.json { return Output.printJSON(data) }
        Output.table(["VIEW", "START", "END", "ROWS READ", "ROWS WRITTEN"], (try Output.object(data)["views"] as? [[String: Any]] ?? []).map { v in
            [Output.text(v["name"]), Output.text(v["start"]), Output.text(v["end"]), Output.text(v["rows_read"]), Output.text(v["rows_written"])]
        })
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write rows (a JSON Lines file, or - for stdin) into a view's online store; older events never overwrite newer ones.")
        @Argument(help: "Feature view.") var view: String
        @Argument(help: "JSON Lines file with the join keys, the timestamp and every feature per line.") var file: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Definitions.contents(file)
            var rows: [Any] = []
            // Each row's line in the file (blank lines are skipped), so the server's rows[i] can be said as a line.
            var lines: [Int] = []
            for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.allSatisfy(\.isWhitespace) {
                guard let row = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw CLIError("\(file) line \(i + 1) is not a JSON object")
                }
                rows.append(row)
                lines.append(i + 1)
            }
            let body = try JSONSerialization.data(withJSONObject: ["view": view, "rows": rows])
            let answer: Data
            do {
                answer = try await options.client.send(.POST, "/api/v1/features/push", json: body)
            } catch let error as CLIError {
                guard let match = error.description.firstMatch(of: /rows\[(\d+)\]/), let i = Int(match.1), lines.indices.contains(i) else { throw error }
                throw CLIError("\(file) line \(lines[i]): \(error.description)")
            }
            if options.json { return Output.printJSON(answer) }
            let o = try Output.object(answer)
            print("written \(Output.text(o["written"])), ignored as older \(Output.text(o["ignored_older"]))")
        }
    }

    struct Online: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read online feature values for entity keys.")
        @Option(help: "Feature references, view:feature (comma-separated).") var features: String
        @Option(name: .customLong("entity"), help: "A join key value, key=value (repeat for more entities or keys).") var entities: [String]
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var columns: [String: [Any]] = [:]
            for pair in entities {
                guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw CLIError("--entity '\(pair)' must be key=value") }
                let value = String(pair[pair.index(after: eq)...])
                // As text, which the server reads by the join key's declared type: `007` stays `007` for a string key
                // (sent as a number, it was refused as "not a string"), and is 7 for an integer key.
                columns[String(pair[..<eq]), default: []].append(value)
            }
            let body = try JSONSerialization.data(withJSONObject: ["features": features.split(separator: ",").map(String.init), "entities": columns])
            let data = try await options.client.send(.POST, "/api/v1/features/online", json: body)
            if options.json { return Output.printJSON(data) }
            let object = try Output.object(data)
            let names = object["features"] as? [String] ?? []
            var rows: [[String]] = []
            for result in object["results"] as? [[String: Any]] ?? [] {
                let values = result["values"] as? [Any] ?? []
                let statuses = result["statuses"] as? [String] ?? []
                let times = result["event_timestamps"] as? [Any] ?? []
                for (i, name) in names.enumerated() {
                    rows.append([Output.pairs(result["entity"]), name, Output.text(i < values.count ? values[i] : nil),
                                 i < statuses.count ? statuses[i] : "-", Output.text(i < times.count ? times[i] : nil)])
                }
            }
            Output.table(["ENTITY", "FEATURE", "VALUE", "STATUS", "EVENT TIME"], rows)
        }
    }

    struct TrainingSet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "training-set",
            abstract: "Build a point-in-time-correct training set: each entity row gets each feature's latest value at its timestamp.")
        @Option(help: "CSV with the join keys and an event_timestamp column (other columns are carried through).") var entities: String
        @Option(help: "Feature references, view:feature (comma-separated).") var features: String
        @Option(help: "Output CSV file (default: standard output).") var out: String?
        @Flag(help: "Name feature columns view__feature.") var fullFeatureNames = false
        @Option(help: "The entity CSV's timestamp column.") var timestampColumn = "event_timestamp"
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query = URLComponents()
            query.queryItems = [
                URLQueryItem(name: "features", value: features), URLQueryItem(name: "full_feature_names", value: String(fullFeatureNames)),
                URLQueryItem(name: "timestamp_column", value: timestampColumn),
            ]
            // Both files stream: the entity table goes up and the training set comes down a megabyte at a time.
            let path = "/api/v1/features/training-set?" + (query.percentEncodedQuery ?? "")
            guard let out else {
                _ = try await options.client.upload(path, file: entities, contentType: "text/csv", into: FileHandle.standardOutput)
                return
            }
            // The rows are counted as they arrive: reading the file again took a tenth of a second or more.
            let lines = try await APIClient.writing(out, what: "--out") { handle in
                var lines = 0
                _ = try await options.client.upload(path, file: entities, contentType: "text/csv", into: handle) { buffer in
                    buffer.withUnsafeReadableBytes { lines += CSVTable.lineFeeds($0) }
                }
                return lines
            }
            print("wrote \(max(lines - 1, 0)) rows to \(out)")
        }
    }
}

/// Reading a definitions file: YAML or JSON, to the API's JSON, with relative source paths made absolute.
enum Definitions {
    static func contents(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read '\(path)'") }
        return data
    }

    static func read(_ path: String) throws -> Data {
        let text = String(decoding: try contents(path), as: UTF8.self)
        let parsed: Any?
        if path.hasSuffix(".json") {
            do {
                parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
            } catch {
                throw CLIError("'\(path)' is not valid JSON (\(error.localizedDescription))")
            }
        } else {
            do {
                parsed = try Yams.load(yaml: text)
            } catch {
                throw CLIError("'\(path)' is not valid YAML: \(error)")
            }
        }
        guard var object = plain(parsed) as? [String: Any] else {
            throw CLIError("'\(path)' must hold a mapping with 'entities' and/or 'feature_views'")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        if var views = object["feature_views"] as? [[String: Any]] {
            for i in views.indices {
                if var source = views[i]["source"] as? [String: Any], let file = source["path"] as? String, !file.hasPrefix("/") {
                    source["path"] = folder.appendingPathComponent(file).standardizedFileURL.path
                    views[i]["source"] = source
                }
            }
            object["feature_views"] = views
        }
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// YAML values as JSON ones: dates (YAML timestamps) become ISO 8601 text, nothing else changes.
    static func plain(_ value: Any?) -> Any {
        switch value {
        case nil: return NSNull()
        case let d as Date: return ISO8601DateFormatter().string(from: d)
        case let a as [Any]: return a.map { plain($0) }
        case let o as [String: Any]: return o.mapValues { plain($0) }
        case let o as [AnyHashable: Any]: return Dictionary(o.map { ("\($0.key)", plain($0.value)) }, uniquingKeysWith: { $1 })
        default: return value!
        }
    }
}
