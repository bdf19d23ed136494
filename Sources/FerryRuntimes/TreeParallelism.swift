import Dispatch
import Foundation

/// How the tree engines use the machine's cores for large batches.
public enum TreeParallelism {
    /// Batches smaller than this run on the calling thread: splitting them costs more than it saves.
    public static let minimumRows = 2048

    public static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Runs `body` over `0..<rows` split into up to `threads` contiguous chunks, in parallel when it pays.
    static func forEachChunk(rows: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = rows >= minimumRows ? min(threads, rows / (minimumRows / 2)) : 1
        guard chunks > 1 else {
            body(0..<rows)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body((rows * c / chunks)..<(rows * (c + 1) / chunks))
        }
    }
}
