import FerryCore
import Foundation
import Testing

/// The serving path's checks of request rows against a version's expectations.
struct InputChecksTests {
    static let schema = InputSchema(features: [
        FeatureSpec(name: "amount"), FeatureSpec(name: "country", categories: ["DE", "FR"]), FeatureSpec(name: "hour"),
    ])

    @Test func outOfRangeValuesAndUnknownCategoriesAreCountedAndFlaggedPerRow() throws {
        let expectations = Expectations(
            model: "m", version: 1,
            columns: [.init(name: "amount", kind: .numeric, min: 0, max: 100), .init(name: "hour", kind: .numeric, min: 0, max: 23)],
            updatedBy: "t", updatedAt: Date())
        let checks = InputChecks(schema: Self.schema, expectations: expectations)
        let batch = try Self.schema.matrix(from: [
            .values([.number(50), .string("DE"), .number(3)]),
            .values([.number(-1), .string("US"), .number(30)]),
            .named(["amount": .missing, "country": .string("XX"), "hour": .number(23)]),
        ], limits: InferenceLimits())
        let findings = checks.check(batch)
        #expect(findings.outOfRange == ["amount": 1, "hour": 1])
        #expect(findings.unseenCategories == ["country": 2])
        #expect(findings.flags == [[], ["out_of_range:amount", "out_of_range:hour", "unseen_category:country"], ["unseen_category:country"]])
        // A missing value is neither out of range nor an unknown category.
        let clean = try Self.schema.matrix(from: [.values([.missing, .missing, .number(0)])], limits: InferenceLimits())
        #expect(checks.check(clean).isEmpty && checks.check(clean).flags.isEmpty)
    }

    @Test func derivedExpectationsWidenTheReferenceRangeAndCategoricalColumnsHaveNoRange() {
        let reference = ReferenceProfile(
            rows: 3, features: [DistributionProfile.numeric("amount", [10, 20, 110]), DistributionProfile.numeric("hour", [1, 2, 3])],
            outputs: [], createdBy: "t", createdAt: Date())
        let derived = Expectations.derive(model: "m", version: 1, schema: Self.schema, reference: reference, by: "t", at: Date())
        #expect(derived.columns.map(\.name) == ["amount", "country", "hour"])
        #expect(derived.columns[0].min == 5 && derived.columns[0].max == 115)
        #expect(derived.columns[1].kind == .categorical && derived.columns[1].categories == ["DE", "FR"] && derived.columns[1].min == nil)
        #expect(derived.columns[0].maxNullRate == 0.05 && derived.columns[1].maxNullRate == nil)
        #expect(derived.origin == "derived" && derived.noDuplicateRows)
    }
}
