import FerryCore
import Foundation

/// Features joined at inference: a version that declares feature refs is called with its entity keys (and any
/// request-time features); the rest come from the online store, under the names the model's schema gives them.
extension FeatureService {
    /// The schema feature a ref fills: the feature's own name, else `view__feature`.
    public static func schemaName(for ref: FeatureRef, in schema: InputSchema) -> String? {
        let names = Set(schema.featureNames)
        if names.contains(ref.feature) { return ref.feature }
        if names.contains(ref.fullName) { return ref.fullName }
        return nil
    }

    /// Checks a version's refs at registration: each names a stored view and feature, and a feature of the schema.
    public func checkBinding(_ refs: [FeatureRef], schema: InputSchema) async throws {
        guard !refs.isEmpty else { return }
        let all = try await current()
        _ = try FeatureDefinitions.resolve(refs, views: all.views)
        for (i, ref) in refs.enumerated() where Self.schemaName(for: ref, in: schema) == nil {
            throw FerryError.invalid(
                "features[\(i)] '\(ref)' fills no input of the model: its schema has no feature '\(ref.feature)' or '\(ref.fullName)' (it has \(schema.featureNames.prefix(12).joined(separator: ", ")))")
        }
        if Set(refs.map { Self.schemaName(for: $0, in: schema)! }).count != refs.count {
            throw FerryError.invalid("features: two references fill the same input of the model")
        }
    }

    /// The join keys of the views the refs name, in first-seen order.
    func joinKeyNames(_ refs: [FeatureRef]) async throws -> [String] {
        let all = try await current()
        var names: [String] = []
        for (view, _) in try FeatureDefinitions.resolve(refs, views: all.views) {
            for key in try FeatureDefinitions.joinKeys(of: view, entities: all.entities) where !names.contains(key.name) { names.append(key.name) }
        }
        return names
    }

    /// V1 instances given by name, with the bound features filled in (a value the request sends wins) and the join
    /// keys the model does not read removed. Instances given as value lists carry every feature already.
    public func join(_ instances: [Instance], refs: [FeatureRef], schema: InputSchema) async throws -> [Instance] {
        guard !refs.isEmpty, instances.contains(where: { if case .named = $0 { true } else { false } }) else { return instances }
        let keys = try await joinKeyNames(refs)
        var named: [Int] = []
        var entities: [[String: JSONValue]] = []
        for (r, instance) in instances.enumerated() {
            guard case .named(let fields) = instance else { continue }
            var entity: [String: JSONValue] = [:]
            for key in keys {
                guard let value = fields[key] else {
                    throw FerryError.invalid("instance \(r): join key '\(key)' is missing; this model looks its features up by \(keys.joined(separator: ", "))")
                }
                entity[key] = value.json
            }
            named.append(r)
            entities.append(entity)
        }
        let values = try await online(features: refs, entities: entities)
        let schemaNames = Set(schema.featureNames)
        var out = instances
        for (position, r) in named.enumerated() {
            guard case .named(var fields) = instances[r] else { continue }
            for (i, ref) in refs.enumerated() {
                let name = Self.schemaName(for: ref, in: schema) ?? ref.feature
                guard fields[name] == nil else { continue }
                try Self.check(values[position][i], ref: ref, name: name, schema: schema, entity: entities[position], label: "instance \(r)")
                fields[name] = values[position][i].value.featureValue
            }
            for key in keys where !schemaNames.contains(key) { fields[key] = nil }
            out[r] = .named(fields)
        }
        return out
    }

    /// V2 inputs given one tensor per feature, with a tensor added for each bound feature the request does not
    /// send, and the join key tensors the model does not read removed. A single matrix input is left as it is.
    public func join(_ inputs: [Tensor], refs: [FeatureRef], schema: InputSchema) async throws -> [Tensor] {
        guard !refs.isEmpty, !(inputs.count == 1 && inputs[0].name == InputSchema.matrixInputName) else { return inputs }
        let keys = try await joinKeyNames(refs)
        var rows: Int?
        var columns: [String: [JSONValue]] = [:]
        for key in keys {
            guard let tensor = inputs.first(where: { $0.name == key }) else {
                throw FerryError.invalid("input '\(key)' is missing: this model looks its features up by \(keys.joined(separator: ", "))")
            }
            let values: [JSONValue] = switch tensor.data {
            case .int64(let v): v.map { .number(Double($0)) }
            case .uint64(let v): v.map { .number(Double($0)) }
            case .float32(let v): v.map { .number(Double($0)) }
            case .float64(let v): v.map { .number($0) }
            case .bool(let v): v.map { .bool($0) }
            case .bytes(let v): v.map { .string(String(decoding: $0, as: UTF8.self)) }
            }
            if let rows, rows != values.count {
                throw FerryError.invalid("input '\(key)' has \(values.count) values but other join keys have \(rows)")
            }
            rows = values.count
            columns[key] = values
        }
        let entities = (0..<(rows ?? 0)).map { r in columns.mapValues { $0[r] } }
        let values = try await online(features: refs, entities: entities)
        let given = Set(inputs.map(\.name))
        let schemaNames = Set(schema.featureNames)
        var out = inputs.filter { schemaNames.contains($0.name) || !keys.contains($0.name) }
        for (i, ref) in refs.enumerated() {
            let name = Self.schemaName(for: ref, in: schema) ?? ref.feature
            guard !given.contains(name) else { continue }
            for (r, row) in values.enumerated() {
                try Self.check(row[i], ref: ref, name: name, schema: schema, entity: entities[r], label: "row \(r)")
            }
            let column = values.map { $0[i].value }
            if column.contains(where: { if case .string = $0 { true } else { false } }) {
                out.append(Tensor(name: name, datatype: .bytes, shape: [column.count], data: .bytes(column.map {
                    if case .string(let s) = $0 { Array(s.utf8) } else { [] }
                })))
            } else {
                out.append(Tensor(name: name, datatype: .fp64, shape: [column.count], data: .float64(column.map {
                    switch $0 {
                    case .int(let n): Double(n)
                    case .double(let d): d
                    case .bool(let b): b ? 1 : 0
                    default: .nan
                    }
                })))
            }
        }
        return out
    }

    /// A value the store could not give (not found, stale, null) is refused when the schema says the feature may
    /// not be missing.
    static func check(_ value: OnlineFeatureValue, ref: FeatureRef, name: String, schema: InputSchema, entity: [String: JSONValue], label: String) throws {
        guard value.status != .present, schema.features.first(where: { $0.name == name })?.nullable == false else { return }
        let key = entity.sorted { $0.key < $1.key }.map { "\($0.key)=\(FeatureDatum.describe($0.value))" }.joined(separator: ", ")
        throw FerryError.invalid(
            "\(label): feature '\(name)' (\(ref)) has no usable online value for \(key): \(value.status.rawValue); the model's schema does not allow it to be missing")
    }
}

extension FeatureValue {
    /// The value as JSON, to look an entity up by.
    var json: JSONValue {
        switch self {
        case .number(let d): .number(d)
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .missing: .null
        }
    }
}
