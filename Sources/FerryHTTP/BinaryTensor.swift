import FerryCore
import Foundation

/// Little-endian, row-major tensor bytes as in Triton's binary tensor extension.
package enum BinaryTensor {
    package static func decode(_ bytes: UnsafeRawBufferPointer, datatype: DataType, count: Int, label: String) throws -> TensorData {
        if datatype == .bytes {
            var items: [[UInt8]] = []
            var offset = 0
            while offset < bytes.count {
                guard offset + 4 <= bytes.count else { throw FerryError.invalid("\(label): truncated BYTES element length") }
                let n = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
                offset += 4
                guard offset + n <= bytes.count else { throw FerryError.invalid("\(label): BYTES element longer than the data") }
                items.append(Array(bytes[offset..<(offset + n)]))
                offset += n
            }
            guard items.count == count else { throw FerryError.invalid("\(label) has \(items.count) BYTES elements but its shape needs \(count)") }
            return .bytes(items)
        }
        let size = datatype.byteSize!
        // A shape whose element count fits an Int may still be too many bytes for one (gRPC's [2^31-1, 2^31-1]).
        let (need, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow else { throw FerryError.invalid("\(label) has an impossibly large shape for its \(bytes.count) bytes") }
        guard bytes.count == need else {
            throw FerryError.invalid("\(label) has binary_data_size \(bytes.count) but shape and datatype \(datatype.rawValue) need \(need) bytes")
        }
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            (0..<count).map { T(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
        }
        switch datatype {
        case .fp32: return .float32(load(UInt32.self).map(Float.init(bitPattern:)))
        case .fp64: return .float64(load(UInt64.self).map(Double.init(bitPattern:)))
        case .fp16: return .float32(load(UInt16.self).map(Self.halfToFloat))
        case .bf16: return .float32(load(UInt16.self).map { Float(bitPattern: UInt32($0) << 16) })
        case .bool:
            var out = [Bool](repeating: false, count: count)
            for i in 0..<count {
                let b = bytes[i]
                guard b <= 1 else { throw FerryError.invalid("\(label) element \(i): BOOL byte \(b) is neither 0 nor 1") }
                out[i] = b == 1
            }
            return .bool(out)
        case .int8: return .int64(load(Int8.self).map(Int64.init))
        case .int16: return .int64(load(Int16.self).map(Int64.init))
        case .int32: return .int64(load(Int32.self).map(Int64.init))
        case .int64: return .int64(load(Int64.self))
        case .uint8: return .int64(load(UInt8.self).map(Int64.init))
        case .uint16: return .int64(load(UInt16.self).map(Int64.init))
        case .uint32: return .int64(load(UInt32.self).map(Int64.init))
        case .uint64: return .uint64(load(UInt64.self))
        case .bytes: fatalError("handled above")
        }
    }

    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let fraction = UInt32(h & 0x3FF)
        if exponent == 0 {
            let value = Float(fraction) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? value : -value
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (fraction << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (fraction << 13))
    }

    /// Appends a tensor's elements in the width its datatype names.
    package static func encode(_ tensor: Tensor, into out: inout [UInt8]) {
        func append<T: FixedWidthInteger>(_ values: [T]) {
            for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        }
        switch tensor.data {
        case .float32(let v): append(v.map(\.bitPattern))
        case .float64(let v): append(v.map(\.bitPattern))
        case .int64(let v):
            switch tensor.datatype {
            case .int8: append(v.map { Int8(truncatingIfNeeded: $0) })
            case .int16: append(v.map { Int16(truncatingIfNeeded: $0) })
            case .int32: append(v.map { Int32(truncatingIfNeeded: $0) })
            case .uint8: append(v.map { UInt8(truncatingIfNeeded: $0) })
            case .uint16: append(v.map { UInt16(truncatingIfNeeded: $0) })
            case .uint32: append(v.map { UInt32(truncatingIfNeeded: $0) })
            default: append(v)
            }
        case .uint64(let v): append(v)
        case .bool(let v): out.append(contentsOf: v.map { $0 ? 1 : 0 })
        case .bytes(let v):
            for item in v {
                append([UInt32(item.count)])
                out.append(contentsOf: item)
            }
        }
    }
}
