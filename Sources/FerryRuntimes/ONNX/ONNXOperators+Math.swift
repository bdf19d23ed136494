import FerryCore
import Foundation

/// Arithmetic, comparisons, activations, reductions and matrix products of the default (ai.onnx) domain.
extension ONNXOperators {
    static let math: [String: Maker] = [
        "Add": { _, _ in arithmetic("Add", { $0 + $1 }, { $0 + $1 }, { a, b in a &+ b }) },
        "Sub": { _, _ in arithmetic("Sub", { $0 - $1 }, { $0 - $1 }, { a, b in a &- b }) },
        "Mul": { _, _ in arithmetic("Mul", { $0 * $1 }, { $0 * $1 }, { a, b in a &* b }) },
        "Div": { _, _ in
            arithmetic("Div", { $0 / $1 }, { $0 / $1 }) { a, b in
                guard b != 0 else { throw ONNXError.message("integer division by zero") }
                return a.dividedReportingOverflow(by: b).partialValue
            }
        },
        "Pow": { _, _ in ONNXKernel { inputs in [try power(required(inputs, 0, "Pow"), required(inputs, 1, "Pow"))] } },
        "Abs": { _, _ in unary("Abs", { abs($0) }, { abs($0) }, { $0 == .min ? $0 : abs($0) }) },
        "Relu": { _, _ in unary("Relu", { max($0, 0) }, { max($0, 0) }, { max($0, 0) }) },
        "Exp": { _, _ in unary("Exp", { Foundation.exp($0) }, { Foundation.exp($0) }) },
        "Log": { _, _ in unary("Log", { Foundation.log($0) }, { Foundation.log($0) }) },
        "Sqrt": { _, _ in unary("Sqrt", { $0.squareRoot() }, { $0.squareRoot() }) },
        "Tanh": { _, _ in unary("Tanh", { Foundation.tanh($0) }, { Foundation.tanh($0) }) },
        "Sigmoid": { _, _ in unary("Sigmoid", { sigmoid($0) }, { 1 / (1 + Foundation.exp(-$0)) }) },
        "Not": { _, _ in
            ONNXKernel { inputs in
                let x = try required(inputs, 0, "Not")
                guard case .bool(let v) = x.storage else { throw ONNXError.type("Not", "a bool tensor", x.element.rawValue) }
                return [.bool(v.map { !$0 }, shape: x.shape)]
            }
        },
        "Equal": { _, _ in comparison("Equal", { $0 == $1 }, { $0 == $1 }, { $0 == $1 }, strings: { $0 == $1 }, bools: { $0 == $1 }) },
        "Less": { _, _ in comparison("Less", { $0 < $1 }, { $0 < $1 }, { $0 < $1 }) },
        "Greater": { _, _ in comparison("Greater", { $0 > $1 }, { $0 > $1 }, { $0 > $1 }) },
        "Where": { _, _ in ONNXKernel { inputs in [try select(inputs)] } },
        "MatMul": { _, _ in ONNXKernel { inputs in [try matmul(required(inputs, 0, "MatMul"), required(inputs, 1, "MatMul"))] } },
        "Gemm": { a, _ in gemm(a) },
        "Softmax": { a, opset in
            let axis = a.int("axis", default: opset >= 13 ? -1 : 1)
            return ONNXKernel { inputs in [try softmax(required(inputs, 0, "Softmax"), axis: axis, coerce2D: opset < 13)] }
        },
        "ArgMax": { a, _ in
            let axis = a.int("axis", default: 0), keep = a.int("keepdims", default: 1) != 0
            let last = a.int("select_last_index", default: 0) != 0
            return ONNXKernel { inputs in [try argMax(required(inputs, 0, "ArgMax"), axis: axis, keepDims: keep, last: last)] }
        },
        "ReduceSum": { a, opset in reduce("ReduceSum", a, axesAsInput: opset >= 13, mean: false) },
        "ReduceMean": { a, opset in reduce("ReduceMean", a, axesAsInput: opset >= 18, mean: true) },
        "TopK": { a, opset in
            let axis = a.int("axis", default: -1)
            let largest = a.int("largest", default: 1) != 0
            let k = opset < 10 ? a.int("k") : nil
            return ONNXKernel { inputs in try topK(inputs, axis: axis, largest: largest, k: k) }
        },
    ]

