import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Global feature importance in a version's details equals the libraries' total gain and split counts.
struct FeatureImportanceTests {
    struct Golden: Decodable {
        var gain: [String: Double]
        var splits: [String: Double]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test(arguments: [
        ("xgboost", "breast_cancer_logistic", "model.json"), ("xgboost", "digits_softprob", "model.json"),
        ("xgboost", "categorical_partition", "model.json"), ("lightgbm", "binary", "model.txt"),
        ("lightgbm", "multiclass_iris", "model.txt"), ("lightgbm", "categorical", "model.txt"),
    ])
    func importanceMatchesTheLibrary(library: String, name: String, file: String) throws {
        let folder = Self.fixtures.appendingPathComponent(library)
        let model = try Data(contentsOf: folder.appendingPathComponent("\(name).\(file)"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: folder.appendingPathComponent("\(name).importance.json")))
        let runtime: any ModelRuntime = library == "xgboost" ? XGBoostRuntime() : LightGBMRuntime()
        let details = try runtime.inspect(model).details
        guard case .object(let importance)? = details["feature_importance"],
              case .object(let gain)? = importance["gain"], case .object(let splits)? = importance["splits"] else {
            Issue.record("no feature_importance in details")
            return
        }
        #expect(Set(gain.keys) == Set(golden.gain.keys), "\(name): features differ")
        for (feature, want) in golden.gain {
            guard case .number(let got)? = gain[feature] else { continue }
            #expect(abs(got - want) <= 1e-4 * max(abs(want), 1), "\(name) \(feature): gain \(got) vs \(want)")
        }
        for (feature, want) in golden.splits {
            #expect(splits[feature] == .number(want), "\(name) \(feature): splits")
        }
    }
}
