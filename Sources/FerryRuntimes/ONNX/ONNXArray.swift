import FerryCore

/// A dense tensor as the ONNX graph executor passes it between nodes.
///
/// Five element kinds are enough for tabular pipelines: every integer type is carried as Int64 (ONNX integer
/// arithmetic in these graphs never overflows 64 bits), float16 is refused at load.
struct ONNXArray: Sendable, Equatable {
    enum Storage: Sendable, Equatable {
        case float([Float])
        case double([Double])
        case int64([Int64])
        case string([String])
        case bool([Bool])
    }

    enum Element: String, Sendable {
        case float, double, int64, string, bool
    }

    var shape: [Int]
    var storage: Storage

    init(shape: [Int], _ storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    static func float(_ values: [Float], shape: [Int]) -> ONNXArray { ONNXArray(shape: shape, .float(values)) }
    static func int64(_ values: [Int64], shape: [Int]) -> ONNXArray { ONNXArray(shape: shape, .int64(values)) }
    static func bool(_ values: [Bool], shape: [Int]) -> ONNXArray { ONNXArray(shape: shape, .bool(values)) }

    var count: Int { shape.reduce(1, *) }

    var element: Element {
        switch storage {
        case .float: .float
        case .double: .double
        case .int64: .int64
        case .string: .string
        case .bool: .bool
        }
    }

    /// The same values with another shape of as many elements.
    func reshaped(_ shape: [Int]) -> ONNXArray { ONNXArray(shape: shape, storage) }

    /// Values as float32 (numeric and boolean tensors), as the ML operators read them.
    func floats(_ op: String) throws -> [Float] {
        switch storage {
        case .float(let v): v
        case .double(let v): v.map(Float.init)
        case .int64(let v): v.map(Float.init)
        case .bool(let v): v.map { $0 ? 1 : 0 }
        case .string: throw ONNXError.type(op, "a numeric tensor", "strings")
        }
    }

    /// Values of a number tensor as doubles, exactly (for comparisons and orderings).
    func numbers(_ op: String) throws -> [Double] {
        switch storage {
        case .float(let v): v.map(Double.init)
        case .double(let v): v
        case .int64(let v): v.map(Double.init)
        default: throw ONNXError.type(op, "a number tensor", element.rawValue)
        }
    }

    /// Values as Int64, for tensors that hold indices, shapes or axes.
    func integers(_ what: String) throws -> [Int64] {
        switch storage {
        case .int64(let v): v
        default: throw ONNXError.message("\(what) must be an integer tensor, got \(element.rawValue)")
        }
    }

    /// The elements picked by `offsets`, in that order.
    func gathering(_ offsets: [Int], shape: [Int]) -> ONNXArray {
        switch storage {
        case .float(let v): ONNXArray(shape: shape, .float(offsets.map { v[$0] }))
        case .double(let v): ONNXArray(shape: shape, .double(offsets.map { v[$0] }))
        case .int64(let v): ONNXArray(shape: shape, .int64(offsets.map { v[$0] }))
        case .string(let v): ONNXArray(shape: shape, .string(offsets.map { v[$0] }))
        case .bool(let v): ONNXArray(shape: shape, .bool(offsets.map { v[$0] }))
        }
    }

    /// Concatenates arrays of one element kind, in order (shapes are the caller's business).
    static func joined(_ parts: [ONNXArray], shape: [Int]) throws -> ONNXArray {
        guard let first = parts.first else { return ONNXArray(shape: shape, .float([])) }
        guard parts.allSatisfy({ $0.element == first.element }) else {
            throw ONNXError.message("inputs have different element types (\(parts.map(\.element.rawValue).joined(separator: ", ")))")
        }
        func all<T>(_ pick: (Storage) -> [T]?) -> [T] {
            var out: [T] = []
            for p in parts { out += pick(p.storage) ?? [] }
            return out
        }
        switch first.storage {
        case .float: return ONNXArray(shape: shape, .float(all { if case .float(let v) = $0 { v } else { nil } }))
        case .double: return ONNXArray(shape: shape, .double(all { if case .double(let v) = $0 { v } else { nil } }))
        case .int64: return ONNXArray(shape: shape, .int64(all { if case .int64(let v) = $0 { v } else { nil } }))
        case .string: return ONNXArray(shape: shape, .string(all { if case .string(let v) = $0 { v } else { nil } }))
        case .bool: return ONNXArray(shape: shape, .bool(all { if case .bool(let v) = $0 { v } else { nil } }))
        }
    }
}

/// Why a graph cannot be loaded or a node failed; the executor adds the node's name and operator.
enum ONNXError: Error {
    case message(String)

    static func type(_ op: String, _ expected: String, _ got: String) -> ONNXError {
        .message("\(op) takes \(expected), got \(got)")
    }

