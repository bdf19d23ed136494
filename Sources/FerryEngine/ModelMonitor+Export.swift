import FerryCore
import Foundation

/// Training data from production: what a version was actually asked and answered, with ground truth where it came.
extension ModelMonitor {
    /// A version's logged rows in `window`, newest request first, as CSV: `prediction_id,row,at`, the features as
    /// logged (sensitive ones redacted or hashed, categories by name), the score outputs, and `label` (empty
    /// until feedback arrives; with `labelledOnly`, rows without it are left out).
    public func export(model: String, version number: Int?, window: Window, labelledOnly: Bool) async throws -> (version: Int, csv: String) {
        let version = try await models.served(model: model, selector: number.map { .number($0) } ?? .default).version
        let logged = try await records(model: model, version: version.version, window)
        let (since, until): (Date?, Date?) = switch window {
        case .last: (logged.last?.at, logged.first.map { $0.at.addingTimeInterval(0.001) })
        case .range(let s, let u): (s, u)
        }
        var labels: [String: Double] = [:]
        if !logged.isEmpty {
            for row in try await log.labeled(model: model, version: version.version, since: since, until: until, limit: Self.maxWindowRequests) {
                labels["\(row.predictionID)/\(row.row)"] = row.label
            }
        }
        let features = version.inputSchema.features
        let outputs = Self.loggedOutputs(logged, names: version.outputSchema).map(\.name)
        let width = outputs.count
        var lines = [(["prediction_id", "row", "at"] + features.map(\.name) + outputs + ["label"]).map(Self.csvField).joined(separator: ",")]
        let time = ISO8601DateFormatter()
        time.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for record in logged {
            for (r, inputs) in record.inputs.enumerated() {
                let label = labels["\(record.id)/\(r)"]
                if labelledOnly && label == nil { continue }
                var fields = [record.id, String(r), time.string(from: record.at)]
                for (c, feature) in features.enumerated() {
                    let value = c < inputs.count ? inputs[c] : .null
                    if case .number(let code) = value, let categories = feature.categories {
                        fields.append(Self.names([code], categories)[0] ?? "")
                    } else {
                        fields.append(Self.text(value))
                    }
                }
                let out = r < record.outputs.count ? record.outputs[r] : []
                fields += (0..<width).map { k in k < out.count ? Self.number(out[k]) : "" }
                fields.append(label.map(Self.number) ?? "")
                lines.append(fields.map(Self.csvField).joined(separator: ","))
            }
        }
        return (version.version, lines.joined(separator: "\n") + "\n")
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: ""
        case .number(let n): number(n)
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        default: ""
        }
    }

    static func number(_ n: Double) -> String {
        if n.isNaN { return "" }
        return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
    }

    /// RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled.
    static func csvField(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
