import ArgumentParser
import FerryCore
import FerryEngine
import Foundation

struct Sign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign model artifacts with Ed25519 so a server can require trusted signatures.",
        discussion: """
            ferry sign keygen release                 # writes release.key.json (keep it secret) and release.pub.json
            ferry sign model.json --key release.key.json --model fraud
            ferry models register fraud model.json --signature model.json.sig.json
            ferry serve --trusted-key release.pub.json --require-signed-alias production
            """,
        subcommands: [Artifact.self, Keygen.self],
        defaultSubcommand: Artifact.self
    )

    struct Artifact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "artifact", abstract: "Sign a model file: writes FILE.sig.json (no server needed).")
        @Argument(help: "The model artifact to sign.") var file: String
        @Option(help: "Private key file from `ferry sign keygen`.") var key: String
        @Option(help: "Bind the signature to this model name (recommended).") var model: String?
        @Option(help: "Bind the signature to this format (xgboost-json, lightgbm-text).") var format: String?
        @Option(help: "Where to write the signature (default: FILE.sig.json).") var out: String?

        func run() async throws {
            guard let artifact = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read '\(file)'") }
            guard let keyData = FileManager.default.contents(atPath: key),
                  let signingKey = try? JSONDecoder().decode(SigningKey.self, from: keyData) else {
                throw ValidationError("--key '\(key)' is not a private key file written by `ferry sign keygen`")
            }
            let signature = try ModelSignature.sign(
                sha256: LocalArtifactStore.sha256(artifact), format: format, model: model, key: signingKey)
            let path = out ?? file + ".sig.json"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(signature).write(to: URL(fileURLWithPath: path))
            print("signed \(file) (sha256:\(signature.sha256.prefix(12))…) with key '\(signingKey.id)' -> \(path)")
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an Ed25519 key pair: NAME.key.json (private, mode 600) and NAME.pub.json.")
        @Argument(help: "Key name; it becomes the key id servers know it by.") var name: String

        func validate() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ValidationError("the key name may use letters, digits, '-', '_' and '.'")
            }
        }

        func run() async throws {
            let privatePath = name + ".key.json", publicPath = name + ".pub.json"
            guard !FileManager.default.fileExists(atPath: privatePath) else {
                throw ValidationError("\(privatePath) exists already; not overwriting a private key")
            }
            let key = SigningKey.generate(id: name)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            guard FileManager.default.createFile(atPath: privatePath, contents: try encoder.encode(key), attributes: [.posixPermissions: 0o600]) else {
                throw CLIError("cannot write \(privatePath)")
            }
            try encoder.encode(try key.publicKey).write(to: URL(fileURLWithPath: publicPath))
            print("wrote \(privatePath) (private: keep it out of git and off servers) and \(publicPath) (give it to servers with --trusted-key)")
        }
    }
}
