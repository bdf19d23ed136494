import FerryCore
import Foundation

/// How one batch job reads its rows: the input's columns matched to the model's features and the key columns, and
/// the parsing of a chunk of whole lines into a feature matrix, with a message for each row that cannot be scored.
/// CSV follows `CSVTable`'s rules (a header line, blank lines skipped, quotes); JSON Lines is one object per line.
struct BatchLayout: Sendable {
    let format: BatchJob.Format
    let features: [FeatureSpec]
    let keys: [String]
    /// CSV: the header, each feature's column and each key's column.
    let width: Int
    let featureColumns: [Int]
    let keyColumns: [Int]
    /// Per feature: whether it may be missing, and whether text names one of its categories.
    let nullable: [Bool]
    let categorical: [Bool]

    /// The layout of a CSV header line, or of a JSON Lines file (whose objects are read by name).
    init(format: BatchJob.Format, header: String?, schema: InputSchema, keys: [String], source: String) throws {
        self.format = format
        features = schema.features
        self.keys = keys
        nullable = schema.features.map(\.nullable)
        categorical = schema.features.map { $0.categories != nil }
        guard format == .csv else {
            (width, featureColumns, keyColumns) = (0, [], [])
            return
        }
        guard let header else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
        let names = try CSVTable.fields(Substring(header), source: source, line: 1)
        func column(_ name: String, _ what: String) throws -> Int {
            guard let i = names.firstIndex(of: name) else {
                // At most 20 names of at most 64 characters: a header of megabytes is not repeated in the answer.
                let shown = names.prefix(20).map { $0.count > 64 ? $0.prefix(64) + "…" : Substring($0) }.joined(separator: ",") + (names.count > 20 ? ",…" : "")
                throw FerryError.invalid("\(source) has no column '\(name)' (\(what)); its header is \(shown)")
            }
            // A column named twice is ambiguous: which one the model reads would be a guess.
            guard names[(i + 1)...].firstIndex(of: name) == nil else { throw FerryError.invalid("\(source) names the column '\(name)' (\(what)) twice in its header") }
            return i
        }
        width = names.count
        featureColumns = try features.map { try column($0.name, "a feature of the model") }
        keyColumns = try keys.map { try column($0, "a key column of the job") }
    }

    struct Parsed {
        /// The scorable rows' features, row after row.
        var values: [Double] = []
        /// Each scorable row's number in the input (1-based, counting rows, not the header or blank lines).
        var rows: [Int] = []
        /// Each scorable row's key fields, row after row.
        var keys: [String] = []
        var errors: [(row: Int, message: String)] = []
        /// Rows seen (scorable or not).
        var count = 0
    }

    /// Parses the lines in `bytes` (whole lines; the last may lack its line end); the first is row `firstRow`.
    func parse(_ bytes: UnsafeBufferPointer<UInt8>, firstRow: Int) -> Parsed {
        var parsed = Parsed()
        parsed.values.reserveCapacity(bytes.count / 4)
        var row = firstRow
        var buffer = [Double](repeating: 0, count: features.count)
        var starts = [Int](repeating: 0, count: width)
        Self.forEachLine(bytes) { line in
            parsed.count += 1
            let keysBefore = parsed.keys.count
            do {
                if format == .csv {
                    try csvRow(line, into: &buffer, starts: &starts, keys: &parsed.keys)
                } else {
                    try jsonRow(line, into: &buffer, keys: &parsed.keys)
                }
                parsed.values.append(contentsOf: buffer)
                parsed.rows.append(row)
            } catch {
                parsed.keys.removeSubrange(keysBefore...)
                parsed.errors.append((row, (error as? FerryError)?.message ?? "\(error)"))
            }
            row += 1
        }
        return parsed
    }

