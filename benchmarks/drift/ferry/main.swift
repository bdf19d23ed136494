import FerryCore
import Foundation

// Drift benchmark, Ferry's side: profile the reference once, then time the drift of each current window over all
// features (every statistic Ferry reports), with the features spread over the machine's cores and on one core.
// Prints JSON: {"100k": {"ferry": {...}}, "1m": {...}}.

struct Manifest: Decodable {
    struct Sample: Decodable {
        var file: String
        var rows: Int
    }
    var features: Int
    var reference: Sample
    var currents: [Sample]
}

func readMatrix(_ url: URL, rows: Int, columns: Int) throws -> [[Double]] {
    let data = try Data(contentsOf: url)
    guard data.count == rows * columns * 8 else { throw FerryError.invalid("\(url.path): expected \(rows)×\(columns) float64 values") }
    var out = [[Double]](repeating: [Double](repeating: 0, count: rows), count: columns)
    data.withUnsafeBytes { raw in
        for r in 0..<rows {
            for c in 0..<columns {
                out[c][r] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: (r * columns + c) * 8, as: UInt64.self)))
            }
        }
    }
    return out
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func drift(_ profiles: [DistributionProfile], _ columns: [[Double]], threads: Int) -> [DriftResult] {
    let results = UnsafeMutableBufferPointer<DriftResult?>.allocate(capacity: columns.count)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    let shared = results
    nonisolated(unsafe) let out = shared
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        var c = t
        while c < columns.count {
            out[c] = DriftAnalysis.numeric(reference: profiles[c], current: columns[c])
            c += threads
        }
    }
    return results.map { $0! }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: ferry-bench-drift MANIFEST.json\n".utf8))
    exit(2)
}
let manifestURL = URL(fileURLWithPath: arguments[1])
let folder = manifestURL.deletingLastPathComponent()
let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
let clock = ContinuousClock()
let reference = try readMatrix(folder.appendingPathComponent(manifest.reference.file), rows: manifest.reference.rows, columns: manifest.features)
let profileStart = clock.now
let profiles = reference.enumerated().map { DistributionProfile.numeric("f\($0.offset)", $0.element) }
let profileSeconds = seconds(clock.now - profileStart)
let cores = ProcessInfo.processInfo.activeProcessorCount
var results: [String: Any] = [:]
for current in manifest.currents {
    let columns = try readMatrix(folder.appendingPathComponent(current.file), rows: current.rows, columns: manifest.features)
    func best(threads: Int) -> (Double, [DriftResult]) {
        var fastest = Double.infinity
        var last: [DriftResult] = []
        for _ in 0..<3 {
            let start = clock.now
            last = drift(profiles, columns, threads: threads)
            fastest = min(fastest, seconds(clock.now - start))
        }
        return (fastest, last)
    }
    let (parallel, report) = best(threads: cores)
    let (single, _) = best(threads: 1)
    let key = current.rows >= 1_000_000 ? "\(current.rows / 1_000_000)m" : "\(current.rows / 1000)k"
    results[key] = ["ferry": [
        "seconds": parallel, "seconds_1thread": single, "threads": cores, "rows": current.rows, "features": manifest.features,
        "reference_profile_seconds": profileSeconds,
        "max_psi": report.map(\.psi).max() ?? 0, "drifted_features_psi_over_0_2": report.filter { $0.psi > 0.2 }.count,
    ]]
    FileHandle.standardError.write(Data("ferry-bench-drift: \(key) \(String(format: "%.3f", parallel)) s (\(cores) threads), \(String(format: "%.3f", single)) s (1 thread)\n".utf8))
}
let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
print(String(decoding: json, as: UTF8.self))
