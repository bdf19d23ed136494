import Testing

@testable import FerryEngine

/// The data checker's set of hashes agrees with Swift's Set through growth, collisions in the table, repeats within
/// one batch, skipped zeros and a hash of zero.
struct HashSet64Tests {
    @Test func agreesWithSetThroughGrowth() {
        var mine = HashSet64(capacity: 4)
        var reference = Set<UInt64>()
        var generator = SystemRandomNumberGenerator()
        var inserted = 0
        while inserted < 50_000 {
            // Values from a small range repeat often, within a batch too; some land in the same slot; zeros are skipped.
            let batch: [UInt64] = (0..<Int.random(in: 1...40, using: &generator)).map { _ in
                let value = generator.next() % 20_000
                return value == 0 ? 0 : HashSet64.member(Int(value) &* 0x1_0000_0001)
            }
            var repeated: [Int] = []
            batch.withUnsafeBufferPointer { mine.insert($0) { repeated.append($0) } }
            let expected = batch.indices.filter { batch[$0] != 0 && !reference.insert(batch[$0]).inserted }
            #expect(repeated == expected)
            inserted += batch.count
        }
        var fresh = HashSet64()
        let zero = [HashSet64.member(0), HashSet64.member(0)]
        var repeated: [Int] = []
        zero.withUnsafeBufferPointer { fresh.insert($0) { repeated.append($0) } }
        #expect(repeated == [1], "a hash of zero is a value like any other")
    }
}
