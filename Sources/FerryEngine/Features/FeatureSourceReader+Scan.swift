import FerryCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The point-in-time join's pass over a CSV file source. Every row is checked as `forEach` checks it, but only its
/// key and times are kept: the join is offered each row with its line's byte offset as its sequence, and only the
/// lines that won are read again for their values. Parsing ten million rows' values to keep one in ten was most of
/// the cost of a training set.
extension FeatureSourceReader {
    /// How the scan treats a column: checked and skipped, or read.
    enum ScanRole: UInt8 {
        case skip, key, event, created, integer, integer32, decimal, text
        /// A column the scan leaves to the row-by-row parser (a compound key, a boolean, a column with two roles).
        case unusual
    }

    /// Whether the source is a CSV file, which `scanCSV` reads.
    var isCSVFile: Bool {
        if case .file(_, .csv) = view.source.kind { return true }
        return false
    }

    /// Offers every row of a CSV file source to `join`, reading the file on up to `parts` threads at once (one per
    /// core; files under `minimumBytes` on one). The file is cut into pieces of at least `minimumBytes`, eight per
    /// thread, which the threads take one after another, each offering its pieces to a join of its own, merged into
    /// `join` at the end: with a range per thread, one finished a tenth of the scan before the other and waited.
    /// The first thread offers to `join` itself, so only the others' joins take memory of their own. A failing piece
    /// is read again in one pass, for an error naming the exact line.
    func scanCSV(into join: inout PointInTimeJoin, parts: Int = ProcessInfo.processInfo.activeProcessorCount, minimumBytes: UInt64 = 8 << 20) throws {
        guard case .file(let path, .csv) = view.source.kind else { preconditionFailure("scanCSV reads CSV file sources") }
        let name = "feature view '\(view.name)' source '\(path)'"
        let file = try SourceFile(path: path, name: name)
        defer { file.close() }
        guard let (header, dataStart, headerLine) = try file.header() else { throw FerryError.invalid("\(name) is empty; it needs a header line") }
        let columns = try csvColumns(header: CSVTable.fields(Substring(String(decoding: header, as: UTF8.self)), source: name, line: headerLine), name: name)
        var roles = [ScanRole](repeating: .skip, count: columns.width)
        func assign(_ index: Int, _ role: ScanRole) { roles[index] = roles[index] == .skip ? role : .unusual }
        for index in columns.keys { assign(index, columns.keys.count == 1 ? .key : .unusual) }
        assign(columns.event, .event)
        if let created = columns.created { assign(created, .created) }
        for (index, feature) in zip(columns.features, features) {
            switch feature.type {
            case .int64: assign(index, .integer)
            case .int32: assign(index, .integer32)
            case .float64, .float32: assign(index, .decimal)
            case .string: assign(index, .text)
            case .bool: assign(index, .unusual)
            }
        }
        let integerKey = joinKeys.count == 1 && (joinKeys[0].type == .int64 || joinKeys[0].type == .int32)
        // A 32-bit key of 10 digits may be out of range: the row parser judges it.
        let scan = Scan(reader: self, name: name, columns: columns, roles: roles, integerKey: integerKey, keyDigits: joinKeys.first?.type == .int32 ? 9 : 18)

        var bounds = [dataStart]
        let threads = parts > 1 && file.size > minimumBytes ? parts : 1
        if threads > 1 {
            let pieces = UInt64(min(8 * threads, max(threads, Int((file.size - dataStart) / max(minimumBytes, 1)))))
            for i in 1..<pieces {
                guard let start = try file.lineStart(after: dataStart + (file.size - dataStart) * i / pieces - 1) else { break }
                if start > bounds.last! && start < file.size { bounds.append(start) }
            }
        }
        bounds.append(file.size)
        let ranges = (0..<(bounds.count - 1)).map { bounds[$0]..<bounds[$0 + 1] }
        if ranges.count == 1 {
            try scan.run(file, ranges, firstLine: headerLine + 1, &join)
            return
        }
        // The caller's join moves into the first box (a join is left in its place), so the first thread's offers
        // change it without copying its nodes, and so does the merge.
        let boxes = (0..<min(threads, ranges.count)).map { JoinBox($0 == 0 ? join : join.offeredNothing()) }
        join = JoinBox.nothing
        let failed = Atomic<Bool>(false)
        let taken = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: boxes.count) { part in
            do {
                try scan.run(file, AnyIterator { () -> Range<UInt64>? in
                    let piece = taken.add(1, ordering: .relaxed).oldValue
                    return piece < ranges.count && !failed.load(ordering: .relaxed) ? ranges[piece] : nil
                }, firstLine: headerLine + 1, &boxes[part].join)
            } catch {
                failed.store(true, ordering: .relaxed)
            }
        }
        if failed.load(ordering: .relaxed) {
            join = boxes[0].join.offeredNothing()
            try scan.run(file, [dataStart..<file.size], firstLine: headerLine + 1, &join)
            return
        }
        join = boxes[0].take()
        for box in boxes.dropFirst() { join.merge(box.take()) }
    }

    /// Reads the winning lines of a CSV source (their offsets are the candidates' sequences) and gives each entity
    /// row's asked features as CSV fields, in up to `parts` parts at once when there are `minimumWinners` or more.
    /// A line whose event time is no longer the one scanned means the file changed under the join: an error, not a
    /// mix of two files.
    func csvFields(of winners: [PointInTimeJoin.Candidate], parts: Int, minimumWinners: Int) throws -> JoinedFields {
        guard case .file(let path, .csv) = view.source.kind else { preconditionFailure("csvFields reads CSV file sources") }
        let name = "feature view '\(view.name)' source '\(path)'"
        let file = try SourceFile(path: path, name: name)
        defer { file.close() }
        guard let (header, _, headerLine) = try file.header() else { throw FerryError.invalid("\(name) is empty; it needs a header line") }
        let columns = try csvColumns(header: CSVTable.fields(Substring(String(decoding: header, as: UTF8.self)), source: name, line: headerLine), name: name)
        // The entity rows with a winner, in the order of their winners' lines in the file, read in parts on every
        // core (a line shared by rows of two parts is read by both).
        let picks = Self.byLine(winners)
        let count = picks.count < minimumWinners ? 1 : max(1, min(parts, picks.count))
        let ranges = (0..<count).map { (picks.count * $0 / count)..<(picks.count * ($0 + 1) / count) }
        // Each part's winners (its distinct lines) are counted first, so that every part writes its fields' ends and
        // its rows' winners straight into the arrays of the whole, at its own place: a part's own arrays, copied
        // into the whole's afterwards, were fresh memory twice over.
        var counted = [0]
        for range in ranges {
            var lines = 0
            var previous: Int64 = -1
            for (sequence, _) in picks[range] where sequence != previous {
                lines += 1
                previous = sequence
            }
            counted.append(counted[counted.count - 1] + lines)
        }
        let bases = counted
        let width = features.count
        var out = JoinedFields(rows: winners.count, features: width)
        out.winners = bases[count]
        guard out.winners > 0 else { return out }
        out.ends = [Int](unsafeUninitializedCapacity: out.winners * width) { _, n in n = out.winners * width }
        let results = (0..<count).map { _ in FieldsBox() }
        out.ends.withUnsafeMutableBufferPointer { ends in
            out.winner.withUnsafeMutableBufferPointer { winner in
                let whole = WholeFields(ends: ends.baseAddress!, winner: winner.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: count) { part in
                    // The first part makes room for every part's text (memory not touched until used), so the others
                    // are appended to it without moving it.
                    results[part].result = Result {
                        try csvFields(picks[ranges[part]], firstWinner: bases[part], room: part == 0 ? picks.count : ranges[part].count, winners, columns, file, name, whole)
                    }
                }
            }
        }
        let texts = try results.map { try $0.result!.get() }
        out.text = texts[0].text
        out.text.reserve(texts.reduce(0) { $0 + $1.text.bytes.count })
        out.longest = texts.map(\.longest).max() ?? 0
        for part in 1..<count {
            // A part's ends are offsets in its own text, which now follows the parts before it.
            let base = out.text.bytes.count
            out.text.raw(texts[part].text.bytes)
            for i in (bases[part] * width)..<(bases[part + 1] * width) { out.ends[i] += base }
        }
        return out
    }

    /// The entity rows with a winner, ordered by their winners' sequences (line offsets). Each is radix-sorted as one
    /// integer, its sequence above its row, when both fit: several times faster than sorting pairs.
    static func byLine(_ winners: [PointInTimeJoin.Candidate]) -> [(sequence: Int64, row: Int32)] {
        let rowBits = max(1, Int.bitWidth - winners.count.leadingZeroBitCount)
        let largest = winners.lazy.map(\.sequence).max() ?? 0
        guard rowBits < 32, largest < Int64(1) << (63 - rowBits) else {
            var picks: [(sequence: Int64, row: Int32)] = []
            for (row, winner) in winners.enumerated() where !winner.isNone { picks.append((winner.sequence, Int32(row))) }
            return picks.sorted { $0.sequence != $1.sequence ? $0.sequence < $1.sequence : $0.row < $1.row }
        }
        var packed: [UInt64] = []
        packed.reserveCapacity(winners.count)
        for (row, winner) in winners.enumerated() where !winner.isNone { packed.append(UInt64(winner.sequence << rowBits | Int64(row))) }
        RadixSort.sort(&packed)
        let mask = UInt64(1) << rowBits - 1
        return packed.map { (Int64($0 >> rowBits), Int32($0 & mask)) }
    }

    /// The fields of one part of the winning lines, its first winner numbered `firstWinner`: each winner's fields'
    /// ends (offsets in the part's text) and each of its rows' winner go into `whole`, the part's text (with room for
    /// `room` picks) and its longest winner's length are returned.
    private func csvFields(
        _ picks: ArraySlice<(sequence: Int64, row: Int32)>, firstWinner: Int, room: Int, _ winners: [PointInTimeJoin.Candidate], _ columns: CSVColumns,
        _ file: SourceFile, _ name: String, _ whole: WholeFields
    ) throws -> (text: CSVWriter, longest: Int) {
        var text = CSVWriter()
        var longest = 0
        var winner = firstWinner - 1
        var end = firstWinner * features.count
        let window = Window(file: file)
        let changed = FerryError(.failedPrecondition, "\(name) changed while the training set was read from it; try again")
        let bounds = FieldBounds(capacity: columns.width)
        defer { bounds.deallocate() }
        let asked = zip(columns.features, features).map { (column: $0, type: $1.type) }
        // The picks' rows are in no order: their winners' times are gathered, and the places of their fields
        // scattered, in loops of their own, whose cache misses overlap (in the loop below each one stalled it).
        let events = picks.map { winners[Int($0.row)].event }
        var places: [Int32] = []
        places.reserveCapacity(picks.count)
        var previous: Int64 = -1
        for (pick, (sequence, _)) in picks.enumerated() {
            if sequence != previous {
                previous = sequence
                winner += 1
                let start = text.bytes.count
                let line = try window.line(at: UInt64(sequence))
                if bounds.split(line) == columns.width {
                    guard FeatureTime.parse(bytes: bounds.field(columns.event, of: line)) == events[pick] else { throw changed }
                    for (column, type) in asked {
                        let field = bounds.field(column, of: line)
                        if FeatureDatum.isOwnCSVText(field, as: type)
                            || (type == .string && !field.isEmpty && field.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })) {
                            text.raw(field)
                        } else {
                            guard let datum = try? FeatureDatum.parse(Substring(String(decoding: field, as: UTF8.self)), as: type) else { throw changed }
                            text.field(datum.csvText, first: true)
                        }
                        whole.ends[end] = text.bytes.count
                        end += 1
                        text.comma()
                    }
                } else {
                    let row = try? csvRow(ArraySlice(line), columns, name: name, number: 0, bounds)
                    guard let row, row.event == events[pick] else { throw changed }
                    precondition(row.values.count == features.count, "a row's values are the asked features")
                    for value in row.values {
                        text.field(value.csvText, first: true)
                        whole.ends[end] = text.bytes.count
                        end += 1
                        text.comma()
                    }
                }
                longest = max(longest, text.bytes.count - start)
                // Room for the rest, estimated from the first winners: the text grew by doubling, each time copied
                // and faulted in anew.
                if winner - firstWinner == 1023 { text.reserve(text.bytes.count / 1024 * room * 9 / 8) }
            }
            places.append(Int32(winner))
        }
        for (pick, place) in zip(picks, places) { whole.winner[Int(pick.row)] = place }
        return (text, longest)
    }

    /// One pass over a byte range of the file.
    struct Scan: Sendable {
        let reader: FeatureSourceReader
        let name: String
        let columns: CSVColumns
        let integerKey: Bool
        /// The most digits an integer key may have to be read on its bytes.
        let keyDigits: Int
        let width: Int
        /// The columns by what the scan does with them; nil when a column is unusual (every line then goes to the
        /// row parser). Columns read as text or not asked for are only counted.
        let plan: (key: Int, event: Int, created: Int?, integers: [Int], integers32: [Int], decimals: [Int])?

        init(reader: FeatureSourceReader, name: String, columns: CSVColumns, roles: [ScanRole], integerKey: Bool, keyDigits: Int) {
            self.reader = reader
            self.name = name
            self.columns = columns
            self.integerKey = integerKey
            self.keyDigits = keyDigits
            width = roles.count
            func all(_ role: ScanRole) -> [Int] { roles.indices.filter { roles[$0] == role } }
            if let key = all(.key).first, let event = all(.event).first, !roles.contains(.unusual) {
                plan = (key, event, all(.created).first, all(.integer), all(.integer32), all(.decimal))
            } else {
                plan = nil
            }
        }

        /// Offers the rows of each byte range `ranges` gives (each starts at a line start) to `join`.
        func run<Ranges: Sequence<Range<UInt64>>>(_ file: SourceFile, _ ranges: Ranges, firstLine: Int, _ join: inout PointInTimeJoin) throws {
            var batch = OfferBatch()
            var cursor = SourceFile.LineCursor(file: file, range: 0..<0, firstLine: firstLine)
            let fieldEnds = UnsafeMutablePointer<Int>.allocate(capacity: width)
            let bounds = FieldBounds(capacity: width)
            defer {
                batch.deallocate()
                cursor.deallocate()
                fieldEnds.deallocate()
                bounds.deallocate()
            }
            for range in ranges {
                cursor.restart(range)
                try run(&cursor, fieldEnds, bounds, &batch, &join)
            }
            batch.flush(into: &join)
        }

        @inline(__always)
        private func run(
            _ cursor: inout SourceFile.LineCursor, _ fieldEnds: UnsafeMutablePointer<Int>, _ bounds: FieldBounds, _ batch: inout OfferBatch,
            _ join: inout PointInTimeJoin
        ) throws {
            while let (line, offset, number) = try cursor.next() {
                if let (key, event, created) = fast(line, fieldEnds) {
                    switch key {
                    case .integer(let n):
                        if batch.add(n, event, created ?? .min, Int64(offset)) { batch.flush(into: &join) }
                    case .text(let field):
                        join.offer(key: String(decoding: UnsafeBufferPointer(rebasing: line[field]), as: UTF8.self), event: event, created: created, sequence: Int64(offset))
                    }
                    continue
                }
                guard !FeatureSourceReader.isBlank(line) else { continue }
                let row = try reader.csvRow(ArraySlice(line), columns, name: name, number: number, bounds)
                join.offer(key: row.key, event: row.event, created: row.created, sequence: Int64(offset))
            }
        }

        /// Rows of an integer key, offered a batch at a time (see `PointInTimeJoin.offer(integerKeyRows:)`): a batch
        /// of a quarter of a million rows (8 MiB) sweeps the join's arrays in order.
        struct OfferBatch {
            static let size = 1 << 18
            let rows = UnsafeMutableBufferPointer<PointInTimeJoin.KeyedRow>.allocate(capacity: size)
            var count = 0

            /// Adds a row; true when the batch is full.
            @inline(__always)
            mutating func add(_ key: Int64, _ event: Int64, _ time: Int64, _ sequence: Int64) -> Bool {
                rows[count] = PointInTimeJoin.KeyedRow(key: key, candidate: PointInTimeJoin.Candidate(event: event, created: time, sequence: sequence))
                count += 1
                return count == Self.size
            }

            mutating func flush(into join: inout PointInTimeJoin) {
                join.offer(integerKeyRows: UnsafeBufferPointer(rebasing: rows[..<count]))
                count = 0
            }

            func deallocate() { rows.deallocate() }
        }

        enum Key {
            case integer(Int64)
            case text(Range<Int>)
        }

        /// A line's key and times, every asked value checked on its bytes; nil leaves the line to the row-by-row
        /// parser (quotes, a field count that is wrong, a value that may not parse). `ends` has room for each
        /// column's end. Fields are not trimmed: a value with spaces around it fails its check here (a text key is
        /// sent on by its first and last byte), and the row parser, which trims them, reads it.
        @inline(__always)
        func fast(_ line: UnsafeBufferPointer<UInt8>, _ ends: UnsafeMutablePointer<Int>) -> (Key, Int64, Int64?)? {
            guard let plan, let base = line.baseAddress else { return nil }
            // The fields first, eight bytes at a time: a loop over the bytes was a third of the scan.
            let last = width - 1
            var found = 0
            let unquoted = CSVTable.unquotedFields(line) { _, end in
                if found <= last { ends[found] = end }
                found += 1
            }
            guard unquoted, found == width else { return nil }
            @inline(__always) func start(_ column: Int) -> Int { column == 0 ? 0 : ends[column - 1] + 1 }
            @inline(__always) func field(_ column: Int) -> UnsafeBufferPointer<UInt8> {
                let a = start(column)
                return UnsafeBufferPointer(start: base + a, count: ends[column] - a)
            }

            let key: Key
            let keyField = field(plan.key)
            if integerKey {
                guard let n = DecimalText.integer(keyField, digits: keyDigits) else { return nil }
                key = .integer(n)
            } else {
                guard let first = keyField.first, let end = keyField.last, first != 0x20, first != 0x09, end != 0x20, end != 0x09, end != 0x0D,
                      !keyField.contains(0x1F)
                else { return nil }
                key = .text(start(plan.key)..<ends[plan.key])
            }
            guard let event = FeatureTime.parse(bytes: field(plan.event)) else { return nil }
            var created: Int64?
            if let column = plan.created {
                let f = field(column)
                if !f.isEmpty {
                    guard let t = FeatureTime.parse(bytes: f) else { return nil }
                    created = t
                }
            }
            // Values are checked eight bytes at a time when they are plain, and byte by byte when not.
            for column in plan.integers where !DecimalText.isPlain(base, start(column), ends[column], dot: false) {
                let f = field(column)
                guard f.isEmpty || DecimalText.integer(f, digits: 18) != nil else { return nil }
            }
            for column in plan.integers32 where !DecimalText.isPlain(base, start(column), ends[column], dot: false, digits: 9) {
                let f = field(column)
                guard f.isEmpty || DecimalText.integer(f, digits: 9) != nil else { return nil }
            }
            for column in plan.decimals where !DecimalText.isPlain(base, start(column), ends[column], dot: true) {
                let f = field(column)
                guard f.isEmpty || isDecimal(f) else { return nil }
            }
            return (key, event, created)
        }

        /// `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`: text every double parser reads.
        @inline(__always)
        func isDecimal(_ f: UnsafeBufferPointer<UInt8>) -> Bool {
            var i = 0
            let n = f.count
            if n > 0, f[0] == 0x2D { i = 1 }
            func digits() -> Bool {
                let s = i
                while i < n, f[i] &- 0x30 <= 9 { i += 1 }
                return i > s
            }
            guard digits() else { return false }
            if i < n, f[i] == 0x2E {
                i += 1
                guard digits() else { return false }
            }
            if i < n, f[i] | 0x20 == 0x65 {
                i += 1
                if i < n, f[i] == 0x2B || f[i] == 0x2D { i += 1 }
                guard digits() else { return false }
            }
            return i == n
        }
    }

    /// Lines of the file read again by offset, from a window of it read 4 MiB at a time.
    final class Window {
        let file: SourceFile
        private var buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 4 << 20)
        private var start: UInt64 = 0
        private var count = 0

        init(file: SourceFile) { self.file = file }
        deinit { buffer.deallocate() }

        /// The line at `offset`, without its line end; valid until the next call.
        func line(at offset: UInt64) throws -> UnsafeBufferPointer<UInt8> {
            while true {
                if offset >= start, offset < start + UInt64(count) {
                    let from = Int(offset - start)
                    let all = UnsafeBufferPointer(buffer)
                    if let hit = memchr(all.baseAddress! + from, 0x0A, count - from) {
                        let end = UnsafeRawPointer(hit) - UnsafeRawPointer(all.baseAddress!)
                        return UnsafeBufferPointer(rebasing: all[from..<(end > from && all[end - 1] == 0x0D ? end - 1 : end)])
                    }
                    if start + UInt64(count) >= file.size { return UnsafeBufferPointer(rebasing: all[from..<count]) }
                    if from == 0 {
                        guard buffer.count < 64 << 20 else { throw FerryError.invalid("\(file.name) has a line longer than 64 MiB") }
                        let larger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: buffer.count * 2)
                        buffer.deallocate()
                        buffer = larger
                    }
                }
                start = offset
                count = try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
                guard count > 0 else { throw FerryError(.failedPrecondition, "\(file.name) changed while the training set was read from it; try again") }
            }
        }
    }
}

