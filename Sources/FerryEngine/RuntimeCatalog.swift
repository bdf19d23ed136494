import FerryCore

/// The runtimes this process can load, by model format.
public struct RuntimeCatalog: Sendable {
    private let runtimes: [ModelFormat: any ModelRuntime]

    public init(_ runtimes: [any ModelRuntime]) {
        var byFormat: [ModelFormat: any ModelRuntime] = [:]
        for runtime in runtimes { byFormat[runtime.format] = runtime }
        self.runtimes = byFormat
    }

    public var formats: [ModelFormat] { runtimes.keys.sorted { $0.rawValue < $1.rawValue } }

    public func runtime(for format: ModelFormat) throws -> any ModelRuntime {
        guard let runtime = runtimes[format] else {
            let known = formats.map(\.rawValue).joined(separator: ", ")
            throw FerryError(.unsupported, "model format '\(format.rawValue)' is not supported (supported: \(known))")
        }
        return runtime
    }
}
