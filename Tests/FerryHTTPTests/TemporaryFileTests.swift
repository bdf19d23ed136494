import Foundation
import Hummingbird
import Testing

@testable import FerryHTTP

/// An uploaded entity table is kept in a temporary file with no name, so a server killed while it joins leaves no
/// file behind.
struct TemporaryFileTests {
    @Test func anUploadIsReadBackFromAFileThatHasNoName() async throws {
        func named() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path).filter {
                $0.hasPrefix("ferry-") && UUID(uuidString: String($0.dropFirst(6))) != nil
            })
        }
        let before = try named()
        let text = String(repeating: "card_id,event_timestamp\n1,2024-01-05T18:42:43Z\n", count: 1_000)
        let handle = try await TemporaryFile.receive(RequestBody(buffer: ByteBuffer(string: text)), limit: 1 << 20, what: "the entity CSV")
        defer { try? handle.close() }
        #expect(try named().subtracting(before).isEmpty, "no temporary file has a name while the upload is in use")
        try handle.seek(toOffset: 0)
        #expect(String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self) == text)
        await #expect(throws: (any Error).self) {
            _ = try await TemporaryFile.receive(RequestBody(buffer: ByteBuffer(string: text)), limit: 100, what: "the entity CSV")
        }
    }
}
