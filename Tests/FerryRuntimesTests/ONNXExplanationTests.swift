import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Interventional TreeSHAP of ONNX tree ensembles against the real `shap` (TreeExplainer, interventional, raw
/// output) with the same background rows (see scripts/fixtures/make_onnx_shap_goldens.py).
struct ONNXExplanationTests {
    struct Golden: Decodable {
        var description: String
        var background: [[Double?]]
        var rows: [[Double?]]
        var expected_value: [Double]
        var shap: [[[Double]]]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx_shap")

    static func matrix(_ rows: [[Double?]]) -> FeatureMatrix {
        FeatureMatrix(rows: rows.count, columns: rows.first?.count ?? 0, values: rows.flatMap { $0.map { $0 ?? .nan } })
    }

    @Test(arguments: ["gbr_diabetes", "hgb_binary_nan", "hgb_multiclass"])
    func contributionsEqualShap(_ name: String) async throws {
        let artifact = try Data(contentsOf: Self.directory.appendingPathComponent("\(name).onnx"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.directory.appendingPathComponent("\(name).json")))
        let predictor = try await ONNXRuntime(threads: 1).load(artifact)
        let explainer = try #require(predictor as? any BackgroundExplainer)
        let batch = Self.matrix(golden.rows)
        let (values, groups) = try explainer.contributions(batch, background: Self.matrix(golden.background))
        let features = batch.columns
        #expect(groups == golden.expected_value.count, "\(name): groups")
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(b)) }
        for r in 0..<batch.rows {
            for g in 0..<groups {
                let base = (r * groups + g) * (features + 1)
                for f in 0..<features {
                    #expect(close(values[base + f], golden.shap[r][g][f]), "\(name) row \(r) group \(g) feature \(f): \(values[base + f]) against shap's \(golden.shap[r][g][f])")
                }
                #expect(close(values[base + features], golden.expected_value[g]), "\(name) group \(g): bias \(values[base + features]) against shap's \(golden.expected_value[g])")
            }
        }
    }

    /// A pipeline that transforms its inputs before the trees (ColumnTransformer), or a model without trees, says
    /// why it cannot explain.
    @Test func graphsWithoutDirectTreesSayWhy() async throws {
        let onnx = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx")
        for (name, why) in [("columns_rf", "must read the graph's one numeric input"), ("linear_svc", "the graph has none")] {
            let predictor = try await ONNXRuntime(threads: 1).load(try Data(contentsOf: onnx.appendingPathComponent("\(name).onnx")))
            let explainer = try #require(predictor as? any BackgroundExplainer)
            let width = try ONNXRuntime(threads: 1).inspect(Data(contentsOf: onnx.appendingPathComponent("\(name).onnx"))).inputSchema.features.count
            let row = FeatureMatrix(rows: 1, columns: width, values: [Double](repeating: 0, count: width))
            #expect { try explainer.contributions(row, background: row) } throws: { error in
                (error as? FerryError)?.code == .unsupported && (error as? FerryError)!.message.contains(why)
            }
        }
    }
}