    /// Calls `body` with each line of `bytes` that is not blank, without its line end (`\n` or `\r\n`); the last line
    /// may lack one.
    static func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            var end = memchr(base + start, 0x0A, bytes.count - start).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? bytes.count
            let next = end + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            for i in start..<end where bytes[i] != 0x20 && bytes[i] != 0x09 {
                body(UnsafeBufferPointer(rebasing: bytes[start..<end]))
                break
            }
            start = next
        }
    }

    private func csvRow(_ line: UnsafeBufferPointer<UInt8>, into out: inout [Double], starts: inout [Int], keys: inout [String]) throws {
        var fields = 0
        let unquoted = starts.withUnsafeMutableBufferPointer { starts in
            CSVTable.unquotedFields(line) { start, _ in
                if fields < starts.count { starts[fields] = start }
                fields += 1
            }
        }
        guard unquoted else {
            let fields = try CSVTable.fields(Substring(String(decoding: line, as: UTF8.self)), source: "the row", line: 0)
            guard fields.count == width else { throw FerryError.invalid("the row has \(fields.count) fields; the header has \(width)") }
            for (f, c) in featureColumns.enumerated() { out[f] = try value(fields[c], f) }
            for c in keyColumns { keys.append(fields[c]) }
            return
        }
        guard fields == width else { throw FerryError.invalid("the row has \(fields) fields; the header has \(width)") }
        func field(_ c: Int) -> UnsafeBufferPointer<UInt8> {
            var a = starts[c], b = c + 1 < width ? starts[c + 1] - 1 : line.count
            while a < b, line[a] == 0x20 || line[a] == 0x09 { a += 1 }
            while b > a, line[b - 1] == 0x20 || line[b - 1] == 0x09 { b -= 1 }
            return UnsafeBufferPointer(rebasing: line[a..<b])
        }
        for f in 0..<featureColumns.count {
            let bytes = field(featureColumns[f])
            if let v = DecimalText.parse(bytes) {
                out[f] = v
            } else if bytes.isEmpty, nullable[f] {
                out[f] = .nan
            } else {
                out[f] = try value(String(decoding: bytes, as: UTF8.self), f)
            }
        }
        for c in keyColumns { keys.append(String(decoding: field(c), as: UTF8.self)) }
    }

    private func jsonRow(_ line: UnsafeBufferPointer<UInt8>, into out: inout [Double], keys fields: inout [String]) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            throw FerryError.invalid("the line is not a JSON object")
        }
        for (f, feature) in features.enumerated() {
            switch object[feature.name] {
            // As in a V1 request: only null means a missing value; an absent feature is a misspelt or wrong file.
            case nil: throw FerryError.invalid("feature '\(feature.name)' is missing (send null for a missing value)")
            case is NSNull: out[f] = try value("", f)
            // As in a V1 request: JSON says what is text, so text is a category, never a number read out of it.
            case let text as String where feature.categories != nil: out[f] = feature.code(of: text)
            case let text as String: throw FerryError.invalid("feature '\(feature.name)': expected a number, got the string \"\(text.prefix(40))\"")
            case let number as NSNumber:
                let d = number.doubleValue
                guard d.isFinite else { throw FerryError.invalid("feature '\(feature.name)': value \(d) is not finite") }
                out[f] = d
            default: throw FerryError.invalid("feature '\(feature.name)': expected a number, a category or null")
            }
        }
        for key in keys {
            switch object[key] {
            case nil: throw FerryError.invalid("key '\(key)' is missing (send null for none)")
            case is NSNull: fields.append("")
            case let text as String: fields.append(text)
            // As the line spells it (a key read as a double lost digits past 2^53, and 0.30000000000000004 its last
            // one), so results join back to the input; JSON's booleans as themselves.
            case let number as NSNumber: fields.append(number.keyText)
            case let other?: fields.append(DataChecker.Rules.json(other))
            }
        }
    }

    /// A field as a feature's value, by `CSVTable.value`'s rules: empty, NA or NaN is missing (if the feature
    /// allows it), a number is a number, other text a category of a categorical feature.
    private func value(_ field: String, _ f: Int) throws -> Double {
        let feature = features[f]
        switch CSVTable.value(field) {
        case .number(let d): return d
        case .missing:
            guard feature.nullable else { throw FerryError.invalid("feature '\(feature.name)': a value is required (the feature does not allow missing values)") }
            return .nan
        case .string(let s) where feature.categories != nil: return feature.code(of: s)
        case .string(let s): throw FerryError.invalid("feature '\(feature.name)': expected a number, got \"\(s.prefix(40))\"")
        case .bool(let b): return b ? 1 : 0
        }
    }
}

/// The results of scored rows as CSV lines: `row`, the key columns, then every output's values (a tensor of width k
/// gives k columns, `name[0]`...).
enum BatchOutput {
    static func columns(keys: [String], outputs: [Tensor], rows: Int) -> [String] {
        var names = ["row"] + keys
        for tensor in outputs {
            let width = rows > 0 ? tensor.data.count / rows : 1
            names += width == 1 ? [tensor.name] : (0..<width).map { "\(tensor.name)[\($0)]" }
        }
        return names
    }

