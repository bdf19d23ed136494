import FerryCore
import FerryEngine
import FerryHTTP
import FerryStorePostgres
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The feature store through its HTTP API, against goldens from Feast 0.67 (PostgreSQL offline store, SQLite online
/// store; scripts/fixtures/make_feature_goldens.py).
struct FeatureStoreTests {
    static let fixtures = TestStack.repositoryRoot.appendingPathComponent("Tests/FerryCoreTests/Fixtures/features")

    /// A fixture's definitions with source paths made absolute (as `ferry features apply` does).
    static func definitions(_ relative: String) throws -> String {
        let url = fixtures.appendingPathComponent(relative)
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var views = object["feature_views"] as! [[String: Any]]
        for i in views.indices {
            var source = views[i]["source"] as! [String: Any]
            source["path"] = url.deletingLastPathComponent().appendingPathComponent(source["path"] as! String).path
            views[i]["source"] = source
        }
        object["feature_views"] = views
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    static func rows(_ csv: String) throws -> (header: [String], rows: [[String]]) {
        let table = try CSVTable(parsing: csv, source: "csv")
        return (table.header, table.rows)
    }

    /// Two CSV fields hold the same value: both empty, equal numbers, equal booleans (any case), or equal text.
    static func same(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        // Integers exactly: as doubles, 9007199254740993 equals 9007199254740992.
        if let x = Int64(a), let y = Int64(b) { return x == y }
        if let x = Double(a), let y = Double(b) { return x == y }
        return a.lowercased() == b.lowercased() && ["true", "false"].contains(a.lowercased())
    }

    static func checkTrainingSet(_ client: any TestClientProtocol, folder: String, definitions: String) async throws {
        try await checkTrainingSet(client, folder: folder, body: try Self.definitions("\(folder)definitions\(definitions).json"))
    }

    static func checkTrainingSet(_ client: any TestClientProtocol, folder: String, body: String) async throws {
        let applied = try await client.post("/api/v1/features/apply", body)
        #expect(applied.status == .ok, "\(applied.text)")
        let caseInfo = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("\(folder)case.json"))) as! [String: Any]
        let refs = (caseInfo["feature_refs"] as! [String]).joined(separator: ",")
        let entities = try String(contentsOf: fixtures.appendingPathComponent("\(folder)entities.csv"), encoding: .utf8)
        let response = try await client.post(
            "/api/v1/features/training-set?features=\(refs)&full_feature_names=true", entities, headers: [.contentType: "text/csv"])
        try #require(response.status == .ok, "\(response.text)")
        let got = try rows(response.text)
        let expected = try rows(try String(contentsOf: fixtures.appendingPathComponent("\(folder)expected.csv"), encoding: .utf8))
        let input = try rows(entities)
        #expect(got.header == input.header + expected.header.dropFirst(), "entity columns as given, then the features: \(got.header)")
        try #require(got.rows.count == input.rows.count, "one output row per entity row")
        let rowID = got.header.firstIndex(of: "row_id")!
        var mismatches: [String] = []
        for (r, row) in got.rows.enumerated() {
            #expect(Array(row.prefix(input.header.count)) == input.rows[r], "row \(r): entity columns carried through in input order")
            let want = expected.rows.first { $0[0] == row[rowID] }!
            for (c, column) in expected.header.enumerated().dropFirst() {
                let value = row[got.header.firstIndex(of: column)!]
                if !same(value, want[c]) { mismatches.append("row_id \(row[rowID]) \(column): Ferry '\(value)', Feast '\(want[c])'") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) values differ from Feast: \(mismatches.prefix(10))")
    }

    @Test(arguments: [("", ""), ("", "_jsonl"), ("random/", "")])
    func trainingSetsEqualFeastsHistoricalRetrieval(_ golden: (folder: String, definitions: String)) async throws {
        try await withFerry(example: false) { client, _ in
            try await Self.checkTrainingSet(client, folder: golden.folder, definitions: golden.definitions)
        }
    }

    /// The entity table is joined a block at a time and written out a stretch of rows at a time: any block or
    /// stretch size gives the same training set, and an error in a later block names its line in the whole file.
    @Test func anEntityTableJoinedInBlocksGivesTheSameTrainingSet() async throws {
        try await withFerry(example: false) { client, stack in
            let applied = try await client.post("/api/v1/features/apply", try Self.definitions("definitions.json"))
            #expect(applied.status == .ok, "\(applied.text)")
            let caseInfo = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("case.json"))) as! [String: Any]
            let refs = try (caseInfo["feature_refs"] as! [String]).enumerated().map { try FeatureRef(parsing: $1, field: "features[\($0)]") }
            // Blank lines and a last line without its line end, as files come.
            var text = try String(contentsOf: Self.fixtures.appendingPathComponent("entities.csv"), encoding: .utf8)
            text = text.replacingOccurrences(of: "\n", with: "\n\n", options: [], range: text.index(text.startIndex, offsetBy: text.count / 2)..<text.endIndex)
            while text.hasSuffix("\n") { text.removeLast() }
            let file = stack.folder.appendingPathComponent("entities.csv")
            try Data(text.utf8).write(to: file)
            func training(blockRows: Int, stretchRows: Int = FeatureService.entityStretchRows) async throws -> String {
                var bytes: [UInt8] = []
                let run = try await stack.server.features.trainingSet(
                    entities: try FileHandle(forReadingFrom: file), features: refs, blockRows: blockRows, stretchRows: stretchRows)
                defer { run.close() }
                while let part = try await run.next() { bytes += part }
                return String(decoding: bytes, as: UTF8.self)
            }
            let whole = try await training(blockRows: 1_000_000)
            #expect(whole.split(separator: "\n").count == 24, "the header and 23 rows: \(whole)")
            for blockRows in [1, 2, 3, 7] {
                #expect(try await training(blockRows: blockRows) == whole, "blocks of \(blockRows) lines")
            }
            for (blockRows, stretchRows) in [(1_000_000, 1), (1_000_000, 5), (7, 3)] {
                #expect(try await training(blockRows: blockRows, stretchRows: stretchRows) == whole, "blocks of \(blockRows) lines, stretches of \(stretchRows)")
            }
            // The features asked in another order (views interleaved, a view's features reversed, some left out):
            // each column holds what it held in the whole.
            let table = try Self.rows(whole)
            let entityColumns = table.header.count - refs.count
            let order = [7, 0, 4, 9, 3, 2, 5, 6]
            let reordered = try await {
                var bytes: [UInt8] = []
                let run = try await stack.server.features.trainingSet(entities: try FileHandle(forReadingFrom: file), features: order.map { refs[$0] })
                defer { run.close() }
                while let part = try await run.next() { bytes += part }
                return try Self.rows(String(decoding: bytes, as: UTF8.self))
            }()
            #expect(reordered.header == Array(table.header.prefix(entityColumns)) + order.map { table.header[entityColumns + $0] })
            try #require(reordered.rows.count == table.rows.count)
            for (r, row) in reordered.rows.enumerated() {
                #expect(row == Array(table.rows[r].prefix(entityColumns)) + order.map { table.rows[r][entityColumns + $0] }, "row \(r)")
            }
            // The file's last line (in a later block, after blank lines) has a bad time: named by its line in the file.
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let column = lines[0].split(separator: ",").firstIndex(of: "event_timestamp")!
            var fields = lines[lines.count - 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            fields[column] = "soon"
            lines[lines.count - 1] = Substring(fields.joined(separator: ","))
            try Data(lines.joined(separator: "\n").utf8).write(to: file)
            #expect(lines.count > 30)
            await #expect { _ = try await training(blockRows: 4) } throws: { error in
                (error as? FerryError)?.message.contains("line \(lines.count), column 'event_timestamp': 'soon'") == true
            }
        }
    }

    @Test func trainingSetsEqualFeastsOnPostgreSQL() async throws {
        try await withFerry(example: false, postgres: true) { client, _ in
            try await Self.checkTrainingSet(client, folder: "", definitions: "")
        }
    }

    /// The same goldens with every view's source a PostgreSQL table (timestamps as timestamptz, values as text).
    @Test func trainingSetsFromPostgreSQLTablesEqualFeasts() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        var object = try JSONSerialization.jsonObject(with: Data(try Self.definitions("definitions.json").utf8)) as! [String: Any]
        var views = object["feature_views"] as! [[String: Any]]
        var statements = ["SET TIME ZONE 'UTC'"]
        for i in views.indices {
            var source = views[i]["source"] as! [String: Any]
            let table = try CSVTable(parsing: try String(contentsOfFile: source["path"] as! String, encoding: .utf8), source: "fixture")
            let times = Set([source["timestamp_field"] as? String ?? "event_timestamp", source["created_timestamp_field"] as? String].compactMap { $0 })
            let name = views[i]["name"] as! String
            statements.append("CREATE TABLE \(name) (" + table.header.map { "\"\($0)\" \(times.contains($0) ? "TIMESTAMPTZ" : "TEXT")" }.joined(separator: ", ") + ")")
            for row in table.rows {
                statements.append("INSERT INTO \(name) VALUES (" + row.map { $0.isEmpty ? "NULL" : "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ", ") + ")")
            }
            source["type"] = "postgres"
            source["url"] = url
            source["table"] = name
            source["path"] = nil
            views[i]["source"] = source
        }
        try await PostgresAdministration.run(statements, url: url, logger: Logger(label: "t"))
        object["feature_views"] = views
        let body = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try await withFerry(example: false) { client, _ in
            try await Self.checkTrainingSet(client, folder: "", body: body)
            let materialized = try await client.post("/api/v1/features/materialize", #"{"start": "2023-01-01T00:00:00Z", "end": "2024-01-01T10:00:00Z"}"#)
            #expect(materialized.status == .ok && materialized.text.contains(#""rows_read":15"#), "\(materialized.text)")
        }
    }

    /// Files as users have them: a byte order mark before the header (spreadsheet programs write one) is not part
    /// of the first column's name, in a source or an entity table; a named pipe as a source is refused at once (it
    /// was opened first, which waits for a writer); materialization says which views it loaded before one failed,
    /// and an incremental end before a view's mark is refused instead of moving the mark back.
    @Test func sourcesAndEntityTablesAsUsersHaveThem() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-fs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let bom = "\u{FEFF}"
        try Data((bom + "card_id,event_timestamp,count\n1,2024-01-01T00:00:00Z,5\n2,2024-01-01T00:00:00Z,6\n").utf8).write(to: folder.appendingPathComponent("stats.csv"))
        try Data("card_id,event_timestamp,count\n1,2024-01-01T00:00:00Z,oops\n".utf8).write(to: folder.appendingPathComponent("bad.csv"))
        try Data("card_id,event_timestamp,count,count\n1,2024-01-01T00:00:00Z,5,6\n".utf8).write(to: folder.appendingPathComponent("twice.csv"))
        let pipe = folder.appendingPathComponent("pipe.csv").path
        #expect(mkfifo(pipe, 0o600) == 0)
        func view(_ name: String, _ file: String) -> String {
            #"{"name": "\#(name)", "entities": ["card"], "features": [{"name": "count", "type": "int64"}], "source": {"path": "\#(folder.appendingPathComponent(file).path)"}}"#
        }
        let definitions = #"{"entities": [{"name": "card", "join_keys": [{"name": "card_id", "type": "int64"}]}], "feature_views": [\#(view("a", "stats.csv")), \#(view("b", "bad.csv")), \#(view("p", "pipe.csv"))]}"#
        let shop = #"{"entities": [{"name": "shop", "join_keys": [{"name": "shop_id", "type": "int64"}]}], "feature_views": [\#(view("s", "stats.csv").replacingOccurrences(of: #"["card"]"#, with: #"["shop"]"#))]}"#
        try await withFerry(example: false) { client, stack in
            let features = FeatureService(store: stack.store, sourceFolders: ReadableFolders(["/"]), logger: Logger(label: "t"))
            let router = makeRouter(dataPlane: stack.dataPlane, registry: stack.registry, access: .off, features: features)
            try await Application(router: router).test(.router) { client in
                // A source file that is there is checked when its view is applied: a column it lacks is refused now.
                let missing = try await client.post("/api/v1/features/apply", shop)
                #expect(missing.status == .badRequest && missing.errorMessage.contains("feature_views[0].source '\(folder.path)/stats.csv' (view 's') has no join key column 'shop_id'"), "\(missing.errorMessage)")
                // A column read twice: which one is the feature cannot be told (the first was read, silently).
                let twice = try await client.post("/api/v1/features/apply", definitions.replacingOccurrences(of: "pipe.csv", with: "twice.csv"))
                #expect(twice.status == .badRequest && twice.errorMessage.contains("names its feature column 'count' twice in its header"), "\(twice.errorMessage)")
                #expect(try await client.post("/api/v1/features/apply", definitions).status == .ok)
                let entities = bom + "card_id,event_timestamp\n2,2024-01-02T00:00:00Z\n1,2024-01-02T00:00:00Z\n"
                let training = try await client.post("/api/v1/features/training-set?features=a:count", entities, headers: [.contentType: "text/csv"])
                #expect(training.status == .ok && training.text == "card_id,event_timestamp,count\n2,2024-01-02T00:00:00Z,6\n1,2024-01-02T00:00:00Z,5\n", "\(training.text)")
                let piped = try await client.post("/api/v1/features/training-set?features=p:count", entities, headers: [.contentType: "text/csv"])
                #expect(piped.status == .badRequest && piped.errorMessage.contains("is not a regular file"), "\(piped.errorMessage)")
                let pipedMaterialize = try await client.post("/api/v1/features/materialize", #"{"start": "2023-01-01", "end": "2025-01-01", "views": ["p"]}"#)
                #expect(pipedMaterialize.status == .badRequest && pipedMaterialize.errorMessage.contains("is not a regular file"), "\(pipedMaterialize.errorMessage)")

                let both = try await client.post("/api/v1/features/materialize", #"{"start": "2023-01-01", "end": "2025-01-01", "views": ["a", "b"]}"#)
                #expect(both.status == .badRequest && both.errorMessage.contains("'oops' is not an integer")
                    && both.errorMessage.contains("feature view 'a' was materialized before it; 'b' and any after it were not"), "\(both.errorMessage)")
                let online = try await client.post("/api/v1/features/online", #"{"features": ["a:count"], "entities": {"card_id": [1, 2]}}"#)
                #expect(online.text.contains(#""values":[5]"#) && online.text.contains(#""values":[6]"#), "\(online.text)")

                #expect(try await client.post("/api/v1/features/materialize-incremental", #"{"end": "2025-01-01T00:00:00Z", "views": ["a"]}"#).status == .ok)
                let back = try await client.post("/api/v1/features/materialize-incremental", #"{"end": "2024-06-01T00:00:00Z", "views": ["a"]}"#)
                #expect(back.status == .badRequest && back.errorMessage.contains(
                    "end 2024-06-01T00:00:00Z is before 2025-01-01T00:00:00Z, where feature view 'a' is materialized through"), "\(back.errorMessage)")
            }
        }
    }

    /// Feast's feature server answer after the same materialization, except where Ferry applies the ttl online
    /// (Feast does not): there the value is null and the status OUTSIDE_MAX_AGE, with the row's event time.
    @Test(arguments: ["online", "online_compound"])
    func feastRouteAnswersAsFeastsFeatureServer(_ name: String) async throws {
        let end = "2024-01-01T10:00:00Z"
        let now = FeatureTime.date(FeatureTime.parse(end)!)
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let features = FeatureService(store: stack.store, sourceFolders: ReadableFolders(["/"]), logger: Logger(label: "t"), now: { now })
        let router = makeRouter(dataPlane: stack.dataPlane, registry: stack.registry, access: .off, features: features)
        try await Application(router: router).test(.router) { client in
            #expect(try await client.post("/api/v1/features/apply", try Self.definitions("definitions.json")).status == .ok)
            let materialized = try await client.post("/api/v1/features/materialize", #"{"start": "2023-01-01T00:00:00Z", "end": "\#(end)"}"#)
            #expect(materialized.status == .ok, "\(materialized.text)")
            let request = try String(contentsOf: Self.fixtures.appendingPathComponent("\(name)_request.json"), encoding: .utf8)
            let response = try await client.post("/get-online-features", request)
            try #require(response.status == .ok, "\(response.text)")
            let feast = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("\(name)_response.json"))) as! [String: Any]
            func columns(_ answer: [String: Any]) -> [String: [String: [Any]]] {
                let names = (answer["metadata"] as! [String: Any])["feature_names"] as! [String]
                let results = answer["results"] as! [[String: [Any]]]
                return Dictionary(uniqueKeysWithValues: zip(names, results))
            }
            let ours = columns(response.json)
            let theirs = columns(feast)
            #expect(Set(ours.keys) == Set(theirs.keys), "the same columns: \(ours.keys.sorted())")
            let views = try JSONSerialization.jsonObject(with: Data(try Self.definitions("definitions.json").utf8)) as! [String: Any]
            var ttl: [String: Double] = [:]
            for view in views["feature_views"] as! [[String: Any]] {
                let seconds: Double = (view["ttl"] as? String).map { Double(try! parseDuration($0, field: "ttl")) } ?? (view["ttl"] as? Double ?? 0)
                for feature in view["features"] as! [[String: Any]] {
                    ttl[feature["name"] as! String] = seconds
                    ttl["\(view["name"]!)__\(feature["name"]!)"] = seconds
                }
            }
            for (column, want) in theirs {
                guard let got = ours[column] else { continue }
                for r in want["values"]!.indices {
                    let time = want["event_timestamps"]![r] as! String
                    let age = now.timeIntervalSince(FeatureTime.date(FeatureTime.parse(time)!))
                    let gotStatus = got["statuses"]![r] as! String
                    #expect(got["event_timestamps"]![r] as! String == time, "\(column)[\(r)] event time")
                    if let limit = ttl[column], limit > 0, age > limit, want["statuses"]![r] as! String == "PRESENT" {
                        #expect(gotStatus == "OUTSIDE_MAX_AGE" && got["values"]![r] is NSNull, "\(column)[\(r)]: older than the ttl: \(gotStatus)")
                    } else {
                        #expect(gotStatus == want["statuses"]![r] as! String, "\(column)[\(r)] status \(gotStatus)")
                        #expect("\(got["values"]![r])" == "\(want["values"]![r])", "\(column)[\(r)] value \(got["values"]![r]) vs \(want["values"]![r])")
                    }
                }
            }
        }
    }

    static let small = """
        {"entities": [{"name": "card", "join_keys": [{"name": "card_id", "type": "int64"}]}],
         "feature_views": [{"name": "card_stats", "entities": ["card"], "ttl": "1h",
           "features": [{"name": "count", "type": "int64"}, {"name": "country", "type": "string"}],
           "source": {"path": "/nonexistent/stats.csv"}}]}
        """

    @Test func pushesAreReadBackWithStatusesAndTheTTLApplied() async throws {
        try await withFerry(example: false) { client, _ in
            #expect(try await client.post("/api/v1/features/apply", Self.small).status == .ok)
            let fresh = FeatureTime.format(FeatureTime.micros(Date()) - 60_000_000)
            let stale = FeatureTime.format(FeatureTime.micros(Date()) - 7_200_000_000)
            let pushed = try await client.post("/api/v1/features/push", """
                {"view": "card_stats", "rows": [
                  {"card_id": 1, "event_timestamp": "\(fresh)", "count": 3, "country": "FR"},
                  {"card_id": 2, "event_timestamp": "\(stale)", "count": 9, "country": "DE"},
                  {"card_id": 3, "event_timestamp": "\(fresh)", "count": 4, "country": null}]}
                """)
            #expect(pushed.status == .ok && pushed.json["written"] as? Int == 3, "\(pushed.text)")
            let older = try await client.post("/api/v1/features/push", """
                {"view": "card_stats", "rows": [{"card_id": 1, "event_timestamp": "\(stale)", "count": 99, "country": "XX"}]}
                """)
            #expect(older.json["written"] as? Int == 0 && older.json["ignored_older"] as? Int == 1, "an older event never overwrites: \(older.text)")
            let read = try await client.post("/api/v1/features/online", """
                {"features": ["card_stats:count", "card_stats:country"], "entities": {"card_id": [1, 2, 3, 4]}}
                """)
            try #require(read.status == .ok, "\(read.text)")
            let results = read.json["results"] as! [[String: Any]]
            let values = results.map { ($0["values"] as! [Any]).map { $0 is NSNull ? "null" : "\($0)" } }
            #expect(values == [["3", "FR"], ["null", "null"], ["4", "null"], ["null", "null"]], "stale values are served as null: \(read.text)")
            #expect(results.map { $0["statuses"] as! [String] } == [
                ["present", "present"], ["outside_ttl", "outside_ttl"], ["present", "null_value"], ["not_found", "not_found"],
            ], "\(read.text)")
            #expect((results[1]["event_timestamps"] as! [Any]).first as? String == stale, "a stale row still tells its event time")
            // New join keys are checked against the stored views that use them, not only against views given with them.
            let rekeyed = try await client.post("/api/v1/features/apply", #"{"entities": [{"name": "card", "join_keys": [{"name": "count", "type": "int64"}]}]}"#)
            #expect(rekeyed.status == .badRequest && rekeyed.errorMessage.contains("the new join keys do not fit the stored feature view 'card_stats'")
                && rekeyed.errorMessage.contains("'count' is also a join key"), "\(rekeyed.text)")
            // A feature added to the view since: never loaded for these rows, not a stored null.
            let wider = Self.small.replacingOccurrences(of: #"{"name": "country", "type": "string"}"#, with: #"{"name": "country", "type": "string"}, {"name": "score", "type": "float64"}"#)
            #expect(try await client.post("/api/v1/features/apply", wider).status == .ok)
            let added = try await client.post("/api/v1/features/online", #"{"features": ["card_stats:count", "card_stats:score"], "entities": {"card_id": [1]}}"#)
            #expect((added.json["results"] as? [[String: Any]])?.first?["statuses"] as? [String] == ["present", "not_found"], "\(added.text)")
        }
    }

    @Test func badDefinitionsAndRequestsAreRefusedNamingTheFieldAndNothingIsHalfApplied() async throws {
        try await withFerry(example: false) { client, _ in
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""type": "string""#, with: #""type": "text""#), .badRequest,
                 "feature_views[0].features[1].type 'text' is not a type"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""entities": ["card"]"#, with: #""entities": ["cards"]"#), .badRequest,
                 "feature_views[0].entities[0] 'cards' is not a defined entity"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""ttl": "1h""#, with: #""ttl": "soon""#), .badRequest,
                 "feature_views[0].ttl 'soon' is not a duration"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""ttl": "1h""#, with: #""ttl": 9000000000000000000"#), .badRequest,
                 "feature_views[0].ttl is over 1000 years"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""ttl": "1h""#, with: #""ttl": "9000000000000000000w""#), .badRequest,
                 "feature_views[0].ttl '9000000000000000000w' is too long"),
                ("/api/v1/features/apply", #"{"entities": [{"name": "card", "join_keys": [{"name": "card_id", "type": "float64"}]}]}"#, .badRequest,
                 "entities[0].join_keys[0].type 'float64' cannot be a join key type"),
                // A misspelt field is refused, not ignored (ignored, `tll` left the view without a ttl).
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""ttl": "1h""#, with: #""tll": "1h""#), .badRequest,
                 "feature_views[0].tll is not a field of a feature view"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""path": "/nonexistent/stats.csv""#, with: #""path": "/x.csv", "timestamp_feild": "ts""#),
                 .badRequest, "feature_views[0].source.timestamp_feild is not a field of a source"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #"{"name": "count", "type": "int64"}"#, with: #"{"name": "count", "type": "int64", "dtype": "x"}"#),
                 .badRequest, "feature_views[0].features[0].dtype is not a field of a feature"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""type": "int64"}]}],"#, with: #""type": "int64", "size": 8}]}],"#),
                 .badRequest, "entities[0].join_keys[0].size is not a field of a join key"),
                ("/api/v1/features/apply", #"{"entities": [], "bogus": 1}"#, .badRequest, "bogus is not a field of a definitions file"),
                ("/api/v1/features/apply", Self.small.replacingOccurrences(of: #""ttl": "1h""#, with: #""ttl": 3.5"#), .badRequest,
                 "must be whole seconds (86400) or a duration"),
            ]
            for (path, body, status, message) in cases {
                let response = try await client.post(path, body)
                #expect(response.status == status && response.errorMessage.contains(message), "\(response.status) \(response.errorMessage)")
            }
            #expect((try await client.get("/api/v1/features/entities")).json["items"] as? [Any] != nil)
            #expect(((try await client.get("/api/v1/features/entities")).json["items"] as! [Any]).isEmpty, "a refused apply stores nothing, not even its valid entity")
            #expect(try await client.post("/api/v1/features/apply", Self.small).status == .ok)
            let requests: [(String, String, HTTPResponse.Status, String)] = [
                ("/api/v1/features/online", #"{"features": ["card_stats:nope"], "entities": {"card_id": [1]}}"#, .notFound,
                 "features[0] 'card_stats:nope': view 'card_stats' has no feature 'nope'"),
                ("/api/v1/features/online", #"{"features": ["card_stats"], "entities": {"card_id": [1]}}"#, .badRequest,
                 "features[0] 'card_stats' is not a feature reference"),
                ("/api/v1/features/online", #"{"features": ["card_stats:count"], "entities": {"card": [1]}}"#, .badRequest,
                 "entities[0] has no 'card_id'"),
                ("/api/v1/features/online", #"{"features": ["card_stats:count"], "entities": {"card_id": ["x"]}}"#, .badRequest,
                 "entities[0].card_id: 'x' is not an integer"),
                ("/api/v1/features/push", #"{"view": "card_stats", "rows": [{"card_id": 1, "event_timestamp": "2024-01-01T00:00:00Z", "count": 1}]}"#,
                 .badRequest, "rows[0] has no field 'country'"),
                ("/api/v1/features/push", #"{"view": "card_stats", "rows": [{"card_id": 1, "event_timestamp": "yesterday", "count": 1, "country": "x"}]}"#,
                 .badRequest, "rows[0].event_timestamp must be an ISO 8601 timestamp"),
                ("/api/v1/features/push", #"{"view": "card_stats", "rows": [{"card_id": 1, "event_timestamp": "2024-01-01T00:00:00Z", "count": "many", "country": "x"}]}"#,
                 .badRequest, "rows[0].count: 'many' is not an integer"),
                ("/api/v1/features/materialize", #"{"start": "2024-01-01", "end": "2024-02-01", "views": ["card_stats"]}"#, .badRequest,
                 "source '/nonexistent/stats.csv' cannot be read"),
                ("/api/v1/features/materialize", #"{"start": "2024-01-01", "end": "2024-02-01", "views": []}"#, .badRequest, "views is empty"),
                ("/api/v1/features/materialize-incremental", #"{"end": "2024-02-01", "views": []}"#, .badRequest, "views is empty"),
                // A JSON number is a double: past 2^53 it may already be another integer, so it is refused, not rounded.
                ("/api/v1/features/online", #"{"features": ["card_stats:count"], "entities": {"card_id": [9007199254740993]}}"#, .badRequest,
                 "entities[0].card_id: 9007199254740992 is too large to be read exactly as a JSON number"),
                ("/api/v1/features/push", #"{"view": "card_stats", "rows": [{"card_id": 1, "event_timestamp": "2024-01-01T00:00:00Z", "count": 9223372036854775807, "country": "x"}]}"#,
                 .badRequest, "rows[0].count: 9223372036854775808 is too large to be read exactly as a JSON number (2^53 or more); send it as a string"),
                ("/api/v1/features/push", #"{"view": "card_stats", "rows": [{"card_id": 1, "event_timestamp": "2026-02-30T00:00:00Z", "count": 1, "country": "x"}]}"#,
                 .badRequest, "rows[0].event_timestamp must be an ISO 8601 timestamp"),
                // One read is bounded as an inference request is (--max-rows): before, any number was read and answered.
                ("/api/v1/features/online", #"{"features": ["card_stats:count"], "entities": {"card_id": [\#((0...10_000).map(String.init).joined(separator: ","))]}}"#,
                 .badRequest, "entities has 10001 entities; the limit is 10000 per request"),
                ("/get-online-features", #"{"features": ["card_stats:count"], "entities": {"card_id": [\#((0...10_000).map(String.init).joined(separator: ","))]}}"#,
                 .badRequest, "entities has 10001 entities; the limit is 10000 per request"),
                // Feast's answer names its columns: two of one name are refused, as Feast refuses them.
                ("/get-online-features", #"{"features": ["card_stats:count", "card_stats:count"], "entities": {"card_id": [1]}}"#,
                 .badRequest, "features[1] 'card_stats:count' is asked for twice (also features[0])"),
                ("/get-online-features", #"{"features": ["card_stats:count"], "entities": {"card_id": [1], "count": [2]}}"#,
                 .badRequest, "features[0] 'card_stats:count': its column 'count' would repeat an entity column; ask for full feature names"),
            ]
            for (path, body, status, message) in requests {
                let response = try await client.post(path, body)
                #expect(response.status == status && response.errorMessage.contains(message), "\(path): \(response.status) \(response.errorMessage)")
            }
            let training: [(String, String, String)] = [
                ("card_stats:count", "card,event_timestamp\n1,2024-01-01T00:00:00Z\n", "has no column 'card_id', the join key of feature view 'card_stats'"),
                ("card_stats:count", "card_id,event_timestamp\n1,2024-01-01T00:00:00Z\n2,tomorrow\n", "the entity CSV line 3, column 'event_timestamp': 'tomorrow' is not an ISO 8601 timestamp"),
                ("other:count", "card_id,event_timestamp\n1,2024-01-01T00:00:00Z\n", "names no feature view 'other'"),
                // Two columns of one name: an entity column and a feature, a feature asked twice.
                ("card_stats:count", "card_id,event_timestamp,count\n1,2024-01-01T00:00:00Z,5\n",
                 "features[0] 'card_stats:count' would be a second column named 'count' (a column of the entity CSV has that name); ask for full feature names"),
                ("card_stats:count,card_stats:count", "card_id,event_timestamp\n1,2024-01-01T00:00:00Z\n", "features[1] 'card_stats:count' is asked for twice"),
            ]
            for (refs, csv, message) in training {
                let response = try await client.post("/api/v1/features/training-set?features=\(refs)", csv, headers: [.contentType: "text/csv"])
                #expect((400..<500).contains(response.status.code) && response.errorMessage.contains(message), "\(response.status) \(response.errorMessage)")
            }
        }
    }
}

/// A version that declares feature refs is called with its entity key; Ferry fills the rest from the online store.
struct JoinedInferenceTests {
    static let activity = ["card_age_days", "tx_count_1h", "tx_count_24h", "avg_amount_30d"]

    static func setUp(_ client: any TestClientProtocol, _ stack: TestStack, schema: String = "") async throws {
        let definitions = """
            {"entities": [{"name": "card", "join_keys": [{"name": "card_id", "type": "int64"}]}],
             "feature_views": [{"name": "card_activity", "entities": ["card"], "ttl": "7d",
               "features": [{"name": "card_age_days", "type": "int64"}, {"name": "tx_count_1h", "type": "int64"},
                            {"name": "tx_count_24h", "type": "int64"}, {"name": "avg_amount_30d", "type": "float64"}],
               "source": {"path": "/unused.csv"}}]}
            """
        #expect(try await client.post("/api/v1/features/apply", definitions).status == .ok)
        let expected = try TestStack.exampleExpectations()
        let row = expected.rows[0]
        func value(_ name: String) -> String { row[expected.feature_names.firstIndex(of: name)!].map { "\($0)" } ?? "null" }
        let now = FeatureTime.format(FeatureTime.micros(Date()) - 1_000_000)
        let pushed = try await client.post("/api/v1/features/push", """
            {"view": "card_activity", "rows": [{"card_id": 7, "event_timestamp": "\(now)", \(activity.map { "\"\($0)\": \(value($0))" }.joined(separator: ", "))}]}
            """)
        #expect(pushed.status == .ok, "\(pushed.text)")
        let artifact = try TestStack.exampleModel().base64EncodedString()
        let registered = try await client.post("/api/v1/models/fraud/versions", """
            {"artifact": "\(artifact)", "aliases": ["production"], "features": [\(activity.map { "\"card_activity:\($0)\"" }.joined(separator: ", "))]\(schema)}
            """)
        #expect(registered.status == .created && (registered.json["features"] as? [String])?.count == 4, "\(registered.text)")
    }

    /// The request-time features of the example's first row, and its card.
    static func requestRow() throws -> [String: Any] {
        let expected = try TestStack.exampleExpectations()
        var fields: [String: Any] = ["card_id": 7]
        for (name, value) in zip(expected.feature_names, expected.rows[0]) where !activity.contains(name) { fields[name] = value ?? NSNull() }
        return fields
    }

    @Test func v1AndV2RequestsSendTheKeyAndGetTheStoredFeatures() async throws {
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(client, stack)
            let want = try TestStack.exampleExpectations().probabilities[0]
            let v1 = String(decoding: try JSONSerialization.data(withJSONObject: ["instances": [try Self.requestRow()]]), as: UTF8.self)
            let predicted = try await client.post("/v1/models/fraud:predict", v1)
            try #require(predicted.status == .ok, "\(predicted.text)")
            let got = (predicted.json["predictions"] as! [Double])[0]
            #expect(abs(got - want) < 1e-6, "joined features give the library's answer: \(got) vs \(want)")
            let inputs = try Self.requestRow().sorted { $0.key < $1.key }.map { name, value -> [String: Any] in
                ["name": name, "shape": [1], "datatype": name == "card_id" ? "INT64" : "FP64", "data": [value]]
            }
            let v2 = String(decoding: try JSONSerialization.data(withJSONObject: ["inputs": inputs]), as: UTF8.self)
            let inferred = try await client.post("/v2/models/fraud/infer", v2)
            try #require(inferred.status == .ok, "\(inferred.text)")
            let output = ((inferred.json["outputs"] as! [[String: Any]])[0]["data"] as! [Double])[0]
            #expect(abs(output - want) < 1e-6, "V2 per-feature inputs too: \(output)")
            await stack.predictionLogger.flush()
            let logged = try await client.get("/api/v1/models/fraud/predictions?limit=1")
            let record = (logged.json["items"] as! [[String: Any]])[0]
            let row = (record["inputs"] as? [[Any]])?.first ?? []
            let index = try TestStack.exampleExpectations().feature_names.firstIndex(of: "tx_count_24h")!
            #expect(row.count == 12 && (row[index] as? NSNumber)?.doubleValue == 2, "the log records the features the model used: \(logged.text.prefix(600))")
            let explained = try await client.post("/v1/models/fraud:explain", v1)
            #expect(explained.status == .ok && explained.text.contains("tx_count_24h"), "explanations join the features too: \(explained.text.prefix(300))")
            let unknown = try await client.post("/v1/models/fraud:predict", #"{"instances": [{"amount": 1}]}"#)
            #expect(unknown.status == .badRequest && unknown.errorMessage.contains("join key 'card_id' is missing"), "\(unknown.errorMessage)")
        }
    }

    @Test func aMissingFeatureTheSchemaRefusesNamesTheFeatureAndTheEntity() async throws {
        let expected = try TestStack.exampleExpectations()
        let schema = expected.feature_names.map { name in
            #"{"name": "\#(name)", "nullable": \#(name == "tx_count_24h" ? "false" : "true")}"#
        }.joined(separator: ", ")
        try await withFerry(example: false) { client, stack in
            try await Self.setUp(client, stack, schema: #", "input_schema": {"features": [\#(schema)]}"#)
            var row = try Self.requestRow()
            row["card_id"] = 99
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["instances": [row]]), as: UTF8.self)
            let refused = try await client.post("/v1/models/fraud:predict", body)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.errorMessage.contains("feature 'tx_count_24h' (card_activity:tx_count_24h) has no usable online value for card_id=99: not_found"),
                    "\(refused.errorMessage)")
            let bad = try await client.post("/api/v1/models/fraud/versions", #"{"artifact": "\#(try TestStack.exampleModel().base64EncodedString())", "features": ["card_activity:nope"]}"#)
            #expect(bad.status == .notFound && bad.errorMessage.contains("view 'card_activity' has no feature 'nope'"), "\(bad.errorMessage)")
        }
    }
}

