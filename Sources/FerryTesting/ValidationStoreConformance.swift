import FerryCore
import Foundation

/// The behaviour every store of expectations and validation runs must show.
public enum ValidationStoreConformance {
    public typealias Store = any ValidationStore & AuditStore

    static func run(_ id: String, model: String = "fraud", at offset: Double = 0) -> ValidationRun {
        let report = ValidationReport(rows: 10, quarantinedRows: 1, results: [
            .init(rule: "range", column: "amount", expected: "between 0 and 100", passed: false, failures: 1, examples: [.init(row: 3, value: "-5")]),
            .init(rule: "null_rate", column: "amount", expected: "at most 5%", passed: true, observed: 0.1),
        ])
        return ValidationRun(
            id: id, model: model, version: 2, source: "rows.csv", format: .csv, report: report, quarantine: [ArtifactRef(sha256: "ab", size: 12)],
            quarantineHeader: "row,rules,amount", createdBy: "ann", createdAt: Fixtures.time.addingTimeInterval(offset))
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("expectations round-trip per version, are replaced, and audited") { store in
            let columns: [Expectations.Column] = [
                .init(name: "amount", kind: .numeric, min: 0, max: 5000, maxNullRate: 0.1, unique: false, maxPSI: 0.25),
                .init(name: "country", kind: .categorical, categories: ["DE", "FR"], maxNullRate: 0),
                .init(name: "id", kind: .numeric, unique: true),
            ]
            let e = Expectations(
                model: "fraud", version: 2, columns: columns, minRows: 10, maxRows: 1000, uniqueKey: ["id"], noDuplicateRows: false,
                updatedBy: "ann", updatedAt: Fixtures.time)
            try await store.putExpectations(e) { x in AuditDraft(at: Fixtures.time, actor: "ann", action: "expectations.set", target: "\(x.model)/\(x.version)") }
            try expect(try await store.expectations(model: "fraud", version: 2) == e, "every field round-trips")
            try expect(try await store.expectations(model: "fraud", version: 1) == nil, "another version has none")
            var edited = e
            edited.minRows = nil
            try await store.putExpectations(edited, audit: nil)
            try expect(try await store.expectations(model: "fraud", version: 2) == edited, "replaced")
            try expect(try await store.removeExpectations(model: "fraud", version: 1, audit: nil) == false, "a version without any has none to remove")
            let removed = try await store.removeExpectations(model: "fraud", version: 2) { x in
                AuditDraft(at: Fixtures.time, actor: "bob", action: "expectations.reset", target: "\(x.model)/\(x.version)/\(x.minRows == nil)")
            }
            try expect(removed, "removed")
            try expect(try await store.expectations(model: "fraud", version: 2) == nil, "gone: they are derived again")
            try expect(try await store.removeExpectations(model: "fraud", version: 2, audit: nil) == false, "once")
            let entries = try await store.auditEntries(after: 0, limit: 10)
            try expect(entries.map(\.action) == ["expectations.set", "expectations.reset"], "audited: \(entries.map(\.action))")
            try expect(entries.last?.target == "fraud/2/true", "the audit entry is built from what was removed: \(entries.last?.target ?? "")")
        },
        .init("validation runs round-trip and list per model, newest first") { store in
            try await store.createValidationRun(run("v1")) { r in AuditDraft(at: Fixtures.time, actor: "ann", action: "data.validate", target: r.id) }
            try await store.createValidationRun(run("v2", at: 1), audit: nil)
            try await store.createValidationRun(run("v3", model: "other", at: 2), audit: nil)
            try expect(try await store.validationRun(id: "v1") == run("v1"), "every field round-trips")
            try expect(try await store.validationRun(id: "nope") == nil, "unknown is nil")
            try expect(try await store.validationRuns(model: "fraud", limit: 10).map(\.id) == ["v2", "v1"], "per model, newest first")
            try expect(try await store.validationRuns(model: "fraud", limit: 1).map(\.id) == ["v2"], "limited")
        },
    ]
}
