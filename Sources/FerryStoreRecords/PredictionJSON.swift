import FerryCore

/// The prediction log's JSON columns (inputs and outputs per row), as every store writes them.
/// Written directly as UTF-8 bytes: Foundation's encoder costs more than the rest of logging.
package enum PredictionJSON {
    package static func text(_ rows: [[JSONValue]]) -> String {
        var out: [UInt8] = []
        append(rows, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package static func text(_ rows: [[Double]]) -> String {
        var out: [UInt8] = []
        append(rows, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Per-row flags as JSON text, or nil when no row has any (stored as NULL).
    package static func flags(_ rows: [[String]]) -> String? {
        var out: [UInt8] = []
        return appendFlags(rows, to: &out) ? String(decoding: out, as: UTF8.self) : nil
    }

    package static func append(_ rows: [[JSONValue]], to out: inout [UInt8]) {
        appendArray(rows, to: &out) { row, out in
            appendArray(row, to: &out) { v, out in
                switch v {
                case .number(let d) where d.isFinite: out.append(contentsOf: d.description.utf8)
                case .string(let s): appendString(s, to: &out)
                case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
                default: out.append(contentsOf: "null".utf8)
                }
            }
        }
    }

    package static func append(_ rows: [[Double]], to out: inout [UInt8]) {
        appendArray(rows, to: &out) { row, out in
            appendArray(row, to: &out) { d, out in out.append(contentsOf: (d.isFinite ? d.description : "null").utf8) }
        }
    }

    /// Appends per-row flags; false (and nothing appended) when no row has any.
    package static func appendFlags(_ rows: [[String]], to out: inout [UInt8]) -> Bool {
        guard rows.contains(where: { !$0.isEmpty }) else { return false }
        appendArray(rows, to: &out) { row, out in appendArray(row, to: &out) { appendString($0, to: &$1) } }
        return true
    }

    private static func appendArray<T>(_ items: [T], to out: inout [UInt8], _ element: (T, inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            element(item, &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A JSON string: quotes, backslashes and control characters escaped (a raw newline in a text feature would
    /// make the stored row unreadable).
    private static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
