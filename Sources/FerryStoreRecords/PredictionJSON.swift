import FerryCore

/// The prediction log's JSON columns (inputs and outputs per row), as every store writes them.
package enum PredictionJSON {
    /// JSON text of rows of values, written directly (Foundation's encoder costs more than the rest of logging).
    package static func text(_ rows: [[JSONValue]]) -> String {
        var out = "["
        for (i, row) in rows.enumerated() {
            if i > 0 { out += "," }
            out += "["
            for (j, v) in row.enumerated() {
                if j > 0 { out += "," }
                switch v {
                case .number(let d) where d.isFinite: out += d.description
                case .string(let s): out += "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
                case .bool(let b): out += b ? "true" : "false"
                default: out += "null"
                }
            }
            out += "]"
        }
        return out + "]"
    }

    /// Per-row flags as JSON text, or nil when no row has any (stored as NULL).
    package static func flags(_ rows: [[String]]) -> String? {
        guard rows.contains(where: { !$0.isEmpty }) else { return nil }
        return "[" + rows.map { row in "[" + row.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }

    package static func text(_ rows: [[Double]]) -> String {
        var out = "["
        for (i, row) in rows.enumerated() {
            if i > 0 { out += "," }
            out += "["
            for (j, d) in row.enumerated() {
                if j > 0 { out += "," }
                out += d.isFinite ? d.description : "null"
            }
            out += "]"
        }
        return out + "]"
    }
}
