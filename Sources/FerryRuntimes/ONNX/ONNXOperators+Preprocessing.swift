import FerryCore
import Foundation

/// The ai.onnx.ml operators that prepare features: scaling, imputing, encoding, selecting and joining columns.
extension ONNXOperators {
    static let preprocessing: [String: Maker] = [
        "Scaler": { a, _ in
            let offset = a.floats("offset"), scale = a.floats("scale")
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Scaler")
                let v = try x.floats("Scaler")
                let c = x.shape.last ?? 1
                guard offset.count <= 1 || offset.count == c, scale.count <= 1 || scale.count == c else {
                    throw ONNXError.message("Scaler has \(offset.count) offsets and \(scale.count) scales for \(c) columns")
                }
                let width = max(c, 1)
                let o = (0..<width).map { offset.isEmpty ? 0 : offset.count == 1 ? offset[0] : offset[$0] }
                let s = (0..<width).map { scale.isEmpty ? 1 : scale.count == 1 ? scale[0] : scale[$0] }
                var out = [Float](repeating: 0, count: v.count)
                for start in stride(from: 0, to: v.count, by: width) {
                    for j in 0..<width { out[start + j] = (v[start + j] - o[j]) * s[j] }
                }
                return [.float(out, shape: x.shape)]
            }
        },
        "Normalizer": { a, _ in
            let norm = a.string("norm", default: "MAX")
            guard ["MAX", "L1", "L2"].contains(norm) else { throw ONNXError.message("Normalizer norm '\(norm)' is not MAX, L1 or L2") }
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Normalizer")
                let v = try x.floats("Normalizer")
                let c = x.shape.count >= 2 ? x.shape.last! : v.count
                var out = v
                for start in stride(from: 0, to: v.count, by: max(c, 1)) {
                    let row = v[start..<(start + c)]
                    switch norm {
                    case "MAX":
                        // The signed maximum, as onnxruntime divides by (NaN skipped by std::max).
                        let m = row.reduce(-Float.greatestFiniteMagnitude) { Swift.max($0, $1) }
                        for e in start..<(start + c) { out[e] = m == 0 ? v[e] : v[e] / m }
                    case "L1":
                        let sum = row.reduce(0) { $0 + abs($1) }
                        for e in start..<(start + c) { out[e] = sum == 0 ? v[e] : v[e] / sum }
                    default:
                        // sqrt(x² / Σx²) with the sign of x, as onnxruntime computes it.
                        let sum = row.reduce(0) { $0 + $1 * $1 }
                        for e in start..<(start + c) {
                            let r = (v[e] * v[e] / sum).squareRoot()
                            out[e] = sum == 0 ? v[e] : (v[e] < 0 ? -r : r)
                        }
                    }
                }
                return [.float(out, shape: x.shape)]
            }
        },
        "Imputer": { a, _ in
            let floats = a.floats("imputed_value_floats"), ints = a.ints("imputed_value_int64s")
            let replacedFloat = a.float("replaced_value_float", default: 0)
            let replacedInt = a["replaced_value_int64"]?.int ?? 0
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Imputer")
                let c = x.shape.last ?? 1
                switch x.storage {
                case .float, .double:
                    let v = try x.floats("Imputer")
                    guard !floats.isEmpty else { throw ONNXError.message("Imputer has no imputed_value_floats for a float input") }
                    // One value per column, or (any other count, as onnxruntime does) the first for all.
                    let out = v.indices.map { e -> Float in
                        let hit = replacedFloat.isNaN ? v[e].isNaN : v[e] == replacedFloat
                        return hit ? floats[floats.count == c ? e % c : 0] : v[e]
                    }
                    return [.float(out, shape: x.shape)]
                case .int64(let v):
                    guard !ints.isEmpty else { throw ONNXError.message("Imputer has no imputed_value_int64s for an integer input") }
                    return [.int64(v.indices.map { v[$0] == replacedInt ? ints[ints.count == c ? $0 % c : 0] : v[$0] }, shape: x.shape)]
                default: throw ONNXError.type("Imputer", "a number tensor", x.element.rawValue)
                }
            }
        },
        "OneHotEncoder": { a, _ in
            let zeros = a.int("zeros", default: 1) != 0
            let strings = a.strings("cats_strings"), ints = a.ints("cats_int64s")
            // A category listed twice maps to its last position, as in onnxruntime.
            let stringIndex = Dictionary(strings.enumerated().map { ($1, $0) }) { _, last in last }
            let intIndex = Dictionary(ints.enumerated().map { ($1, $0) }) { _, last in last }
            let categories = strings.isEmpty ? ints.count : strings.count
            guard categories > 0 else { throw ONNXError.message("OneHotEncoder has neither cats_strings nor cats_int64s") }
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "OneHotEncoder")
                let hits: [Int?]
                switch x.storage {
                case .string(let v):
                    guard !strings.isEmpty else { throw ONNXError.message("OneHotEncoder has integer categories but got strings") }
                    hits = v.map { stringIndex[$0] }
                default:
                    guard strings.isEmpty else { throw ONNXError.message("OneHotEncoder has string categories but got \(x.element.rawValue)") }
                    let values: [Int64] = switch x.storage {
                    case .int64(let v): v
                    default: try x.floats("OneHotEncoder").map { $0.isFinite ? Int64($0) : .min }
                    }
                    hits = values.map { intIndex[$0] }
                }
                var out = [Float](repeating: 0, count: hits.count * categories)
                for (e, hit) in hits.enumerated() {
                    if let hit { out[e * categories + hit] = 1 } else if !zeros {
                        throw ONNXError.message("OneHotEncoder got a category it does not know (and zeros=0)")
                    }
                }
                return [.float(out, shape: x.shape + [categories])]
            }
        },
        "LabelEncoder": { a, opset in try labelEncoder(a, opset: opset) },
        "Binarizer": { a, _ in
            let threshold = a.float("threshold", default: 0)
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Binarizer")
                let v = try x.floats("Binarizer")
                if let i = v.firstIndex(where: \.isNaN) { throw ONNXError.message("Binarizer input \(i) is NaN") }
                return [.float(v.map { $0 > threshold ? 1 : 0 }, shape: x.shape)]
            }
        },
        "ArrayFeatureExtractor": { _, _ in
            ONNXKernel { inputs in
                let x = try required(inputs, 0, "ArrayFeatureExtractor")
                let picks = try required(inputs, 1, "ArrayFeatureExtractor").integers("ArrayFeatureExtractor's indices")
                let d = x.shape.last ?? 1
                for p in picks where p < 0 || p >= d {
                    throw ONNXError.message("ArrayFeatureExtractor index \(p) is outside the last dimension (\(d))")
                }
                let rows = d == 0 ? 0 : x.count / d
                var offsets: [Int] = []
                offsets.reserveCapacity(rows * picks.count)
                for r in 0..<rows { for p in picks { offsets.append(r * d + Int(p)) } }
                let shape = x.shape.count <= 1 ? [1, picks.count] : Array(x.shape.dropLast()) + [picks.count]
                return [x.gathering(offsets, shape: shape)]
            }
        },
        "FeatureVectorizer": { a, _ in
            let dimensions = a.ints("inputdimensions").map(Int.init)
            return ONNXKernel { inputs in
                let parts = inputs.compactMap { $0 }
                guard parts.count == dimensions.count else {
                    throw ONNXError.message("FeatureVectorizer has \(parts.count) inputs for \(dimensions.count) inputdimensions")
                }
                let rows = parts.first.map { $0.shape.count <= 1 ? 1 : $0.shape[0] } ?? 0
                let width = dimensions.reduce(0, +)
                var out = [Float](repeating: 0, count: rows * width)
                var column = 0
                for (part, d) in zip(parts, dimensions) {
                    let v = try part.floats("FeatureVectorizer")
                    let given = rows == 0 ? 0 : v.count / rows
                    for r in 0..<rows { for j in 0..<min(d, given) { out[r * width + column + j] = v[r * given + j] } }
                    column += d
                }
                return [.float(out, shape: [rows, width])]
            }
        },
        // A map(int64, float) arrives as [N, K]: column k holds key k's value, NaN where a row's map lacks key k.
        // SPARSE puts key k at position k (keys from max_map on are dropped) and pads with 0 ("0.f" as a string);
        // DENSE packs each row's keys in order, and every row of a batch must have as many.
        "CastMap": { a, _ in
            let castTo = a.string("cast_to") ?? "TO_FLOAT"
            let form = a.string("map_form") ?? "DENSE"
            let maxMap = a.int("max_map") ?? 1
            guard ["TO_FLOAT", "TO_INT64", "TO_STRING"].contains(castTo) else {
                throw ONNXError.message("CastMap cast_to '\(castTo)' is not TO_FLOAT, TO_INT64 or TO_STRING")
            }
            guard form == "DENSE" || (form == "SPARSE" && maxMap > 0) else {
                throw ONNXError.message("CastMap map_form '\(form)' is not DENSE or SPARSE with max_map > 0")
            }
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "CastMap")
                let v = try x.floats("CastMap")
                let rows = x.shape.first ?? 1
                let keys = rows == 0 ? 0 : v.count / rows
                var width = maxMap
                var picked: [Float?] = []
                if form == "SPARSE" {
                    picked.reserveCapacity(rows * width)
                    for r in 0..<rows {
                        for k in 0..<width { picked.append(k < keys && !v[r * keys + k].isNaN ? v[r * keys + k] : nil) }
                    }
                } else {
                    for r in 0..<rows {
                        let present = v[(r * keys)..<((r + 1) * keys)].filter { !$0.isNaN }
                        if r == 0 { width = present.count }
                        guard present.count == width else {
                            throw ONNXError.message("CastMap (DENSE) packs each row's keys: row 0 has \(width) and row \(r) has \(present.count), which cannot form one tensor; send them separately")
                        }
                        picked += present.map { Optional($0) }
                    }
                    if rows == 0 { width = 0 }
                }
                let shape = [rows, width]
                switch castTo {
                case "TO_INT64":
                    return [.int64(try picked.map { f in
                        guard let f else { return 0 }
                        guard f.isFinite, abs(f) < 9.2e18 else { throw ONNXError.message("CastMap cannot cast \(f) to int64") }
                        return Int64(f)
                    }, shape: shape)]
                case "TO_STRING":
                    return [ONNXArray(shape: shape, .string(picked.map { $0.map { String(format: "%f", Double($0)) } ?? "0.f" }))]
                default:
                    return [.float(picked.map { $0 ?? 0 }, shape: shape)]
                }
            }
        },
        // Ferry answers tensors, not sequences of maps: ZipMap passes the probabilities through as [N, classes];
        // the class labels are named in the output's metadata.
        "ZipMap": { _, _ in
            ONNXKernel { inputs in
                let x = try required(inputs, 0, "ZipMap")
                return [.float(try x.floats("ZipMap"), shape: x.shape)]
            }
        },
    ]

    /// A key of a LabelEncoder mapping; floats compare by value, with every NaN one key.
    enum LabelKey: Hashable {
        case int(Int64), string(String), float(UInt32)

        static func of(_ f: Float) -> LabelKey { .float(f.isNaN ? Float.nan.bitPattern : (f == 0 ? 0 : f.bitPattern)) }
    }

    static func labelEncoder(_ a: ONNXAttributes, opset: Int) throws -> ONNXKernel {
        let keys: [LabelKey]
        let values: ONNXArray.Storage
        let fallback: ONNXArray.Storage
        if opset < 2 {
            // Opset 1: classes_strings; strings map to their index and integers to the string at that index.
            let classes = a.strings("classes_strings")
            let defaultInt = a["default_int64"]?.int ?? -1, defaultString = a.string("default_string", default: "_Unused")
            let index = Dictionary(classes.enumerated().map { ($1, Int64($0)) }) { _, last in last }
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "LabelEncoder")
                switch x.storage {
                case .string(let v): return [.int64(v.map { index[$0] ?? defaultInt }, shape: x.shape)]
                case .int64(let v):
                    return [ONNXArray(shape: x.shape, .string(v.map { $0 >= 0 && $0 < classes.count ? classes[Int($0)] : defaultString }))]
                default: throw ONNXError.type("LabelEncoder", "strings or integers", x.element.rawValue)
                }
            }
        }
        if let keyTensor = try a.tensor("keys_tensor") {
            keys = try labelKeys(keyTensor.storage)
            guard let valueTensor = try a.tensor("values_tensor") else { throw ONNXError.message("LabelEncoder has keys_tensor but no values_tensor") }
            values = valueTensor.storage
            fallback = try a.tensor("default_tensor")?.storage ?? {
                switch valueTensor.storage {
                case .string: .string(["_Unused"])
                case .int64: .int64([-1])
                case .double: .double([-0.0])
                default: .float([-0.0])
                }
            }()
        } else {
            if a.has("keys_strings") { keys = a.strings("keys_strings").map { .string($0) } }
            else if a.has("keys_int64s") { keys = a.ints("keys_int64s").map { .int($0) } }
            else if a.has("keys_floats") { keys = a.floats("keys_floats").map(LabelKey.of) }
            else { throw ONNXError.message("LabelEncoder has no keys_* attribute") }
            if a.has("values_strings") {
                values = .string(a.strings("values_strings")); fallback = .string([a.string("default_string", default: "_Unused")])
            } else if a.has("values_int64s") {
                values = .int64(a.ints("values_int64s")); fallback = .int64([a["default_int64"]?.int ?? -1])
            } else if a.has("values_floats") {
                values = .float(a.floats("values_floats")); fallback = .float([a.float("default_float", default: -0.0)])
            } else { throw ONNXError.message("LabelEncoder has no values_* attribute") }
        }
        let table = ONNXArray(shape: [keys.count], values)
        guard table.storageCount == keys.count else {
            throw ONNXError.message("LabelEncoder has \(keys.count) keys but \(table.storageCount) values")
        }
        let index = Dictionary(keys.enumerated().map { ($1, $0) }) { first, _ in first }
        // Before opset 4 a NaN key never matches (onnxruntime hashes floats plainly); from 4 on NaN matches NaN.
        let nanMatches = opset >= 4
        // Looked-up values come from the table, misses from the default, by offset into [table..., default].
        let lookup = try ONNXArray.joined([table, ONNXArray(shape: [1], fallback)], shape: [keys.count + 1])
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, "LabelEncoder")
            let inputKeys = try labelKeys(x.storage)
            let nan = LabelKey.of(.nan)
            return [lookup.gathering(inputKeys.map { key in (!nanMatches && key == nan) ? keys.count : index[key] ?? keys.count }, shape: x.shape)]
        }
    }

    static func labelKeys(_ s: ONNXArray.Storage) throws -> [LabelKey] {
        switch s {
        case .string(let v): v.map { .string($0) }
        case .int64(let v): v.map { .int($0) }
        case .float(let v): v.map(LabelKey.of)
        case .double(let v): v.map { LabelKey.of(Float($0)) }
        case .bool: throw ONNXError.message("LabelEncoder does not map booleans")
        }
    }
}

extension ONNXArray {
    /// How many values the storage holds (whatever the shape says).
    var storageCount: Int {
        switch storage {
        case .float(let v): v.count
        case .double(let v): v.count
        case .int64(let v): v.count
        case .string(let v): v.count
        case .bool(let v): v.count
        }
    }
}