    // MARK: Element-wise

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    static func unary(
        _ op: String, _ f: @escaping @Sendable (Float) -> Float, _ d: @escaping @Sendable (Double) -> Double,
        _ i: (@Sendable (Int64) -> Int64)? = nil
    ) -> ONNXKernel {
        ONNXKernel { inputs in
            let x = try required(inputs, 0, op)
            switch x.storage {
            case .float(let v): return [ONNXArray(shape: x.shape, .float(v.map(f)))]
            case .double(let v): return [ONNXArray(shape: x.shape, .double(v.map(d)))]
            case .int64(let v) where i != nil: return [ONNXArray(shape: x.shape, .int64(v.map(i!)))]
            default: throw ONNXError.type(op, "a number tensor", x.element.rawValue)
            }
        }
    }

    static func arithmetic(
        _ op: String, _ f: @escaping @Sendable (Float, Float) -> Float, _ d: @escaping @Sendable (Double, Double) -> Double,
        _ i: @escaping @Sendable (Int64, Int64) throws -> Int64
    ) -> ONNXKernel {
        ONNXKernel { inputs in
            let a = try required(inputs, 0, op), b = try required(inputs, 1, op)
            switch (a.storage, b.storage) {
            case (.float(let x), .float(let y)):
                if a.shape == b.shape {
                    var out = [Float](repeating: 0, count: x.count)
                    for e in 0..<x.count { out[e] = f(x[e], y[e]) }
                    return [.float(out, shape: a.shape)]
                }
                // A bias or scale row added to every row ([N, C] with [C] or [1, C]): no offsets to compute.
                if !y.isEmpty, b.shape.count <= a.shape.count, Array(a.shape.suffix(b.shape.count)) == b.shape
                    || (b.shape.first == 1 && Array(a.shape.suffix(b.shape.count - 1)) == Array(b.shape.dropFirst())) {
                    var out = [Float](repeating: 0, count: x.count)
                    let c = y.count
                    for start in stride(from: 0, to: x.count, by: c) { for j in 0..<c { out[start + j] = f(x[start + j], y[j]) } }
                    return [.float(out, shape: a.shape)]
                }
                let (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, f)
                return [.float(v, shape: s)]
            case (.double(let x), .double(let y)):
                let (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, d)
                return [ONNXArray(shape: s, .double(v))]
            case (.int64(let x), .int64(let y)):
                let (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, i)
                return [.int64(v, shape: s)]
            default:
                throw ONNXError.message("\(op) takes two tensors of one number type, got \(a.element.rawValue) and \(b.element.rawValue)")
            }
        }
    }

    static func power(_ a: ONNXArray, _ b: ONNXArray) throws -> ONNXArray {
        func exponents() throws -> [Double] {
            switch b.storage {
            case .float(let v): v.map(Double.init)
            case .double(let v): v
            case .int64(let v): v.map(Double.init)
            default: throw ONNXError.type("Pow", "a number exponent", b.element.rawValue)
            }
        }
        let e = try exponents()
        switch a.storage {
        case .float(let x):
            let (v, s) = try Broadcast.zip(x, a.shape, e, b.shape) { Float(Foundation.pow(Double($0), $1)) }
            return .float(v, shape: s)
        case .double(let x):
            let (v, s) = try Broadcast.zip(x, a.shape, e, b.shape) { Foundation.pow($0, $1) }
            return ONNXArray(shape: s, .double(v))
        case .int64(let x):
            let (v, s) = try Broadcast.zip(x, a.shape, e, b.shape) { base, exp -> Int64 in
                let p = Foundation.pow(Double(base), exp)
                return p.isFinite && abs(p) < 9.2e18 ? Int64(p) : .min
            }
            return .int64(v, shape: s)
        default: throw ONNXError.type("Pow", "a number base", a.element.rawValue)
        }
    }

    static func comparison(
        _ op: String, _ f: @escaping @Sendable (Float, Float) -> Bool, _ d: @escaping @Sendable (Double, Double) -> Bool,
        _ i: @escaping @Sendable (Int64, Int64) -> Bool, strings: (@Sendable (String, String) -> Bool)? = nil,
        bools: (@Sendable (Bool, Bool) -> Bool)? = nil
    ) -> ONNXKernel {
        ONNXKernel { inputs in
            let a = try required(inputs, 0, op), b = try required(inputs, 1, op)
            let (v, s): ([Bool], [Int])
            switch (a.storage, b.storage) {
            case (.float(let x), .float(let y)): (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, f)
            case (.double(let x), .double(let y)): (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, d)
            case (.int64(let x), .int64(let y)): (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, i)
            case (.string(let x), .string(let y)) where strings != nil: (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, strings!)
            case (.bool(let x), .bool(let y)) where bools != nil: (v, s) = try Broadcast.zip(x, a.shape, y, b.shape, bools!)
            default:
                throw ONNXError.message("\(op) cannot compare \(a.element.rawValue) with \(b.element.rawValue)")
            }
            return [.bool(v, shape: s)]
        }
    }

