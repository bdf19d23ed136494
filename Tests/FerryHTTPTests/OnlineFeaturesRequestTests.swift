import FerryCore
@testable import FerryHTTP
import NIOCore
import Testing

/// The online-read body is read on its bytes: what a JSON decoder accepted is accepted the same way, and bad bodies
/// are refused with a message that names the field.
struct OnlineFeaturesRequestTests {
    static func read(_ text: String) throws -> API.OnlineFeaturesRequest {
        try API.OnlineFeaturesRequest(json: ByteBuffer(string: text))
    }

    @Test func membersAreReadUnknownOnesSkippedAndNullIsAbsent() throws {
        let request = try Self.read("""
             { "extra": {"a": [1, {"b": null}], "c": "d\\"e"}, "features" : ["v:f", "w:g\\u00e9"],
               "entities": {"card_id": [1, 2.5, "x", null, true], "k": []},
               "feature_service": null, "full_feature_names": true, "other": null }\t
            """)
        #expect(request.features == ["v:f", "w:gé"])
        #expect(request.entities == ["card_id": [.number(1), .number(2.5), .string("x"), .null, .bool(true)], "k": []])
        #expect(request.featureService == nil)
        #expect(request.fullFeatureNames == true)

        let nulls = try Self.read(#"{"features": null, "entities": {}, "full_feature_names": null, "feature_service": "s"}"#)
        #expect(nulls.features == nil && nulls.entities.isEmpty && nulls.fullFeatureNames == nil && nulls.featureService == "s")
    }

    @Test(arguments: [
        ("", "request body is empty"),
        ("[]", "expected an object at byte 0"),
        (#"{"features": ["v:f"]}"#, "field 'entities' is required"),
        (#"{"entities": null}"#, "field 'entities' must not be null"),
        (#"{"features": "v:f", "entities": {}}"#, "in features: expected an array"),
        (#"{"features": ["v:f", 3], "entities": {}}"#, "in features[1]: expected a string"),
        (#"{"entities": {"card_id": 1}}"#, "in entities.card_id: expected an array"),
        (#"{"entities": {"card_id": [1, }}"#, "in entities.card_id[1]: expected a JSON value"),
        (#"{"entities": [1]}"#, "in entities: expected an object"),
        (#"{"entities": {}, "full_feature_names": "yes"}"#, "in full_feature_names: expected true or false"),
        (#"{"entities": {}, "feature_service": 1}"#, "in feature_service: expected a string"),
        (#"{"entities": {}} x"#, "expected the end of the JSON document"),
        (#"{"features": "#, "in features: expected an array at byte 13, found the end of the body"),
    ])
    func badBodiesAreRefusedNamingTheField(body: String, message: String) {
        do {
            _ = try Self.read(body)
            Issue.record("accepted \(body)")
        } catch {
            #expect("\(error)".contains(message), "\(body): \(error)")
        }
    }

    @Test func featureReferencesAreOneViewAndOneFeature() throws {
        #expect(try FeatureRef(parsing: "card_stats:count", field: "f") == FeatureRef(view: "card_stats", feature: "count"))
        #expect(try FeatureRef(parsing: "vüe:fé", field: "f") == FeatureRef(view: "vüe", feature: "fé"))
        for text in ["", ":", "card_stats", ":count", "card_stats:", "a:b:c", "a::b"] {
            #expect(throws: FerryError.self, "\(text)") { try FeatureRef(parsing: text, field: "features[2]") }
            do { _ = try FeatureRef(parsing: text, field: "features[2]") } catch {
                #expect("\(error)".contains("features[2] '\(text)' is not a feature reference"), "\(error)")
            }
        }
    }
}
