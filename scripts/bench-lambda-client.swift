// The Lambda benchmark's baseline: a runtime that does nothing but the Runtime API's round trip —
// `GET …/invocation/next`, then `POST …/response` with `{}` — COUNT times on one kept-alive connection,
// with the same request headers as authfn's runtime sends. What authfn takes beyond this is its own
// per-invocation cost.
//
//     swiftc -O scripts/bench-lambda-client.swift -o bench-lambda-client
//     AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT bench-lambda-client COUNT
import Glibc

let address = String(cString: getenv("AWS_LAMBDA_RUNTIME_API"))
let parts = address.split(separator: ":")
let count = Int(CommandLine.arguments[1]) ?? 1
let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
var peer = sockaddr_in()
peer.sin_family = sa_family_t(AF_INET)
peer.sin_port = in_port_t(UInt16(parts.last ?? "") ?? 0).bigEndian
peer.sin_addr.s_addr = inet_addr(String(parts.first ?? ""))
_ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
var on: Int32 = 1
setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))

var pending: [UInt8] = []
func send(_ text: String) { _ = text.utf8CString.dropLast().withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
/// Reads one response (head and Content-Length body); returns the head.
func receive() -> String {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        if let end = (0..<max(0, pending.count - 3)).first(where: { pending[$0] == 13 && pending[$0 + 1] == 10 && pending[$0 + 2] == 13 && pending[$0 + 3] == 10 }) {
            let head = String(decoding: pending[..<end], as: UTF8.self)
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingPrefix(" ")) } ?? 0
            if pending.count >= end + 4 + length {
                pending.removeFirst(end + 4 + length)
                return head
            }
        }
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { exit(1) }
        pending += chunk[0..<n]
    }
}
for _ in 0..<count {
    send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: \(address)\r\nContent-Length: 0\r\n\r\n")
    let head = receive()
    let id = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("lambda-runtime-aws-request-id:") }
        .map { String($0.split(separator: ":")[1].trimmingPrefix(" ")) } ?? "x"
    send("POST /2018-06-01/runtime/invocation/\(id)/response HTTP/1.1\r\nHost: \(address)\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    _ = receive()
}
