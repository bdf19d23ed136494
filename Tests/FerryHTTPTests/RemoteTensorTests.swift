import FerryCore
@testable import FerryHTTP
import Foundation
import Testing

/// What a remote version sends: each input in the remote's datatype, width and shape.
struct RemoteTensorTests {
    @Test func narrowIntegerInputsGoOutInTheirOwnWidth() throws {
        let descriptor = RemoteDescriptor(
            url: "http://127.0.0.1:1", model: "m",
            inputs: [.init(name: "u8", datatype: "UINT8", shape: [-1, 3]), .init(name: "i16", datatype: "INT16", shape: [-1])],
            outputs: [.init(name: "y", datatype: "FP32", shape: [-1])])
        let model = try RemoteModel(descriptor: descriptor, client: .shared)
        let tensors = model.tensors(FeatureMatrix(rows: 2, columns: 4, values: [1, 2, 255, -7, 4, 5, 6, 300]))
        var bytes: [UInt8] = []
        BinaryTensor.encode(tensors[0], into: &bytes)
        #expect(bytes == [1, 2, 255, 4, 5, 6], "one byte per UINT8 value")
        bytes = []
        BinaryTensor.encode(tensors[1], into: &bytes)
        #expect(bytes.count == 4 && tensors[1].shape == [2], "two bytes per INT16 value")
    }
}