    var text: String {
        switch self { case .message(let m): m }
    }
}

// MARK: - ONNX data types

/// TensorProto.DataType codes and how Ferry carries each.
enum ONNXDataType {
    static func element(_ code: Int32) -> ONNXArray.Element? {
        switch code {
        case 1: .float
        case 11: .double
        case 2, 3, 4, 5, 6, 7, 12, 13: .int64
        case 8: .string
        case 9: .bool
        default: nil
        }
    }

    static func name(_ code: Int32) -> String {
        switch code {
        case 1: "float"
        case 2: "uint8"
        case 3: "int8"
        case 4: "uint16"
        case 5: "int16"
        case 6: "int32"
        case 7: "int64"
        case 8: "string"
        case 9: "bool"
        case 10: "float16"
        case 11: "double"
        case 12: "uint32"
        case 13: "uint64"
        case 14: "complex64"
        case 15: "complex128"
        case 16: "bfloat16"
        default: "type \(code)"
        }
    }

    /// The V2 datatype a graph output of this ONNX type is answered as.
    static func wireType(_ code: Int32) -> DataType? {
        switch code {
        case 1: .fp32
        case 11: .fp64
        case 2: .uint8
        case 3: .int8
        case 4: .uint16
        case 5: .int16
        case 6: .int32
        case 7: .int64
        case 12: .uint32
        case 13: .uint64
        case 8: .bytes
        case 9: .bool
        default: nil
        }
    }
}

extension ONNXArray {
    /// An initializer or constant attribute as an array.
    init(_ proto: ONNXModelFile.TensorProto) throws {
        let label = proto.name.isEmpty ? "a constant tensor" : "tensor '\(proto.name)'"
        guard !proto.isExternal else {
            throw ONNXError.message("\(label) keeps its data in an external file; save the model with its data inside (onnx.save_model(..., save_as_external_data=False))")
        }
        guard let element = ONNXDataType.element(proto.dataType) else {
            throw ONNXError.message("\(label) has element type \(ONNXDataType.name(proto.dataType)), which Ferry does not run")
        }
        guard proto.dims.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw ONNXError.message("\(label) has a negative or huge dimension") }
        let shape = proto.dims.map { Int($0) }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count < 1 << 31 else { throw ONNXError.message("\(label) is too large") }

        func raw<T>(_ width: Int, _ make: (UInt64) -> T) throws -> [T]? {
            guard let data = proto.rawData else { return nil }
            guard data.count == count * width else {
                throw ONNXError.message("\(label) has \(data.count) bytes of raw data for \(count) values of \(width) bytes")
            }
            var out: [T] = []
            out.reserveCapacity(count)
            var i = data.startIndex
            for _ in 0..<count {
                var v: UInt64 = 0
                for b in 0..<width { v |= UInt64(data[i + b]) << (8 * UInt64(b)) }
                out.append(make(v))
                i += width
            }
            return out
        }
        func signExtended(_ width: Int) -> (UInt64) -> Int64 {
            { v in Int64(bitPattern: v << UInt64(64 - 8 * width)) >> Int64(64 - 8 * width) }
        }

        let storage: Storage
        switch proto.dataType {
        case 1: storage = .float(try raw(4) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) } ?? proto.floatData)
        case 11: storage = .double(try raw(8) { Double(bitPattern: $0) } ?? proto.doubleData)
        case 7: storage = .int64(try raw(8) { Int64(bitPattern: $0) } ?? proto.int64Data)
        case 3, 5, 6:
            let width = proto.dataType == 3 ? 1 : proto.dataType == 5 ? 2 : 4
            storage = .int64(try raw(width, signExtended(width)) ?? proto.int32Data.map(Int64.init))
        case 2, 4:
            storage = .int64(try raw(proto.dataType == 2 ? 1 : 2) { Int64($0) } ?? proto.int32Data.map { Int64(UInt32(bitPattern: $0)) })
        case 12: storage = .int64(try raw(4) { Int64($0) } ?? proto.uint64Data.map { Int64(truncatingIfNeeded: $0) })
        case 13: storage = .int64(try raw(8) { Int64(bitPattern: $0) } ?? proto.uint64Data.map { Int64(bitPattern: $0) })
        case 9: storage = .bool(try raw(1) { $0 != 0 } ?? proto.int32Data.map { $0 != 0 })
        default:
            guard element == .string else { throw ONNXError.message("\(label) has an unreadable element type") }
            storage = .string(proto.stringData.map { String(decoding: $0, as: UTF8.self) })
        }
        self.init(shape: shape, storage)
        let stored = switch storage {
        case .float(let v): v.count
        case .double(let v): v.count
        case .int64(let v): v.count
        case .string(let v): v.count
        case .bool(let v): v.count
        }
        guard stored == count else {
            throw ONNXError.message("\(label) has shape \(shape) (\(count) values) but carries \(stored)")
        }
    }
}
