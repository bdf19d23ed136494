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
                return value == 0 ? 0 : HashSet64.member(value &* 0x1_0000_0001)
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

    /// Room made for more members keeps the members already in: their repeats are still found.
    @Test func reservingKeepsTheMembers() {
        var set = HashSet64(capacity: 4)
        let first = (1...100).map { HashSet64.member(UInt64($0) &* 0x9E37_79B9) }
        first.withUnsafeBufferPointer { set.insert($0) { _ in Issue.record("nothing repeats yet") } }
        set.reserve(1_000_000)
        let again = first + [HashSet64.member(7)]
        var repeated: [Int] = []
        again.withUnsafeBufferPointer { set.insert($0) { repeated.append($0) } }
        #expect(repeated == Array(0..<100))
    }

    /// The checker's hash tells apart every byte string here: each length from 0 to 40 (the tail, the eight- and
    /// sixteen-byte steps), one byte changed at every place, trailing zeros, and the same bytes split differently
    /// between the fields of a key.
    @Test func differentBytesHashDifferently() {
        let seed = UInt64.random(in: .min ... .max)
        func hash(_ bytes: [UInt8], seed: UInt64 = seed) -> UInt64 { bytes.withUnsafeBufferPointer { HashSet64.hash($0, seed: seed) } }
        var texts: [[UInt8]] = []
        for length in 0...40 {
            let base = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            texts.append(base)
            texts.append(base + [0])
            for place in 0..<length {
                for delta: UInt8 in [1, 0x80] {
                    var changed = base
                    changed[place] ^= delta
                    texts.append(changed)
                }
            }
        }
        let unique = Set(texts)
        var seen: [UInt64: [UInt8]] = [:]
        for text in unique {
            let h = hash(text)
            #expect(seen[h] == nil, "\(text) and \(seen[h] ?? []) share a hash")
            seen[h] = text
            #expect(hash(text) == h, "a hash is the same every time under one seed")
        }
        // A key of several fields chains their hashes: "ab","c" is not "a","bc".
        let ab_c = hash([0x63], seed: hash([0x61, 0x62])), a_bc = hash([0x62, 0x63], seed: hash([0x61]))
        #expect(ab_c != a_bc)
        #expect(hash([1, 2, 3], seed: 1) != hash([1, 2, 3], seed: 2), "the seed changes the hash")
    }
}
