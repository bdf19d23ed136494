import Hummingbird

// A constant-response server: the HTTP ceiling the serving benchmark compares Ferry against.
var host = "127.0.0.1"
var port = 8090
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--host": host = arguments.next() ?? host
    case "--port": port = arguments.next().flatMap(Int.init) ?? port
    default: break
    }
}
let body = #"{"model_name":"fraud","model_version":"1","outputs":[{"name":"predict","datatype":"FP32","shape":[1],"data":[0.5]}]}"#
let router = Router()
router.get("/v2/health/ready") { _, _ in #"{"ready":true}"# }
router.post("/v2/models/{name}/infer") { request, _ -> Response in
    _ = try await request.body.collect(upTo: 1 << 20)
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
}
let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)))
try await app.runService()
