import FerryCore
import Foundation
import Testing

/// Drift statistics against scipy/numpy on the same samples (scripts/fixtures/make_drift_goldens.py).
struct DriftGoldenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/drift")

    static let cases: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") && $0 != "special.json" }.map { String($0.dropLast(5)) }.sorted()
    }()

    struct Case: Decodable {
        var kind: String
        var reference: [Value?]
        var current: [Value?]
        var missing_rate_change: Double
        var psi: Double
        var js_distance: Double
        var edges: [Double]?
        var ref_counts: [Int]?
        var ks_statistic: Double?
        var ks_pvalue: Double?
        var wasserstein: Double?
        var chi2_statistic: Double?
        var chi2_pvalue: Double?
        var chi2_dof: Int?
    }

    enum Value: Decodable {
        case number(Double), text(String)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
        }
        var number: Double { if case .number(let d) = self { d } else { .nan } }
        var text: String? { if case .text(let s) = self { s } else { nil } }
    }

    static func close(_ got: Double?, _ want: Double?, _ tolerance: Double = 1e-9) -> Bool {
        guard let got, let want else { return got == nil && want == nil }
        if got.isNaN || want.isNaN { return got.isNaN && want.isNaN }
        return abs(got - want) <= tolerance * max(1, abs(want))
    }

    @Test func fixturesArePresent() { #expect(Self.cases.count >= 10) }

    @Test(arguments: cases)
    func driftStatisticsMatchScipy(name: String) throws {
        let c = try JSONDecoder().decode(Case.self, from: Data(contentsOf: Self.directory.appendingPathComponent("\(name).json")))
        let result: DriftResult
        if c.kind == "numeric" {
            let reference = DistributionProfile.numeric("x", c.reference.map { $0?.number ?? .nan }, sampleCap: .max)
            #expect(reference.edges?.count == c.edges?.count, "\(name): edges \(reference.edges ?? []) vs \(c.edges ?? [])")
            for (g, w) in zip(reference.edges ?? [], c.edges ?? []) { #expect(Self.close(g, w, 1e-12), "\(name): edge \(g) vs \(w)") }
            #expect(reference.binCounts == c.ref_counts, "\(name): reference bin counts")
            result = DriftAnalysis.numeric(reference: reference, current: c.current.map { $0?.number ?? .nan })
            #expect(Self.close(result.ksStatistic, c.ks_statistic, 1e-12), "\(name): KS \(result.ksStatistic ?? .nan) vs \(c.ks_statistic ?? .nan)")
            #expect(Self.close(result.ksPValue, c.ks_pvalue), "\(name): KS p \(result.ksPValue ?? .nan) vs \(c.ks_pvalue ?? .nan)")
            #expect(Self.close(result.wasserstein, c.wasserstein), "\(name): Wasserstein \(result.wasserstein ?? .nan) vs \(c.wasserstein ?? .nan)")
        } else {
            let reference = DistributionProfile.categorical("x", c.reference.map { $0?.text })
            result = DriftAnalysis.categorical(reference: reference, current: c.current.map { $0?.text })
            #expect(Self.close(result.chi2Statistic, c.chi2_statistic), "\(name): chi2 \(result.chi2Statistic ?? .nan) vs \(c.chi2_statistic ?? .nan)")
            #expect(Self.close(result.chi2PValue, c.chi2_pvalue), "\(name): chi2 p \(result.chi2PValue ?? .nan) vs \(c.chi2_pvalue ?? .nan)")
            #expect(result.chi2DegreesOfFreedom == c.chi2_dof)
        }
        #expect(Self.close(result.psi, c.psi), "\(name): PSI \(result.psi) vs \(c.psi)")
        #expect(Self.close(result.jsDistance, c.js_distance), "\(name): JS \(result.jsDistance) vs \(c.js_distance)")
        #expect(Self.close(result.missingRateChange, c.missing_rate_change, 1e-12))
    }

    struct Special: Decodable {
        struct Chi2: Decodable { var x: Double; var dof: Int; var chi2_sf: Double }
        struct KS: Decodable { var lambda: Double; var kstwobign_sf: Double }
        var chi2_sf: [Chi2]
        var kstwobign_sf: [KS]
    }

    @Test func distributionFunctionsMatchScipy() throws {
        let s = try JSONDecoder().decode(Special.self, from: Data(contentsOf: Self.directory.appendingPathComponent("special.json")))
        #expect(s.chi2_sf.count > 20 && s.kstwobign_sf.count > 10)
        for e in s.chi2_sf {
            let got = Statistics.chiSquaredSurvival(e.x, degreesOfFreedom: e.dof)
            #expect(abs(got - e.chi2_sf) <= 1e-9 * max(e.chi2_sf, 1e-300) || abs(got - e.chi2_sf) <= 1e-12, "chi2.sf(\(e.x), \(e.dof)): \(got) vs \(e.chi2_sf)")
        }
        for e in s.kstwobign_sf {
            let got = Statistics.kolmogorovSurvival(e.lambda)
            #expect(abs(got - e.kstwobign_sf) <= 1e-12 || abs(got - e.kstwobign_sf) <= 1e-9 * e.kstwobign_sf, "kstwobign.sf(\(e.lambda)): \(got) vs \(e.kstwobign_sf)")
        }
    }
}
