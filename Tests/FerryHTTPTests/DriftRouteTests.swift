import FerryCore
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

struct DriftRouteTests {
    /// Rows drawn once from fixed distributions; replaying them gives zero drift, shifting two features drifts
    /// exactly those two.
    static func rows(count: Int) -> [[Double]] {
        var g = SplitMix(seed: 7)
        func uniform() -> Double { Double(g.next() % 1_000_000) / 1_000_000 }
        return (0..<count).map { _ in (0..<12).map { f in (uniform() * Double(f + 1) * 10).rounded() / 10 } }
    }

    static func json(_ rows: ArraySlice<[Double]>) -> String {
        rows.map { "[" + $0.map { String($0) }.joined(separator: ",") + "]" }.joined(separator: ",")
    }

    @Test func replayedTrafficShowsNoDriftAndShiftedFeaturesDrift() async throws {
        let reference = Self.rows(count: 2000)
        try await withFerry { client, stack in
            let put = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/reference", method: .put,
                body: ByteBuffer(string: #"{"instances": [\#(Self.json(reference[...]))]}"#))
            #expect(put.status == .ok, "\(put.text.prefix(300))")
            #expect(put.json["rows"] as? Int == 2000)
            #expect((put.json["outputs"] as? [Any])?.count == 1)

            func send(_ rows: [[Double]]) async throws {
                for start in stride(from: 0, to: rows.count, by: 200) {
                    let chunk = rows[start..<min(start + 200, rows.count)]
                    let body = #"{"inputs":[{"name":"input","shape":[\#(chunk.count),12],"datatype":"FP64","data":[\#(Self.json(chunk))]}]}"#
                    let response = try await client.post("/v2/models/fraud/infer", body)
                    #expect(response.status == .ok)
                }
                await stack.predictionLogger.flush()
            }
            func features(_ report: TestResponse) -> [String: [String: Any]] {
                Dictionary(uniqueKeysWithValues: (report.json["features"] as? [[String: Any]] ?? []).map { ($0["name"] as! String, $0) })
            }

            try await send(reference)
            let same = try await client.get("/api/v1/models/fraud/drift?last=10")
            #expect(same.status == .ok, "\(same.text.prefix(300))")
            #expect(same.json["current_rows"] as? Int == 2000)
            for (name, f) in features(same) {
                #expect((f["psi"] as? Double ?? 1) < 1e-9, "\(name) drifted on replayed traffic: \(f)")
                #expect((f["ks_statistic"] as? Double ?? 1) == 0, "\(name)")
            }

            let shifted = reference.map { row -> [Double] in
                var r = row
                r[0] *= 3          // amount
                r[4] += 2.5        // merchant_risk
                return r
            }
            try await send(shifted)
            let drifted = try await client.get("/api/v1/models/fraud/drift?last=10")
            let byName = features(drifted)
            for name in ["amount", "merchant_risk"] {
                #expect((byName[name]?["psi"] as? Double ?? 0) > 0.25, "\(name) should drift: \(byName[name] ?? [:])")
                #expect((byName[name]?["ks_pvalue"] as? Double ?? 1) < 1e-6, "\(name)")
            }
            for (name, f) in byName where !["amount", "merchant_risk"].contains(name) {
                #expect((f["psi"] as? Double ?? 1) < 1e-9, "\(name) should not drift: \(f)")
            }
            let outputs = drifted.json["outputs"] as? [[String: Any]] ?? []
            #expect(outputs.first?["name"] as? String == "predict")

            // Against a baseline window instead of the reference: the first 10 requests vs the last 10.
            let windows = try await client.get("/api/v1/models/fraud/drift?last=10&baseline_last=20")
            #expect(windows.status == .ok && windows.json["against"] as? String == "window")

            let bad = try await client.get("/api/v1/models/fraud/drift?last=0")
            #expect(bad.status == .badRequest && bad.errorMessage.contains("'last'"))
            let noReference = try await client.get("/api/v1/models/fraud/versions/1/reference")
            #expect(noReference.status == .ok)
        }
    }

    @Test func driftWithoutReferenceOrTrafficIsAClearError() async throws {
        try await withFerry { client, _ in
            let none = try await client.get("/api/v1/models/fraud/drift")
            #expect(none.status == .conflict && none.errorMessage.contains("no logged predictions"), "\(none.text)")
            _ = try await client.post("/v1/models/fraud:predict", #"{"instances":[[1,2,3,4,5,6,7,8,9,10,11,12]]}"#)
            let missing = try await client.get("/api/v1/models/fraud/drift")
            #expect(missing.status.code == 409 || missing.status.code == 404, "\(missing.text)")
            let csv = try await client.execute(
                uri: "/api/v1/models/fraud/versions/1/reference", method: .put, headers: [.contentType: "text/csv"],
                body: ByteBuffer(string: "amount,hour\n1,2\n"))
            #expect(csv.status == .badRequest && csv.errorMessage.contains("missing"), "\(csv.text)")
        }
    }
}