/// A source file open for reading at offsets (several threads may read one).
final class SourceFile: Sendable {
    let name: String
    let size: UInt64
    private let fd: Int32

    init(path: String, name: String) throws {
        // Opened without waiting: opening a named pipe waits for a writer, and a pipe is refused below anyway.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FerryError.invalid("\(name) cannot be read: no such file, or not readable by the server") }
        var info = stat()
        // Only regular files: a device or a pipe (/dev/zero) would be read for ever.
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw FerryError.invalid("\(name) is not a regular file")
        }
        self.fd = fd
        self.name = name
        self.size = UInt64(info.st_size)
    }

    func close() { Glibc.close(fd) }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + UInt64(done))
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// One read at `offset` (0 at the end of the file).
    func readSome(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw FerryError(.unavailable, "\(name) could not be read: \(String(cString: strerror(errno)))") }
        }
    }

    /// The first line that is not blank (the header), the offset of the line after it and its number; nil for a
    /// file of blank lines.
    func header() throws -> (line: [UInt8], end: UInt64, number: Int)? {
        var found: (line: [UInt8], end: UInt64, number: Int)?
        struct Done: Error {}
        do {
            try lines(in: 0..<size, firstLine: 1) { line, offset, number in
                if found != nil {
                    found!.end = offset
                    throw Done()
                }
                let line = UnsafeBufferPointer(rebasing: line[(offset == 0 ? CSVTable.byteOrderMarkLength(line) : 0)...])
                if !FeatureSourceReader.isBlank(line) { found = (Array(line), size, number) }
            }
        } catch is Done {}
        return found
    }

    /// The offset of the first line start after `offset`; nil when none is within 1 MiB.
    func lineStart(after offset: UInt64) throws -> UInt64? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { buffer.deallocate() }
        let n = try read(into: buffer, at: offset)
        guard let newline = buffer[..<n].firstIndex(of: 0x0A) else { return nil }
        return offset + UInt64(newline) + 1
    }

    /// Calls `body` with each line in `range` (which starts at a line start), without its line end, with its offset
    /// and its number (the first is `firstLine`).
    func lines(in range: Range<UInt64>, firstLine: Int, _ body: (UnsafeBufferPointer<UInt8>, UInt64, Int) throws -> Void) throws {
        var cursor = LineCursor(file: self, range: range, firstLine: firstLine)
        defer { cursor.deallocate() }
        while let (line, offset, number) = try cursor.next() { try body(line, offset, number) }
    }

    /// The lines of a byte range of the file (which starts at a line start), read 4 MiB at a time. A struct, so the
    /// scan's loop runs without closures or the runtime's exclusivity checks.
    struct LineCursor {
        let file: SourceFile
        private var end: UInt64
        private var buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 4 << 20)
        /// The file offset of `buffer[0]`.
        private var start: UInt64
        private var filled = 0
        private var position = 0
        private var number: Int
        private var ended = false

        init(file: SourceFile, range: Range<UInt64>, firstLine: Int) {
            self.file = file
            end = range.upperBound
            start = range.lowerBound
            number = firstLine
        }

        func deallocate() { buffer.deallocate() }

        /// Reads `range` (which starts at a line start) from now on, keeping the buffer.
        mutating func restart(_ range: Range<UInt64>) {
            (end, start, filled, position, ended) = (range.upperBound, range.lowerBound, 0, 0, false)
        }

        /// The next line without its line end, its offset in the file and its number; nil after the last.
        mutating func next() throws -> (UnsafeBufferPointer<UInt8>, UInt64, Int)? {
            while true {
                let base = UnsafePointer(buffer.baseAddress!)
                if position < filled, let hit = memchr(base + position, 0x0A, filled - position) {
                    let newline = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - base
                    let last = newline > position && base[newline - 1] == 0x0D ? newline - 1 : newline
                    defer {
                        position = newline + 1
                        number += 1
                    }
                    return (UnsafeBufferPointer(start: base + position, count: last - position), start + UInt64(position), number)
                }
                if ended {
                    guard position < filled else { return nil }
                    let last = base[filled - 1] == 0x0D ? filled - 1 : filled
                    defer {
                        position = filled
                        number += 1
                    }
                    return (UnsafeBufferPointer(start: base + position, count: last - position), start + UInt64(position), number)
                }
                // Keep the unfinished line, then read more after it.
                if position > 0 {
                    if position < filled { memmove(buffer.baseAddress!, buffer.baseAddress! + position, filled - position) }
                    filled -= position
                    start += UInt64(position)
                    position = 0
                }
                if filled == buffer.count {
                    guard buffer.count < 64 << 20 else { throw FerryError.invalid("\(file.name) line \(number) is longer than 64 MiB; is it a CSV file?") }
                    let larger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: buffer.count * 2)
                    _ = larger.initialize(fromContentsOf: buffer)
                    buffer.deallocate()
                    buffer = larger
                }
                let want = Int(min(UInt64(buffer.count - filled), end - start - UInt64(filled)))
                let n = want > 0 ? try file.readSome(into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[filled..<(filled + want)]), at: start + UInt64(filled)) : 0
                filled += n
                ended = n == 0
            }
        }
    }
}

