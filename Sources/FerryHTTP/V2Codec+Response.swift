import FerryCore
import Foundation

extension V2Codec {
    /// Response parameters: the prediction id feedback refers to, and for endpoint requests the version that
    /// answered (`served_by`), the variant that failed (`fallback_from`), `fallback` and `cached` when so.
    static func wireParameters(_ response: InferenceResponse) -> Parameters {
        var parameters = response.parameters
        let serving = response.serving
        if let id = serving.predictionID { parameters["prediction_id"] = .string(id) }
        if let servedBy = serving.servedBy { parameters["served_by"] = .string(servedBy.description) }
        if let failed = serving.fallbackFrom { parameters["fallback_from"] = .string(failed.description) }
        if serving.fallback { parameters["fallback"] = .bool(true) }
        if serving.cached { parameters["cached"] = .bool(true) }
        return parameters
    }

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
        let parameters = wireParameters(response)
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
