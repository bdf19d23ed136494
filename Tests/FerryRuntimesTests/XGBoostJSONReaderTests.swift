import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Ferry's own reader of XGBoost JSON documents: what it refuses and how it says so (what it accepts is checked
/// by the golden tests, whose outputs come from the real xgboost).
struct XGBoostJSONReaderTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../examples/fraud/model.json").standardized

    static func message(_ text: String) -> String {
        do {
            _ = try XGBoostJSONReader.read(Data(text.utf8))
            return "accepted"
        } catch let error as FerryError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("{}", "missing key 'learner' at top level"),
        (#"{"learner": []}"#, "expected an object at .learner"),
        (#"{"learner": {"gradient_booster": {"name": "gbtree"}}}"#, "missing key 'model' at .learner.gradient_booster"),
        (#"{"learner": "#, "unexpected end of the document at byte 12"),
        (#"{"learner": {"a": tru}}"#, "unexpected characters at byte 21"),
        (#"{"learner": {"a": 1.}}"#, "a number has no digits after its '.'"),
        (#"{"learner": {"a": "open}}"#, "a string is not closed"),
        (#"{} {}"#, "trailing characters after the document"),
        (String(repeating: "[", count: 100), "nesting deeper than 64 levels"),
    ])
    func malformedDocumentsAreRefusedWithWhereAndWhy(_ text: String, _ expected: String) {
        let message = Self.message(text)
        #expect(message.hasPrefix("not a valid XGBoost JSON model: ") && message.contains(expected), "\(message)")
    }

    @Test func wrongTypesAreNamedByTheirPathInTheDocument() throws {
        let text = try String(contentsOf: Self.example, encoding: .utf8)
        let numeric = text.replacingOccurrences(of: #""num_feature":"12""#, with: #""num_feature":12"#)
        #expect(numeric != text, "the example names its num_feature as a string")
        #expect(Self.message(numeric).contains("expected a string at .learner.learner_model_param.num_feature"), "\(Self.message(numeric))")
        let fractional = text.replacingOccurrences(of: #""left_children":[1,"#, with: #""left_children":[1.5,"#)
        #expect(fractional != text)
        #expect(Self.message(fractional).contains("expected a whole number at .learner.gradient_booster.model.trees[0].left_children[0]"), "\(Self.message(fractional))")
    }

    @Test func escapedStringsAndBooleanFlagsRead() throws {
        let text = try String(contentsOf: Self.example, encoding: .utf8)
        let file = try XGBoostJSONReader.read(Data(text.utf8))
        let names = try #require(file.learner.feature_names)
        let escaped = text.replacingOccurrences(of: #""\#(names[0])""#, with: #""a\"b\u00e9""#)
        #expect(try XGBoostJSONReader.read(Data(escaped.utf8)).learner.feature_names?.first == "a\"bé")
        #expect(file.learner.gradient_booster.model?.trees.count == file.learner.gradient_booster.model?.tree_info.count)
    }
}