    static func select(_ inputs: [ONNXArray?]) throws -> ONNXArray {
        let c = try required(inputs, 0, "Where"), x = try required(inputs, 1, "Where"), y = try required(inputs, 2, "Where")
        guard case .bool(let condition) = c.storage else { throw ONNXError.type("Where", "a bool condition", c.element.rawValue) }
        guard x.element == y.element else {
            throw ONNXError.message("Where takes X and Y of one type, got \(x.element.rawValue) and \(y.element.rawValue)")
        }
        let out = try Broadcast.shape([c.shape, x.shape, y.shape])
        let ic = Broadcast.offsets(c.shape, to: out), ix = Broadcast.offsets(x.shape, to: out), iy = Broadcast.offsets(y.shape, to: out)
        let count = Shape.count(out)
        // Pick from X and Y by offset into one joined array: X's elements first, then Y's.
        let joined = try ONNXArray.joined([x, y], shape: [x.count + y.count])
        let picks = (0..<count).map { e in condition[ic?[e] ?? e] ? (ix?[e] ?? e) : x.count + (iy?[e] ?? e) }
        return joined.gathering(picks, shape: out)
    }

    // MARK: Matrix products

    static func matmul(_ a: ONNXArray, _ b: ONNXArray) throws -> ONNXArray {
        guard a.shape.count >= 1, b.shape.count >= 1, b.shape.count <= 2 else {
            throw ONNXError.message("MatMul of shapes \(a.shape) and \(b.shape) is not supported (B must be 1-D or 2-D)")
        }
        let k = a.shape.last!
        let bRows = b.shape.count == 1 ? b.shape[0] : b.shape[0]
        let n = b.shape.count == 1 ? 1 : b.shape[1]
        guard bRows == k else { throw ONNXError.message("MatMul: A \(a.shape) and B \(b.shape) do not align (\(k) vs \(bRows))") }
        let m = k == 0 ? Shape.count(Array(a.shape.dropLast())) : a.count / k
        var shape = Array(a.shape.dropLast())
        if b.shape.count == 2 { shape.append(n) }
        switch (a.storage, b.storage) {
        case (.float(let x), .float(let y)): return .float(product(x, y, m: m, k: k, n: n), shape: shape)
        case (.double(let x), .double(let y)): return ONNXArray(shape: shape, .double(product(x, y, m: m, k: k, n: n)))
        case (.int64(let x), .int64(let y)): return .int64(product(x, y, m: m, k: k, n: n), shape: shape)
        default: throw ONNXError.message("MatMul takes two tensors of one number type, got \(a.element.rawValue) and \(b.element.rawValue)")
        }
    }

