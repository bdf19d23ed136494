import FerryCore
import Foundation

/// How the SQLite prediction log stores records: those of one model version written together share one binary
/// body. One body per group of records instead of one table row (and three index entries) per record made a
/// record cost the writer a few µs instead of about 12, most of it SQLite's B-tree work and the JSON text of the
/// values.
///
/// A body is a format byte, then records back to back. Each record starts with the byte length of the rest, its
/// id and its time, so a body's ids and times are read without decoding any values, and records are dropped from
/// a body by copying the bytes of the others. Numbers are stored as their 64-bit pattern (exact, also NaN).
enum PredictionBlock {
    static let format: UInt8 = 1

    /// One record's place in a body.
    struct Entry {
        var id: String
        var atMillis: Int64
        /// The record's bytes, its length prefix included.
        var bytes: Range<Int>
    }

    struct Corrupt: Error, CustomStringConvertible {
        var description: String { "a prediction log block cannot be read (the file is damaged or from a newer Ferry)" }
    }

    /// A new body holding nothing yet.
    static func start(_ out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(format)
    }

    static func append(_ record: PredictionRecord, atMillis: Int64, to out: inout [UInt8]) {
        let lengthAt = out.count
        out.append(contentsOf: [0, 0, 0, 0])
        appendString(record.id, to: &out)
        appendFixed(UInt64(bitPattern: atMillis), to: &out)
        appendVarint(zigzag(Int64(record.latencyMicros)), to: &out)
        appendVarint(UInt64(record.inputs.count), to: &out)
        for row in record.inputs {
            appendVarint(UInt64(row.count), to: &out)
            for value in row { appendValue(value, to: &out) }
        }
        appendVarint(UInt64(record.outputs.count), to: &out)
        for row in record.outputs {
            appendVarint(UInt64(row.count), to: &out)
            for value in row { appendFixed(value.bitPattern, to: &out) }
        }
        appendVarint(UInt64(record.flags.count), to: &out)
        for row in record.flags {
            appendVarint(UInt64(row.count), to: &out)
            for flag in row { appendString(flag, to: &out) }
        }
        let length = UInt32(out.count - lengthAt - 4)
        for k in 0..<4 { out[lengthAt + k] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(k))) }
    }

    /// Where each record of a body is, in the order they were written.
    static func entries(_ body: Data) throws -> [Entry] {
        try body.withUnsafeBytes { raw in
            var reader = Reader(raw)
            guard try reader.byte() == format else { throw Corrupt() }
            var entries: [Entry] = []
            while !reader.atEnd {
                let start = reader.position
                let length = Int(try reader.fixed32())
                let end = reader.position + length
                guard end <= raw.count else { throw Corrupt() }
                let id = try reader.string()
                let at = Int64(bitPattern: try reader.fixed64())
                entries.append(Entry(id: id, atMillis: at, bytes: start..<end))
                reader.position = end
            }
            return entries
        }
    }

    /// Decodes one record of a body (model and version are the block's).
    static func record(_ body: Data, _ entry: Entry, model: String, version: Int) throws -> PredictionRecord {
        try body.withUnsafeBytes { raw in
            var reader = Reader(UnsafeRawBufferPointer(rebasing: raw[entry.bytes]))
            _ = try reader.fixed32()
            let id = try reader.string()
            let at = Int64(bitPattern: try reader.fixed64())
            let latency = unzigzag(try reader.varint())
            let inputs = try reader.rows { r in try r.value() }
            let outputs = try reader.rows { r in Double(bitPattern: try r.fixed64()) }
            let flags = try reader.rows { r in try r.string() }
            return PredictionRecord(
                id: id, model: model, version: version, at: Date(timeIntervalSince1970: Double(at) / 1000), latencyMicros: Int(latency),
                inputs: inputs, outputs: outputs, flags: flags)
        }
    }

    /// A body of some of another body's records, copied as they are.
    static func subset(_ body: Data, _ kept: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        start(&out)
        body.withUnsafeBytes { raw in
            for entry in kept { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[entry.bytes])) }
        }
        return out
    }

    // MARK: Encoding

    private static func appendValue(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .number(let d): out.append(3); appendFixed(d.bitPattern, to: &out)
        case .string(let s): out.append(4); appendString(s, to: &out)
        case .array(let items):
            out.append(5)
            appendVarint(UInt64(items.count), to: &out)
            for item in items { appendValue(item, to: &out) }
        case .object(let fields):
            out.append(6)
            appendVarint(UInt64(fields.count), to: &out)
            for (key, item) in fields {
                appendString(key, to: &out)
                appendValue(item, to: &out)
            }
        }
    }

    private static func appendString(_ s: String, to out: inout [UInt8]) {
        appendVarint(UInt64(s.utf8.count), to: &out)
        out.append(contentsOf: s.utf8)
    }

    private static func appendFixed(_ v: UInt64, to out: inout [UInt8]) {
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }

    private static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    private static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

    // MARK: Decoding

    private struct Reader {
        let raw: UnsafeRawBufferPointer
        var position = 0

        init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

        var atEnd: Bool { position >= raw.count }

        mutating func byte() throws -> UInt8 {
            guard position < raw.count else { throw Corrupt() }
            defer { position += 1 }
            return raw[position]
        }

        mutating func fixed32() throws -> UInt32 { try fixed() }
        mutating func fixed64() throws -> UInt64 { try fixed() }

        /// A little-endian unsigned integer.
        private mutating func fixed<T: FixedWidthInteger & UnsignedInteger>() throws -> T {
            let size = MemoryLayout<T>.size
            guard position + size <= raw.count else { throw Corrupt() }
            var v: T = 0
            for k in 0..<size { v |= T(raw[position + k]) << (8 * k) }
            position += size
            return v
        }

        mutating func varint() throws -> UInt64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                guard shift < 64 else { throw Corrupt() }
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }

        /// A count, checked against the bytes left (each counted item takes at least one byte).
        mutating func count() throws -> Int {
            let n = try varint()
            guard n <= UInt64(raw.count - position) else { throw Corrupt() }
            return Int(n)
        }

        mutating func string() throws -> String {
            let n = try count()
            defer { position += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[position..<(position + n)]), as: UTF8.self)
        }

        mutating func rows<T>(_ item: (inout Reader) throws -> T) throws -> [[T]] {
            let n = try count()
            var rows: [[T]] = []
            rows.reserveCapacity(n)
            for _ in 0..<n {
                let width = try count()
                var row: [T] = []
                row.reserveCapacity(width)
                for _ in 0..<width { row.append(try item(&self)) }
                rows.append(row)
            }
            return rows
        }

        mutating func value() throws -> JSONValue {
            switch try byte() {
            case 0: return .null
            case 1: return .bool(false)
            case 2: return .bool(true)
            case 3: return .number(Double(bitPattern: try fixed64()))
            case 4: return .string(try string())
            case 5:
                let n = try count()
                var items: [JSONValue] = []
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(try value()) }
                return .array(items)
            case 6:
                let n = try count()
                var fields: [String: JSONValue] = [:]
                for _ in 0..<n {
                    let key = try string()
                    fields[key] = try value()
                }
                return .object(fields)
            default: throw Corrupt()
            }
        }
    }
}