/// One view's part of a block of a training set: each entity row's winner, and each winner's asked features as
/// CSV fields (quoted where needed) one after another.
struct JoinedFields {
    /// Per entity row, the index of its winner; -1 when it has none.
    var winner: [Int32]
    var winners = 0
    var text = CSVWriter()
    /// Winner w's feature f ends at `ends[w * features + f]` in `text`, and a comma follows it: it starts after the
    /// comma that follows the one before. So a winner's features next to each other are one stretch of CSV.
    var ends: [Int] = []
    let features: Int
    /// The length of the longest winner's fields, all of them.
    var longest = 0

    init(rows: Int, features: Int) {
        winner = Array(repeating: -1, count: rows)
        self.features = features
    }

    /// Ends the winner whose fields were just appended.
    mutating func endWinner() {
        let start = winners == 0 ? 0 : ends[winners * features - 1] + 1
        longest = max(longest, text.bytes.count - start)
        winners += 1
    }

    /// Appends a winner's values.
    mutating func append(_ values: [FeatureDatum]) {
        for value in values {
            text.field(value.csvText, first: true)
            ends.append(text.bytes.count)
            text.comma()
        }
    }

    /// What the output loop reads of a view, without arrays to retain.
    struct Pointers {
        let winner: UnsafeBufferPointer<Int32>
        let ends: UnsafeBufferPointer<Int>
        let text: UnsafeBufferPointer<UInt8>
        let features: Int