    /// The columns a model's results would have, from its declared outputs (for results without a scored row).
    static func columns(keys: [String], schema: OutputSchema) -> [String] {
        var names = ["row"] + keys
        for output in schema.outputs {
            let width = output.shape.allSatisfy { $0 > 0 } ? output.shape.reduce(1, *) : 1
            names += width == 1 ? [output.name] : (0..<width).map { "\(output.name)[\($0)]" }
        }
        return names
    }

    /// The lines of parsed rows numbered from `firstRow` (the first line of the chunk they were parsed from).
    static func lines(_ parsed: BatchLayout.Parsed, firstRow: Int, keyCount: Int, outputs: [Tensor]) -> Data {
        let rows = parsed.rows.count
        var text: [UInt8] = []
        text.reserveCapacity(rows * (24 + 12 * keyCount))
        let widths = outputs.map { rows > 0 ? $0.data.count / rows : 0 }
        for r in 0..<rows {
            text.append(contentsOf: String(firstRow + parsed.rows[r]).utf8)
            for k in 0..<keyCount {
                text.append(0x2C)
                text.append(contentsOf: ModelMonitor.csvField(parsed.keys[r * keyCount + k]).utf8)
            }
            for (t, tensor) in outputs.enumerated() {
                for k in 0..<widths[t] {
                    text.append(0x2C)
                    switch tensor.data {
                    case .float32(let v): if !v[r * widths[t] + k].isNaN { text.append(contentsOf: v[r * widths[t] + k].description.utf8) }
                    default: text.append(contentsOf: field(tensor.data, r * widths[t] + k).utf8)
                    }
                }
            }
            text.append(0x0A)
        }
        return Data(text)
    }

    static func field(_ data: TensorData, _ i: Int) -> String {
        switch data {
        case .float32(let v): v[i].isNaN ? "" : "\(v[i])"
        case .float64(let v): ModelMonitor.number(v[i])
        case .int64(let v): String(v[i])
        case .uint64(let v): String(v[i])
        case .bool(let v): v[i] ? "true" : "false"
        case .bytes(let v): ModelMonitor.csvField(String(decoding: v[i], as: UTF8.self))
        }
    }

    /// Batches of outputs (each a list of tensors, batch dimension first) as one.
    static func concatenate(_ batches: [[Tensor]]) -> [Tensor] {
        let batches = batches.filter { !$0.isEmpty }
        guard let first = batches.first else { return [] }
        if batches.count == 1 { return first }
        return first.indices.map { t in
            let pieces = batches.map { $0[t] }
            let rows = pieces.reduce(0) { $0 + ($1.shape.first ?? 0) }
            func join<E>(_ values: (TensorData) -> [E]?) -> [E] { pieces.flatMap { values($0.data) ?? [] } }
            let data: TensorData = switch first[t].data {
            case .float32: .float32(join { if case .float32(let v) = $0 { v } else { nil } })
            case .float64: .float64(join { if case .float64(let v) = $0 { v } else { nil } })
            case .int64: .int64(join { if case .int64(let v) = $0 { v } else { nil } })
            case .uint64: .uint64(join { if case .uint64(let v) = $0 { v } else { nil } })
            case .bool: .bool(join { if case .bool(let v) = $0 { v } else { nil } })
            case .bytes: .bytes(join { if case .bytes(let v) = $0 { v } else { nil } })
            }
            return Tensor(name: first[t].name, datatype: first[t].datatype, shape: [rows] + first[t].shape.dropFirst(), data: data)
        }
    }

    static func errors(_ parsed: BatchLayout.Parsed, firstRow: Int) -> Data {
        Data(parsed.errors.map { "\(firstRow + $0.row),\(ModelMonitor.csvField($0.message))\n" }.joined().utf8)
    }
}

extension NSNumber {
    /// A number of a JSON line as the line spelled it, for a key: read as a double, a key lost its digits past 2^53
    /// (two keys then looked the same) and 0.30000000000000004 its last one. JSON's booleans as themselves.
    var keyText: String { String(cString: objCType) == "c" ? (boolValue ? "true" : "false") : stringValue }
}
