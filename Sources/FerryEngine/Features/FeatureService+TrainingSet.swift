import FerryCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Point-in-time-correct training sets. The entity table is read a block of rows at a time: each block is joined
/// with every view it asks for (one pass over each view's source, row by row) and handed out before the next
/// block is read, so neither the entity table nor a source is ever held whole.
extension FeatureService {
    /// Entity rows joined at once; a larger table costs one more pass over each source per block.
    public static let entityBlockRows = 1_000_000
    /// Rows of a joined block written out at a time.
    public static let entityStretchRows = 1 << 16

    /// The views a training set reads, each once per block whatever number of its features are asked for, and
    /// where each feature reference's values come from.
    struct TrainingPlan: Sendable {
        var views: [(view: FeatureView, joinKeys: [JoinKey], features: [FeatureField])] = []
        var slots: [(view: Int, position: Int)] = []
        var timestampColumn: String
        var source: String
        var stretchRows = FeatureService.entityStretchRows
    }

    /// Starts the training set for the entity CSV read from `entities` (the views' join keys and a timestamp
    /// column), which it owns from then on and closes: the entity columns as given, then one column per feature
    /// reference. Every entity row's time and keys are checked and the first block is joined before this returns,
    /// so bad input is an error here, not halfway through the answer; the run then gives the rest a block at a time.
    public func trainingSet(
        entities handle: FileHandle, features refs: [FeatureRef], fullFeatureNames: Bool = false, timestampColumn: String = "event_timestamp",
        source: String = "the entity CSV", blockRows: Int = FeatureService.entityBlockRows,
        stretchRows: Int = FeatureService.entityStretchRows
    ) async throws -> TrainingSetRun {
        do {
            return try await trainingSet(handle, refs, fullFeatureNames, timestampColumn, source, blockRows, max(1, stretchRows))
        } catch {
            try? handle.close()
            throw error
        }
    }

    private func trainingSet(
        _ handle: FileHandle, _ refs: [FeatureRef], _ fullFeatureNames: Bool, _ timestampColumn: String, _ source: String, _ blockRows: Int,
        _ stretchRows: Int
    ) async throws -> TrainingSetRun {
        guard !refs.isEmpty else { throw FerryError.invalid("features is empty; name at least one view:feature") }
        let all = try await current()
        let resolved = try FeatureDefinitions.resolve(refs, views: all.views)
        var plan = TrainingPlan(timestampColumn: timestampColumn, source: source, stretchRows: stretchRows)
        for (i, ref) in refs.enumerated() {
            if let v = plan.views.firstIndex(where: { $0.view.name == ref.view }) {
                plan.views[v].features.append(resolved[i].feature)
                plan.slots.append((v, plan.views[v].features.count - 1))
            } else {
                plan.views.append((resolved[i].view, try FeatureDefinitions.joinKeys(of: resolved[i].view, entities: all.entities), [resolved[i].feature]))
                plan.slots.append((plan.views.count - 1, 0))
            }
        }
        for view in plan.views { try readable(view.view, field: "source.path") }

        do {
            try handle.seek(toOffset: 0)
            // Blocks of equal size: a header line, or a few rows past a round number, must not cost a pass of its own.
            let lines = try LineBlocks.count(handle)
            let count = max(1, (lines - 1 + blockRows - 1) / max(blockRows, 1))
            let linesPerBlock = max(1, (lines + count - 1) / count)
            var blocks = LineBlocks(handle: handle)
            guard let (first, _) = try blocks.next(lines: linesPerBlock) else {
                throw FerryError.invalid("\(source) is empty; it needs a header line and rows")
            }
            let block = try CSVLines(bytes: first, source: source)
            if count > 1 {
                // Every later block's times and keys, checked now (the first block's are checked as it joins).
                while let (bytes, line) = try blocks.next(lines: linesPerBlock) {
                    _ = try Self.entityColumns(CSVLines(bytes: bytes, source: source, header: block.header, firstLine: line), plan)
                }
                try handle.seek(toOffset: 0)
                blocks = LineBlocks(handle: handle)
                _ = try blocks.next(lines: linesPerBlock)
            }
            let names = try Self.columnNames(refs, entityColumns: block.header, fullFeatureNames: fullFeatureNames, source: source)
            var header = CSVWriter()
            header.row(block.header + names)
            let joined = try await joined(block, plan)
            return TrainingSetRun(service: self, plan: plan, handle: handle, blocks: blocks, header: block.header, linesPerBlock: linesPerBlock, first: header.bytes, joined: joined)
        }
    }

