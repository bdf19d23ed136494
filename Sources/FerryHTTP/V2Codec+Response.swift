import FerryCore
import Foundation

extension V2Codec {
    /// Encodes a response; outputs flagged for binary go after the JSON header. Returns the body and, when any
    /// output is binary, the JSON header's length for `Inference-Header-Content-Length`.
    static func encodeResponse(_ response: InferenceResponse, request: InferenceRequest) -> (body: [UInt8], jsonLength: Int?) {
        let allBinary = request.parameters["binary_data_output"]?.boolValue ?? false
        var w = JSONWriter()
        var binary: [UInt8] = []
        var anyBinary = false
        w.raw("{\"model_name\":")
        w.string(response.modelName)
        if let version = response.modelVersion {
            w.raw(",\"model_version\":")
            w.string(version)
        }
        if let id = response.id {
            w.raw(",\"id\":")
            w.string(id)
        }
        let parameters = response.wireParameters
        if !parameters.isEmpty {
            w.raw(",\"parameters\":")
            w.parameters(parameters)
        }
        w.raw(",\"outputs\":[")
        for (i, output) in response.outputs.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(output.name)
            w.raw(",\"datatype\":")
            w.string(output.datatype.rawValue)
            w.raw(",\"shape\":[")
            for (k, d) in output.shape.enumerated() {
                if k > 0 { w.raw(",") }
                w.int(d)
            }
            w.raw("]")
            let wantsBinary = output.parameters["binary_data"]?.boolValue ?? allBinary
            var params = output.parameters
            params["binary_data"] = nil
            if wantsBinary {
                anyBinary = true
                let before = binary.count
                BinaryTensor.encode(output, into: &binary)
                params["binary_data_size"] = .int(Int64(binary.count - before))
                w.raw(",\"parameters\":")
                w.parameters(params)
            } else {
                if !params.isEmpty {
                    w.raw(",\"parameters\":")
                    w.parameters(params)
                }
                w.raw(",\"data\":")
                w.tensorData(output.data)
            }
            w.raw("}")
        }
        w.raw("]}")
        if anyBinary {
            let length = w.bytes.count
            return (w.bytes + binary, length)
        }
        return (w.bytes, nil)
    }
}
