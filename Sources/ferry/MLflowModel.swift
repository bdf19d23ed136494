import ArgumentParser
import FerryCore
import FerryEngine
import Foundation
import Yams

/// An MLflow model folder on disk, read for `ferry models register DIR` (see `MLflowModelFolder`), with the params and
/// metrics MLflow 3 keeps beside a logged model's artifacts folder as lineage.
struct MLflowModel {
    var folder: MLflowModelFolder
    var params: [String: String] = [:]
    var metrics: [String: Double] = [:]

    var artifact: Data { folder.artifact }
    var format: String { folder.format.rawValue }
    var runID: String? { folder.runID }
    /// `input_schema.features` for the registration body, from a signature of named columns.
    var features: [[String: Any]]? {
        folder.inputSchema.map { $0.features.map { ["name": $0.name, "datatype": $0.datatype.rawValue] } }
    }

    /// Whether `path` is a folder with an MLmodel file.
    static func isFolder(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    init(folder path: String) throws {
        let root = URL(fileURLWithPath: path)
        let files = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []
        do {
            folder = try MLflowModelFolder(files: files, place: "'\(path)'") { name in
                FileManager.default.contents(atPath: root.appendingPathComponent(name).path)
            }
        } catch let error as FerryError {
            throw ValidationError(error.message)
        }
        (params, metrics) = Self.record(beside: root, modelID: folder.modelID)
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
