import FerryCore

/// The parts of an ONNX `ModelProto` (onnx/onnx.proto3) that a tabular pipeline uses, decoded from protobuf.
///
/// Fields Ferry has no use for are skipped; constructs it cannot run (external data, sparse initializers,
/// model-local functions, sub-graphs) are kept just far enough to be refused by name.
struct ONNXModelFile {
    var irVersion: Int64 = 0
    var producer = ""
    var producerVersion = ""
    /// Operator set versions by domain ("" and "ai.onnx" are the same domain).
    var opsets: [String: Int] = [:]
    var graph = Graph()
    var metadata: [String: String] = [:]
    var functionCount = 0

    struct Graph {
        var name = ""
        var nodes: [Node] = []
        var initializers: [TensorProto] = []
        var inputs: [ValueInfo] = []
        var outputs: [ValueInfo] = []
        var sparseInitializerCount = 0
    }

    struct Node {
        var inputs: [String] = []
        var outputs: [String] = []
        var name = ""
        var opType = ""
        var domain = ""
        var attributes: [String: Attribute] = [:]
    }

    struct Attribute {
        var name = ""
        var float: Float?
        var int: Int64?
        var string: [UInt8]?
        var tensor: TensorProto?
        var floats: [Float] = []
        var ints: [Int64] = []
        var strings: [[UInt8]] = []
        var hasGraph = false
    }

    struct TensorProto {
        var name = ""
        var dims: [Int64] = []
        var dataType: Int32 = 0
        var floatData: [Float] = []
        var int32Data: [Int32] = []
        var stringData: [[UInt8]] = []
        var int64Data: [Int64] = []
        var doubleData: [Double] = []
        var uint64Data: [UInt64] = []
        var rawData: ArraySlice<UInt8>?
        var isExternal = false
    }

    struct ValueInfo {
        var name = ""
        var type = ValueType.unknown
    }

    indirect enum ValueType {
        /// elem_type (TensorProto.DataType) and dims (nil where the dimension is symbolic or absent).
        case tensor(elementType: Int32, shape: [Int?]?)
        case sequence(ValueType)
        case map(key: Int32, value: ValueType)
        case unknown
    }
}

// MARK: - Decoding

extension ONNXModelFile {
    init(parsing bytes: [UInt8]) throws {
        var r = ProtobufReader(bytes)
        do {
            var sawGraph = false
            while let (field, wire) = try r.nextField() {
                switch (field, wire) {
                case (1, .varint): irVersion = try r.int64()
                case (2, .lengthDelimited): producer = try r.string()
                case (3, .lengthDelimited): producerVersion = try r.string()
                case (7, .lengthDelimited):
                    var m = try r.message()
                    graph = try Graph(&m)
                    sawGraph = true
                case (8, .lengthDelimited):
                    var m = try r.message()
                    var domain = ""
                    var version: Int64 = 0
                    while let (f, w) = try m.nextField() {
                        switch (f, w) {
                        case (1, .lengthDelimited): domain = try m.string()
                        case (2, .varint): version = try m.int64()
                        default: try m.skip(w)
                        }
                    }
                    opsets[domain == "ai.onnx" ? "" : domain] = Int(clamping: version)
                case (14, .lengthDelimited):
                    var m = try r.message()
                    var key = "", value = ""
                    while let (f, w) = try m.nextField() {
                        switch (f, w) {
                        case (1, .lengthDelimited): key = try m.string()
                        case (2, .lengthDelimited): value = try m.string()
                        default: try m.skip(w)
                        }
                    }
                    metadata[key] = value
                case (25, .lengthDelimited):
                    _ = try r.lengthDelimited()
                    functionCount += 1
                default: try r.skip(wire)
                }
            }
            guard sawGraph else { throw ProtobufReader.Malformed(reason: "it has no graph") }
        } catch let error as ProtobufReader.Malformed {
            throw FerryError.invalid("not a valid ONNX model: \(error.reason)")
        }
    }
}

extension ONNXModelFile.Graph {
    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                var m = try r.message()
                nodes.append(try ONNXModelFile.Node(&m))
            case (2, .lengthDelimited): name = try r.string()
            case (5, .lengthDelimited):
                var m = try r.message()
                initializers.append(try ONNXModelFile.TensorProto(&m))
            case (11, .lengthDelimited):
                var m = try r.message()
                inputs.append(try ONNXModelFile.ValueInfo(&m))
            case (12, .lengthDelimited):
                var m = try r.message()
                outputs.append(try ONNXModelFile.ValueInfo(&m))
            case (15, .lengthDelimited):
                _ = try r.lengthDelimited()
                sparseInitializerCount += 1
            default: try r.skip(wire)
            }
        }
    }
}

