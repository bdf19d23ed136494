import FerryCore

/// One operator, its attributes already read: it maps the node's inputs (nil for an omitted optional input) to its
/// outputs.
struct ONNXKernel: Sendable {
    let run: @Sendable ([ONNXArray?]) throws -> [ONNXArray]
}

/// A node's attributes, read with the defaults the operator spec gives.
struct ONNXAttributes {
    let node: ONNXModelFile.Node

    subscript(_ name: String) -> ONNXModelFile.Attribute? { node.attributes[name] }

    func int(_ name: String) -> Int? { node.attributes[name]?.int.map { Int(clamping: $0) } }
    func int(_ name: String, default value: Int) -> Int { int(name) ?? value }
    func float(_ name: String, default value: Float) -> Float { node.attributes[name]?.float ?? value }
    func floats(_ name: String) -> [Float] { node.attributes[name]?.floats ?? [] }
    func ints(_ name: String) -> [Int64] { node.attributes[name]?.ints ?? [] }
    func string(_ name: String) -> String? { node.attributes[name]?.string.map { String(decoding: $0, as: UTF8.self) } }
    func string(_ name: String, default value: String) -> String { string(name) ?? value }
    func strings(_ name: String) -> [String] { (node.attributes[name]?.strings ?? []).map { String(decoding: $0, as: UTF8.self) } }
    func tensor(_ name: String) throws -> ONNXArray? { try node.attributes[name]?.tensor.map(ONNXArray.init) }
    func has(_ name: String) -> Bool { node.attributes[name] != nil }
}

/// A graph ready to run: each node's kernel with the slots it reads and writes, in the file's (topological) order.
struct ONNXGraph: Sendable {
    struct Step: Sendable {
        let kernel: ONNXKernel
        let inputs: [Int?]
        let outputs: [Int?]
        let label: String
    }

    let steps: [Step]
    let slotCount: Int
    let constants: [(slot: Int, value: ONNXArray)]
    let inputSlots: [Int]
    let outputSlots: [Int]

    /// Compiles the graph; refuses any operator Ferry does not run, naming it and its node.
    init(_ graph: ONNXModelFile.Graph, opsets: [String: Int]) throws {
        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slots[name] { return s }
            slots[name] = slots.count
            return slots.count - 1
        }
        var constants: [(Int, ONNXArray)] = []
        for initializer in graph.initializers {
            do { constants.append((slot(initializer.name), try ONNXArray(initializer))) } catch let error as ONNXError {
                throw FerryError.invalid("ONNX initializer '\(initializer.name)': \(error.text)")
            }
        }
        let initialized = Set(graph.initializers.map(\.name))
        // An input with an initializer of the same name is a default, not a feature (ONNX IR ≥ 4).
        inputSlots = graph.inputs.filter { !initialized.contains($0.name) }.map { slot($0.name) }
        var defined = Set(slots.keys)
        var steps: [Step] = []
        for (index, node) in graph.nodes.enumerated() {
            let label = "node \(node.name.isEmpty ? "#\(index)" : "'\(node.name)'") (\(node.domain.isEmpty ? "" : node.domain + ".")\(node.opType))"
            guard let opset = opsets[node.domain] else {
                throw FerryError.invalid("ONNX \(label) uses domain '\(node.domain)', which the model does not import")
            }
            if node.attributes.values.contains(where: \.hasGraph) {
                throw FerryError(.unsupported, "ONNX \(label) has a sub-graph attribute; Ferry runs flat graphs only")
            }
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                throw FerryError.invalid("ONNX \(label) reads '\(input)' before any node produces it (the graph is not in topological order or the value is missing)")
            }
            let kernel: ONNXKernel
            do {
                kernel = try ONNXOperators.kernel(for: node, opset: opset)
            } catch let error as ONNXError {
                throw FerryError(.unsupported, "ONNX \(label): \(error.text)")
            }
            steps.append(Step(
                kernel: kernel, inputs: node.inputs.map { $0.isEmpty ? nil : slot($0) },
                outputs: node.outputs.map { $0.isEmpty ? nil : slot($0) }, label: label))
            for output in node.outputs where !output.isEmpty { defined.insert(output) }
        }
        for output in graph.outputs where !defined.contains(output.name) {
            throw FerryError.invalid("ONNX graph output '\(output.name)' is produced by no node")
        }
        outputSlots = graph.outputs.map { slot($0.name) }
        self.steps = steps
        self.constants = constants
        slotCount = slots.count
    }

    /// Runs the graph on its inputs (in graph order) and returns its outputs (in graph order).
    func run(_ inputs: [ONNXArray]) throws -> [ONNXArray] {
        var values = [ONNXArray?](repeating: nil, count: slotCount)
        for (slot, value) in constants { values[slot] = value }
        for (slot, value) in zip(inputSlots, inputs) { values[slot] = value }
        for step in steps {
            let arguments = step.inputs.map { $0.flatMap { values[$0] } }
            let results: [ONNXArray]
            do {
                results = try step.kernel.run(arguments)
            } catch let error as ONNXError {
                throw FerryError.invalid("ONNX \(step.label) failed: \(error.text)")
            }
            for (slot, result) in zip(step.outputs, results) {
                if let slot { values[slot] = result }
            }
        }
        return try outputSlots.map { slot in
            guard let value = values[slot] else { throw FerryError(.internal, "ONNX graph output was not computed") }
            return value
        }
    }
}
