import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Golden outputs produced by the real xgboost (see scripts/fixtures/make_xgboost_goldens.py).
struct XGBoostGoldenTests {
    struct Expected: Decodable {
        var `case`: String
        var objective: String
        var num_feature: Int
        var rows: [[Double?]]
        var predictions: [[Double]]
        var margins: [[Double]]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/xgboost")

    static let cases: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".expected.json") }.map { String($0.dropLast(".expected.json".count)) }.sorted()
    }()

    static func load(_ name: String, format: String = "json") throws -> (XGBoostForest, Expected) {
        let model = try Data(contentsOf: directory.appendingPathComponent("\(name).model.\(format)"))
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).expected.json")))
        return (try XGBoostForest(parsing: model), expected)
    }

    static func matrix(_ rows: [[Double?]], columns: Int) -> FeatureMatrix {
        FeatureMatrix(rows: rows.count, columns: columns, values: rows.flatMap { $0.map { $0 ?? .nan } })
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count >= 30)
        #expect(Self.contributionCases.count >= 20)
        #expect(Self.ubjCases.count >= 3)
    }

    @Test(arguments: cases)
    func marginsMatchXGBoostExactly(name: String) throws {
        let (forest, expected) = try Self.load(name)
        let margins = forest.margins(Self.matrix(expected.rows, columns: expected.num_feature))
        let want = expected.margins.flatMap { $0 }
        #expect(margins.count == want.count)
        for (i, (got, exp)) in zip(margins, want).enumerated() {
            #expect(got == Float(exp), "\(name) margin \(i): got \(got), xgboost \(exp)")
        }
    }

    @Test(arguments: cases)
    func predictionsMatchXGBoost(name: String) throws {
        let (forest, expected) = try Self.load(name)
        let outputs = try forest.predict(Self.matrix(expected.rows, columns: expected.num_feature))
        #expect(outputs.count == 1)
        guard case .float32(let got) = outputs[0].data else {
            Issue.record("output is not FP32")
            return
        }
        let want = expected.predictions.flatMap { $0 }
        #expect(got.count == want.count)
        #expect(outputs[0].shape.first == expected.rows.count)
        var worst = 0.0
        for (g, w) in zip(got, want) {
            let error = abs(Double(g) - w) / max(abs(w), 1e-30)
            worst = max(worst, abs(Double(g) - w) < 1e-7 ? 0 : error)
        }
        #expect(worst <= 1e-6, "\(name): max relative error \(worst) against xgboost")
    }

    static let ubjCases: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".model.ubj") }.map { String($0.dropLast(".model.ubj".count)) }.sorted()
    }()

    @Test(arguments: ubjCases)
    func ubjsonModelsMatchXGBoostExactly(name: String) throws {
        let (forest, expected) = try Self.load(name, format: "ubj")
        let (fromJSON, _) = try Self.load(name)
        let matrix = Self.matrix(expected.rows, columns: expected.num_feature)
        let margins = forest.margins(matrix)
        #expect(margins == expected.margins.flatMap { $0 }.map { Float($0) }, "\(name): UBJSON margins differ from xgboost")
        #expect(margins == fromJSON.margins(matrix))
    }

    struct Contributions: Decodable {
        var contributions: [[[Double]]]?
    }

    /// Cases with TreeSHAP goldens: in the case's own file, or in `<case>.contribs.json` for older cases.
    static let contributionCases: [String] = cases.filter { name in
        ["expected.json", "contribs.json"].contains { suffix in
            let url = directory.appendingPathComponent("\(name).\(suffix)")
            return (try? JSONDecoder().decode(Contributions.self, from: Data(contentsOf: url)))?.contributions != nil
        }
    }

    @Test(arguments: contributionCases)
    func contributionsMatchXGBoostPredContribs(name: String) throws {
        let (forest, expected) = try Self.load(name)
        let separate = directory(name: name, suffix: "contribs.json")
        let source = FileManager.default.fileExists(atPath: separate.path) ? separate : directory(name: name, suffix: "expected.json")
        let want = try JSONDecoder().decode(Contributions.self, from: Data(contentsOf: source)).contributions!.flatMap { $0.flatMap { $0 } }
        let got = try forest.contributions(Self.matrix(expected.rows, columns: expected.num_feature)).values
        #expect(got.count == want.count, "\(name): \(got.count) contributions, xgboost has \(want.count)")
        var worst = 0.0
        for (g, w) in zip(got, want) { worst = max(worst, abs(g - w) / max(abs(w), 1)) }
        #expect(worst <= 1e-5, "\(name): contribution error \(worst) against xgboost pred_contribs")
    }

    func directory(name: String, suffix: String) -> URL { Self.directory.appendingPathComponent("\(name).\(suffix)") }

    @Test func featureNamesBecomeTheInputSchema() throws {
        let (forest, _) = try Self.load("breast_cancer_logistic")
        #expect(forest.description.inputSchema.features.count == 30)
        #expect(forest.description.inputSchema.features[0].name == "mean radius")
        let (anonymous, _) = try Self.load("synthetic_no_feature_names")
        #expect(anonymous.description.inputSchema.features.first?.name == "f0")
    }

    @Test(arguments: [
        ("gblinear.model.json", "gblinear"),
    ])
    func unsupportedConstructsAreRefusedByName(file: String, construct: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("unsupported/\(file)"))
        do {
            _ = try XGBoostRuntime().inspect(data)
            Issue.record("\(file) was accepted")
        } catch let error as FerryError {
            #expect(error.code == .unsupported)
            #expect(error.message.contains(construct), "message: \(error.message)")
        }
    }

    @Test func malformedDocumentsAreInvalidNotCrashes() throws {
        for text in ["", "{}", "[1,2]", #"{"learner": {"objective": 3}}"#, "not json", "{i\u{5}le", "{U\u{2}ab[$d#U\u{9}"] {
            #expect(throws: FerryError.self) { try XGBoostRuntime().inspect(Data(text.utf8)) }
        }
    }
}

