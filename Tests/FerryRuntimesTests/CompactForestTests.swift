import Testing

@testable import FerryRuntimes

/// The compact layout's one-comparison steps against the plain rule they stand for: go left when `v < threshold`,
/// missing values the flagged way.
struct CompactForestTests {
    static let values: [Double] = [
        -.infinity, -Double(Float.greatestFiniteMagnitude), -2, -1, -0.0, 0, 1, 1.5, Double(Float(1.5).nextUp), Double(Float(1.5).nextDown),
        Double(Float.greatestFiniteMagnitude), .infinity, .nan, Double(bitPattern: 0xFFF8_0000_0000_0000), 3.25e-44,
    ]

    static let thresholds: [Float] = [0, -0.0, 1.5, -2, -1, 3.25e-44, .greatestFiniteMagnitude, .infinity]

    /// One split on feature 0: left leaf 1, right leaf 2.
    static func stump(_ threshold: Float, missingLeft: Bool) -> CompactForest? {
        let nodes = [
            CompactForest.Node(threshold: threshold, featureAndFlag: missingLeft ? 0x8000_0000 : 0, left: 1, right: 2),
            CompactForest.leaf(at: 1), CompactForest.leaf(at: 2),
        ]
        return CompactForest(nodes: nodes, leafValues: [0, 1, 2], roots: [0])
    }

    static func expected(_ v: Double, _ threshold: Float, missingLeft: Bool) -> Float {
        let x = Float(v)
        if x.isNaN { return missingLeft ? 1 : 2 }
        return x < threshold ? 1 : 2
    }

    /// Each row's leaf, through the block path (rows in groups) and a row at a time.
    static func leaves(_ forest: CompactForest, _ rows: [Double]) -> (block: [Float], single: [Float]) {
        var block = [Float](repeating: 0, count: rows.count)
        rows.withUnsafeBufferPointer { x in
            block.withUnsafeMutableBufferPointer { out in
                forest.accumulate(x.baseAddress!, rows: rows.count, featureCount: 1, out: out.baseAddress!, outputs: 1, groups: [0], weights: nil)
            }
        }
        let single = rows.map { v in
            var out: Float = 0
            [v].withUnsafeBufferPointer { x in forest.accumulate(x.baseAddress!, rows: 1, featureCount: 1, out: &out, outputs: 1, groups: [0], weights: nil) }
            return out
        }
        return (block, single)
    }

    @Test(arguments: thresholds, [true, false])
    func everyValueGoesWhereTheSplitSays(threshold: Float, missingLeft: Bool) throws {
        guard let forest = Self.stump(threshold, missingLeft: missingLeft) else {
            // Only a split whose rewritten threshold is infinite is left to the generic path.
            #expect(threshold == .infinity && !missingLeft)
            return
        }
        // Twice over, so the block path has whole groups of eight and a tail.
        let rows = Self.values + Self.values.reversed()
        let (block, single) = Self.leaves(forest, rows)
        for (r, v) in rows.enumerated() {
            let want = Self.expected(v, threshold, missingLeft: missingLeft)
            #expect(block[r] == want, "v=\(v) threshold=\(threshold) missingLeft=\(missingLeft): block gave \(block[r])")
            #expect(single[r] == want, "v=\(v) threshold=\(threshold) missingLeft=\(missingLeft): one row gave \(single[r])")
        }
    }

    @Test func splitsNoSingleComparisonSaysAreLeftToTheGenericPath() {
        #expect(Self.stump(-.infinity, missingLeft: true) == nil)
        #expect(Self.stump(-.greatestFiniteMagnitude, missingLeft: true) == nil)
        #expect(Self.stump(.infinity, missingLeft: false) == nil)
        #expect(Self.stump(-.infinity, missingLeft: false) == nil)
    }
}
