@testable import FerryCore
import Testing

/// The radix sort gives what the comparison sort gives.
struct RadixSortTests {
    /// Keys of every width (so some passes are skipped, some not), with many repeats, above and below the size at
    /// which the comparison sort takes over.
    @Test(arguments: [(100, 64), (20_000, 3), (20_000, 20), (20_000, 37), (20_000, 64)] as [(Int, Int)])
    func integersAreInAscendingOrder(_ count: Int, _ bits: Int) {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        var keys = (0..<count).map { _ in UInt64.random(in: 0...high, using: &generator) }
        keys += keys.prefix(count / 4)
        let expected = keys.sorted()
        RadixSort.sort(&keys)
        #expect(keys == expected)
    }

    /// Sorted by the bits from a given one up only, keys equal in those keep their order, whatever their low bits.
    @Test(arguments: [100, 20_000])
    func highBitsOnlyKeepTheOrderOfTheRest(_ count: Int) {
        var generator = SystemRandomNumberGenerator()
        var keys = (0..<count).map { _ in UInt64.random(in: 0..<300, using: &generator) << 20 | UInt64.random(in: 0..<(1 << 20), using: &generator) }
        let expected = keys.enumerated().sorted { ($0.element >> 20, $0.offset) < ($1.element >> 20, $1.offset) }.map(\.element)
        RadixSort.sort(&keys, fromBit: 20)
        #expect(keys == expected)
    }
}
