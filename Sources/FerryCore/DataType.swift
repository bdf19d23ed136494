/// Tensor element types of the Open Inference Protocol (KServe V2), plus Triton's BF16.
public enum DataType: String, Sendable, Codable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", bf16 = "BF16", fp32 = "FP32", fp64 = "FP64"
    case bytes = "BYTES"

    /// Size of one element in the binary tensor encoding; `nil` for variable-size BYTES.
    public var byteSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16, .fp16, .bf16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }

    /// The values an integer type of at most 32 bits holds (nil for the others).
    public var smallIntegerBounds: ClosedRange<Int64>? {
        switch self {
        case .int8: -128...127
        case .int16: -32768...32767
        case .int32: -2_147_483_648...2_147_483_647
        case .uint8: 0...255
        case .uint16: 0...65535
        case .uint32: 0...4_294_967_295
        default: nil
        }
    }

    /// Whether the type carries numbers a tabular model can take as features.
    public var isNumeric: Bool { self != .bytes }
}