struct XGBoostIterationTests {
    struct Best: Decodable {
        var rows: [[Double?]]
        var num_feature: Int
        var best_iteration: Int
        var margins: [[Double]]
        var margins_best: [[Double]]
    }

    @Test func iterationsOptionChoosesTheTreesUsed() throws {
        let directory = XGBoostGoldenTests.directory
        let model = try Data(contentsOf: directory.appendingPathComponent("early_stopping_best_iteration.model.json"))
        let expected = try JSONDecoder().decode(Best.self, from: Data(contentsOf: directory.appendingPathComponent("early_stopping_best_iteration.expected.json")))
        let matrix = XGBoostGoldenTests.matrix(expected.rows, columns: expected.num_feature)
        let all = try XGBoostForest(parsing: model)
        #expect(all.margins(matrix) == expected.margins.flatMap { $0 }.map(Float.init), "default uses every tree, as Booster.predict")
        let best = try XGBoostForest(parsing: model, iterations: "best")
        #expect(best.margins(matrix) == expected.margins_best.flatMap { $0 }.map(Float.init), "iterations=best matches iteration_range=(0, best+1)")
        let rounds = try XGBoostForest(parsing: model, iterations: String(expected.best_iteration + 1))
        #expect(rounds.roots.count == best.roots.count)
        let description = try XGBoostRuntime().inspect(model, options: ["iterations": "best"])
        #expect(description.details["num_trees"] == .number(Double(expected.best_iteration + 1)))
    }

    @Test func badRuntimeOptionsAreRefusedByName() throws {
        let model = try Data(contentsOf: XGBoostGoldenTests.directory.appendingPathComponent("breast_cancer_logistic.model.json"))
        for (options, expected) in [
            (["iterations": "best"], "no best_iteration"), (["iterations": "0"], "positive number"),
            (["iterations": "9999"], "exceeds"), (["depth": "3"], "runtime option 'depth' is not known"),
        ] {
            do {
                _ = try XGBoostRuntime().inspect(model, options: options)
                Issue.record("\(options) accepted")
            } catch let error as FerryError {
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }
}