    /// The feature columns' names, after the entity columns: refused when two columns would share a name (a table
    /// with two columns of one name is read as one, or renamed, by whatever reads it next).
    static func columnNames(_ refs: [FeatureRef], entityColumns: [String], fullFeatureNames: Bool, source: String) throws -> [String] {
        var seen = Set(entityColumns)
        var names: [String] = []
        for (i, ref) in refs.enumerated() {
            if let first = refs[..<i].firstIndex(of: ref) {
                throw FerryError.invalid("features[\(i)] '\(ref)' is asked for twice (also features[\(first)])")
            }
            let name = fullFeatureNames ? ref.fullName : ref.feature
            guard seen.insert(name).inserted else {
                let other = entityColumns.contains(name) ? "a column of \(source)" : "another feature"
                throw FerryError.invalid(
                    "features[\(i)] '\(ref)' would be a second column named '\(name)' (\(other) has that name); "
                        + (fullFeatureNames ? "rename that column" : "ask for full feature names (view__feature: full_feature_names=true, --full-feature-names)"))
            }
            names.append(name)
        }
        return names
    }

    /// One view's key of each entity row: integers for a single integer join key, else the key text
    /// (`EntityKey.make`); nil when a key value is missing.
    enum EntityKeys {
        case integers([Int64?])
        case texts([String?])
    }

