import FerryCore
import FerryEngine
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Data validation end to end: expectations derived from the example model's schema and reference, edited, and
/// files checked against them with every failing row quarantined with its rules.
struct ValidationTests {
    static let header = "amount,amount_zscore,hour,is_night,merchant_risk,country_mismatch,card_age_days,tx_count_1h,tx_count_24h,avg_amount_30d,distance_from_home_km,device_new"

    /// A row of the example's 12 features with `amount` and `hour` set.
    static func row(amount: String, hour: String = "8", id: Int = 0) -> String {
        "\(amount),0.5,\(hour),0,0.1,0,\(100 + id),1,2,50,3.5,0"
    }

    static func json(_ response: TestResponse, _ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        return try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
    }

    static func result(_ run: [String: Any], _ rule: String, _ column: String? = nil) -> [String: Any]? {
        (run["results"] as? [[String: Any]])?.first { $0["rule"] as? String == rule && (column == nil || $0["column"] as? String == column) }
    }

    @Test(arguments: ["sqlite", "postgres"])
    func aFileIsCheckedAndEveryFailingRowIsQuarantinedWithItsRules(_ store: String) async throws {
        try await withFerry(postgres: store == "postgres") { client, stack in
            // A reference: amounts 10 to 100 (so the range is 5.5 to 104.5 with the 5% tolerance).
            let reference = (0..<10).map { Self.row(amount: String(10 + $0 * 10), id: $0) }
            let referenceCSV = ([Self.header] + reference).joined(separator: "\n")
            let set = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/reference", method: .put, headers: [.contentType: "text/csv"], body: ByteBuffer(string: referenceCSV))
            #expect(set.status == .ok, "\(String(buffer: set.body))")

            let derived = try Self.json(try await client.get("/api/v1/models/fraud/versions/1/expectations"), .ok)
            #expect(derived["origin"] as? String == "derived")
            let amount = (derived["columns"] as? [[String: Any]])?.first { $0["name"] as? String == "amount" } ?? [:]
            #expect(amount["min"] as? Double == 5.5 && amount["max"] as? Double == 104.5 && amount["max_psi"] as? Double == 0.25, "\(amount)")

            let card = String(buffer: try await client.get("/api/v1/models/fraud/versions/1/card").body)
            #expect(card.contains("## Expectations of its data") && card.contains("| amount | numeric | 5.5 to 104.5 |"), "\(card)")

            // Row 2 out of range, row 3 not a number, row 4 repeats row 1, row 5 has too few fields, row 6 is fine, row 7
            // has a quote never closed.
            let rows = [
                Self.row(amount: "50", id: 1), Self.row(amount: "500", id: 2), Self.row(amount: "lots", id: 3), Self.row(amount: "50", id: 1),
                "1,2,3", Self.row(amount: "60", id: 6), #""open,1,2"#,
            ]
            let file = ([Self.header] + rows).joined(separator: "\n") + "\n"
            let run = try Self.json(try await client.execute(
                uri: "/api/v1/models/fraud/validations?source=rows.csv", method: .post, headers: [.contentType: "text/csv"],
                body: ByteBuffer(string: file)), .created)
            #expect(run["passed"] as? Bool == false && run["rows"] as? Int == 7 && run["quarantined_rows"] as? Int == 5, "\(run)")
            let range = Self.result(run, "range", "amount")
            #expect(range?["passed"] as? Bool == false && range?["failures"] as? Int == 1)
            #expect((range?["examples"] as? [[String: Any]])?.first?["row"] as? Int == 2 && (range?["examples"] as? [[String: Any]])?.first?["value"] as? String == "500")
            #expect(Self.result(run, "type", "amount")?["failures"] as? Int == 1)
            #expect(Self.result(run, "duplicate_row")?["failures"] as? Int == 1)
            #expect(Self.result(run, "parse")?["failures"] as? Int == 2)
            #expect(Self.result(run, "type", "hour")?["passed"] as? Bool == true)

            // The quarantine: exactly the failing rows, in order, each with its rules and its own fields.
            let id = try #require(run["id"] as? String)
            let quarantine = String(buffer: try await client.get("/api/v1/models/fraud/validations/\(id)/quarantine").body)
            let lines = quarantine.split(separator: "\n").map(String.init)
            #expect(lines == [
                "row,rules," + Self.header,
                "2,range:amount," + rows[1], "3,type:amount," + rows[2], "4,duplicate_row," + rows[3], "5,parse," + rows[4],
                // Kept whole as one quoted field: pasted as it was, its quote swallowed every quarantined row after it.
                #"7,parse,"""open,1,2""#,
            ], "\(lines)")
            #expect(try CSVTable.fields(Substring(lines[5]), source: "the quarantine", line: 6) == ["7", "parse", rows[6]])

