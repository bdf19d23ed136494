/// Turning wire inputs into a feature matrix, checking every value against the schema on the way.
///
/// Two V2 layouts are accepted, with the names model metadata advertises: one 2-D tensor `input` of shape `[N, F]`
/// whose columns are the features in schema order, or one tensor per feature named after it, each `[N]` or
/// `[N, 1]`. Any other name is refused by name. V1 instances are rows, either in schema order or keyed by feature
/// name.
extension InputSchema {
    /// The canonical name of the single matrix input advertised in model metadata.
    public static let matrixInputName = "input"

    public func matrix(from inputs: [Tensor], limits: InferenceLimits) throws -> FeatureMatrix {
        if let tensors, inputs.contains(where: { input in tensors.contains { $0.name == input.name } }) {
            return try matrix(fromColumns: try splitNamedTensors(inputs, tensors), limits: limits)
        }
        guard !inputs.isEmpty else {
            throw FerryError.invalid("request has no inputs; send one tensor '\(Self.matrixInputName)' of shape [N, \(features.count)] or one tensor per feature")
        }
        let matrixIsAFeature = features.contains { $0.name == Self.matrixInputName }
        if !matrixIsAFeature, let tensor = inputs.first(where: { $0.name == Self.matrixInputName }) {
            if let extra = inputs.first(where: { $0.name != Self.matrixInputName }) {
                throw FerryError.invalid("input '\(extra.name)' is not an input of this model: the matrix input '\(Self.matrixInputName)' [N, \(features.count)] carries every feature, so send no other tensor with it")
            }
            guard inputs.count == 1 else { throw FerryError.invalid("input '\(Self.matrixInputName)' is given twice") }
            return try matrix(fromMatrixTensor: tensor, limits: limits)
        }
        if inputs.count == 1, !features.contains(where: { $0.name == inputs[0].name }) {
            throw FerryError.invalid("input '\(inputs[0].name)' is not an input of this model; send one tensor '\(Self.matrixInputName)' of shape [N, \(features.count)] or one tensor per feature of \(featureList)")
        }
        return try matrix(fromColumns: inputs, limits: limits)
    }

    private func matrix(fromMatrixTensor tensor: Tensor, limits: InferenceLimits) throws -> FeatureMatrix {
        let f = features.count
        let label = "input '\(tensor.name)'"
        guard tensor.shape.count == 2, tensor.shape[1] == f, tensor.shape[0] >= 0 else {
            throw FerryError.invalid("\(label) has shape \(tensor.shape); expected [N, \(f)] (N rows of the features \(featureList))")
        }
        if let text = features.first(where: \.isText) {
            throw FerryError.invalid("\(label) cannot carry feature '\(text.name)', which is text; send one tensor per input of this model")
        }
        let rows = tensor.shape[0]
        try check(rows: rows, elements: rows * f, label: label, limits: limits)
        try checkType(tensor, label: label)
        guard tensor.data.count == rows * f else {
            throw FerryError.invalid("\(label) has shape \(tensor.shape), which needs \(rows * f) values, but it carries \(tensor.data.count)")
        }
        var values = [Double](repeating: 0, count: rows * f)
        try values.withUnsafeMutableBufferPointer { out in
            try fill(out, from: tensor.data, label: label) { index in (index / f, features[index % f]) }
        }
        return FeatureMatrix(rows: rows, columns: f, values: values)
    }

