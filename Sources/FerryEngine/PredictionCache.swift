import FerryCore
import Foundation
import Synchronization

/// An endpoint's answers, keyed by the version that gave them and the request's canonical bytes, with a TTL and
/// at most `maxEntries` entries and `maxBytes` of keys and answers (least recently used go first). A key holds the whole canonical request, so two
/// different requests never share an entry, and the version is part of it, so no answer crosses versions.
final class PredictionCache: Sendable {
    struct Key: Hashable, Sendable {
        var version: VersionRef
        var request: [UInt8]
    }

    private struct Entry {
        var response: InferenceResponse
        var expires: Double
        var lastUsed: UInt64
        var bytes: Int
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var tick: UInt64 = 0
        var hits: UInt64 = 0
        var misses: UInt64 = 0
    }

    let spec: Endpoint.Cache
    private let now: @Sendable () -> Double
    private let state = Mutex(State())

    init(spec: Endpoint.Cache, now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.spec = spec
        self.now = now
    }

    func get(_ key: Key) -> InferenceResponse? {
        let t = now()
        return state.withLock { s in
            s.tick += 1
            guard var entry = s.entries[key], entry.expires > t else {
                if let stale = s.entries.removeValue(forKey: key) { s.bytes -= stale.bytes }
                s.misses += 1
                return nil
            }
            s.hits += 1
            entry.lastUsed = s.tick
            s.entries[key] = entry
            return entry.response
        }
    }

    func put(_ key: Key, _ response: InferenceResponse) {
        let expires = now() + spec.ttlSeconds
        let bytes = Self.size(key, response)
        guard bytes <= spec.maxBytes / 8 else { return }   // one answer may not crowd out the rest
        state.withLock { s in
            s.tick += 1
            if let old = s.entries.removeValue(forKey: key) { s.bytes -= old.bytes }
            if s.entries.count >= spec.maxEntries || s.bytes + bytes > spec.maxBytes {
                // Evict the least recently used eighth (at least enough bytes) at once, so a full cache does not
                // sort on every insert.
                var freed = 0
                var evicted = 0
                for (victim, entry) in s.entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                    if evicted >= max(1, s.entries.count / 8) && s.bytes - freed + bytes <= spec.maxBytes { break }
                    s.entries[victim] = nil
                    freed += entry.bytes
                    evicted += 1
                }
                s.bytes -= freed
            }
            s.entries[key] = Entry(response: response, expires: expires, lastUsed: s.tick, bytes: bytes)
            s.bytes += bytes
        }
    }

    /// Estimated memory of an entry: the key's bytes, the outputs' values and a fixed overhead.
    static func size(_ key: Key, _ response: InferenceResponse) -> Int {
        256 + key.request.count + response.outputs.reduce(0) { total, tensor in
            total + 64 + tensor.name.utf8.count + tensor.data.count * 8
        }
    }

    var counts: (hits: UInt64, misses: UInt64, entries: Int, bytes: Int) {
        state.withLock { ($0.hits, $0.misses, $0.entries.count, $0.bytes) }
    }

    /// A request's canonical bytes: inputs (name, datatype, shape, values), requested outputs, and the
    /// `contributions` parameter; the request id and other parameters do not change the answer.
    static func canonical(_ request: InferenceRequest) -> [UInt8] {
        var out: [UInt8] = []
        func string(_ s: String) {
            let bytes = Array(s.utf8)
            integer(bytes.count)
            out += bytes
        }
        func integer(_ n: Int) { withUnsafeBytes(of: Int64(n).littleEndian) { out += $0 } }
        for input in request.inputs.sorted(by: { $0.name < $1.name }) {
            string(input.name)
            string(input.datatype.rawValue)
            integer(input.shape.count)
            for d in input.shape { integer(d) }
            switch input.data {
            case .bool(let v): out.append(1); v.forEach { out.append($0 ? 1 : 0) }
            case .int64(let v): out.append(2); v.forEach { withUnsafeBytes(of: $0.littleEndian) { out += $0 } }
            case .uint64(let v): out.append(3); v.forEach { withUnsafeBytes(of: $0.littleEndian) { out += $0 } }
            case .float32(let v): out.append(4); v.forEach { withUnsafeBytes(of: $0.bitPattern.littleEndian) { out += $0 } }
            case .float64(let v): out.append(5); v.forEach { withUnsafeBytes(of: $0.bitPattern.littleEndian) { out += $0 } }
            case .bytes(let v): out.append(6); v.forEach { integer($0.count); out += $0 }
            }
        }
        out.append(0xFF)
        for output in request.outputs ?? [] { string(output.name) }
        out.append(request.parameters[DataPlane.contributionsParameter]?.boolValue == true ? 1 : 0)
        return out
    }
}
