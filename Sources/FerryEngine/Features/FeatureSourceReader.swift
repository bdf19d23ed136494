import FerryCore
import Foundation

/// One row of a view's source, parsed: the entity key, times in microseconds, and the asked features' values.
public struct FeatureSourceRow: Sendable {
    public var key: String
    public var event: Int64
    public var created: Int64?
    /// In the order of the features asked for.
    public var values: [FeatureDatum]
}

/// Reads a view's source (a CSV or JSON Lines file, or a database table or query) one row at a time, never holding
/// it whole: errors name the source, the line or row, and the column.
public struct FeatureSourceReader: Sendable {
    public let view: FeatureView
    public let joinKeys: [JoinKey]
    public let features: [FeatureField]
    /// Reads database sources; nil refuses them.
    public let database: (any FeatureSourceDatabase)?

    public init(view: FeatureView, joinKeys: [JoinKey], features: [FeatureField], database: (any FeatureSourceDatabase)? = nil) {
        self.view = view
        self.joinKeys = joinKeys
        self.features = features
        self.database = database
    }

    /// Calls `body` with every row of the source, in its order.
    public func forEach(_ body: (FeatureSourceRow) throws -> Void) async throws {
        switch view.source.kind {
        case .file(let path, let format):
            let name = "feature view '\(view.name)' source '\(path)'"
            switch format {
            case .csv: try readCSV(path: path, name: name, body)
            case .jsonl: try readJSONLines(path: path, name: name, body)
            }
        case .postgres(let url, let table, let query):
            guard let database else {
                throw FerryError(.unsupported, "feature view '\(view.name)': this server cannot read PostgreSQL sources")
            }
            let name = "feature view '\(view.name)' source (PostgreSQL \(table.map { "table \($0)" } ?? "query"))"
            let created = view.source.createdTimestampField
            let columns = joinKeys.map(\.name) + [view.source.timestampField] + (created.map { [$0] } ?? []) + features.map(\.name)
            var number = 0
            try await database.rows(url: url, table: table, query: query, columns: columns) { cells in
                number += 1
                func datum(_ index: Int, _ type: FeatureType) throws -> FeatureDatum {
                    guard let text = cells[index] else { return .null }
                    do {
                        return try FeatureDatum.parse(Substring(text), as: type)
                    } catch let error as FerryError {
                        throw FerryError.invalid("\(name) row \(number), column '\(columns[index])': \(error.message)")
                    }
                }
                func time(_ index: Int) throws -> Int64? {
                    guard let text = cells[index] else { return nil }
                    guard let t = FeatureTime.parse(text) else {
                        throw FerryError.invalid("\(name) row \(number), column '\(columns[index])': '\(text)' is not a timestamp")
                    }
                    return t
                }
                let k = joinKeys.count
                let key: String
                do {
                    key = try EntityKey.make(try joinKeys.enumerated().map { try datum($0, $1.type) }, keys: joinKeys)
                } catch let error as FerryError where !error.message.hasPrefix(name) {
                    throw FerryError.invalid("\(name) row \(number): \(error.message)")
                }
                guard let event = try time(k) else {
                    throw FerryError.invalid("\(name) row \(number): column '\(view.source.timestampField)' is NULL")
                }
                let first = k + 1 + (created == nil ? 0 : 1)
                try body(FeatureSourceRow(
                    key: key, event: event, created: created == nil ? nil : try time(k + 1),
                    values: try features.enumerated().map { try datum(first + $0, $1.type) }))
            }
        }
    }

    typealias CSVColumns = (keys: [Int], event: Int, created: Int?, features: [Int], width: Int)

    /// Reads the file row by row.
    private func readCSV(path: String, name: String, _ body: (FeatureSourceRow) throws -> Void) throws {
        var columns: CSVColumns?
        var bounds: FieldBounds?
        defer { bounds?.deallocate() }
        try Self.lines(path: path, name: name) { line, number in
            guard !Self.isBlank(line) else { return }
            guard let c = columns, let bounds else {
                let c = try csvColumns(header: CSVTable.fields(Substring(String(decoding: line, as: UTF8.self)), source: name, line: number), name: name)
                columns = c
                bounds = FieldBounds(capacity: c.width)
                return
            }
            try body(try csvRow(line, c, name: name, number: number, bounds))
        }
        if columns == nil { throw FerryError.invalid("\(name) is empty; it needs a header line") }
    }