/// File sources are read only under the operator's folders (`ferry serve --feature-source-dir`): checked when
/// definitions are applied, naming the field, and again before a source is read (another replica, or a server with
/// other folders, may have applied them). Symbolic links cannot lead out of a folder.
struct FeatureSourceFolderTests {
    @Test func sourcesOutsideTheOperatorsFoldersAreRefused() async throws {
        let fixtures = FeatureStoreTests.fixtures.resolvingSymlinksInPath().path
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-sources-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        // A link inside an allowed folder that points at a fixture outside it.
        try FileManager.default.createSymbolicLink(
            atPath: elsewhere.appendingPathComponent("link.csv").path, withDestinationPath: fixtures + "/card_stats.csv")
        let definitions = try FeatureStoreTests.definitions("definitions.json")
        // JSONSerialization writes "/" as "\/".
        func escaped(_ path: String) -> String { path.replacingOccurrences(of: "/", with: "\\/") }
        let linked = definitions.replacingOccurrences(of: escaped(fixtures + "/card_stats.csv"), with: escaped(elsewhere.path + "/link.csv"))
        #expect(linked != definitions, "the definitions read card_stats.csv")

        for (folders, body, message) in [
            ([String](), definitions, "this server reads no feature source files"),
            ([elsewhere.path], definitions, "is outside the folders this server reads feature sources from"),
            ([elsewhere.path], linked, "is outside the folders this server reads feature sources from"),
        ] {
            let stack = try await TestStack { $0.featureSourceDirectories = folders }
            defer { stack.tearDown() }
            try await stack.server.application().test(.router) { client in
                let applied = try await client.post("/api/v1/features/apply", body)
                #expect(applied.status == .forbidden && applied.errorMessage.contains("feature_views[") && applied.errorMessage.contains(".source.path")
                        && applied.errorMessage.contains(message), "\(folders): \(applied.text)")
                #expect((try await client.get("/api/v1/features/views").json["items"] as? [Any])?.isEmpty == true, "nothing applied")
            }
        }

        // Allowed where it was applied; refused where it is read by a server with other folders.
        let stack = try await TestStack { $0.featureSourceDirectories = [fixtures] }
        defer { stack.tearDown() }
        try await stack.server.application().test(.router) { client in
            #expect(try await client.post("/api/v1/features/apply", definitions).status == .ok)
            let materialized = try await client.post("/api/v1/features/materialize", #"{"start": "2023-01-01T00:00:00Z", "end": "2024-01-01T10:00:00Z"}"#)
            #expect(materialized.status == .ok, "\(materialized.text)")
        }
        let narrower = FeatureService(store: stack.store, sourceFolders: ReadableFolders([elsewhere.path]), logger: Logger(label: "t"))
        await #expect(throws: FerryError.self) { _ = try await narrower.materialize(start: 0, end: Int64.max / 2) }
    }
}
