import FerryCore
import Foundation

/// Open Inference Protocol (KServe V2) REST bodies, including Triton's binary tensor extension: requests here,
/// responses in `V2Codec+Response.swift`, raw tensor bytes in `BinaryTensor.swift`.
enum V2Codec {
    /// Values of one tensor's `data` as read from JSON, flattened, before its datatype is known.
    private enum RawData {
        case none
        case numbers([Double])
        case bools([Bool])
        case strings([String])
    }

    private struct RawInput {
        var name: String?
        var shape: [Int]?
        var datatype: String?
        var parameters: Parameters = [:]
        var data: RawData = .none
    }

    // MARK: Requests

    /// Decodes a request body. `jsonLength` is the `Inference-Header-Content-Length` header: when present the
    /// body is a JSON header followed by raw tensors for the inputs that carry `binary_data_size`.
    static func decodeRequest(_ body: UnsafeRawBufferPointer, jsonLength: Int?) throws -> InferenceRequest {
        var headerLength = body.count
        if let jsonLength {
            guard jsonLength >= 0, jsonLength <= body.count else {
                throw FerryError.invalid("Inference-Header-Content-Length is \(jsonLength) but the body has \(body.count) bytes")
            }
            headerLength = jsonLength
        }
        guard headerLength > 0 else {
            throw FerryError.invalid("request body is empty; send a JSON inference request with an 'inputs' list")
        }
        var reader = JSONReader(UnsafeRawBufferPointer(rebasing: body[0..<headerLength]))
        var request = InferenceRequest(inputs: [])
        var raw: [RawInput] = []
        var sawInputs = false
        try reader.object(at: "request") { r, key in
            switch key {
            case "id": request.id = try r.string(at: "id")
            case "parameters": request.parameters = try parameters(&r, at: "parameters")
            case "inputs":
                sawInputs = true
                try r.array(at: "inputs") { r, i in raw.append(try input(&r, at: "inputs[\(i)]")) }
            case "outputs":
                var outputs: [RequestedOutput] = []
                try r.array(at: "outputs") { r, i in
                    var name: String?
                    var params: Parameters = [:]
                    try r.object(at: "outputs[\(i)]") { r, key in
                        switch key {
                        case "name": name = try r.string(at: "outputs[\(i)].name")
                        case "parameters": params = try parameters(&r, at: "outputs[\(i)].parameters")
                        default: try r.skipValue(at: "outputs[\(i)].\(key)")
                        }
                    }
                    guard let name else { throw FerryError.invalid("outputs[\(i)] has no 'name'") }
                    outputs.append(RequestedOutput(name: name, parameters: params))
                }
                request.outputs = outputs
            default: try r.skipValue(at: key)
            }
        }
        try reader.finish()
        guard sawInputs else { throw FerryError.invalid("request has no 'inputs' field") }

        var offset = headerLength
        request.inputs = try raw.enumerated().map { i, input in
            guard let name = input.name else { throw FerryError.invalid("inputs[\(i)] has no 'name'") }
            let label = "input '\(name)'"
            guard let shape = input.shape else { throw FerryError.invalid("\(label) has no 'shape'") }
            guard let typeName = input.datatype else { throw FerryError.invalid("\(label) has no 'datatype'") }
            guard let datatype = DataType(rawValue: typeName) else {
                let known = DataType.allCases.map(\.rawValue).joined(separator: ", ")
                throw FerryError.invalid("\(label) has unknown datatype '\(typeName)'; use one of \(known)")
            }
            let count = try elementCount(shape, label: label)
            if let size = input.parameters["binary_data_size"] {
                guard jsonLength != nil else {
                    throw FerryError.invalid("\(label) has binary_data_size but the request has no Inference-Header-Content-Length header")
                }
                guard let n = size.intValue, n >= 0 else { throw FerryError.invalid("\(label) has an invalid binary_data_size") }
                guard offset + Int(n) <= body.count else {
                    throw FerryError.invalid("\(label) declares binary_data_size \(n) but only \(body.count - offset) bytes remain in the body")
                }
                let bytes = UnsafeRawBufferPointer(rebasing: body[offset..<(offset + Int(n))])
                offset += Int(n)
                var parameters = input.parameters
                parameters["binary_data_size"] = nil
                let data = try BinaryTensor.decode(bytes, datatype: datatype, count: count, label: label)
                return Tensor(name: name, datatype: datatype, shape: shape, data: data, parameters: parameters)
            }
            let data = try typed(input.data, datatype: datatype, count: count, label: label)
            return Tensor(name: name, datatype: datatype, shape: shape, data: data, parameters: input.parameters)
        }
        guard offset == body.count else {
            throw FerryError.invalid("the body has \(body.count - offset) bytes after the JSON header that no input's binary_data_size accounts for")
        }
        return request
    }