    private func matrix(fromColumns inputs: [Tensor], limits: InferenceLimits) throws -> FeatureMatrix {
        var index: [String: Int] = [:]
        for (i, feature) in features.enumerated() { index[feature.name] = i }
        var columns = [Tensor?](repeating: nil, count: features.count)
        var rows: Int?
        for tensor in inputs {
            let label = "input '\(tensor.name)'"
            guard let column = index[tensor.name] else {
                throw FerryError.invalid("\(label) is not a feature of this model; send one tensor '\(Self.matrixInputName)' of shape [N, \(features.count)] or one tensor per feature of \(featureList)")
            }
            guard columns[column] == nil else { throw FerryError.invalid("\(label) is given twice") }
            guard (tensor.shape.count == 1 || (tensor.shape.count == 2 && tensor.shape[1] == 1)), tensor.shape[0] >= 0 else {
                throw FerryError.invalid("\(label) has shape \(tensor.shape); a per-feature input must be [N] or [N, 1]")
            }
            let n = tensor.shape[0]
            if let rows, rows != n {
                throw FerryError.invalid("\(label) has \(n) rows but other inputs have \(rows); every feature needs the same number of rows")
            }
            rows = n
            if features[column].isText {
                guard tensor.datatype == .bytes else {
                    throw FerryError.invalid("\(label) has datatype \(tensor.datatype.rawValue); feature '\(features[column].name)' is text: send BYTES")
                }
            } else if tensor.datatype != .bytes || features[column].categories == nil {
                try checkType(tensor, label: label)
            }
            guard tensor.data.count == n else {
                throw FerryError.invalid("\(label) has shape \(tensor.shape), which needs \(n) values, but it carries \(tensor.data.count)")
            }
            columns[column] = tensor
        }
        if let absent = columns.indices.first(where: { columns[$0] == nil }) {
            throw FerryError.invalid("feature '\(features[absent].name)' is missing from the inputs; send every feature of \(featureList) (null marks a missing value)")
        }
        let n = rows ?? 0
        let f = features.count
        try check(rows: n, elements: n * f, label: "request", limits: limits)
        var values = [Double](repeating: 0, count: n * f)
        var unseen: [Int] = []
        var texts: [[UInt8]] = []
        for (c, tensor) in columns.enumerated() {
            var converted = [Double](repeating: 0, count: n)
            if case .bytes(let values) = tensor!.data, features[c].isText {
                for r in 0..<n { converted[r] = Double(texts.count); texts.append(values[r]) }
            } else if case .bytes(let names) = tensor!.data, features[c].categories != nil {
                converted = names.map { features[c].code(of: String(decoding: $0, as: UTF8.self)) }
                for r in 0..<n where converted[r].isNaN && !names[r].isEmpty { unseen.append(r * f + c) }
            } else {
                try converted.withUnsafeMutableBufferPointer { out in
                    try fill(out, from: tensor!.data, label: "input '\(tensor!.name)'") { row in (row, features[c]) }
                }
            }
            for r in 0..<n { values[r * f + c] = converted[r] }
        }
        var matrix = FeatureMatrix(rows: n, columns: f, values: values)
        matrix.unseen = unseen
        matrix.texts = texts
        return matrix
    }

    /// The model's named input tensors (each `[N, width]` or `[N]`) cut into one tensor per feature; inputs named
    /// after a feature pass through.
    private func splitNamedTensors(_ inputs: [Tensor], _ tensors: [InputTensor]) throws -> [Tensor] {
        var start: [String: (Int, InputTensor)] = [:]
        var offset = 0
        for t in tensors {
            start[t.name] = (offset, t)
            offset += t.width
        }
        var columns: [Tensor] = []
        for input in inputs {
            guard let (first, spec) = start[input.name], !(spec.width == 1 && features[first].name == input.name && input.shape.count == 1) else {
                columns.append(input)
                continue
            }
            let label = "input '\(input.name)'"
            let expected = "[" + (["N"] + spec.perRowShape.map(String.init)).joined(separator: ", ") + "]"
            let fits = spec.perRowShape.isEmpty
                ? input.shape.count == 1 || (input.shape.count == 2 && input.shape[1] == 1)
                : Array(input.shape.dropFirst()) == spec.perRowShape || (input.shape.count == 2 && input.shape[1] == spec.width)
            guard fits, input.shape[0] >= 0 else {
                throw FerryError.invalid("\(label) has shape \(input.shape); expected \(expected)")
            }
            let rows = input.shape[0]
            guard input.data.count == rows * spec.width else {
                throw FerryError.invalid("\(label) has shape \(input.shape), which needs \(rows * spec.width) values, but it carries \(input.data.count)")
            }
            for j in 0..<spec.width {
                columns.append(Tensor(
                    name: features[first + j].name, datatype: input.datatype, shape: [rows],
                    data: input.data.column(j, of: spec.width)))
            }
        }
        return columns
    }

    public func matrix(from instances: [Instance], limits: InferenceLimits) throws -> FeatureMatrix {
        let f = features.count
        try check(rows: instances.count, elements: instances.count * f, label: "instances", limits: limits)
        var values = [Double](repeating: 0, count: instances.count * f)
        var unseen: [Int] = []
        var texts: [[UInt8]] = []
        var index: [String: Int]?
        for (row, instance) in instances.enumerated() {
            switch instance {
            case .values(let items):
                guard items.count == f else {
                    throw FerryError.invalid("instance \(row) has \(items.count) values; expected \(f) in the order \(featureList)")
                }
                for (c, item) in items.enumerated() {
                    values[row * f + c] = try cell(item, row: row, feature: features[c], texts: &texts)
                    if case .string = item, features[c].categories != nil, values[row * f + c].isNaN { unseen.append(row * f + c) }
                }
            case .named(let fields):
                if index == nil {
                    var map: [String: Int] = [:]
                    for (i, feature) in features.enumerated() { map[feature.name] = i }
                    index = map
                }
                for key in fields.keys where index![key] == nil {
                    throw FerryError.invalid("instance \(row): unknown feature '\(key)'; this model takes \(featureList)")
                }
                for (c, feature) in features.enumerated() {
                    guard let item = fields[feature.name] else {
                        throw FerryError.invalid("instance \(row): feature '\(feature.name)' is missing (send null for a missing value)")
                    }
                    values[row * f + c] = try cell(item, row: row, feature: feature, texts: &texts)
                    if case .string = item, feature.categories != nil, values[row * f + c].isNaN { unseen.append(row * f + c) }
                }
            }
        }
        var matrix = FeatureMatrix(rows: instances.count, columns: f, values: values)
        matrix.unseen = unseen
        matrix.texts = texts
        return matrix
    }

