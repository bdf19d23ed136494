import FerryCore

/// The trimmed bounds of an unquoted line's fields, in buffers kept from line to line: no array grows or is
/// checked for uniqueness per field. The feature store's readers of CSV sources and entity tables, and the data
/// checker, split lines with it.
struct FieldBounds {
    let capacity: Int
    private let starts: UnsafeMutablePointer<Int>
    private let ends: UnsafeMutablePointer<Int>

    init(capacity: Int) {
        self.capacity = capacity
        starts = .allocate(capacity: max(capacity, 1))
        ends = .allocate(capacity: max(capacity, 1))
    }

    func deallocate() {
        starts.deallocate()
        ends.deallocate()
    }

    /// Splits `line` at its commas into fields trimmed of spaces and tabs (and a carriage return at the end); returns
    /// the field count, of which the first `capacity` are kept, or nil when the line has a quote.
    func split(_ line: UnsafeBufferPointer<UInt8>) -> Int? {
        var found = 0
        let unquoted = CSVTable.unquotedFields(line) { start, end in
            if found < capacity { (starts[found], ends[found]) = Self.trim(line, start, end) }
            found += 1
        }
        return unquoted ? found : nil
    }

    /// The bounds of `line[start..<end]` without the spaces and tabs around it (and a carriage return at its end):
    /// how every CSV field of the feature store and the data checker is trimmed.
    @inline(__always) static func trim(_ line: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var a = start, b = end
        while a < b, line[a] == 0x20 || line[a] == 0x09 { a += 1 }
        while b > a, line[b - 1] == 0x20 || line[b - 1] == 0x09 || line[b - 1] == 0x0D { b -= 1 }
        return (a, b)
    }

    /// Field `i` of the line last split.
    @inline(__always) func field(_ i: Int, of line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: line[starts[i]..<ends[i]])
    }
}