    /// `x` [m, k] times `y` [k, n], row by row (the inner loop runs along a row of `y`, which vectorizes); with
    /// `transposeY` (`y` is [n, k], as linear models keep their coefficients) each output is a dot product of two
    /// contiguous rows.
    static func product<T: Numeric>(_ x: [T], _ y: [T], m: Int, k: Int, n: Int, transposeX: Bool = false, transposeY: Bool = false) -> [T] {
        var out = [T](repeating: 0, count: m * n)
        if transposeY && !transposeX {
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    out.withUnsafeMutableBufferPointer { out in
                        for i in 0..<m {
                            let row = x.baseAddress! + i * k
                            for j in 0..<n {
                                let column = y.baseAddress! + j * k
                                var sum: T = 0
                                for p in 0..<k { sum += row[p] * column[p] }
                                out[i * n + j] = sum
                            }
                        }
                    }
                }
            }
            return out
        }
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                out.withUnsafeMutableBufferPointer { out in
                    for i in 0..<m {
                        let row = out.baseAddress! + i * n
                        for p in 0..<k {
                            let a = transposeX ? x[p * m + i] : x[i * k + p]
                            if transposeY {
                                for j in 0..<n { row[j] += a * y[j * k + p] }
                            } else {
                                let yRow = y.baseAddress! + p * n
                                for j in 0..<n { row[j] += a * yRow[j] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func gemm(_ a: ONNXAttributes) -> ONNXKernel {
        let alpha = a.float("alpha", default: 1), beta = a.float("beta", default: 1)
        let transA = a.int("transA", default: 0) != 0, transB = a.int("transB", default: 0) != 0
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, "Gemm"), y = try required(inputs, 1, "Gemm")
            guard x.shape.count == 2, y.shape.count == 2 else {
                throw ONNXError.message("Gemm takes 2-D A and B, got \(x.shape) and \(y.shape)")
            }
            let (m, k) = transA ? (x.shape[1], x.shape[0]) : (x.shape[0], x.shape[1])
            let (k2, n) = transB ? (y.shape[1], y.shape[0]) : (y.shape[0], y.shape[1])
            guard k == k2 else { throw ONNXError.message("Gemm: A \(x.shape) and B \(y.shape) do not align") }
            let c = inputs.count > 2 ? inputs[2] : nil
            func combine<T: BinaryFloatingPoint>(_ p: [T], _ cv: [T]?, _ alpha: T, _ beta: T) throws -> [T] {
                var out = p
                if alpha != 1 { for e in out.indices { out[e] *= alpha } }
                if let cv, let c {
                    guard (try? Broadcast.shape([c.shape, [m, n]])) == [m, n] else {
                        throw ONNXError.message("Gemm: C of shape \(c.shape) does not broadcast to [\(m), \(n)]")
                    }
                    let ic = Broadcast.offsets(c.shape, to: [m, n])
                    for e in out.indices { out[e] += beta * cv[ic?[e] ?? e] }
                }
                return out
            }
            switch (x.storage, y.storage) {
            case (.float(let xv), .float(let yv)):
                let p = product(xv, yv, m: m, k: k, n: n, transposeX: transA, transposeY: transB)
                return [.float(try combine(p, try c?.floats("Gemm"), alpha, beta), shape: [m, n])]
            case (.double(let xv), .double(let yv)):
                let p = product(xv, yv, m: m, k: k, n: n, transposeX: transA, transposeY: transB)
                var cv: [Double]?
                if let c { guard case .double(let v) = c.storage else { throw ONNXError.type("Gemm", "a double C", c.element.rawValue) }; cv = v }
                return [ONNXArray(shape: [m, n], .double(try combine(p, cv, Double(alpha), Double(beta))))]
            default:
                throw ONNXError.message("Gemm takes float or double A and B, got \(x.element.rawValue) and \(y.element.rawValue)")
            }
        }
    }

    // MARK: Softmax, ArgMax, TopK

    static func softmax(_ x: ONNXArray, axis: Int, coerce2D: Bool) throws -> ONNXArray {
        let rank = x.shape.count
        let a = try Self.axis(axis, rank: rank)
        let (outer, n, inner): (Int, Int, Int) = coerce2D
            ? (Shape.split(x.shape, at: a).outer, Shape.split(x.shape, at: a).inner, 1)
            : (x.shape[..<a].reduce(1, *), rank == 0 ? 1 : x.shape[a], x.shape.count > a + 1 ? x.shape[(a + 1)...].reduce(1, *) : 1)
        func run<T: BinaryFloatingPoint & ElementaryFunctions>(_ v: [T]) -> [T] {
            var out = v
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var m = -T.infinity
                    for j in 0..<n { m = max(m, v[base + j * inner]) }
                    var sum: T = 0
                    for j in 0..<n {
                        let e = T.exp(v[base + j * inner] - m)
                        out[base + j * inner] = e
                        sum += e
                    }
                    for j in 0..<n { out[base + j * inner] /= sum }
                }
            }
            return out
        }
        switch x.storage {
        case .float(let v): return .float(run(v), shape: x.shape)
        case .double(let v): return ONNXArray(shape: x.shape, .double(run(v)))
        default: throw ONNXError.type("Softmax", "a float tensor", x.element.rawValue)
        }
    }

    /// Positions along `axis`: (outer, n, inner) such that element (o, j, i) is at o·n·inner + j·inner + i.
    static func around(_ shape: [Int], axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    static func argMax(_ x: ONNXArray, axis: Int, keepDims: Bool, last: Bool) throws -> ONNXArray {
        let a = try Self.axis(axis, rank: x.shape.count)
        let (outer, n, inner) = around(x.shape, axis: a)
        let values = try x.numbers("ArgMax")
        var out: [Int64] = []
        out.reserveCapacity(outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                for j in 1..<max(n, 1) {
                    let v = values[o * n * inner + j * inner + i], b = values[o * n * inner + best * inner + i]
                    if v > b || (last && v == b) { best = j }
                }
                out.append(Int64(best))
            }
        }
        var shape = x.shape
        if keepDims { shape[a] = 1 } else { shape.remove(at: a) }
        return .int64(out, shape: shape)
    }

    static func topK(_ inputs: [ONNXArray?], axis: Int, largest: Bool, k fixed: Int?) throws -> [ONNXArray] {
        let x = try required(inputs, 0, "TopK")
        let k: Int
        if let fixed { k = fixed } else {
            let kv = try required(inputs, 1, "TopK").integers("TopK's K")
            guard kv.count == 1 else { throw ONNXError.message("TopK's K must hold one value") }
            k = Int(kv[0])
        }
        let a = try Self.axis(axis, rank: x.shape.count)
        let (outer, n, inner) = around(x.shape, axis: a)
        guard k >= 0, k <= n else { throw ONNXError.message("TopK's K \(k) is outside 0...\(n)") }
        let values = try x.numbers("TopK")
        var picks: [Int] = []
        var indices: [Int64] = []
        var shape = x.shape
        shape[a] = k
        picks.reserveCapacity(outer * k * inner)
        var slots = [Int](repeating: 0, count: outer * k * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                let at = { (j: Int) in o * n * inner + j * inner + i }
                // Stable: equal values keep the lower index first, as onnxruntime does.
                let order = (0..<n).sorted { p, q in
                    let vp = values[at(p)], vq = values[at(q)]
                    if vp != vq { return largest ? vp > vq : vp < vq }
                    return p < q
                }
                for (r, j) in order.prefix(k).enumerated() { slots[o * k * inner + r * inner + i] = j }
            }
        }
        for o in 0..<outer {
            for r in 0..<k {
                for i in 0..<inner {
                    let j = slots[o * k * inner + r * inner + i]
                    picks.append(o * n * inner + j * inner + i)
                    indices.append(Int64(j))
                }
            }
        }
        return [x.gathering(picks, shape: shape), .int64(indices, shape: shape)]
    }

    // MARK: Reductions

    static func reduce(_ op: String, _ a: ONNXAttributes, axesAsInput: Bool, mean: Bool) -> ONNXKernel {
        let keep = a.int("keepdims", default: 1) != 0
        let noop = a.int("noop_with_empty_axes", default: 0) != 0
        let attributeAxes = a.ints("axes").map(Int.init)
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, op)
            var axes = attributeAxes
            if axesAsInput, inputs.count > 1, let given = inputs[1] { axes = try given.integers("\(op)'s axes").map(Int.init) }
            if axes.isEmpty && noop { return [x] }
            let rank = x.shape.count
            let reduced = axes.isEmpty ? Set(0..<rank) : Set(try axes.map { try axis($0, rank: rank, "\(op) axis") })
            let values = try x.floats(op).map(Double.init)
            var outShape: [Int] = []
            for (d, size) in x.shape.enumerated() {
                if reduced.contains(d) { if keep { outShape.append(1) } } else { outShape.append(size) }
            }
            let keptShape = x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
            let outCount = Shape.count(keptShape)
            var sums = [Double](repeating: 0, count: outCount)
            // Each input element adds into the output element with the reduced coordinates set to 0.
            var index = [Int](repeating: 0, count: rank)
            var keptStrides = [Int](repeating: 0, count: rank)
            var step = 1
            for d in (0..<rank).reversed() { keptStrides[d] = reduced.contains(d) ? 0 : step; step *= keptShape[d] }
            for e in 0..<values.count {
                var o = 0
                for d in 0..<rank { o += index[d] * keptStrides[d] }
                sums[o] += values[e]
                var d = rank - 1
                while d >= 0 { index[d] += 1; if index[d] < x.shape[d] { break }; index[d] = 0; d -= 1 }
            }
            let n = Double(max(values.count / max(outCount, 1), 1))
            if mean { for o in sums.indices { sums[o] /= n } }
            switch x.storage {
            case .double: return [ONNXArray(shape: outShape, .double(sums))]
            case .int64: return [.int64(sums.map { Int64($0) }, shape: outShape)]
            default: return [.float(sums.map(Float.init), shape: outShape)]
            }
        }
    }
}

/// exp for both float widths, so one generic softmax serves them.
protocol ElementaryFunctions {
    static func exp(_ x: Self) -> Self
}

extension Float: ElementaryFunctions {
    static func exp(_ x: Float) -> Float { Foundation.exp(x) }
}

extension Double: ElementaryFunctions {
    static func exp(_ x: Double) -> Double { Foundation.exp(x) }
}