            // The report as a page, and the run among the model's runs.
            let page = try await client.get("/api/v1/models/fraud/validations/\(id)?format=html")
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true && String(buffer: page.body).contains("FAILED: "))
            let listed = try Self.json(try await client.get("/api/v1/models/fraud/validations"), .ok)
            #expect((listed["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            let audited = try await stack.store.auditEntries(after: 0, limit: 1000).map(\.action)
            #expect(audited.contains("data.validate"))
            // The same file as a spreadsheet program writes it, a byte order mark first: the same verdicts.
            let marked = try Self.json(try await client.execute(
                uri: "/api/v1/models/fraud/validations?source=rows.csv", method: .post, headers: [.contentType: "text/csv"],
                body: ByteBuffer(string: "\u{FEFF}" + file)), .created)
            #expect(marked["rows"] as? Int == 7 && marked["quarantined_rows"] as? Int == 5 && Self.result(marked, "column", "amount") == nil, "\(marked)")
        }
    }

    @Test
    func editedExpectationsAreCheckedByFieldAndApplyToJSONLines() async throws {
        try await withFerry { client, stack in
            func put(_ body: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/models/fraud/versions/1/expectations", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            }
            for (body, message) in [
                (#"{"columns": [{"name": "amount", "min": 10, "max": 1}]}"#, "column 'amount': field 'min' (10.0) is above 'max' (1.0)"),
                (#"{"columns": [{"name": "amount", "max_null_rate": 2}]}"#, "field 'max_null_rate' must be between 0 and 1"),
                (#"{"columns": [{"name": "amount"}], "unique_key": ["id"]}"#, "field 'unique_key[0]' names 'id'"),
                (#"{"columns": []}"#, "field 'columns' must name at least one column"),
                // A misspelt field is refused: ignored, it silently dropped a rule.
                (#"{"columns": [{"name": "amount", "max_nul_rate": 0}]}"#, "columns[0].max_nul_rate is not a field of a column's expectations"),
                (#"{"columns": [{"name": "amount"}], "foo_rule": true}"#, "foo_rule is not a field of expectations"),
                (#"{"columns": [{"name": "amount"}], "min_rows": 2.5}"#, "the body has a value its field cannot hold"),
            ] {
                let refused = try Self.json(try await put(body), .badRequest)
                #expect((refused["error"] as? String)?.contains(message) == true, "\(refused)")
            }
            let edited = try Self.json(try await put(#"""
                {"columns": [{"name": "id", "kind": "numeric", "max_null_rate": 0},
                             {"name": "country", "kind": "categorical", "categories": ["DE", "FR"]},
                             {"name": "amount", "min": 0}],
                 "unique_key": ["id"], "min_rows": 5}
                """#), .ok)
            #expect(edited["origin"] as? String == "edited")

            let lines = [
                #"{"id": 1, "country": "DE", "amount": 5}"#, #"{"id": 2, "country": "US", "amount": 5}"#, #"{"id": 1, "country": "FR", "amount": 7}"#,
                #"{"country": "FR", "amount": "12"}"#, #"not "json\ {"#,
                // Two keys a double cannot tell apart (2^53 + 1 and 2^53): not the same key.
                #"{"id": 9007199254740993, "country": "DE", "amount": 1}"#, #"{"id": 9007199254740992, "country": "DE", "amount": 1}"#,
            ]
            let run = try Self.json(try await client.execute(
                uri: "/api/v1/models/fraud/validations?format=jsonl", method: .post, body: ByteBuffer(string: lines.joined(separator: "\n"))), .created)
            #expect(run["rows"] as? Int == 7 && run["quarantined_rows"] as? Int == 4, "\(run)")
            #expect(Self.result(run, "categories", "country")?["failures"] as? Int == 1)
            #expect(Self.result(run, "unique_key")?["failures"] as? Int == 1)
            #expect(Self.result(run, "not_null", "id")?["failures"] as? Int == 1)
            #expect(Self.result(run, "type", "amount")?["failures"] as? Int == 1, "a JSON string is not a number")
            #expect(Self.result(run, "parse")?["failures"] as? Int == 1)
            let count = Self.result(run, "row_count")
            #expect(count?["passed"] as? Bool == true && count?["observed"] as? Double == 7)
            let quarantine = String(buffer: try await client.get("/api/v1/models/fraud/validations/\(run["id"] as? String ?? "")/quarantine").body)
            let first = quarantine.split(separator: "\n").first.map(String.init) ?? ""
            let object = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
            #expect(object?["row"] as? Int == 2 && object?["rules"] as? [String] == ["categories:country"] && (object?["record"] as? [String: Any])?["country"] as? String == "US", "\(first)")
            // Every quarantined line is JSON; a line that is not JSON is kept as a string.
            let objects = quarantine.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(objects.count == 4 && objects.allSatisfy { $0 != nil }, "\(quarantine)")
            #expect(objects.last??["record"] as? String == lines[4] && objects.last??["rules"] as? [String] == ["parse"], "\(quarantine)")

            // The way back: dropping the edits gives the derived expectations again, audited with what was dropped.
            let reset = try Self.json(try await client.execute(uri: "/api/v1/models/fraud/versions/1/expectations", method: .delete), .ok)
            #expect(reset["origin"] as? String == "derived" && reset["min_rows"] == nil, "\(reset)")
            let shown = try Self.json(try await client.get("/api/v1/models/fraud/versions/1/expectations"), .ok)
            #expect(shown["origin"] as? String == "derived" && (shown["columns"] as? [Any])?.count == 12, "\(shown)")
            let entry = try #require(try await stack.store.auditEntries(after: 0, limit: 100).last)
            #expect(entry.action == "expectations.reset" && entry.target == "fraud/1" && "\(entry.before ?? .null)".contains("country"), "\(entry)")
            #expect(try await client.execute(uri: "/api/v1/models/fraud/versions/1/expectations", method: .delete).status == .ok, "again: nothing to drop")
        }
    }

    @Test(arguments: ["sqlite", "postgres"])
    func servingCountsOutOfRangeInputsPerFeatureAndFlagsTheLoggedPrediction(_ store: String) async throws {
        try await withFerry(postgres: store == "postgres") { client, stack in
            let put = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/expectations", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"columns": [{"name": "amount", "min": 0, "max": 100}, {"name": "hour", "min": 0, "max": 23}]}"#))
            #expect(put.status == .ok)
            let values = { (amount: Double, hour: Int) in "[\(amount),0.5,\(hour),0,0.1,0,100,1,2,50,3.5,0]" }
            // Served, not refused: row 1 is fine, row 2 has amount and hour out of range.
            let predicted = try await client.post("/v1/models/fraud:predict", #"{"instances": [\#(values(50, 8)), \#(values(500, 30))]}"#)
            #expect(predicted.status == .ok)
            let id = try #require(predicted.json["prediction_id"] as? String)
            let v2 = #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP64","data":\#(values(-5, 3))}]}"#
            #expect(try await client.post("/v2/models/fraud/infer", v2).status == .ok)

            let metrics = String(buffer: try await client.get("/metrics").body)
            #expect(metrics.contains(#"ferry_input_out_of_range_total{model="fraud",version="1",feature="amount"} 2"#), "\(metrics.split(separator: "\n").filter { $0.contains("out_of_range") })")
            #expect(metrics.contains(#"ferry_input_out_of_range_total{model="fraud",version="1",feature="hour"} 1"#))
            await stack.predictionLogger.flush()
            let logged = try await client.get("/api/v1/predictions/\(id)").json
            #expect(logged["flags"] as? [[String]] == [[], ["out_of_range:amount", "out_of_range:hour"]], "\(logged)")
        }
    }

    /// A file the server reads by path, from a folder its operator allowed, gives the run the same file gives
    /// uploaded; a path outside the folders, a folder, a named pipe, a missing file and a body sent beside a path
    /// are refused, naming query 'path', and a server with no such folder reads no path at all.
    @Test
    func aFileInAnAllowedFolderIsReadByPathLikeAnUpload() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("rows.csv")
        let rows = (0..<300).map { Self.row(amount: $0 % 11 == 5 ? "-\($0)" : "\($0)", hour: $0 % 13 == 0 ? "" : "8", id: $0 % 290) }
        let text = ([Self.header] + rows).joined(separator: "\n") + "\n"
        try text.write(to: file, atomically: true, encoding: .utf8)
        @Sendable func path(_ p: String) -> String { "/api/v1/models/fraud/validations?path=" + p.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
        try await withFerry(inputFolders: [folder.path]) { client, _ in
            let expectations = #"{"columns": [{"name": "amount", "kind": "numeric", "min": 0}, {"name": "hour", "kind": "numeric", "max_null_rate": 0}, {"name": "card_age_days", "kind": "numeric", "unique": true}], "no_duplicate_rows": true}"#
            #expect(try await client.execute(uri: "/api/v1/models/fraud/versions/1/expectations", method: .put, body: ByteBuffer(string: expectations)).status == .ok)
            let uploaded = try Self.json(try await client.execute(
                uri: "/api/v1/models/fraud/validations?source=rows.csv", method: .post, headers: [.contentType: "text/csv"], body: ByteBuffer(string: text)), .created)
            let read = try Self.json(try await client.execute(uri: path(file.path), method: .post), .created)
            #expect(read["source"] as? String == file.path)
            #expect(read["rows"] as? Int == 300 && read["quarantined_rows"] as? Int == uploaded["quarantined_rows"] as? Int && read["passed"] as? Bool == false, "\(read)")
            func failures(_ run: [String: Any]) -> [String] {
                (run["results"] as? [[String: Any]] ?? []).map { "\($0["rule"] ?? "")/\($0["column"] ?? "-")=\($0["failures"] ?? "-")" }
            }
            #expect(failures(read) == failures(uploaded) && failures(read).contains("range/amount=27") && failures(read).contains("unique/card_age_days=10"), "\(failures(read))")
            func quarantine(_ run: [String: Any]) async throws -> String {
                String(buffer: try await client.get("/api/v1/models/fraud/validations/\(run["id"] as? String ?? "")/quarantine").body)
            }
            #expect(try await quarantine(read) == (try await quarantine(uploaded)))

            let pipe = folder.appendingPathComponent("pipe.csv")
            #expect(mkfifo(pipe.path, 0o600) == 0)
            for (given, status, words) in [
                ("/etc/passwd", HTTPResponse.Status.forbidden, "outside the folders this server reads validations from"),
                (folder.path, .badRequest, "not a file this server can read"),
                (pipe.path, .badRequest, "not a file this server can read"),
                (folder.appendingPathComponent("gone.csv").path, .badRequest, "not a file this server can read"),
            ] {
                let refused = try await client.execute(uri: path(given), method: .post)
                #expect(refused.status == status && String(buffer: refused.body).contains("query 'path'") && String(buffer: refused.body).contains(words), "\(given): \(String(buffer: refused.body))")
            }
            let both = try await client.execute(uri: path(file.path), method: .post, body: ByteBuffer(string: text))
            #expect(both.status == .badRequest && String(buffer: both.body).contains("send no body"), "\(String(buffer: both.body))")
        }
        try await withFerry { client, _ in
            let refused = try await client.execute(uri: path(file.path), method: .post)
            #expect(refused.status == .forbidden && String(buffer: refused.body).contains("--job-input-dir"), "\(String(buffer: refused.body))")
        }
    }

    @Test
    func aLargeFileIsReadInBlocksAndLosesNoRow() async throws {
        // Blocks of 64 bytes: lines straddle every block boundary.
        try await withFerry { client, stack in
            let validation = DataValidation(
                store: stack.store, registry: stack.registry, models: stack.models, monitor: nil, artifacts: stack.artifacts,
                logger: .init(label: "t"), blockBytes: 64)
            let rows = (0..<500).map { Self.row(amount: $0 % 7 == 0 ? "-1" : String($0), id: $0) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-validate-\(UUID().uuidString).csv")
            defer { try? FileManager.default.removeItem(at: file) }
            try (([Self.header] + rows).joined(separator: "\r\n")).write(to: file, atomically: true, encoding: .utf8)
            _ = try await validation.setExpectations(
                Expectations(model: "fraud", version: 1, columns: [.init(name: "amount", kind: .numeric, min: 0)], updatedBy: "t", updatedAt: Date()), by: "t")
            let version = try await stack.registry.version(model: "fraud", number: 1)
            let run = try await validation.validate(version: version, file: file, format: .csv, source: "big.csv", by: "t")
            let failing = rows.indices.filter { $0 % 7 == 0 }
            #expect(run.report.rows == 500 && run.report.quarantinedRows == failing.count)
            #expect(run.quarantine.count > 1, "written in pieces")
            let quarantined = String(decoding: try await validation.quarantine(of: run), as: UTF8.self).split(separator: "\n").dropFirst()
            #expect(quarantined.map { Int($0.split(separator: ",")[0])! } == failing.map { $0 + 1 })
            _ = client
        }
    }
}
