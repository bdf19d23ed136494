import FerryCore
import Foundation

/// A reader for Universal Binary JSON (draft 12), the format XGBoost saves `.ubj` models in (its default since 2.1).
///
/// Numbers are big-endian; containers may be "optimized" with a `$` element type and/or a `#` count.
enum UBJSON {
    static func decode(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { bytes in
            var reader = Reader(bytes: bytes)
            let value = try reader.value()
            guard reader.index == bytes.count else { throw reader.fail("trailing bytes after the document") }
            return value
        }
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var depth = 0

        func fail(_ what: String) -> FerryError {
            FerryError.invalid("not a valid UBJSON model: \(what) at byte \(index)")
        }

        mutating func byte() throws -> UInt8 {
            guard index < bytes.count else { throw fail("unexpected end of data") }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func bigEndian<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard index + size <= bytes.count else { throw fail("unexpected end of data") }
            var v: T = 0
            for k in 0..<size { v = v << 8 | T(truncatingIfNeeded: bytes[index + k]) }
            index += size
            return v
        }

        mutating func value() throws -> JSONValue {
            var marker = try byte()
            while marker == UInt8(ascii: "N") { marker = try byte() }
            return try value(marker: marker)
        }

        mutating func value(marker: UInt8) throws -> JSONValue {
            switch marker {
            case UInt8(ascii: "Z"): return .null
            case UInt8(ascii: "T"): return .bool(true)
            case UInt8(ascii: "F"): return .bool(false)
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "S"), UInt8(ascii: "H"): return .string(try string())
            case UInt8(ascii: "C"): return .string(String(UnicodeScalar(try byte())))
            default: return .number(try number(marker: marker))
            }
        }

        mutating func number(marker: UInt8) throws -> Double {
            switch marker {
            case UInt8(ascii: "i"): return Double(Int8(bitPattern: try byte()))
            case UInt8(ascii: "U"): return Double(try byte())
            case UInt8(ascii: "I"): return Double(Int16(bitPattern: try bigEndian(UInt16.self)))
            case UInt8(ascii: "l"): return Double(Int32(bitPattern: try bigEndian(UInt32.self)))
            case UInt8(ascii: "L"): return Double(Int64(bitPattern: try bigEndian(UInt64.self)))
            case UInt8(ascii: "d"): return Double(Float(bitPattern: try bigEndian(UInt32.self)))
            case UInt8(ascii: "D"): return Double(bitPattern: try bigEndian(UInt64.self))
            default:
                index -= 1
                throw fail("unknown type marker 0x\(String(marker, radix: 16))")
            }
        }

        mutating func length() throws -> Int {
            let n = try number(marker: try byte())
            guard n >= 0, n == n.rounded(), n <= Double(bytes.count - index) * 8 + 8 else { throw fail("invalid length \(n)") }
            return Int(n)
        }

        mutating func string() throws -> String {
            let n = try length()
            guard index + n <= bytes.count else { throw fail("string longer than the data") }
            defer { index += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + n)]), as: UTF8.self)
        }

        /// Reads the optional `$type` and `#count` of an optimized container.
        mutating func header() throws -> (type: UInt8?, count: Int?) {
            var type: UInt8?
            var count: Int?
            if index < bytes.count, bytes[index] == UInt8(ascii: "$") {
                index += 1
                type = try byte()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "#") else { throw fail("'$' without '#'") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "#") {
                index += 1
                count = try length()
            }
            return (type, count)
        }

        mutating func enter() throws {
            depth += 1
            guard depth <= 64 else { throw fail("nesting deeper than 64 levels") }
        }

        mutating func array() throws -> JSONValue {
            try enter()
            defer { depth -= 1 }
            let (type, count) = try header()
            var items: [JSONValue] = []
            if let count {
                items.reserveCapacity(min(count, bytes.count))
                for _ in 0..<count { items.append(try type.map { try value(marker: $0) } ?? value()) }
                return .array(items)
            }
            while true {
                guard index < bytes.count else { throw fail("unterminated array") }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(items)
                }
                items.append(try value())
            }
        }

        mutating func object() throws -> JSONValue {
            try enter()
            defer { depth -= 1 }
            let (type, count) = try header()
            var members: [String: JSONValue] = [:]
            if let count {
                for _ in 0..<count {
                    let key = try string()
                    members[key] = try type.map { try value(marker: $0) } ?? value()
                }
                return .object(members)
            }
            while true {
                guard index < bytes.count else { throw fail("unterminated object") }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                let key = try string()
                members[key] = try value()
            }
        }
    }
}