    static func isBlank<C: Collection<UInt8>>(_ line: C) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    /// Where the join keys, times and asked features are in a CSV source whose header is `header`.
    func csvColumns(header fields: [String], name: String) throws -> CSVColumns {
        func index(_ column: String, _ role: String) throws -> Int {
            guard let i = fields.firstIndex(of: column) else {
                throw FerryError.invalid("\(name) has no \(role) column '\(column)' (its header is \(fields.joined(separator: ",")))")
            }
            // Which of two is meant cannot be told (the first was read, silently).
            guard fields.lastIndex(of: column) == i else { throw FerryError.invalid("\(name) names its \(role) column '\(column)' twice in its header") }
            return i
        }
        return (
            try joinKeys.map { try index($0.name, "join key") }, try index(view.source.timestampField, "timestamp"),
            try view.source.createdTimestampField.map { try index($0, "created timestamp") },
            try features.map { try index($0.name, "feature") }, fields.count)
    }

    /// One (not blank) line of a CSV source as a row; errors name the line and the column.
    func csvRow(
        _ line: ArraySlice<UInt8>, _ c: CSVColumns, name: String, number: Int, _ bounds: FieldBounds
    ) throws -> FeatureSourceRow {
        // Lines without quotes, nearly all of them, are split and parsed on their bytes.
        if let row = try line.withUnsafeBufferPointer({ bytes in
            try fastRow(bytes, c, bounds, name: name, number: number)
        }) {
            return row
        }
        let fields = try CSVTable.fields(Substring(String(decoding: line, as: UTF8.self)), source: name, line: number)
        guard fields.count == c.width else {
            throw FerryError.invalid("\(name) line \(number) has \(fields.count) fields; the header has \(c.width)")
        }
        func datum(_ index: Int, _ type: FeatureType, _ column: String) throws -> FeatureDatum {
            do {
                return try FeatureDatum.parse(Substring(fields[index]), as: type)
            } catch let error as FerryError {
                throw FerryError.invalid("\(name) line \(number), column '\(column)': \(error.message)")
            }
        }
        func time(_ index: Int, _ column: String) throws -> Int64 {
            guard let t = FeatureTime.parse(fields[index]) else {
                throw FerryError.invalid("\(name) line \(number), column '\(column)': '\(fields[index])' is not an ISO 8601 timestamp")
            }
            return t
        }
        let keyValues = try zip(c.keys, joinKeys).map { try datum($0, $1.type, $1.name) }
        let key: String
        do {
            key = try EntityKey.make(keyValues, keys: joinKeys)
        } catch let error as FerryError {
            throw FerryError.invalid("\(name) line \(number): \(error.message)")
        }
        var created: Int64?
        if let index = c.created, !fields[index].isEmpty {
            created = try time(index, view.source.createdTimestampField ?? "")
        }
        return FeatureSourceRow(
            key: key, event: try time(c.event, view.source.timestampField), created: created,
            values: try zip(c.features, features).map { try datum($0, $1.type, $1.name) })
    }

