import FerryCore
import FerryHTTP
import Foundation
import GRPCCore

/// Between the protocol's messages and Ferry's `InferenceRequest` / `InferenceResponse`: inputs as typed contents or
/// as `raw_input_contents` (what tritonclient sends), outputs always as `raw_output_contents` (the only form
/// tritonclient reads), little-endian and row-major as in the binary tensor extension.
enum GRPCCodec {
    static func request(_ message: Inference_ModelInferRequest) throws -> InferenceRequest {
        let raw = message.rawInputContents
        if !raw.isEmpty {
            guard raw.count == message.inputs.count else {
                throw FerryError.invalid("raw_input_contents has \(raw.count) entries for \(message.inputs.count) inputs")
            }
            if let both = message.inputs.first(where: \.hasContents) {
                throw FerryError.invalid("input '\(both.name)' has contents although raw_input_contents is used; send one or the other")
            }
        }
        let inputs = try message.inputs.enumerated().map { index, input -> Tensor in
            let label = "input '\(input.name)'"
            guard let datatype = DataType(rawValue: input.datatype) else {
                throw FerryError.invalid("\(label) has datatype '\(input.datatype)', which is not an Open Inference Protocol datatype")
            }
            guard input.shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
                throw FerryError.invalid("\(label) has shape \(input.shape); dimensions must be between 0 and 2^31")
            }
            let shape = input.shape.map { Int($0) }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow else { throw FerryError.invalid("\(label) has shape \(shape), too many elements") }
            let data: TensorData
            if !raw.isEmpty {
                data = try raw[index].withUnsafeBytes { try BinaryTensor.decode($0, datatype: datatype, count: count, label: label) }
            } else {
                data = try contents(input.contents, datatype: datatype, count: count, label: label)
            }
            return Tensor(name: input.name, datatype: datatype, shape: shape, data: data, parameters: parameters(input.parameters))
        }
        let outputs = message.outputs.isEmpty ? nil : message.outputs.map { RequestedOutput(name: $0.name, parameters: parameters($0.parameters)) }
        return InferenceRequest(
            id: message.id.isEmpty ? nil : message.id, parameters: parameters(message.parameters), inputs: inputs, outputs: outputs)
    }

    /// Typed contents: the field the datatype names, with as many elements as the shape.
    static func contents(_ c: Inference_InferTensorContents, datatype: DataType, count: Int, label: String) throws -> TensorData {
        let data: TensorData = switch datatype {
        case .bool: .bool(c.boolContents)
        case .int8, .int16, .int32: .int64(try bounded(c.intContents.map(Int64.init), datatype, label))
        case .int64: .int64(c.int64Contents)
        case .uint8, .uint16, .uint32: .int64(try bounded(c.uintContents.map(Int64.init), datatype, label))
        case .uint64: .uint64(c.uint64Contents)
        case .fp32: .float32(c.fp32Contents)
        case .fp64: .float64(c.fp64Contents)
        case .bytes: .bytes(c.bytesContents.map { [UInt8]($0) })
        case .fp16, .bf16: throw FerryError.invalid("\(label) is \(datatype.rawValue), which has no typed contents field; send it in raw_input_contents")
        }
        guard data.count == count else {
            throw FerryError.invalid("\(label) has \(data.count) values in its contents but its shape needs \(count)")
        }
        return data
    }

    /// `values` when each fits `datatype` (`int_contents` carries INT8 and INT16 in 32 bits), or REST's error.
    private static func bounded(_ values: [Int64], _ datatype: DataType, _ label: String) throws -> [Int64] {
        guard let bounds = datatype.smallIntegerBounds, let i = values.firstIndex(where: { !bounds.contains($0) }) else { return values }
        throw FerryError.invalid("\(label) element \(i): \(Double(values[i])) is not a valid \(datatype.rawValue)")
    }

    static func parameters(_ wire: [String: Inference_InferParameter]) -> Parameters {
        wire.compactMapValues { p -> ParameterValue? in
            switch p.parameterChoice {
            case .boolParam(let b): .bool(b)
            case .int64Param(let i): .int(i)
            case .stringParam(let s): .string(s)
            case .doubleParam(let d): .double(d)
            case .uint64Param(let u): u <= UInt64(Int64.max) ? .int(Int64(u)) : .double(Double(u))
            case nil: nil
            }
        }
    }

    static func wire(_ parameters: Parameters) -> [String: Inference_InferParameter] {
        parameters.mapValues { value in
            var p = Inference_InferParameter()
            switch value {
            case .bool(let b): p.boolParam = b
            case .int(let i): p.int64Param = i
            case .string(let s): p.stringParam = s
            case .double(let d): p.doubleParam = d
            }
            return p
        }
    }

    static func response(_ response: InferenceResponse, requestID: String) -> Inference_ModelInferResponse {
        var answer = Inference_ModelInferResponse()
        answer.modelName = response.modelName
        answer.modelVersion = response.modelVersion ?? ""
        answer.id = response.id ?? requestID
        answer.parameters = wire(response.wireParameters)
        for tensor in response.outputs {
            var output = Inference_ModelInferResponse.InferOutputTensor()
            output.name = tensor.name
            output.datatype = tensor.datatype.rawValue
            output.shape = tensor.shape.map(Int64.init)
            answer.outputs.append(output)
            var bytes: [UInt8] = []
            BinaryTensor.encode(tensor, into: &bytes)
            answer.rawOutputContents.append(Data(bytes))
        }
        return answer
    }

    /// The caller's deadline from `grpc-timeout` (e.g. `100m` = 100 ms), in seconds, when the transport passes it on.
    static func timeout(_ metadata: Metadata) -> Double? {
        guard let text = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }), let unit = text.last,
              let amount = Double(text.dropLast()) else { return nil }
        let scale: Double? = switch unit {
        case "H": 3600
        case "M": 60
        case "S": 1
        case "m": 1e-3
        case "u": 1e-6
        case "n": 1e-9
        default: nil
        }
        return scale.map { amount * $0 }
    }
}