    // MARK: - Checks

    private var featureList: String {
        let names = features.prefix(8).map(\.name).joined(separator: ", ")
        return features.count > 8 ? "[\(names), ... (\(features.count) in all)]" : "[\(names)]"
    }

    private func check(rows: Int, elements: Int, label: String, limits: InferenceLimits) throws {
        if rows > limits.maxRows {
            throw FerryError(.tooLarge, "\(label) has \(rows) rows; the limit is \(limits.maxRows) rows per request")
        }
        if elements > limits.maxElements {
            throw FerryError(.tooLarge, "\(label) has \(elements) values; the limit is \(limits.maxElements) per request")
        }
    }

    private func checkType(_ tensor: Tensor, label: String) throws {
        switch tensor.datatype {
        case .bytes, .fp16, .bf16:
            throw FerryError.invalid("\(label) has datatype \(tensor.datatype.rawValue); this model's features are numeric: send FP32, FP64, INT*, UINT* or BOOL")
        default:
            return
        }
    }

    /// A V1 value as the matrix holds it: a number, a category's code, or a text's index in `texts`.
    private func cell(_ item: FeatureValue, row: Int, feature: FeatureSpec, texts: inout [[UInt8]]) throws -> Double {
        guard feature.isText else { return try number(item, row: row, feature: feature) }
        switch item {
        case .string(let s):
            texts.append(Array(s.utf8))
            return Double(texts.count - 1)
        case .missing:
            return try number(.missing, row: row, feature: feature)
        case .number(let d):
            throw FerryError.invalid("instance \(row), feature '\(feature.name)': expected text (a string), got the number \(d)")
        case .bool(let b):
            throw FerryError.invalid("instance \(row), feature '\(feature.name)': expected text (a string), got \(b)")
        }
    }

    private func number(_ item: FeatureValue, row: Int, feature: FeatureSpec) throws -> Double {
        switch item {
        case .number(let d) where d.isNaN:
            return try number(.missing, row: row, feature: feature)
        case .number(let d):
            guard d.isFinite else {
                throw FerryError.invalid("instance \(row), feature '\(feature.name)': value \(d) is not finite")
            }
            return d
        case .bool(let b):
            return b ? 1 : 0
        case .missing:
            guard feature.nullable else {
                throw FerryError.invalid("instance \(row), feature '\(feature.name)': a value is required (the feature does not allow missing values)")
            }
            return .nan
        case .string(let s) where feature.categories != nil:
            return feature.code(of: s)
        case .string(let s):
            throw FerryError.invalid("instance \(row), feature '\(feature.name)': expected a number, got the string \"\(s.prefix(40))\"")
        }
    }

    /// Converts `data` into `out`, checking each value; `locate` maps a flat index to (row, feature) for messages.
    private func fill(
        _ out: UnsafeMutableBufferPointer<Double>, from data: TensorData, label: String,
        locate: (Int) -> (Int, FeatureSpec)
    ) throws {
        func checked(_ v: Double, _ i: Int) throws -> Double {
            if v.isFinite { return v }
            let (row, feature) = locate(i)
            if v.isNaN {
                if feature.nullable { return v }
                throw FerryError.invalid("\(label) row \(row), feature '\(feature.name)': a value is required (the feature does not allow missing values)")
            }
            throw FerryError.invalid("\(label) row \(row), feature '\(feature.name)': value \(v) is not finite")
        }
        switch data {
        case .float32(let v):
            for i in v.indices { out[i] = try checked(Double(v[i]), i) }
        case .float64(let v):
            for i in v.indices { out[i] = try checked(v[i], i) }
        case .int64(let v):
            for i in v.indices { out[i] = Double(v[i]) }
        case .uint64(let v):
            for i in v.indices { out[i] = Double(v[i]) }
        case .bool(let v):
            for i in v.indices { out[i] = v[i] ? 1 : 0 }
        case .bytes:
            throw FerryError.invalid("\(label) carries BYTES; this model's features are numeric")
        }
    }
}
