import ArgumentParser
import Foundation
import FerryCore

struct Predict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send rows to a model and print its predictions.",
        discussion: """
            Rows come from a CSV file with a header of feature names (an empty cell is a missing value), or from
            JSON: a V2 request ({"inputs": ...}), a V1 request ({"instances": ...}) or a bare list of rows.
            Examples:
              ferry predict fraud --csv examples/fraud/rows.csv
              ferry predict fraud --input examples/fraud/request.json
              ferry predict fraud --data '[[120.5, 0.3, 23, 1, 0.8, 1, 40, 3, 9, 80.0, 300.0, 1]]'
            """
    )

    @Argument(help: "Model name.") var model: String
    @Option(help: "Version number or alias (default: the production alias, else the newest version).") var version: String?
    @Option(help: "CSV file of rows with a header of feature names.") var csv: String?
    @Option(help: "JSON file: a V2 request, a V1 request or a list of rows ('-' reads stdin).") var input: String?
    @Option(help: "Inline JSON, as for --input.") var data: String?
    @OptionGroup var options: ClientOptions

    func validate() throws {
        let given = [csv, input, data].compactMap { $0 }.count
        guard given == 1 else { throw ValidationError("give exactly one of --csv, --input or --data") }
    }

    func run() async throws {
        let modelPath = "/\(APIClient.segment(model))" + (version.map { "/versions/\(APIClient.segment($0))" } ?? "")
        let body: Data
        var isV2 = false
        if let csv {
            guard let text = try? String(contentsOfFile: csv, encoding: .utf8) else { throw ValidationError("cannot read CSV file '\(csv)'") }
            body = try JSONSerialization.data(withJSONObject: ["instances": try Self.instances(csv: text, file: csv)])
        } else {
            let raw: Data
            if let data { raw = Data(data.utf8) } else if input == "-" {
                raw = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: input!) else { throw ValidationError("cannot read '\(input!)'") }
                raw = contents
            }
            guard let json = try? JSONSerialization.jsonObject(with: raw) else {
                throw ValidationError("the input is not valid JSON")
            }
            if let object = json as? [String: Any], object["inputs"] != nil {
                isV2 = true
                body = raw
            } else if let object = json as? [String: Any], object["instances"] != nil {
                body = raw
            } else if json is [Any] {
                body = try JSONSerialization.data(withJSONObject: ["instances": json])
            } else {
                throw ValidationError("JSON input must be a V2 request ({\"inputs\": ...}), a V1 request ({\"instances\": ...}) or a list of rows")
            }
        }
        let path = isV2 ? "/v2/models\(modelPath)/infer" : "/v1/models\(modelPath):predict"
        let response = try await options.client.send(.POST, path, json: body)
        if options.json { return Output.printJSON(response) }
        let object = try Output.object(response)
        if isV2 {
            print("model \(model) version \(Output.text(object["model_version"]))")
            for output in object["outputs"] as? [[String: Any]] ?? [] {
                let shape = (output["shape"] as? [Any] ?? []).map { Output.text($0) }.joined(separator: "x")
                print("\(Output.text(output["name"])) [\(shape)] \(Output.text(output["datatype"])): \(Output.text(output["data"]))")
            }
        } else {
            print("model \(model) version \(Output.text(object["model_version"]))")
            let predictions = object["predictions"] as? [Any] ?? []
            Output.table(["ROW", "PREDICTION"], predictions.enumerated().map { [String($0.offset), Output.text($0.element)] })
            if let id = object["prediction_id"] as? String { print("prediction id \(id) (send ground truth with `ferry monitor feedback --prediction \(id) --labels ...`)") }
        }
    }

    /// CSV rows as V1 instances keyed by the header's feature names, read by Ferry's one CSV reader
    /// (`CSVTable`: empty, NA or NaN is a missing value; text is a category name).
    static func instances(csv text: String, file: String) throws -> [[String: Any]] {
        let table = try CSVTable(parsing: text, source: "CSV file '\(file)'")
        return table.rows.map { fields in
            var row: [String: Any] = [:]
            for (name, field) in zip(table.header, fields) {
                switch CSVTable.value(field) {
                case .number(let d): row[name] = d
                case .string(let s): row[name] = s
                case .bool(let b): row[name] = b
                case .missing: row[name] = NSNull()
                }
            }
            return row
        }
    }
}
