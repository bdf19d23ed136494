import FerryCore

/// Appends JSON text to a byte array; used for inference responses where Foundation's encoder is too slow.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(c >> 4)])
                bytes.append(hex[Int(c & 0xF)])
            default: bytes.append(c)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func int<T: BinaryInteger>(_ v: T) {
        bytes.append(contentsOf: String(v).utf8)
    }

    /// Shortest text that reads back as the same float; non-finite values (not JSON) become null.
    mutating func float(_ v: Float) {
        if v.isFinite { bytes.append(contentsOf: v.description.utf8) } else { raw("null") }
    }

    mutating func double(_ v: Double) {
        if v.isFinite { bytes.append(contentsOf: v.description.utf8) } else { raw("null") }
    }

    mutating func bool(_ v: Bool) {
        if v { raw("true") } else { raw("false") }
    }

    mutating func parameters(_ params: Parameters) {
        bytes.append(UInt8(ascii: "{"))
        for (i, key) in params.keys.sorted().enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(key)
            bytes.append(UInt8(ascii: ":"))
            switch params[key]! {
            case .string(let s): string(s)
            case .int(let n): int(n)
            case .double(let d): double(d)
            case .bool(let b): bool(b)
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func tensorData(_ data: TensorData) {
        bytes.append(UInt8(ascii: "["))
        func each<T>(_ values: [T], _ write: (inout JSONWriter, T) -> Void) {
            for (i, v) in values.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                write(&self, v)
            }
        }
        switch data {
        case .float32(let v): each(v) { $0.float($1) }
        case .float64(let v): each(v) { $0.double($1) }
        case .int64(let v): each(v) { $0.int($1) }
        case .uint64(let v): each(v) { $0.int($1) }
        case .bool(let v): each(v) { $0.bool($1) }
        case .bytes(let v): each(v) { $0.string(String(decoding: $1, as: UTF8.self)) }
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A feature value: integers as integers, doubles always with a fraction or exponent (as Feast's server does).
    mutating func datum(_ d: FeatureDatum) {
        switch d {
        case .int(let i): int(i)
        case .double(let v): double(v)
        case .string(let s): string(s)
        case .bool(let b): bool(b)
        case .null: raw("null")
        }
    }

    mutating func value(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): bool(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { int(Int64(d)) } else { double(d) }
        case .string(let s): string(s)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                value(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                string(key)
                bytes.append(UInt8(ascii: ":"))
                value(members[key]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}