    /// One unquoted CSV line parsed on its bytes: fields split at commas and trimmed of spaces, integers read
    /// digit by digit, timestamps without a copy. Returns nil to let the general path read (and explain) a line
    /// with anything unusual: a wrong field count, a value that does not parse.
    private func fastRow(
        _ bytes: UnsafeBufferPointer<UInt8>, _ c: CSVColumns,
        _ bounds: FieldBounds, name: String, number: Int
    ) throws -> FeatureSourceRow? {
        guard bounds.split(bytes) == c.width else { return nil }
        func field(_ index: Int) -> UnsafeBufferPointer<UInt8> { bounds.field(index, of: bytes) }
        func integer(_ f: UnsafeBufferPointer<UInt8>) -> Int64? { DecimalText.integer(f, digits: 18) }
        /// A decimal's value; nil (the row parser's to read, or refuse) for `nan`, `inf`, `0x1A` or text.
        func decimal(_ f: UnsafeBufferPointer<UInt8>) -> Double? { DecimalText.finite(f) }
        func datum(_ index: Int, _ type: FeatureType) -> FeatureDatum? {
            let f = field(index)
            if f.isEmpty { return .null }
            switch type {
            case .int64: return integer(f).map(FeatureDatum.int)
            case .int32: return integer(f).flatMap { $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) ? .int($0) : nil }
            case .float64: return decimal(f).map(FeatureDatum.double)
            case .float32: return decimal(f).flatMap { Float($0).isFinite ? .double(Double(Float($0))) : nil }
            case .string: return .string(String(decoding: f, as: UTF8.self))
            case .bool: return nil
            }
        }
        var key = ""
        for (i, (index, joinKey)) in zip(c.keys, joinKeys).enumerated() {
            if i > 0 { key.append(EntityKey.separator) }
            let f = field(index)
            switch joinKey.type {
            case .int64, .int32:
                // A 32-bit key of 10 digits may not fit: the general path judges it.
                guard let n = DecimalText.integer(f, digits: joinKey.type == .int32 ? 9 : 18) else { return nil }
                key += String(n)
            default:
                guard !f.isEmpty, !f.contains(0x1F) else { return nil }
                key += String(decoding: f, as: UTF8.self)
            }
        }
        guard let event = FeatureTime.parse(bytes: field(c.event)) else { return nil }
        var created: Int64?
        if let index = c.created, !field(index).isEmpty {
            guard let t = FeatureTime.parse(bytes: field(index)) else { return nil }
            created = t
        }
        var values: [FeatureDatum] = []
        values.reserveCapacity(features.count)
        for (index, feature) in zip(c.features, features) {
            guard let value = datum(index, feature.type) else { return nil }
            values.append(value)
        }
        return FeatureSourceRow(key: key, event: event, created: created, values: values)
    }

    private func readJSONLines(path: String, name: String, _ body: (FeatureSourceRow) throws -> Void) throws {
        try Self.lines(path: path, name: name) { line, number in
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { return }
            let object: [String: SourceValue]
            do {
                object = try JSONDecoder().decode([String: SourceValue].self, from: Data(line))
            } catch {
                throw FerryError.invalid("\(name) line \(number) is not a JSON object")
            }
            func datum(_ column: String, _ type: FeatureType) throws -> FeatureDatum {
                do {
                    switch object[column] {
                    case .integer(let n)?: return try FeatureDatum.from(integer: n, as: type)
                    case .other(let value)?: return try FeatureDatum.from(value, as: type)
                    case nil: return .null
                    }
                } catch let error as FerryError {
                    throw FerryError.invalid("\(name) line \(number), field '\(column)': \(error.message)")
                }
            }
            func time(_ column: String, required: Bool) throws -> Int64? {
                switch object[column].map(\.json) {
                case .string(let s)?:
                    guard let t = FeatureTime.parse(s) else {
                        throw FerryError.invalid("\(name) line \(number), field '\(column)': '\(s)' is not an ISO 8601 timestamp")
                    }
                    return t
                case nil, .null?:
                    if required { throw FerryError.invalid("\(name) line \(number) has no field '\(column)'") }
                    return nil
                default:
                    throw FerryError.invalid("\(name) line \(number), field '\(column)' must be an ISO 8601 timestamp string")
                }
            }
            for key in joinKeys where object[key.name] == nil {
                throw FerryError.invalid("\(name) line \(number) has no join key field '\(key.name)'")
            }
            let keyValues = try joinKeys.map { try datum($0.name, $0.type) }
            let key: String
            do {
                key = try EntityKey.make(keyValues, keys: joinKeys)
            } catch let error as FerryError {
                throw FerryError.invalid("\(name) line \(number): \(error.message)")
            }
            try body(FeatureSourceRow(
                key: key, event: try time(view.source.timestampField, required: true)!,
                created: try view.source.createdTimestampField.flatMap { try time($0, required: false) },
                values: try features.map { try datum($0.name, $0.type) }))
        }
    }

    /// A JSON Lines field: an integer read exactly (a JSON number is otherwise a double, which rounds past 2^53),
    /// or any other value.
    enum SourceValue: Decodable {
        case integer(Int64)
        case other(JSONValue)

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int64.self) { self = .integer(n) } else { self = .other(try c.decode(JSONValue.self)) }
        }

        var json: JSONValue {
            switch self {
            case .integer(let n): .number(Double(n))
            case .other(let value): value
            }
        }
    }

    /// Calls `body` with each line of a file (without its newline) and its 1-based number, reading 1 MiB at a time.
    static func lines(path: String, name: String, _ body: (ArraySlice<UInt8>, Int) throws -> Void) throws {
        // Only regular files: a device or a pipe (/dev/zero) would be read for ever, and opening a named pipe waits
        // for a writer, so the type is looked at first.
        if let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType, type != .typeRegular {
            throw FerryError.invalid("\(name) is not a regular file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FerryError.invalid("\(name) cannot be read: no such file, or not readable by the server")
        }
        defer { try? handle.close() }
        guard (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType == .typeRegular else {
            throw FerryError.invalid("\(name) is not a regular file")
        }
        var pending: [UInt8] = []
        var number = 0
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw FerryError(.unavailable, "\(name) could not be read: \(error)")
            }
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = 0
            while let end = pending[start...].firstIndex(of: 0x0A) {
                number += 1
                var line = pending[start..<end]
                if line.last == 0x0D { line = line.dropLast() }
                if number == 1 { line = line.dropFirst(CSVTable.byteOrderMarkLength(line)) }
                try body(line, number)
                start = end + 1
            }
            pending.removeFirst(start)
            if pending.count > 64 << 20 {
                throw FerryError.invalid("\(name) line \(number + 1) is longer than 64 MiB; is it a CSV or JSON Lines file?")
            }
        }
        if !pending.isEmpty {
            number += 1
            try body(pending.dropFirst(number == 1 ? CSVTable.byteOrderMarkLength(pending) : 0), number)
        }
    }
}