    /// A block's entity times and, per view, each row's key; errors name the line and column. Read in up to
    /// `parts` parts at once when there are `minimumRows` rows or more.
    static func entityColumns(
        _ entities: CSVLines, _ plan: TrainingPlan, parts: Int = ProcessInfo.processInfo.activeProcessorCount, minimumRows: Int = 65_536
    ) throws -> (times: [Int64], keys: [EntityKeys]) {
        let source = plan.source
        let timeIndex = try entities.column(plan.timestampColumn)
        let keyColumns = try plan.views.map { view, joinKeys, _ in
            try joinKeys.map { key -> Int in
                guard let i = entities.header.firstIndex(of: key.name) else {
                    throw FerryError.invalid("\(source) has no column '\(key.name)', the join key of feature view '\(view.name)' (its header is \(entities.header.joined(separator: ",")))")
                }
                return i
            }
        }
        let integerViews = plan.views.map { $0.joinKeys.count == 1 && [.int64, .int32].contains($0.joinKeys[0].type) }
        var times = [Int64](repeating: 0, count: entities.rows.count)
        var integers = plan.views.map { _ in [Int64?](repeating: nil, count: integerViews.contains(true) ? entities.rows.count : 0) }
        var texts = plan.views.map { _ in [String?](repeating: nil, count: integerViews.contains(false) ? entities.rows.count : 0) }

        /// A row the byte path cannot read is read field by field, for the same values or an error naming it.
        func slowRow(_ r: Int) throws {
            let text = try entities.fields(r, [timeIndex])[0]
            guard let t = FeatureTime.parse(text) else {
                throw FerryError.invalid("\(source) line \(entities.lines[r]), column '\(plan.timestampColumn)': '\(text)' is not an ISO 8601 timestamp")
            }
            times[r] = t
            for (v, (_, joinKeys, _)) in plan.views.enumerated() {
                var values: [FeatureDatum] = []
                for (text, key) in zip(try entities.fields(r, keyColumns[v]), joinKeys) {
                    do {
                        values.append(try FeatureDatum.parse(Substring(text), as: key.type))
                    } catch let error as FerryError {
                        throw FerryError.invalid("\(source) line \(entities.lines[r]), column '\(key.name)': \(error.message)")
                    }
                }
                if integerViews[v] {
                    if case .int(let n) = values[0] { integers[v][r] = n }
                } else if !values.contains(.null) {
                    texts[v][r] = try EntityKey.make(values, keys: plan.views[v].joinKeys)
                }
            }
        }

        let integerColumns = plan.views.indices.filter { integerViews[$0] }.map { v in
            (v, keyColumns[v][0], plan.views[v].joinKeys[0].type == .int32 ? 9 : 18)
        }
        let textViews = plan.views.indices.filter { !integerViews[$0] }
        let width = entities.header.count
        // Each row's time and integer keys on its bytes, in a part per core; a row the byte path cannot read is
        // noted, and read afterwards, in order, with the text keys (so an error names the first bad row).
        let parts = entities.rows.count < minimumRows ? 1 : max(1, min(parts, entities.rows.count))
        let slow = (0..<parts).map { _ in RowsBox() }
        let rows = entities.rows
        /// Runs the parts with a pointer to each integer view's keys (each array taken out while its pointer is used).
        func withKeys(_ done: [(UnsafeMutablePointer<Int64?>, column: Int, digits: Int)]) {
            guard done.count == integerColumns.count else {
                let (v, column, digits) = integerColumns[done.count]
                var keys = integers[v]
                integers[v] = []
                keys.withUnsafeMutableBufferPointer { withKeys(done + [($0.baseAddress!, column, digits)]) }
                integers[v] = keys
                return
            }
            entities.bytes.withUnsafeBufferPointer { bytes in
                times.withUnsafeMutableBufferPointer { times in
                    let out = EntityColumnPointers(bytes: bytes, times: times.baseAddress!, keys: done)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        let bounds = FieldBounds(capacity: width)
                        defer { bounds.deallocate() }
                        rows: for r in (rows.count * part / parts)..<(rows.count * (part + 1) / parts) {
                            let line = UnsafeBufferPointer(rebasing: out.bytes[rows[r]])
                            guard bounds.split(line) == width, let t = FeatureTime.parse(bytes: bounds.field(timeIndex, of: line)) else {
                                slow[part].rows.append(r)
                                continue
                            }
                            for (key, column, digits) in out.keys {
                                guard let n = DecimalText.integer(bounds.field(column, of: line), digits: digits) else {
                                    slow[part].rows.append(r)
                                    continue rows
                                }
                                key[r] = n
                            }
                            out.times[r] = t
                        }
                    }
                }
            }
        }
        withKeys([])
        let slowRows = slow.flatMap(\.rows)
        guard !textViews.isEmpty else {
            for r in slowRows { try slowRow(r) }
            return (times, plan.views.indices.map { integerViews[$0] ? .integers(integers[$0]) : .texts(texts[$0]) })
        }
        let bounds = FieldBounds(capacity: width)
        defer { bounds.deallocate() }
        var nextSlow = 0
        try entities.bytes.withUnsafeBufferPointer { bytes in
            for (r, range) in entities.rows.enumerated() {
                if nextSlow < slowRows.count && slowRows[nextSlow] == r {
                    nextSlow += 1
                    try slowRow(r)
                    continue
                }
                let line = UnsafeBufferPointer(rebasing: bytes[range])
                _ = bounds.split(line)
                for v in textViews {
                    let keyFields = keyColumns[v].map { String(decoding: bounds.field($0, of: line), as: UTF8.self) }
                    var values: [FeatureDatum] = []
                    for (text, key) in zip(keyFields, plan.views[v].joinKeys) {
                        do {
                            values.append(try FeatureDatum.parse(Substring(text), as: key.type))
                        } catch let error as FerryError {
                            throw FerryError.invalid("\(source) line \(entities.lines[r]), column '\(key.name)': \(error.message)")
                        }
                    }
                    if !values.contains(.null) { texts[v][r] = try EntityKey.make(values, keys: plan.views[v].joinKeys) }
                }
            }
        }
        return (times, plan.views.indices.map { integerViews[$0] ? .integers(integers[$0]) : .texts(texts[$0]) })
    }

    /// One block of entity rows joined with every view it asks for, written out a stretch of rows at a time.
    func joined(_ entities: CSVLines, _ plan: TrainingPlan) async throws -> JoinedBlock {
        let (times, keys) = try Self.entityColumns(entities, plan)
        var views: [JoinedFields] = []
        for (v, (view, joinKeys, features)) in plan.views.enumerated() {
            let reader = FeatureSourceReader(view: view, joinKeys: joinKeys, features: features, database: database)
            views.append(try await Self.join(reader, keys: keys[v], times: times, ttlSeconds: view.ttlSeconds))
        }
        return JoinedBlock(entities: entities, views: views, slots: plan.slots, stretch: plan.stretchRows)
    }

    /// A joined block's rows, each as it came followed by its features, written `stretch` rows at a time: each
    /// stretch is handed out before the next is written, so the memory of one is reused for the next (the whole
    /// block at once was tens of MiB of fresh memory, which costs most in a virtual machine whose host takes freed
    /// memory back).
    final class JoinedBlock: @unchecked Sendable {
        let entities: CSVLines
        let views: [JoinedFields]
        let runs: [Run]
        let longest: [Int]
        let stretch: Int
        private var done = 0

        /// Feature columns next to each other that are features of one view next to each other: a row's run is one
        /// copy of its winner's text, commas and all.
        struct Run {
            let view: Int, first: Int, count: Int
        }

        init(entities: CSVLines, views: [JoinedFields], slots: [(view: Int, position: Int)], stretch: Int) {
            self.entities = entities
            self.views = views
            var runs: [Run] = []
            for slot in slots {
                if let last = runs.last, last.view == slot.view, last.first + last.count == slot.position {
                    runs[runs.count - 1] = Run(view: last.view, first: last.first, count: last.count + 1)
                } else {
                    runs.append(Run(view: slot.view, first: slot.position, count: 1))
                }
            }
            self.runs = runs
            longest = views.map(\.longest)
            self.stretch = stretch
        }

        /// The next stretch's rows, in a part per core (each sized first, then written); nil after the last.
        func next() -> [[UInt8]]? {
            let rows = entities.rows
            guard done < rows.count else { return nil }
            let stretch = done..<min(done + self.stretch, rows.count)
            done = stretch.upperBound
            let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, stretch.count / 1024))
            let results = (0..<parts).map { _ in BytesBox() }
            let (runs, longest) = (self.runs, self.longest)
            JoinedFields.withPointers(views) { views in
                entities.bytes.withUnsafeBufferPointer { input in
                    let shared = ReadOnlyPointers(input: input, views: views)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        let range = (stretch.lowerBound + stretch.count * part / parts)..<(stretch.lowerBound + stretch.count * (part + 1) / parts)
                        (results[part].bytes, results[part].touched) = FeatureService.csvRows(range, shared.input, rows, shared.views, runs, longest)
                    }
                }
            }
            return results.map(\.bytes)
        }
    }

    /// Entity rows `range` of a block: each its input line, then a comma and a field per feature. Also returns what
    /// the early loads read, for the caller to keep, so they are not optimized away.
    fileprivate static func csvRows(
        _ range: Range<Int>, _ input: UnsafeBufferPointer<UInt8>, _ rows: [Range<Int>], _ views: [JoinedFields.Pointers],
        _ runs: [JoinedBlock.Run], _ longest: [Int]
    ) -> ([UInt8], Int) {
        // At most each row's line, its commas and line end, and its views' longest winners.
        var size = range.count * (1 + runs.reduce(0) { $0 + $1.count })
        for r in range { size += rows[r].count }
        for run in runs { size += range.count * longest[run.view] }
        var touched = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { out, count in
            guard let o = out.baseAddress else { return }
            var at = 0
            // Winners' fields are stored in file order and rows come in input order, so a row's reads of a run (the
            // ends of its first and last field, then their bytes) miss the cache. Loaded for a batch of rows before
            // any is needed, the misses overlap instead of stalling the copy one after another.
            var batch = range.lowerBound
            for r in range {
                if r == batch {
                    batch = min(r + 16, range.upperBound)
                    for run in runs {
                        let view = views[run.view]
                        for b in r..<batch where view.winner[b] >= 0 {
                            let i = Int(view.winner[b]) * view.features + run.first
                            touched &+= view.ends[i + run.count - 1] &+ (i == 0 ? 0 : view.ends[i - 1])
                        }
                        for b in r..<batch where view.winner[b] >= 0 {
                            let i = Int(view.winner[b]) * view.features + run.first
                            touched &+= Int(view.text[view.start(i)])
                        }
                    }
                }
                let line = rows[r]
                if !line.isEmpty {
                    UnsafeMutableRawPointer(o + at).copyMemory(from: input.baseAddress! + line.lowerBound, byteCount: line.count)
                    at += line.count
                }
                for run in runs {
                    o[at] = 0x2C
                    at += 1
                    let view = views[run.view]
                    let w = Int(view.winner[r])
                    guard w >= 0 else {
                        // No winner: empty fields.
                        for _ in 1..<run.count {
                            o[at] = 0x2C
                            at += 1
                        }
                        continue
                    }
                    let i = w * view.features + run.first
                    let from = view.start(i), end = view.ends[i + run.count - 1]
                    UnsafeMutableRawPointer(o + at).copyMemory(from: view.text.baseAddress! + from, byteCount: end - from)
                    at += end - from
                }
                o[at] = 0x0A
                at += 1
            }
            count = at
        }
        return (bytes, touched)
    }

    /// One view's point-in-time join. A CSV file source is scanned for keys and times on every core, and only the
    /// winning lines are read again for their values; other sources carry each row's values while it may still win.
    static func join(
        _ reader: FeatureSourceReader, keys: EntityKeys, times: [Int64], ttlSeconds: Int64,
        parts: Int = ProcessInfo.processInfo.activeProcessorCount, minimumBytes: UInt64 = 8 << 20, minimumWinners: Int = 100_000
    ) async throws -> JoinedFields {
        var join = switch keys {
        case .integers(let keys): PointInTimeJoin(integerKeys: keys, times: times, ttlSeconds: ttlSeconds)
        case .texts(let keys): PointInTimeJoin(keys: keys, times: times, ttlSeconds: ttlSeconds)
        }
        if reader.isCSVFile {
            try reader.scanCSV(into: &join, parts: parts, minimumBytes: minimumBytes)
            return try reader.csvFields(of: join.winners(), parts: parts, minimumWinners: minimumWinners)
        }
        var carried: [Int64: [FeatureDatum]] = [:]
        var sequence: Int64 = 0
        var limit = 4 * times.count + 1024
        try await reader.forEach { row in
            sequence += 1
            guard join.offer(key: row.key, event: row.event, created: row.created, sequence: sequence) else { return }
            carried[sequence] = row.values
            // Values no node holds any more can never win: dropped now and then, so memory follows the entity rows.
            if carried.count > limit {
                let live = join.liveSequences()
                carried = carried.filter { live.contains($0.key) }
                limit = max(limit, 2 * carried.count)
            }
        }
        let winners = join.winners()
        var out = JoinedFields(rows: winners.count, features: reader.features.count)
        var index: [Int64: Int32] = [:]
        for (row, winner) in winners.enumerated() where !winner.isNone {
            if let w = index[winner.sequence] {
                out.winner[row] = w
            } else {
                out.append(carried[winner.sequence]!)
                index[winner.sequence] = Int32(out.winners)
                out.winner[row] = Int32(out.winners)
                out.endWinner()
            }
        }
        return out
    }
}

