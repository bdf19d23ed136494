/// A pointer handed to the parts of one parallel computation, each of which touches only its own share of what it
/// points at (or only reads it).
public struct SharedPointer<T>: @unchecked Sendable {
    public let base: T

    public init(base: T) {
        self.base = base
    }
}
