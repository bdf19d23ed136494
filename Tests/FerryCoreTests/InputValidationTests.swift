import FerryCore
import Testing

struct InputValidationTests {
    let schema = InputSchema(features: [
        FeatureSpec(name: "a"), FeatureSpec(name: "b", nullable: false), FeatureSpec(name: "c"),
    ])
    let limits = InferenceLimits(maxRows: 4, maxElements: 100)

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch let error as FerryError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func matrixTensorInSchemaOrder() throws {
        let m = try schema.matrix(from: [Tensor(name: "input", datatype: .fp64, shape: [2, 3], data: .float64([1, 2, 3, 4, 5, .nan]))], limits: limits)
        #expect(m.rows == 2 && m.columns == 3)
        #expect(m[1, 1] == 5)
        #expect(m[1, 2].isNaN)
    }

    @Test func oneTensorPerFeatureInAnyOrder() throws {
        let m = try schema.matrix(from: [
            Tensor(name: "c", datatype: .int32, shape: [2], data: .int64([7, 8])),
            Tensor(name: "a", datatype: .bool, shape: [2, 1], data: .bool([true, false])),
            Tensor(name: "b", datatype: .fp32, shape: [2], data: .float32([0.5, 1.5])),
        ], limits: limits)
        #expect(m.values == [1, 0.5, 7, 0, 1.5, 8])
    }

    @Test func instancesByPositionAndByName() throws {
        let m = try schema.matrix(from: [
            .values([.number(1), .number(2), .missing]),
            .named(["c": .number(3), "b": .bool(true), "a": .missing]),
        ], limits: limits)
        #expect(m[0, 0] == 1 && m[0, 2].isNaN && m[1, 1] == 1 && m[1, 2] == 3 && m[1, 0].isNaN)
    }

    @Test(arguments: [
        ("shape", [Tensor(name: "input", datatype: .fp32, shape: [1, 2], data: .float32([1, 2]))], "has shape [1, 2]; expected [N, 3]"),
        ("count", [Tensor(name: "input", datatype: .fp32, shape: [1, 3], data: .float32([1, 2]))], "needs 3 values, but it carries 2"),
        ("type", [Tensor(name: "input", datatype: .bytes, shape: [1, 3], data: .bytes([[1], [2], [3]]))], "datatype BYTES"),
        ("null", [Tensor(name: "input", datatype: .fp32, shape: [2, 3], data: .float32([1, 2, 3, 4, .nan, 6]))], "row 1, feature 'b': a value is required"),
        ("inf", [Tensor(name: "input", datatype: .fp32, shape: [1, 3], data: .float32([.infinity, 2, 3]))], "row 0, feature 'a': value inf is not finite"),
        ("rows", [Tensor(name: "input", datatype: .fp32, shape: [5, 3], data: .float32(.init(repeating: 0, count: 15)))], "5 rows; the limit is 4"),
        ("unknown", [Tensor(name: "a", datatype: .fp32, shape: [1], data: .float32([1])), Tensor(name: "zz", datatype: .fp32, shape: [1], data: .float32([1]))], "input 'zz' is not a feature"),
        ("missing", [Tensor(name: "a", datatype: .fp32, shape: [1], data: .float32([1])), Tensor(name: "b", datatype: .fp32, shape: [1], data: .float32([1]))], "feature 'c' is missing"),
        ("ragged", [Tensor(name: "a", datatype: .fp32, shape: [1], data: .float32([1])), Tensor(name: "b", datatype: .fp32, shape: [2], data: .float32([1, 2]))], "has 2 rows but other inputs have 1"),
        ("none", [], "request has no inputs"),
    ] as [(String, [Tensor], String)])
    func tensorErrorsNameTheProblem(_ label: String, _ inputs: [Tensor], _ expected: String) {
        let text = message { _ = try schema.matrix(from: inputs, limits: limits) }
        #expect(text.contains(expected), "\(label): \(text)")
    }

    @Test(arguments: [
        ([Instance.values([.number(1), .number(2)])], "instance 0 has 2 values; expected 3"),
        ([.named(["a": .number(1), "b": .number(1), "c": .number(1), "d": .number(1)])], "instance 0: unknown feature 'd'"),
        ([.named(["a": .number(1), "c": .number(1)])], "instance 0: feature 'b' is missing"),
        ([.values([.number(1), .missing, .number(1)])], "instance 0, feature 'b': a value is required"),
        ([.values([.number(1), .string("x"), .number(1)])], "instance 0, feature 'b': expected a number, got the string \"x\""),
        ([.values([.number(1), .number(.infinity), .number(1)])], "instance 0, feature 'b': value inf is not finite"),
    ] as [([Instance], String)])
    func instanceErrorsNameTheProblem(_ instances: [Instance], _ expected: String) {
        let text = message { _ = try schema.matrix(from: instances, limits: limits) }
        #expect(text.contains(expected), "\(text)")
    }

    @Test func versionSelectorsParse() throws {
        #expect(try VersionSelector(parsing: nil) == .default)
        #expect(try VersionSelector(parsing: "3") == .number(3))
        #expect(try VersionSelector(parsing: "staging") == .alias("staging"))
        #expect(throws: FerryError.self) { try VersionSelector(parsing: "0") }
        #expect(throws: FerryError.self) { try VersionSelector(parsing: "a b") }
    }
}
