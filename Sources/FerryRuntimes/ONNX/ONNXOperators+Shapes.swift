import FerryCore
import Foundation

/// Operators of the default domain that move, pick, retype or reshape values.
extension ONNXOperators {
    static let shapes: [String: Maker] = [
        "Identity": { _, _ in ONNXKernel { inputs in [try required(inputs, 0, "Identity")] } },
        "Constant": { a, _ in
            let value = try constant(a)
            return ONNXKernel { _ in [value] }
        },
        "Cast": { a, _ in
            guard let to = a.int("to") else { throw ONNXError.message("Cast needs the attribute 'to'") }
            guard ONNXDataType.element(Int32(to)) != nil else {
                throw ONNXError.message("Cast to \(ONNXDataType.name(Int32(to))) is not supported")
            }
            return ONNXKernel { inputs in [try cast(required(inputs, 0, "Cast"), to: Int32(to))] }
        },
        "Shape": { a, _ in
            let start = a.int("start", default: 0), end = a.int("end")
            return ONNXKernel { inputs in
                let shape = try required(inputs, 0, "Shape").shape
                let r = shape.count
                let s = min(max(start < 0 ? start + r : start, 0), r)
                let e = min(max(end.map { $0 < 0 ? $0 + r : $0 } ?? r, 0), r)
                let dims = s < e ? shape[s..<e].map(Int64.init) : []
                return [.int64(dims, shape: [dims.count])]
            }
        },
        "Reshape": { a, _ in
            let allowZero = a.int("allowzero", default: 0) != 0
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Reshape")
                let target = try required(inputs, 1, "Reshape").integers("Reshape's shape").map(Int.init)
                return [x.reshaped(try reshape(x.shape, to: target, allowZero: allowZero))]
            }
        },
        "Flatten": { a, _ in
            let axis = a.int("axis", default: 1)
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Flatten")
                let r = x.shape.count
                guard axis >= -r, axis <= r else { throw ONNXError.message("Flatten axis \(axis) is out of range for rank \(r)") }
                let (outer, inner) = Shape.split(x.shape, at: axis < 0 ? axis + r : axis)
                return [x.reshaped([outer, inner])]
            }
        },
        "Squeeze": { a, opset in
            let attribute = a.ints("axes").map(Int.init)
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Squeeze")
                var axes = attribute
                if opset >= 13, inputs.count > 1, let given = inputs[1] { axes = try given.integers("Squeeze's axes").map(Int.init) }
                let r = x.shape.count
                let drop = axes.isEmpty ? Set(x.shape.indices.filter { x.shape[$0] == 1 }) : Set(try axes.map { try axis($0, rank: r) })
                for d in drop where x.shape[d] != 1 {
                    throw ONNXError.message("Squeeze axis \(d) has size \(x.shape[d]), not 1")
                }
                return [x.reshaped(x.shape.indices.filter { !drop.contains($0) }.map { x.shape[$0] })]
            }
        },
        "Unsqueeze": { a, opset in
            let attribute = a.ints("axes").map(Int.init)
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Unsqueeze")
                var axes = attribute
                if opset >= 13 { axes = try required(inputs, 1, "Unsqueeze").integers("Unsqueeze's axes").map(Int.init) }
                let rank = x.shape.count + axes.count
                let added = Set(try axes.map { try axis($0, rank: rank) })
                guard added.count == axes.count else { throw ONNXError.message("Unsqueeze axes \(axes) repeat an axis") }
                var shape: [Int] = []
                var source = x.shape.makeIterator()
                for d in 0..<rank { shape.append(added.contains(d) ? 1 : source.next()!) }
                return [x.reshaped(shape)]
            }
        },
        "Concat": { a, _ in
            guard let axis = a.int("axis") else { throw ONNXError.message("Concat needs the attribute 'axis'") }
            return ONNXKernel { inputs in [try concat(inputs.compactMap { $0 }, axis: axis)] }
        },
        "Gather": { a, _ in
            let axis = a.int("axis", default: 0)
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Gather")
                let indices = try required(inputs, 1, "Gather")
                let a = try Self.axis(axis, rank: x.shape.count)
                let (outer, n, inner) = around(x.shape, axis: a)
                let picked = try indices.integers("Gather's indices").map { i -> Int in
                    guard i >= -Int64(n), i < Int64(n) else { throw ONNXError.message("Gather index \(i) is out of range for axis size \(n)") }
                    return Int(i < 0 ? i + Int64(n) : i)
                }
                var offsets: [Int] = []
                offsets.reserveCapacity(outer * picked.count * inner)
                for o in 0..<outer { for j in picked { for i in 0..<inner { offsets.append(o * n * inner + j * inner + i) } } }
                let shape = Array(x.shape[..<a]) + indices.shape + Array(x.shape[(a + 1)...])
                return [x.gathering(offsets, shape: shape)]
            }
        },
        "Slice": { a, opset in
            let attributes = (a.ints("starts"), a.ints("ends"), a.ints("axes"))
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "Slice")
                if opset < 10 {
                    return [try slice(x, starts: attributes.0, ends: attributes.1, axes: attributes.2.isEmpty ? nil : attributes.2, steps: nil)]
                }
                func optional(_ i: Int, _ what: String) throws -> [Int64]? {
                    i < inputs.count ? try inputs[i]?.integers("Slice's \(what)") : nil
                }
                return [try slice(
                    x, starts: try required(inputs, 1, "Slice").integers("Slice's starts"),
                    ends: try required(inputs, 2, "Slice").integers("Slice's ends"),
                    axes: try optional(3, "axes"), steps: try optional(4, "steps"))]
            }
        },
    ]

    static func constant(_ a: ONNXAttributes) throws -> ONNXArray {
        if let t = try a.tensor("value") { return t }
        if let f = a["value_float"]?.float { return .float([f], shape: []) }
        if a.has("value_floats") { let v = a.floats("value_floats"); return .float(v, shape: [v.count]) }
        if let i = a["value_int"]?.int { return .int64([i], shape: []) }
        if a.has("value_ints") { let v = a.ints("value_ints"); return .int64(v, shape: [v.count]) }
        if let s = a.string("value_string") { return ONNXArray(shape: [], .string([s])) }
        if a.has("value_strings") { let v = a.strings("value_strings"); return ONNXArray(shape: [v.count], .string(v)) }
        throw ONNXError.message("Constant has no value attribute Ferry reads (value, value_float(s), value_int(s), value_string(s))")
    }

    static func reshape(_ shape: [Int], to target: [Int], allowZero: Bool) throws -> [Int] {
        var out = target
        for (i, d) in target.enumerated() where d == 0 && !allowZero {
            guard i < shape.count else { throw ONNXError.message("Reshape copies dimension \(i) of a rank-\(shape.count) tensor") }
            out[i] = shape[i]
        }
        let count = Shape.count(shape)
        let unknown = out.indices.filter { out[$0] == -1 }
        guard unknown.count <= 1, out.allSatisfy({ $0 >= -1 }) else { throw ONNXError.message("Reshape target \(target) is not a valid shape") }
        if let u = unknown.first {
            let known = out.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else { throw ONNXError.message("cannot reshape \(shape) to \(target)") }
            out[u] = count / known
        }
        guard Shape.count(out) == count else { throw ONNXError.message("cannot reshape \(shape) (\(count) values) to \(target)") }
        return out
    }

    static func concat(_ parts: [ONNXArray], axis: Int) throws -> ONNXArray {
        guard let first = parts.first else { throw ONNXError.message("Concat needs at least one input") }
        let rank = first.shape.count
        let a = try Self.axis(axis, rank: rank)
        for p in parts where p.shape.count != rank || p.shape.indices.contains(where: { $0 != a && p.shape[$0] != first.shape[$0] }) {
            throw ONNXError.message("Concat on axis \(a) of shapes \(parts.map(\.shape)) that differ off that axis")
        }
        let outer = first.shape[..<a].reduce(1, *)
        let blocks = parts.map { $0.shape[a...].reduce(1, *) }
        let joined = try ONNXArray.joined(parts, shape: [parts.reduce(0) { $0 + $1.count }])
        var starts: [Int] = []
        var total = 0
        for p in parts { starts.append(total); total += p.count }
        var offsets: [Int] = []
        offsets.reserveCapacity(total)
        for o in 0..<outer {
            for (k, block) in blocks.enumerated() { for e in 0..<block { offsets.append(starts[k] + o * block + e) } }
        }
        var shape = first.shape
        shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        return joined.gathering(offsets, shape: shape)
    }

    static func slice(_ x: ONNXArray, starts: [Int64], ends: [Int64], axes: [Int64]?, steps: [Int64]?) throws -> ONNXArray {
        guard starts.count == ends.count, axes.map({ $0.count == starts.count }) ?? true, steps.map({ $0.count == starts.count }) ?? true else {
            throw ONNXError.message("Slice's starts, ends, axes and steps must have the same length")
        }
        let rank = x.shape.count
        var begin = [Int](repeating: 0, count: rank)
        var stride = [Int](repeating: 1, count: rank)
        var shape = x.shape
        for k in starts.indices {
            let d = try axis(Int(axes?[k] ?? Int64(k)), rank: rank, "Slice axis")
            let size = Int64(x.shape[d])
            let step = steps?[k] ?? 1
            guard step != 0 else { throw ONNXError.message("Slice step 0") }
            var s = starts[k] < 0 ? starts[k] + size : starts[k]
            var e = ends[k] < 0 ? ends[k] + size : ends[k]
            if step > 0 {
                s = min(max(s, 0), size)
                e = min(max(e, 0), size)
                shape[d] = e > s ? Int((e - s + step - 1) / step) : 0
            } else {
                s = min(max(s, 0), size - 1)
                e = min(max(e, -1), size - 1)
                shape[d] = s > e ? Int((s - e + (-step) - 1) / (-step)) : 0
            }
            begin[d] = Int(s)
            stride[d] = Int(step)
        }
        var strides = [Int](repeating: 1, count: rank)
        for d in (0..<max(rank - 1, 0)).reversed() { strides[d] = strides[d + 1] * x.shape[d + 1] }
        let count = Shape.count(shape)
        var offsets: [Int] = []
        offsets.reserveCapacity(count)
        var index = [Int](repeating: 0, count: rank)
        for _ in 0..<count {
            var o = 0
            for d in 0..<rank { o += (begin[d] + index[d] * stride[d]) * strides[d] }
            offsets.append(o)
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return x.gathering(offsets, shape: shape)
    }

    /// A number as onnxruntime's Cast writes it: `%.8g` (for double too), NaN, INF and -INF.
    static func text(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-INF" : "INF" }
        return String(format: "%.8g", d)
    }

    static func cast(_ x: ONNXArray, to code: Int32) throws -> ONNXArray {
        let target = ONNXDataType.element(code)!
        func integer(_ d: Double) -> Int64 {
            guard d.isFinite, d > -9.223372036854775808e18, d < 9.223372036854775808e18 else { return .min }
            return Int64(d)
        }
        /// Narrow integer types wrap as a C cast does.
        func narrowed(_ v: Int64) -> Int64 {
            switch code {
            case 2: Int64(UInt8(truncatingIfNeeded: v))
            case 3: Int64(Int8(truncatingIfNeeded: v))
            case 4: Int64(UInt16(truncatingIfNeeded: v))
            case 5: Int64(Int16(truncatingIfNeeded: v))
            case 6: Int64(Int32(truncatingIfNeeded: v))
            case 12: Int64(UInt32(truncatingIfNeeded: v))
            default: v
            }
        }
        let doubles: [Double]?
        switch x.storage {
        case .float(let v): doubles = v.map(Double.init)
        case .double(let v): doubles = v
        case .int64(let v): doubles = nil; if target == .int64 { return .int64(v.map(narrowed), shape: x.shape) }
        case .bool(let v): doubles = v.map { $0 ? 1 : 0 }
        case .string(let v):
            if target == .string { return x }
            doubles = try v.map { s in
                guard let d = Double(s.trimmingCharacters(in: .whitespaces)) else {
                    throw ONNXError.message("Cast cannot read '\(s)' as a number")
                }
                return d
            }
        }
        switch target {
        case .float:
            if case .int64(let v) = x.storage { return .float(v.map(Float.init), shape: x.shape) }
            return .float(doubles!.map(Float.init), shape: x.shape)
        case .double:
            if case .int64(let v) = x.storage { return ONNXArray(shape: x.shape, .double(v.map(Double.init))) }
            return ONNXArray(shape: x.shape, .double(doubles!))
        case .int64: return .int64(doubles!.map { narrowed(integer($0)) }, shape: x.shape)
        case .bool:
            if case .int64(let v) = x.storage { return .bool(v.map { $0 != 0 }, shape: x.shape) }
            return .bool(doubles!.map { $0 != 0 }, shape: x.shape)
        case .string:
            let strings: [String] = switch x.storage {
            case .float(let v): v.map { text(Double($0)) }
            case .double(let v): v.map { text($0) }
            case .int64(let v): v.map { "\($0)" }
            case .bool(let v): v.map { $0 ? "1" : "0" }
            case .string(let v): v
            }
            return ONNXArray(shape: x.shape, .string(strings))
        }
    }
}