    private static func elementCount(_ shape: [Int], label: String) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw FerryError.invalid("\(label) has a negative dimension in shape \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= 1 << 40 else { throw FerryError.invalid("\(label) has an impossibly large shape \(shape)") }
            count = product
        }
        return count
    }

    private static func input(_ r: inout JSONReader, at field: @autoclosure () -> String) throws -> RawInput {
        var input = RawInput()
        try r.object(at: field()) { r, key in
            switch key {
            case "name": input.name = try r.string(at: "\(field()).name")
            case "datatype": input.datatype = try r.string(at: "\(field()).datatype")
            case "shape":
                var shape: [Int] = []
                try r.array(at: "\(field()).shape") { r, i in
                    let d = try r.number(at: "\(field()).shape[\(i)]")
                    guard d >= 0, d == d.rounded(), d < 1e12 else {
                        throw FerryError.invalid("\(field()).shape[\(i)] must be a non-negative integer, got \(d)")
                    }
                    shape.append(Int(d))
                }
                input.shape = shape
            case "parameters": input.parameters = try parameters(&r, at: "\(field()).parameters")
            case "data": input.data = try data(&r, at: "\(field()).data")
            default: try r.skipValue(at: "\(field()).\(key)")
            }
        }
        return input
    }

    /// Reads `data`, flat or nested, into one flat list of a single JSON kind; `null` reads as NaN.
    private static func data(_ r: inout JSONReader, at field: @autoclosure () -> String) throws -> RawData {
        var numbers: [Double] = []
        var bools: [Bool] = []
        var strings: [String] = []
        func element(_ r: inout JSONReader, _ path: () -> String) throws {
            switch r.peek() {
            case UInt8(ascii: "["):
                try r.array(at: field()) { r, i in try element(&r, { "\(path())[\(i)]" }) }
            case UInt8(ascii: "\""):
                guard numbers.isEmpty, bools.isEmpty else { throw mixed(path()) }
                strings.append(try r.string(at: path()))
            case UInt8(ascii: "-"), UInt8(ascii: "N"), UInt8(ascii: "I"), .some(0x30...0x39):
                guard bools.isEmpty, strings.isEmpty else { throw mixed(path()) }
                numbers.append(try r.number(at: path()))
            default:
                switch r.literal() {
                case .some(.some(let b)):
                    guard numbers.isEmpty, strings.isEmpty else { throw mixed(path()) }
                    bools.append(b)
                case .some(.none):
                    guard bools.isEmpty, strings.isEmpty else { throw mixed(path()) }
                    numbers.append(.nan)
                case .none:
                    throw r.fail("a number, boolean, string, null or nested array", at: path())
                }
            }
        }
        func mixed(_ path: String) -> FerryError {
            FerryError.invalid("\(path) mixes numbers, booleans and strings; a tensor's data has one type")
        }
        if r.peek() == UInt8(ascii: "[") {
            try r.array(at: field()) { r, i in try element(&r, { "\(field())[\(i)]" }) }
        } else {
            try element(&r, { field() })
        }
        if !strings.isEmpty { return .strings(strings) }
        if !bools.isEmpty { return .bools(bools) }
        return .numbers(numbers)
    }

    private static func typed(_ raw: RawData, datatype: DataType, count: Int, label: String) throws -> TensorData {
        let data: TensorData
        switch (raw, datatype) {
        case (.none, _):
            throw FerryError.invalid("\(label) has no 'data' (and no binary_data_size parameter)")
        case (.numbers(let v), .fp32), (.numbers(let v), .fp16), (.numbers(let v), .bf16):
            data = .float32(v.map { Float($0) })
        case (.numbers(let v), .fp64):
            data = .float64(v)
        case (.numbers(let v), .int8), (.numbers(let v), .int16), (.numbers(let v), .int32), (.numbers(let v), .int64),
             (.numbers(let v), .uint8), (.numbers(let v), .uint16), (.numbers(let v), .uint32):
            let (low, high) = range(datatype)
            var ints = [Int64](repeating: 0, count: v.count)
            for (i, d) in v.enumerated() {
                guard d == d.rounded(), d >= low, d <= high else {
                    throw FerryError.invalid("\(label) element \(i): \(d.isNaN ? "null" : String(d)) is not a valid \(datatype.rawValue)")
                }
                ints[i] = Int64(d)
            }
            data = .int64(ints)
        case (.numbers(let v), .uint64):
            var ints = [UInt64](repeating: 0, count: v.count)
            for (i, d) in v.enumerated() {
                guard d == d.rounded(), d >= 0, d < 1.8446744073709552e19 else {
                    throw FerryError.invalid("\(label) element \(i): \(d.isNaN ? "null" : String(d)) is not a valid UINT64")
                }
                ints[i] = UInt64(d)
            }
            data = .uint64(ints)
        case (.bools(let v), .bool):
            data = .bool(v)
        case (.numbers(let v), .bool) where v.allSatisfy({ $0 == 0 || $0 == 1 }):
            data = .bool(v.map { $0 == 1 })
        case (.strings(let v), .bytes):
            data = .bytes(v.map { Array($0.utf8) })
        case (.bools, _), (.strings, _), (.numbers, _):
            let kind = switch raw {
            case .bools: "booleans"
            case .strings: "strings"
            default: "numbers"
            }
            throw FerryError.invalid("\(label) has datatype \(datatype.rawValue) but its data holds \(kind)")
        }
        guard data.count == count else {
            throw FerryError.invalid("\(label) has \(data.count) values but its shape needs \(count)")
        }
        return data
    }

    private static func range(_ type: DataType) -> (Double, Double) {
        type.smallIntegerBounds.map { (Double($0.lowerBound), Double($0.upperBound)) } ?? (-9.223372036854775e18, 9.223372036854775e18)
    }

    static func parameters(_ r: inout JSONReader, at field: @autoclosure () -> String) throws -> Parameters {
        var out: Parameters = [:]
        try r.object(at: field()) { r, key in
            switch r.peek() {
            case UInt8(ascii: "\""): out[key] = .string(try r.string(at: "\(field()).\(key)"))
            case UInt8(ascii: "-"), .some(0x30...0x39):
                let d = try r.number(at: "\(field()).\(key)")
                out[key] = d == d.rounded() && abs(d) < 9.0e15 ? .int(Int64(d)) : .double(d)
            default:
                switch r.literal() {
                case .some(.some(let b)): out[key] = .bool(b)
                case .some(.none): break
                case .none: try r.skipValue(at: "\(field()).\(key)")  // nested values are tolerated and ignored
                }
            }
        }
        return out
    }
}
