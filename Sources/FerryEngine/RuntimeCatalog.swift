import FerryCore
import Foundation

/// The runtimes this process can load, by model format.
public struct RuntimeCatalog: Sendable {
    private let runtimes: [ModelFormat: any ModelRuntime]

    public init(_ runtimes: [any ModelRuntime]) {
        var byFormat: [ModelFormat: any ModelRuntime] = [:]
        for runtime in runtimes { byFormat[runtime.format] = runtime }
        self.runtimes = byFormat
    }

    public var formats: [ModelFormat] { runtimes.keys.sorted { $0.rawValue < $1.rawValue } }

    /// The format of an artifact whose registration named none.
    public func detectFormat(_ artifact: Data) throws -> ModelFormat {
        let matches = formats.filter { runtimes[$0]!.recognizes(artifact) }
        guard matches.count == 1 else {
            let known = formats.map(\.rawValue).joined(separator: ", ")
            throw FerryError.invalid("cannot tell the model format from the file; name it (one of \(known))")
        }
        return matches[0]
    }

    public func runtime(for format: ModelFormat) throws -> any ModelRuntime {
        guard let runtime = runtimes[format] else {
            let known = formats.map(\.rawValue).joined(separator: ", ")
            throw FerryError(.unsupported, "model format '\(format.rawValue)' is not supported (supported: \(known))")
        }
        return runtime
    }
}
