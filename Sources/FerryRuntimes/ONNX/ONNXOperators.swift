import FerryCore

/// The operators Ferry runs, by domain, each a maker from a node's attributes (and its domain's opset) to a kernel.
enum ONNXOperators {
    typealias Maker = @Sendable (ONNXAttributes, Int) throws -> ONNXKernel

    /// The newest operator set of each domain whose semantics Ferry implements.
    static let newestOpsets: [String: Int] = ["": 23, "ai.onnx.ml": 5]

    static let standard: [String: Maker] = math.merging(shapes) { a, _ in a }
    static let ml: [String: Maker] = preprocessing.merging(models) { a, _ in a }

    static func kernel(for node: ONNXModelFile.Node, opset: Int) throws -> ONNXKernel {
        let table: [String: Maker] = switch node.domain {
        case "": standard
        case "ai.onnx.ml": ml
        default: [:]
        }
        guard let make = table[node.opType] else {
            let domain = node.domain.isEmpty ? "ai.onnx" : node.domain
            throw ONNXError.message("operator \(node.opType) of domain \(domain) is not supported; Ferry runs "
                + "\(standard.keys.sorted().joined(separator: ", ")) and from ai.onnx.ml \(ml.keys.sorted().joined(separator: ", "))")
        }
        return try make(ONNXAttributes(node: node), opset)
    }
}

// MARK: - Helpers shared by the kernels

extension ONNXOperators {
    /// The input at `index`, which the operator requires.
    static func required(_ inputs: [ONNXArray?], _ index: Int, _ op: String) throws -> ONNXArray {
        guard index < inputs.count, let value = inputs[index] else {
            throw ONNXError.message("\(op) needs input \(index)")
        }
        return value
    }

    /// An axis in `-rank..<rank`, made non-negative.
    static func axis(_ axis: Int, rank: Int, _ what: String = "axis") throws -> Int {
        guard axis >= -rank, axis < max(rank, 1) else {
            throw ONNXError.message("\(what) \(axis) is out of range for a tensor of rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }
}

/// NumPy-style (multidirectional) broadcasting.
enum Broadcast {
    static func shape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            for (i, d) in s.enumerated() {
                let o = rank - s.count + i
                if out[o] == 1 { out[o] = d } else if d != 1 && d != out[o] {
                    throw ONNXError.message("shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) do not broadcast")
                }
            }
        }
        return out
    }

    /// For each element of a tensor of shape `out` (row-major), the offset of the element of a tensor of `shape`
    /// broadcast to it; nil when the shapes are equal (the offset is the index).
    static func offsets(_ shape: [Int], to out: [Int]) -> [Int]? {
        if shape == out { return nil }
        let count = out.reduce(1, *)
        if shape.reduce(1, *) == 1 { return [Int](repeating: 0, count: count) }
        let rank = out.count
        var strides = [Int](repeating: 0, count: rank)
        var step = 1
        for i in (0..<shape.count).reversed() {
            let o = rank - shape.count + i
            strides[o] = shape[i] == 1 ? 0 : step
            step *= shape[i]
        }
        var result = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for e in 0..<count {
            result[e] = offset
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                offset += strides[d]
                if index[d] < out[d] { break }
                offset -= strides[d] * index[d]
                index[d] = 0
                d -= 1
            }
        }
        return result
    }

    /// `f` over two arrays broadcast against each other.
    static func zip<A, B, R>(_ a: [A], _ aShape: [Int], _ b: [B], _ bShape: [Int], _ f: (A, B) throws -> R) throws -> ([R], [Int]) {
        let out = try shape([aShape, bShape])
        let ia = offsets(aShape, to: out)
        let ib = offsets(bShape, to: out)
        let count = out.reduce(1, *)
        var result: [R] = []
        result.reserveCapacity(count)
        for e in 0..<count { result.append(try f(a[ia?[e] ?? e], b[ib?[e] ?? e])) }
        return (result, out)
    }
}

/// Row-major shape arithmetic.
enum Shape {
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The product of the dimensions before `axis` and from `axis` on.
    static func split(_ shape: [Int], at axis: Int) -> (outer: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *))
    }
}
