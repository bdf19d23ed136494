import Testing

@testable import FerryEngine

/// The data checker's set of hashes agrees with Swift's Set through growth, collisions in the table and zero.
struct HashSet64Tests {
    @Test func agreesWithSetThroughGrowth() {
        var mine = HashSet64(capacity: 4)
        var reference = Set<Int>()
        var generator = SystemRandomNumberGenerator()
        // Values from a small range repeat often; some land in the same slot.
        for _ in 0..<50_000 {
            let value = Int(generator.next() % 20_000) &* 0x1_0000_0001
            #expect(mine.insert(value) == reference.insert(value).inserted)
        }
        var fresh = HashSet64()
        #expect(fresh.insert(0) && !fresh.insert(0), "zero is a value like any other")
    }
}