/// A training set under way: the header and first block (joined when it started), then each later block, joined
/// when asked for. One reader at a time.
public final class TrainingSetRun: @unchecked Sendable {
    private let service: FeatureService
    private let plan: FeatureService.TrainingPlan
    private let handle: FileHandle
    private var blocks: LineBlocks
    private let header: [String]
    private let linesPerBlock: Int
    /// The block being written out.
    private var joined: FeatureService.JoinedBlock
    /// Parts written and not yet handed out, the next last.
    private var pending: [[UInt8]]
    /// The block's next stretch, written on a thread of its own while the one before it goes out: written only when
    /// asked for, the two took turns and each core was idle half the time.
    private var ahead: Task<[[UInt8]]?, Never>?

    init(
        service: FeatureService, plan: FeatureService.TrainingPlan, handle: FileHandle, blocks: LineBlocks, header: [String], linesPerBlock: Int, first: [UInt8],
        joined: FeatureService.JoinedBlock
    ) {
        self.service = service
        self.plan = plan
        self.handle = handle
        self.blocks = blocks
        self.header = header
        self.linesPerBlock = linesPerBlock
        self.joined = joined
        pending = [first]
    }

    /// The next part of the training set as CSV bytes (the header, then the first block's rows), nil at the end.
    public func next() async throws -> [UInt8]? {
        while pending.isEmpty {
            let parts: [[UInt8]]?
            if let ahead {
                self.ahead = nil
                parts = await ahead.value
            } else {
                parts = joined.next()
            }
            if let parts {
                pending = parts.reversed()
                let block = joined
                ahead = Task { await OwnThreads.run(parts: 1, idle: false) { _ in block.next() }[0] }
            } else {
                guard let (bytes, line) = try blocks.next(lines: linesPerBlock) else { return nil }
                joined = try await service.joined(CSVLines(bytes: bytes, source: plan.source, header: header, firstLine: line), plan)
            }
        }
        return pending.popLast()
    }

