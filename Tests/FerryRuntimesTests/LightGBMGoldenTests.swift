import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Golden outputs produced by the real lightgbm (see scripts/fixtures/make_lightgbm_goldens.py).
struct LightGBMGoldenTests {
    struct Expected: Decodable {
        var objective: String
        var num_feature: Int
        var rows: [[Double?]]
        var predictions: [[Double]]
        var margins: [[Double]]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/lightgbm")

    static let cases: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".expected.json") }.map { String($0.dropLast(".expected.json".count)) }.sorted()
    }()

    static func load(_ name: String) throws -> (LightGBMModel, Expected) {
        let model = try Data(contentsOf: directory.appendingPathComponent("\(name).model.txt"))
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).expected.json")))
        return (try LightGBMModel(parsing: model), expected)
    }

    static func matrix(_ rows: [[Double?]], columns: Int) -> FeatureMatrix {
        FeatureMatrix(rows: rows.count, columns: columns, values: rows.flatMap { $0.map { $0 ?? .nan } })
    }

    static func worstRelativeError(_ got: [Double], _ want: [Double]) -> Double {
        zip(got, want).map { abs($0 - $1) <= 1e-12 ? 0 : abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? 0
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count >= 20)
        #expect(Self.contributionCases.count >= 18)
    }

    @Test(arguments: cases)
    func rawScoresMatchLightGBM(name: String) throws {
        let (model, expected) = try Self.load(name)
        let got = model.rawScores(Self.matrix(expected.rows, columns: expected.num_feature))
        let want = expected.margins.flatMap { $0 }
        #expect(got.count == want.count)
        let worst = Self.worstRelativeError(got, want)
        #expect(worst <= 1e-9, "\(name): raw score relative error \(worst)")
    }

    @Test(arguments: cases)
    func predictionsMatchLightGBM(name: String) throws {
        let (model, expected) = try Self.load(name)
        let outputs = try model.predict(Self.matrix(expected.rows, columns: expected.num_feature))
        guard case .float64(let got) = outputs[0].data else {
            Issue.record("output is not FP64")
            return
        }
        let worst = Self.worstRelativeError(got, expected.predictions.flatMap { $0 })
        #expect(worst <= 1e-6, "\(name): prediction relative error \(worst)")
    }

    struct Contributions: Decodable {
        var contributions: [[[Double]]]?
    }

    static let contributionCases: [String] = cases.filter { name in
        let url = directory.appendingPathComponent("\(name).expected.json")
        return (try? JSONDecoder().decode(Contributions.self, from: Data(contentsOf: url)))?.contributions != nil
    }

    @Test(arguments: contributionCases)
    func contributionsMatchLightGBMPredContrib(name: String) throws {
        let (model, expected) = try Self.load(name)
        let url = Self.directory.appendingPathComponent("\(name).expected.json")
        let want = try JSONDecoder().decode(Contributions.self, from: Data(contentsOf: url)).contributions!.flatMap { $0.flatMap { $0 } }
        let got = try model.contributions(Self.matrix(expected.rows, columns: expected.num_feature)).values
        #expect(got.count == want.count)
        var worst = 0.0
        for (g, w) in zip(got, want) { worst = max(worst, abs(g - w) / max(abs(w), 1)) }
        #expect(worst <= 1e-5, "\(name): contribution error \(worst) against lightgbm pred_contrib")
    }

    @Test func linearTreesRefuseContributionsClearly() throws {
        let (model, expected) = try Self.load("linear_tree")
        #expect(throws: FerryError.self) { _ = try model.contributions(Self.matrix(expected.rows, columns: expected.num_feature)) }
    }

    @Test func malformedModelsAreInvalidNotCrashes() {
        for text in ["", "tree", "tree\nobjective=binary\n", "tree\nobjective=binary\nmax_feature_idx=1\nTree=0\nnum_leaves=2\n",
                     "tree\nobjective=unheard_of\nmax_feature_idx=1\n"] {
            #expect(throws: FerryError.self) { try LightGBMRuntime().inspect(Data(text.utf8)) }
        }
    }
}

struct LightGBMCategoryNameTests {
    struct Strings: Decodable {
        var string_rows: [[StringOrNumber?]]
        var predictions: [[Double]]
    }

    enum StringOrNumber: Decodable {
        case string(String), number(Double)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
        }
    }

    /// Categories sent by name (pandas_categorical) give lightgbm's predictions on the DataFrame, unseen names included.
    @Test func pandasCategoriesCanBeSentByName() async throws {
        let directory = LightGBMGoldenTests.directory
        let model = try Data(contentsOf: directory.appendingPathComponent("pandas_categorical.model.txt"))
        let expected = try JSONDecoder().decode(Strings.self, from: Data(contentsOf: directory.appendingPathComponent("pandas_categorical.expected.json")))
        let description = try LightGBMRuntime().inspect(model)
        let schema = description.inputSchema
        #expect(schema.features[1].categories?.first == "apple")
        let instances: [Instance] = expected.string_rows.map { row in
            .values(row.map { cell in
                switch cell {
                case nil: .missing
                case .string(let s): .string(s)
                case .number(let d): .number(d)
                }
            })
        }
        let batch = try schema.matrix(from: instances, limits: InferenceLimits())
        let predictor = try await LightGBMRuntime().load(model)
        guard case .float64(let got) = try predictor.predict(batch)[0].data else { throw FerryError(.internal, "not FP64") }
        let want = expected.predictions.flatMap { $0 }
        #expect(LightGBMGoldenTests.worstRelativeError(got, want) <= 1e-6)
    }
}
