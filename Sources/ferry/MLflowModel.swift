import ArgumentParser
import Foundation
import Yams

/// An MLflow model folder (the one holding an `MLmodel` file), read for registration: the model file of a flavor
/// Ferry runs natively (xgboost, lightgbm, onnx), the signature's named columns as the input schema, and the run
/// with its params and metrics as lineage. Nothing in the folder is executed: it is read as YAML, JSON and bytes.
struct MLflowModel {
    var artifact: Data
    var format: String
    var flavor: String
    /// `input_schema.features` from a signature of named columns (nil for tensor signatures, e.g. ONNX's).
    var features: [[String: Any]]?
    var runID: String?
    var params: [String: String] = [:]
    var metrics: [String: Double] = [:]

    /// Whether `path` is a folder with an MLmodel file.
    static func isFolder(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    init(folder: String) throws {
        let root = URL(fileURLWithPath: folder)
        guard let text = try? String(contentsOf: root.appendingPathComponent("MLmodel"), encoding: .utf8) else {
            throw ValidationError("'\(folder)' is a folder without an MLmodel file; give a model file or an MLflow model folder")
        }
        guard let model = try? Yams.load(yaml: text) as? [String: Any], let flavors = model["flavors"] as? [String: Any] else {
            throw ValidationError("'\(folder)/MLmodel' is not an MLflow model file (it has no flavors)")
        }
        func file(_ name: String) throws -> Data {
            guard !name.contains(".."), let data = FileManager.default.contents(atPath: root.appendingPathComponent(name).path) else {
                throw ValidationError("the MLflow model's data file '\(name)' is missing from '\(folder)'")
            }
            return data
        }
        if let onnx = flavors["onnx"] as? [String: Any] {
            let name = onnx["data"] as? String ?? "model.onnx"
            let others = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            if others.contains(where: { $0.hasSuffix(".data") }) {
                throw ValidationError("the MLflow model's ONNX file keeps its weights in external .data files (MLflow's default); log it with mlflow.onnx.log_model(..., save_as_external_data=False) to register it")
            }
            (artifact, format, flavor) = (try file(name), "onnx", "onnx")
        } else if let xgboost = flavors["xgboost"] as? [String: Any] {
            let name = xgboost["data"] as? String ?? "model.xgb"
            let data = try file(name)
            // model_format json or ubj; "xgb" may be either of them or the legacy binary format.
            let first = data.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            guard first == UInt8(ascii: "{") else {
                throw ValidationError("the MLflow model's XGBoost file '\(name)' is in XGBoost's legacy binary format; log it with mlflow.xgboost.log_model(..., model_format=\"ubj\") (or \"json\") to register it")
            }
            (artifact, format, flavor) = (data, "xgboost-json", "xgboost")
        } else if let lightgbm = flavors["lightgbm"] as? [String: Any] {
            let name = lightgbm["data"] as? String ?? "model.lgb"
            let data = try file(name)
            guard name.hasSuffix(".lgb"), data.starts(with: Array("tree".utf8)) else {
                throw ValidationError("the MLflow model's LightGBM file '\(name)' is a pickled \(lightgbm["model_class"] as? String ?? "scikit-learn-API model"), which Ferry does not load (it never unpickles); log the Booster instead: mlflow.lightgbm.log_model(model.booster_, ...)")
            }
            (artifact, format, flavor) = (data, "lightgbm-text", "lightgbm")
        } else if flavors["sklearn"] != nil {
            throw ValidationError("the MLflow model is a pickled scikit-learn model (sklearn flavor), which Ferry does not load (it never unpickles); export it to ONNX and register that: skl2onnx.to_onnx(model, X[:1]) then save the .onnx file, or mlflow.onnx.log_model(onnx_model, ..., save_as_external_data=False)")
        } else {
            let names = flavors.keys.sorted().joined(separator: ", ")
            throw ValidationError("the MLflow model has the flavors \(names); Ferry registers the xgboost, lightgbm and onnx flavors")
        }
        runID = model["run_id"] as? String
        features = Self.features(fromSignature: (model["signature"] as? [String: Any])?["inputs"] as? String)
        (params, metrics) = Self.record(beside: root, modelID: model["model_id"] as? String)
    }

    /// Named column specs as Ferry features (their order is the model's); tensor specs give none.
    static func features(fromSignature inputs: String?) -> [[String: Any]]? {
        guard let inputs, let columns = try? JSONSerialization.jsonObject(with: Data(inputs.utf8)) as? [[String: Any]],
              !columns.isEmpty else { return nil }
        let types = ["double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL", "string": "BYTES"]
        var features: [[String: Any]] = []
        for column in columns {
            guard let name = column["name"] as? String, let type = column["type"] as? String, let datatype = types[type] else { return nil }
            features.append(["name": name, "datatype": datatype])
        }
        return features
    }

    /// MLflow 3 keeps a logged model's params and metrics beside its artifacts folder (`models/<id>/params`,
    /// `.../metrics`), named in `meta.yaml`; read them when the folder is that artifacts folder.
    static func record(beside folder: URL, modelID: String?) -> (params: [String: String], metrics: [String: Double]) {
        let parent = folder.standardizedFileURL.deletingLastPathComponent()
        guard let modelID, folder.standardizedFileURL.lastPathComponent == "artifacts",
              let text = try? String(contentsOf: parent.appendingPathComponent("meta.yaml"), encoding: .utf8),
              let meta = try? Yams.load(yaml: text) as? [String: Any], meta["model_id"] as? String == modelID else { return ([:], [:]) }
        let files = FileManager.default
        var params: [String: String] = [:]
        for key in (try? files.contentsOfDirectory(atPath: parent.appendingPathComponent("params").path)) ?? [] {
            params[key] = try? String(contentsOf: parent.appendingPathComponent("params/\(key)"), encoding: .utf8)
        }
        var metrics: [String: Double] = [:]
        for key in (try? files.contentsOfDirectory(atPath: parent.appendingPathComponent("metrics").path)) ?? [] {
            // One line per logged value, "<timestamp> <value> <step> ..."; the last is the latest.
            let lines = (try? String(contentsOf: parent.appendingPathComponent("metrics/\(key)"), encoding: .utf8))?
                .split(separator: "\n") ?? []
            let fields = lines.last?.split(separator: " ") ?? []
            if fields.count >= 2, let value = Double(fields[1]), value.isFinite { metrics[key] = value }
        }
        return (params, metrics)
    }
}
