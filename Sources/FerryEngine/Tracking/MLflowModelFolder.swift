import FerryCore
import Foundation
import Yams

/// An MLflow model folder (the one holding an `MLmodel` file), read for registration: the model file of a flavor
/// Ferry runs natively (xgboost, lightgbm, onnx), and the signature's named columns as the input schema. Nothing in
/// the folder is executed: it is read as YAML, JSON and bytes. The folder may be on disk (`ferry models register
/// DIR`) or in the tracking artifact store (a version registered through MLflow's API).
public struct MLflowModelFolder: Sendable {
    public var artifact: Data
    public var format: ModelFormat
    public var flavor: String
    /// The signature's named columns (nil for tensor signatures, e.g. ONNX's, and without a signature).
    public var inputSchema: InputSchema?
    public var runID: String?
    /// MLflow 3's logged model id.
    public var modelID: String?

    /// Reads the folder through `read` (a path relative to the folder to its bytes, nil when absent); `files` are
    /// the folder's relative file paths; `place` names the folder in messages.
    public init(files: [String], place: String, read: (String) throws -> Data?) throws {
        guard let mlmodel = try read("MLmodel"), let text = String(data: mlmodel, encoding: .utf8) else {
            throw FerryError.invalid("\(place) has no MLmodel file; give a model file or an MLflow model folder")
        }
        guard let model = try? Yams.load(yaml: text) as? [String: Any], let flavors = model["flavors"] as? [String: Any] else {
            throw FerryError.invalid("\(place)/MLmodel is not an MLflow model file (it has no flavors)")
        }
        func file(_ name: String) throws -> Data {
            guard !name.split(separator: "/").contains(".."), let data = try read(name) else {
                throw FerryError.invalid("the MLflow model's data file '\(name)' is missing from \(place)")
            }
            return data
        }
        if let onnx = flavors["onnx"] as? [String: Any] {
            let name = onnx["data"] as? String ?? "model.onnx"
            if files.contains(where: { $0.hasSuffix(".data") }) {
                throw FerryError.invalid("the MLflow model's ONNX file keeps its weights in external .data files (MLflow's default); log it with mlflow.onnx.log_model(..., save_as_external_data=False) to register it")
            }
            (artifact, format, flavor) = (try file(name), ModelFormat(rawValue: "onnx"), "onnx")
        } else if let xgboost = flavors["xgboost"] as? [String: Any] {
            let name = xgboost["data"] as? String ?? "model.xgb"
            let data = try file(name)
            // model_format json or ubj; "xgb" may be either of them or the legacy binary format.
            let first = data.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            guard first == UInt8(ascii: "{") else {
                throw FerryError.invalid("the MLflow model's XGBoost file '\(name)' is in XGBoost's legacy binary format; log it with mlflow.xgboost.log_model(..., model_format=\"ubj\") (or \"json\") to register it")
            }
            (artifact, format, flavor) = (data, .xgboostJSON, "xgboost")
        } else if let lightgbm = flavors["lightgbm"] as? [String: Any] {
            let name = lightgbm["data"] as? String ?? "model.lgb"
            let data = try file(name)
            guard name.hasSuffix(".lgb"), data.starts(with: Array("tree".utf8)) else {
                throw FerryError.invalid("the MLflow model's LightGBM file '\(name)' is a pickled \(lightgbm["model_class"] as? String ?? "scikit-learn-API model"), which Ferry does not load (it never unpickles); log the Booster instead: mlflow.lightgbm.log_model(model.booster_, ...)")
            }
            (artifact, format, flavor) = (data, ModelFormat(rawValue: "lightgbm-text"), "lightgbm")
        } else if flavors["sklearn"] != nil {
            throw FerryError.invalid("the MLflow model is a pickled scikit-learn model (sklearn flavor), which Ferry does not load (it never unpickles); export it to ONNX and register that: skl2onnx.to_onnx(model, X[:1]) then save the .onnx file, or mlflow.onnx.log_model(onnx_model, ..., save_as_external_data=False)")
        } else {
            let names = flavors.keys.sorted().joined(separator: ", ")
            throw FerryError.invalid("the MLflow model has the flavors \(names); Ferry registers the xgboost, lightgbm and onnx flavors")
        }
        runID = model["run_id"] as? String
        modelID = model["model_id"] as? String
        inputSchema = Self.schema(fromSignature: (model["signature"] as? [String: Any])?["inputs"] as? String)
    }

    /// Named column specs as Ferry features (their order is the model's); tensor specs give none.
    static func schema(fromSignature inputs: String?) -> InputSchema? {
        guard let inputs, let columns = try? JSONSerialization.jsonObject(with: Data(inputs.utf8)) as? [[String: Any]],
              !columns.isEmpty else { return nil }
        let types: [String: DataType] = ["double": .fp64, "float": .fp32, "long": .int64, "integer": .int32, "boolean": .bool, "string": .bytes]
        var features: [FeatureSpec] = []
        for column in columns {
            guard let name = column["name"] as? String, let type = column["type"] as? String, let datatype = types[type] else { return nil }
            features.append(FeatureSpec(name: name, datatype: datatype))
        }
        return InputSchema(features: features)
    }
}
