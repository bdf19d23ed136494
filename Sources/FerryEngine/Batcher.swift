import FerryCore
import Foundation
import Synchronization

/// Dynamic batching in front of one version's predictor; each caller gets its own rows of the outputs back, and a
/// request at least `maxRows` long goes straight through. Two ways to gather a batch:
/// - `maxDelay == 0` (greedy): a request that finds the version idle runs at once, alone; requests that arrive
///   while a batch runs queue up and run together (up to `maxRows`) as soon as it ends. No request ever waits for
///   a timer, so light traffic pays nothing.
/// - `maxDelay > 0` (timed): requests wait until `maxRows` rows have gathered or the first has waited `maxDelay`.
///   Light traffic pays the whole delay on every request.
final class Batcher: Sendable {
    private struct Pending {
        var matrix: FeatureMatrix
        var continuation: CheckedContinuation<[Tensor], any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var rows = 0
        var timerArmed = false
        var generation = 0
        /// Greedy mode: a batch is running.
        var running = false
    }

    private let predictor: any Predictor
    let maxRows: Int
    let maxDelay: Duration
    private let state = Mutex(State())

    init(predictor: any Predictor, maxRows: Int, maxDelay: Duration) {
        self.predictor = predictor
        self.maxRows = maxRows
        self.maxDelay = maxDelay
    }

    func predict(_ matrix: FeatureMatrix) async throws -> [Tensor] {
        if matrix.rows >= maxRows { return try predictor.predict(matrix) }
        if maxDelay == .zero { return try await greedy(matrix) }
        return try await withCheckedThrowingContinuation { continuation in
            var full: [Pending]?
            var timer: Int?
            state.withLock { s in
                s.queue.append(Pending(matrix: matrix, continuation: continuation))
                s.rows += matrix.rows
                if s.rows >= maxRows {
                    full = s.queue
                    s.queue = []
                    s.rows = 0
                    s.timerArmed = false
                    s.generation += 1
                } else if !s.timerArmed {
                    s.timerArmed = true
                    timer = s.generation
                }
            }
            if let full { run(full) }
            if let generation = timer {
                Task {
                    try? await Task.sleep(for: maxDelay)
                    let due: [Pending]? = state.withLock { s in
                        guard s.generation == generation, !s.queue.isEmpty else { return nil }
                        defer {
                            s.queue = []
                            s.rows = 0
                            s.timerArmed = false
                            s.generation += 1
                        }
                        return s.queue
                    }
                    if let due { run(due) }
                }
            }
        }
    }

    private func greedy(_ matrix: FeatureMatrix) async throws -> [Tensor] {
        let idle = state.withLock { s in
            if s.running { return false }
            s.running = true
            return true
        }
        guard idle else {
            return try await withCheckedThrowingContinuation { continuation in
                // Queued behind the running batch; re-check under the lock, it may have ended meanwhile.
                let runNow = state.withLock { s in
                    s.queue.append(Pending(matrix: matrix, continuation: continuation))
                    s.rows += matrix.rows
                    if s.running { return false }
                    s.running = true
                    return true
                }
                if runNow { drain() }
            }
        }
        defer { handOff() }
        return try predictor.predict(matrix)
    }

    /// After a batch: hand what queued meanwhile to a new task (so this caller answers now), or go idle.
    private func handOff() {
        let pending = state.withLock { s in
            if s.queue.isEmpty { s.running = false }
            return !s.queue.isEmpty
        }
        if pending { Task { self.drain() } }
    }

    /// Runs queued batches (up to `maxRows` rows each) until the queue is empty, then marks the version idle.
    private func drain() {
        while true {
            let batch: [Pending] = state.withLock { s in
                var taken: [Pending] = []
                var rows = 0
                while let next = s.queue.first, taken.isEmpty || rows + next.matrix.rows <= maxRows {
                    taken.append(s.queue.removeFirst())
                    rows += next.matrix.rows
                }
                s.rows -= rows
                if taken.isEmpty { s.running = false }
                return taken
            }
            if batch.isEmpty { return }
            run(batch)
        }
    }

    /// One predictor call for the whole batch; every caller gets its rows, or the error.
    private func run(_ batch: [Pending]) {
        if batch.count == 1 {
            let only = batch[0]
            do { only.continuation.resume(returning: try predictor.predict(only.matrix)) } catch { only.continuation.resume(throwing: error) }
            return
        }
        let columns = batch[0].matrix.columns
        let rows = batch.reduce(0) { $0 + $1.matrix.rows }
        var values: [Double] = []
        values.reserveCapacity(rows * columns)
        for pending in batch { values += pending.matrix.values }
        do {
            let outputs = try predictor.predict(FeatureMatrix(rows: rows, columns: columns, values: values))
            var offset = 0
            for pending in batch {
                pending.continuation.resume(returning: outputs.map { Self.rows($0, from: offset, count: pending.matrix.rows, of: rows) })
                offset += pending.matrix.rows
            }
        } catch {
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }

    /// Rows `from ..< from + count` of a tensor whose first dimension is `total`.
    static func rows(_ tensor: Tensor, from: Int, count: Int, of total: Int) -> Tensor {
        let width = total > 0 ? tensor.data.count / total : 0
        let range = (from * width)..<((from + count) * width)
        var shape = tensor.shape
        if !shape.isEmpty { shape[0] = count }
        let data: TensorData = switch tensor.data {
        case .bool(let v): .bool(Array(v[range]))
        case .int64(let v): .int64(Array(v[range]))
        case .uint64(let v): .uint64(Array(v[range]))
        case .float32(let v): .float32(Array(v[range]))
        case .float64(let v): .float64(Array(v[range]))
        case .bytes(let v): .bytes(Array(v[range]))
        }
        return Tensor(name: tensor.name, datatype: tensor.datatype, shape: shape, data: data, parameters: tensor.parameters)
    }
}