        /// Where field `i` (winner `i / features`'s feature `i % features`) starts in `text`.
        @inline(__always) func start(_ i: Int) -> Int { i == 0 ? 0 : ends[i - 1] + 1 }
    }

    /// Calls `body` with the pointers of every view's arrays.
    static func withPointers<R>(_ views: [JoinedFields], _ done: [Pointers] = [], _ body: ([Pointers]) throws -> R) rethrows -> R {
        guard done.count < views.count else { return try body(done) }
        let view = views[done.count]
        return try view.winner.withUnsafeBufferPointer { winner in
            try view.ends.withUnsafeBufferPointer { ends in
                try view.text.bytes.withUnsafeBufferPointer { text in
                    try withPointers(views, done + [Pointers(winner: winner, ends: ends, text: text, features: view.features)], body)
                }
            }
        }
    }

    /// Entity row `row`'s feature `feature` as a CSV field; empty when the row has no winner.
    func field(row: Int, feature: Int) -> Range<Int> {
        let w = Int(winner[row])
        guard w >= 0 else { return 0..<0 }
        let i = w * features + feature
        return (i == 0 ? 0 : ends[i - 1] + 1)..<ends[i]
    }
}

/// One part's text, written by that part's thread alone and read after every part finished.
private final class FieldsBox: @unchecked Sendable {
    var result: Result<(text: CSVWriter, longest: Int), any Error>?
}

/// The arrays of a view's fields that every part writes at once, each at its own places (its winners' ends, its
/// rows' winners), and that are read only after every part finished.
private struct WholeFields: @unchecked Sendable {
    let ends: UnsafeMutablePointer<Int>
    let winner: UnsafeMutablePointer<Int32>
}

/// The join of one part of a source. Each part's rows are offered by that part's thread alone, and the joins are
/// read only after every part finished, so no two threads ever touch one.
private final class JoinBox: @unchecked Sendable {
    var join: PointInTimeJoin
    init(_ join: PointInTimeJoin) { self.join = join }

    /// A join over no entity rows, left where a join was taken.
    static let nothing = PointInTimeJoin(integerKeys: [], times: [], ttlSeconds: 0)

    /// The join, which the box no longer holds (`nothing` is left), so the caller's copy is the only one.
    func take() -> PointInTimeJoin {
        defer { join = Self.nothing }
        return join
    }
}
