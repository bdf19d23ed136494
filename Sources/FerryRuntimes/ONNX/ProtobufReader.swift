import FerryCore

/// Reads the protobuf wire format (varints, fixed 32/64-bit values, length-delimited fields) from a byte array.
///
/// Only what an ONNX file needs; every read is bounds-checked and a malformed or truncated file ends in
/// `ProtobufError`, never a crash. A nested message is read by a reader over its byte range of the same array.
struct ProtobufReader {
    enum WireType: UInt8 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    struct Malformed: Error { let reason: String }

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        position = 0
        end = bytes.count
    }

    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func nextField() throws -> (number: Int, wire: WireType)? {
        guard position < end else { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: UInt8(key & 7)) else {
            throw Malformed(reason: "wire type \(key & 7) at byte \(position) is not one protobuf uses for ONNX")
        }
        let number = Int(key >> 3)
        guard number > 0 else { throw Malformed(reason: "field number 0 at byte \(position)") }
        return (number, wire)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw Malformed(reason: "the file ends inside a number") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw Malformed(reason: "a number at byte \(position) is longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func int64() throws -> Int64 { Int64(bitPattern: try varint()) }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw Malformed(reason: "the file ends inside a 32-bit value") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - position >= 8 else { throw Malformed(reason: "the file ends inside a 64-bit value") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    mutating func float() throws -> Float { Float(bitPattern: try fixed32()) }
    mutating func double() throws -> Double { Double(bitPattern: try fixed64()) }

    /// The byte range of a length-delimited field.
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw Malformed(reason: "a field at byte \(position) claims \(length) bytes but only \(end - position) remain (truncated file?)")
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func message() throws -> ProtobufReader { ProtobufReader(bytes, range: try lengthDelimited()) }
    mutating func data() throws -> ArraySlice<UInt8> { bytes[try lengthDelimited()] }
    mutating func string() throws -> String { String(decoding: try data(), as: UTF8.self) }

    mutating func skip(_ wire: WireType) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    /// A repeated scalar field's values, whether the writer packed them or wrote them one by one.
    mutating func repeated<T>(_ wire: WireType, element: WireType, into values: inout [T], _ read: (inout ProtobufReader) throws -> T) throws {
        if wire == .lengthDelimited {
            var packed = try message()
            while !packed.isAtEnd { values.append(try read(&packed)) }
        } else {
            guard wire == element else { throw Malformed(reason: "a repeated field at byte \(position) has wire type \(wire.rawValue)") }
            values.append(try read(&self))
        }
    }
}