    /// Closes the entity file.
    public func close() { try? handle.close() }
}

/// A file's whole lines, a block at a time, read 8 MiB at a time.
struct LineBlocks {
    let handle: FileHandle
    private var pending: [UInt8] = []
    private var scanned = 0
    private var ended = false
    private var nextLine = 1
    /// The bytes read from the file so far.
    private var read = 0
    private var chunk: [UInt8] = []

    init(handle: FileHandle) { self.handle = handle }

    /// The number of lines in the file (a last line without its line end counts), leaving it at its start.
    static func count(_ handle: FileHandle) throws -> Int {
        try handle.seek(toOffset: 0)
        defer { try? handle.seek(toOffset: 0) }
        var lines = 0
        var last: UInt8 = 0x0A
        while let data = try handle.read(upToCount: 8 << 20), !data.isEmpty {
            data.withUnsafeBytes { raw in lines += CSVTable.lineFeeds(raw) }
            last = data.last!
        }
        return lines + (last == 0x0A ? 0 : 1)
    }

    /// The next `lines` lines (fewer at the end of the file) and the number of the first; nil when none are left.
    mutating func next(lines: Int) throws -> (bytes: [UInt8], firstLine: Int)? {
        var count = 0
        var cut: Int?
        scanned = 0
        while cut == nil {
            while scanned < pending.count {
                let newline = pending.withUnsafeBufferPointer { p in
                    memchr(p.baseAddress! + scanned, 0x0A, p.count - scanned).map { UnsafeRawPointer($0) - UnsafeRawPointer(p.baseAddress!) }
                }
                guard let newline else {
                    scanned = pending.count
                    break
                }
                count += 1
                scanned = newline + 1
                if count == lines {
                    cut = scanned
                    break
                }
            }
            if cut != nil || ended { break }
            // Read 8 MiB at a time into one buffer kept for the purpose (a new one per read was fresh memory each time).
            if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 8 << 20) }
            let n = try chunk.withUnsafeMutableBytes { buffer in
                while true {
                    let n = Glibc.read(handle.fileDescriptor, buffer.baseAddress, buffer.count)
                    if n >= 0 { return n }
                    if errno != EINTR { throw FerryError(.unavailable, "the entity CSV could not be read: \(String(cString: strerror(errno)))") }
                }
            }
            if n > 0 {
                // Room for the rest of the file (up to 256 MiB) at once: grown by doubling, the buffer was copied
                // into fresh memory again and again.
                if pending.capacity - pending.count < n {
                    var info = stat()
                    let rest = fstat(handle.fileDescriptor, &info) == 0 ? max(0, Int(info.st_size) - read) : 0
                    pending.reserveCapacity(pending.count + max(n, min(rest, 256 << 20)))
                }
                read += n
                pending.append(contentsOf: chunk[..<n])
            } else {
                ended = true
            }
        }
        let end = cut ?? pending.count
        guard end > 0 else { return nil }
        let block: [UInt8]
        if end == pending.count {
            // The whole buffer is the block (a table of one block): handed over, not copied.
            block = pending
            pending = []
        } else {
            block = Array(pending[..<end])
            pending.removeFirst(end)
        }
        let first = nextLine
        nextLine += count + (cut == nil && block.last != 0x0A ? 1 : 0)
        return (block, first)
    }
}