extension ONNXModelFile.Node {
    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): inputs.append(try r.string())
            case (2, .lengthDelimited): outputs.append(try r.string())
            case (3, .lengthDelimited): name = try r.string()
            case (4, .lengthDelimited): opType = try r.string()
            case (7, .lengthDelimited):
                domain = try r.string()
                if domain == "ai.onnx" { domain = "" }
            case (5, .lengthDelimited):
                var m = try r.message()
                let attribute = try ONNXModelFile.Attribute(&m)
                attributes[attribute.name] = attribute
            default: try r.skip(wire)
            }
        }
    }
}

extension ONNXModelFile.Attribute {
    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): name = try r.string()
            case (2, .fixed32): float = try r.float()
            case (3, .varint): int = try r.int64()
            case (4, .lengthDelimited): string = Array(try r.data())
            case (5, .lengthDelimited):
                var m = try r.message()
                tensor = try ONNXModelFile.TensorProto(&m)
            case (6, .lengthDelimited), (11, .lengthDelimited):
                _ = try r.lengthDelimited()
                hasGraph = true
            case (7, _): try r.repeated(wire, element: .fixed32, into: &floats) { try $0.float() }
            case (8, _): try r.repeated(wire, element: .varint, into: &ints) { try $0.int64() }
            case (9, .lengthDelimited): strings.append(Array(try r.data()))
            default: try r.skip(wire)
            }
        }
    }
}

extension ONNXModelFile.TensorProto {
    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, _): try r.repeated(wire, element: .varint, into: &dims) { try $0.int64() }
            case (2, .varint): dataType = Int32(truncatingIfNeeded: try r.int64())
            case (4, _): try r.repeated(wire, element: .fixed32, into: &floatData) { try $0.float() }
            case (5, _): try r.repeated(wire, element: .varint, into: &int32Data) { Int32(truncatingIfNeeded: try $0.int64()) }
            case (6, .lengthDelimited): stringData.append(Array(try r.data()))
            case (7, _): try r.repeated(wire, element: .varint, into: &int64Data) { try $0.int64() }
            case (8, .lengthDelimited): name = try r.string()
            case (9, .lengthDelimited): rawData = try r.data()
            case (10, _): try r.repeated(wire, element: .fixed64, into: &doubleData) { try $0.double() }
            case (11, _): try r.repeated(wire, element: .varint, into: &uint64Data) { try $0.varint() }
            case (13, .lengthDelimited):
                _ = try r.lengthDelimited()
                isExternal = true
            case (14, .varint): isExternal = try r.varint() == 1
            default: try r.skip(wire)
            }
        }
    }
}

extension ONNXModelFile.ValueInfo {
    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): name = try r.string()
            case (2, .lengthDelimited):
                var m = try r.message()
                type = try ONNXModelFile.ValueType(&m)
            default: try r.skip(wire)
            }
        }
    }
}

extension ONNXModelFile.ValueType {
    init(_ r: inout ProtobufReader) throws {
        self = .unknown
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                var m = try r.message()
                var element: Int32 = 0
                var shape: [Int?]?
                while let (f, w) = try m.nextField() {
                    switch (f, w) {
                    case (1, .varint): element = Int32(truncatingIfNeeded: try m.int64())
                    case (2, .lengthDelimited):
                        var s = try m.message()
                        var dims: [Int?] = []
                        while let (df, dw) = try s.nextField() {
                            guard df == 1, dw == .lengthDelimited else { try s.skip(dw); continue }
                            var d = try s.message()
                            var value: Int?
                            while let (vf, vw) = try d.nextField() {
                                if vf == 1, vw == .varint { value = Int(clamping: try d.int64()) } else { try d.skip(vw) }
                            }
                            dims.append(value)
                        }
                        shape = dims
                    default: try m.skip(w)
                    }
                }
                self = .tensor(elementType: element, shape: shape)
            case (4, .lengthDelimited):
                var m = try r.message()
                var element = ONNXModelFile.ValueType.unknown
                while let (f, w) = try m.nextField() {
                    if f == 1, w == .lengthDelimited { var e = try m.message(); element = try .init(&e) } else { try m.skip(w) }
                }
                self = .sequence(element)
            case (5, .lengthDelimited):
                var m = try r.message()
                var key: Int32 = 0
                var value = ONNXModelFile.ValueType.unknown
                while let (f, w) = try m.nextField() {
                    switch (f, w) {
                    case (1, .varint): key = Int32(truncatingIfNeeded: try m.int64())
                    case (2, .lengthDelimited): var v = try m.message(); value = try .init(&v)
                    default: try m.skip(w)
                    }
                }
                self = .map(key: key, value: value)
            default: try r.skip(wire)
            }
        }
    }
}
