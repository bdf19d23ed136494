/// The values of a tensor, in row-major order.
///
/// Integer types up to 32 bits (signed or not) and INT64 share `.int64`; UINT64 keeps its own case.
public enum TensorData: Sendable, Equatable {
    case bool([Bool])
    case int64([Int64])
    case uint64([UInt64])
    case float32([Float])
    case float64([Double])
    case bytes([[UInt8]])

    /// Column `j` of row-major data `width` values wide.
    public func column(_ j: Int, of width: Int) -> TensorData {
        func pick<T>(_ v: [T]) -> [T] { stride(from: j, to: v.count, by: width).map { v[$0] } }
        return switch self {
        case .bool(let v): .bool(pick(v))
        case .int64(let v): .int64(pick(v))
        case .uint64(let v): .uint64(pick(v))
        case .float32(let v): .float32(pick(v))
        case .float64(let v): .float64(pick(v))
        case .bytes(let v): .bytes(pick(v))
        }
    }

    public var count: Int {
        switch self {
        case .bool(let v): v.count
        case .int64(let v): v.count
        case .uint64(let v): v.count
        case .float32(let v): v.count
        case .float64(let v): v.count
        case .bytes(let v): v.count
        }
    }
}

/// A named, typed, shaped tensor as carried by an inference request or response.
public struct Tensor: Sendable, Equatable {
    public var name: String
    public var datatype: DataType
    public var shape: [Int]
    public var data: TensorData
    public var parameters: Parameters

    public init(name: String, datatype: DataType, shape: [Int], data: TensorData, parameters: Parameters = [:]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
        self.parameters = parameters
    }

    /// Number of elements the shape describes.
    public var elementCount: Int { shape.reduce(1, *) }
}

extension Collection where Element == Tensor {
    /// The output that logging, monitoring and V1 answers read: the first floating-point tensor (a classifier
    /// exported to ONNX answers its labels first and its probabilities second), else the first.
    public var scores: Tensor? { first { $0.datatype == .fp32 || $0.datatype == .fp64 } ?? first }
}

/// A request or tensor parameter value (`{"k": "s" | 1 | 1.5 | true}`).
public enum ParameterValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case .int(let i): i
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: Int64(d)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}

public typealias Parameters = [String: ParameterValue]
