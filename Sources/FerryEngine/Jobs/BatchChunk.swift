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

    /// The layout of a CSV header line, or of a JSON Lines file (whose objects are read by name).
    init(format: BatchJob.Format, header: String?, schema: InputSchema, keys: [String], source: String) throws {
        self.format = format
        features = schema.features
        self.keys = keys
        guard format == .csv else {
            (width, featureColumns, keyColumns) = (0, [], [])
            return
        }
        guard let header else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
        let names = try CSVTable.fields(Substring(header), source: source, line: 1)
        func column(_ name: String, _ what: String) throws -> Int {
            guard let i = names.firstIndex(of: name) else {
                throw FerryError.invalid("\(source) has no column '\(name)' (\(what)); its header is \(names.prefix(20).joined(separator: ","))")
            }
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
        /// Each scorable row's key fields.
        var keys: [[String]] = []
        var errors: [(row: Int, message: String)] = []
        /// Rows seen (scorable or not).
        var count = 0
    }

    /// Parses the lines in `bytes` (whole lines; the last may lack its line end); the first is row `firstRow`.
    func parse(_ bytes: UnsafeBufferPointer<UInt8>, firstRow: Int) -> Parsed {
        var parsed = Parsed()
        parsed.values.reserveCapacity(bytes.count / 4)
        var start = 0
        var row = firstRow
        var buffer = [Double](repeating: 0, count: features.count)
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            var blank = true
            for i in start..<end where bytes[i] != 0x20 && bytes[i] != 0x09 {
                blank = false
                break
            }
            if !blank {
                parsed.count += 1
                do {
                    let keys = format == .csv
                        ? try csvRow(UnsafeBufferPointer(rebasing: bytes[start..<end]), into: &buffer)
                        : try jsonRow(UnsafeBufferPointer(rebasing: bytes[start..<end]), into: &buffer)
                    parsed.values.append(contentsOf: buffer)
                    parsed.rows.append(row)
                    if !keys.isEmpty { parsed.keys.append(keys) }
                } catch {
                    parsed.errors.append((row, (error as? FerryError)?.message ?? "\(error)"))
                }
                row += 1
            }
            start = next
        }
        return parsed
    }

    private func csvRow(_ line: UnsafeBufferPointer<UInt8>, into out: inout [Double]) throws -> [String] {
        if line.contains(0x22) {
            let fields = try CSVTable.fields(Substring(String(decoding: line, as: UTF8.self)), source: "the row", line: 0)
            guard fields.count == width else { throw FerryError.invalid("the row has \(fields.count) fields; the header has \(width)") }
            for (f, c) in featureColumns.enumerated() { out[f] = try value(fields[c], feature: features[f]) }
            return keyColumns.map { fields[$0] }
        }
        var starts: [Int] = [0]
        starts.reserveCapacity(width + 1)
        for i in 0..<line.count where line[i] == 0x2C { starts.append(i + 1) }
        guard starts.count == width else { throw FerryError.invalid("the row has \(starts.count) fields; the header has \(width)") }
        func field(_ c: Int) -> UnsafeBufferPointer<UInt8> {
            var a = starts[c], b = c + 1 < starts.count ? starts[c + 1] - 1 : line.count
            while a < b, line[a] == 0x20 || line[a] == 0x09 { a += 1 }
            while b > a, line[b - 1] == 0x20 || line[b - 1] == 0x09 { b -= 1 }
            return UnsafeBufferPointer(rebasing: line[a..<b])
        }
        for (f, c) in featureColumns.enumerated() {
            let bytes = field(c)
            if let v = Self.number(bytes) {
                out[f] = v
            } else {
                out[f] = try value(String(decoding: bytes, as: UTF8.self), feature: features[f])
            }
        }
        return keyColumns.map { String(decoding: field($0), as: UTF8.self) }
    }

    private func jsonRow(_ line: UnsafeBufferPointer<UInt8>, into out: inout [Double]) throws -> [String] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            throw FerryError.invalid("the line is not a JSON object")
        }
        for (f, feature) in features.enumerated() {
            switch object[feature.name] {
            case nil, is NSNull: out[f] = try value("", feature: feature)
            case let text as String: out[f] = try value(text, feature: feature)
            case let number as NSNumber:
                let d = number.doubleValue
                guard d.isFinite else { throw FerryError.invalid("feature '\(feature.name)': value \(d) is not finite") }
                out[f] = d
            default: throw FerryError.invalid("feature '\(feature.name)': expected a number, a category or null")
            }
        }
        return keys.map { key in
            switch object[key] {
            case nil, is NSNull: ""
            case let text as String: text
            case let number as NSNumber: ModelMonitor.number(number.doubleValue)
            case let other?: "\(other)"
            }
        }
    }

    /// A field as a feature's value, by `CSVTable.value`'s rules: empty, NA or NaN is missing (if the feature
    /// allows it), a number is a number, other text a category of a categorical feature.
    private func value(_ field: String, feature: FeatureSpec) throws -> Double {
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

    private static let powers: [Double] = (0...22).map { pow(10, Double($0)) }

    /// A plain decimal (`-12.5`, `3`, `.25`, `1e-3`) parsed exactly when its digits fit in 2^53 and its power of ten
    /// in ±22 (then one multiplication or division is correctly rounded, as strtod is); nil for anything else, which
    /// the caller parses the slow way.
    static func number(_ s: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        let n = s.count
        guard n > 0, n < 40 else { return nil }
        var negative = false
        if s[0] == 0x2D || s[0] == 0x2B {
            negative = s[0] == 0x2D
            i = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        var seenDigit = false
        while i < n, s[i] &- 0x30 < 10 {
            mantissa = mantissa &* 10 &+ UInt64(s[i] &- 0x30)
            if mantissa != 0 { digits += 1 }
            seenDigit = true
            i += 1
        }
        if i < n, s[i] == 0x2E {
            i += 1
            while i < n, s[i] &- 0x30 < 10 {
                mantissa = mantissa &* 10 &+ UInt64(s[i] &- 0x30)
                if mantissa != 0 { digits += 1 }
                scale -= 1
                seenDigit = true
                i += 1
            }
        }
        guard seenDigit, digits <= 15 else { return nil }
        if i < n, s[i] == 0x65 || s[i] == 0x45 {
            i += 1
            var exponentNegative = false
            if i < n, s[i] == 0x2D || s[i] == 0x2B {
                exponentNegative = s[i] == 0x2D
                i += 1
            }
            var exponent = 0
            var exponentDigits = 0
            while i < n, s[i] &- 0x30 < 10, exponentDigits < 4 {
                exponent = exponent * 10 + Int(s[i] &- 0x30)
                exponentDigits += 1
                i += 1
            }
            guard exponentDigits > 0 else { return nil }
            scale += exponentNegative ? -exponent : exponent
        }
        guard i == n, mantissa < (1 << 53), scale >= -22, scale <= 22 else { return nil }
        var value = Double(mantissa)
        value = scale < 0 ? value / powers[-scale] : value * powers[scale]
        return negative ? -value : value
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

    static func lines(_ parsed: BatchLayout.Parsed, outputs: [Tensor]) -> Data {
        let rows = parsed.rows.count
        var text = ""
        text.reserveCapacity(rows * 32)
        let widths = outputs.map { rows > 0 ? $0.data.count / rows : 0 }
        for r in 0..<rows {
            text += String(parsed.rows[r])
            if r < parsed.keys.count {
                for key in parsed.keys[r] {
                    text += ","
                    text += ModelMonitor.csvField(key)
                }
            }
            for (t, tensor) in outputs.enumerated() {
                for k in 0..<widths[t] {
                    text += ","
                    text += field(tensor.data, r * widths[t] + k)
                }
            }
            text += "\n"
        }
        return Data(text.utf8)
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

    static func errors(_ parsed: BatchLayout.Parsed) -> Data {
        Data(parsed.errors.map { "\($0.row),\(ModelMonitor.csvField($0.message))\n" }.joined().utf8)
    }
}