/// A block's input and its views' arrays, only read while the parts are written, and only while the arrays live.
private struct ReadOnlyPointers: @unchecked Sendable {
    let input: UnsafeBufferPointer<UInt8>
    let views: [JoinedFields.Pointers]
}

/// What the parts of `entityColumns` read and write: each part writes only its own rows' times and keys.
private struct EntityColumnPointers: @unchecked Sendable {
    let bytes: UnsafeBufferPointer<UInt8>
    let times: UnsafeMutablePointer<Int64>
    let keys: [(UnsafeMutablePointer<Int64?>, column: Int, digits: Int)]
}

/// The rows one part of `entityColumns` left to the row-by-row reader, written by that part alone.
private final class RowsBox: @unchecked Sendable {
    var rows: [Int] = []
}

/// One part's rows, written by that part's thread alone and read after every part finished.
private final class BytesBox: @unchecked Sendable {
    var bytes: [UInt8] = []
    var touched = 0
}

/// Writes CSV rows, quoting fields that need it.
struct CSVWriter {
    private(set) var bytes: [UInt8] = []

    mutating func row(_ fields: [String]) {
        for (i, field) in fields.enumerated() { self.field(field, first: i == 0) }
        endRow()
    }

    mutating func reserve(_ capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Bytes copied as they are (a row of the input, already CSV).
    mutating func raw<C: Collection<UInt8>>(_ slice: C) { bytes.append(contentsOf: slice) }

    /// A comma after a field.
    mutating func comma() { bytes.append(0x2C) }

    mutating func field(_ field: String, first: Bool) {
        if !first { bytes.append(0x2C) }
        if field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) || field.first == " " || field.last == " " {
            bytes.append(0x22)
            for b in field.utf8 {
                if b == 0x22 { bytes.append(0x22) }
                bytes.append(b)
            }
            bytes.append(0x22)
        } else {
            bytes.append(contentsOf: field.utf8)
        }
    }

    mutating func endRow() { bytes.append(0x0A) }
}
