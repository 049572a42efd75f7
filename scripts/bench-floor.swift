// The benchmark floor: the smallest Swift program that reads a request from stdin and answers `{}`
// (with --http: reads up to the end of the request head and answers the smallest HTTP response).
// Every authfn figure in docs/benchmarks.md is a ratio to this binary, built the same way, so process
// start-up and machine noise divide out.
#if canImport(Glibc)
import Glibc
#endif

let http = CommandLine.arguments.contains("--http")
var received: [UInt8] = []
var chunk = [UInt8](repeating: 0, count: 65536)
while true {
    let count = read(0, &chunk, chunk.count)
    if count <= 0 { break }
    received += chunk[0..<count]
    // An HTTP client keeps the connection open: stop at the blank line that ends the head.
    if http, received.count >= 4, received.suffix(4).elementsEqual([13, 10, 13, 10]) { break }
}
let answer = http
    ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    : "{}\n"
_ = answer.withCString { write(1, $0, strlen($0)) }
