import Foundation

@testable import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// A stand-in for Lambda's Runtime API on 127.0.0.1: serves the events a script gives it, one per
/// `GET …/invocation/next`, and records every answer (`…/response`, `…/error`, `…/init/error`). When
/// the script has no event to give, it holds the `next` request open, as Lambda does while the
/// function is idle. Keep-alive connections, one thread each.
final class FakeRuntimeAPI: @unchecked Sendable {
    struct Record: Equatable {
        enum Kind: String { case response, error, initError }
        var kind: Kind
        var requestID: String?
        var body: [UInt8]
        var headers: [String: String]
        var json: JSONValue? { try? JSONValue.parse(body) }
    }

    /// Given the answers so far, the next event's body, or `nil` to hold the poll.
    typealias Script = @Sendable (_ answered: [Record]) -> [UInt8]?

    private let condition = NSCondition()
    private var recorded: [Record] = []
    private var served = 0
    private var held = 0
    private var accepted = 0
    private var stopped = false
    private let script: Script
    private let listener: Int32
    let port: Int

    init(script: @escaping Script) throws {
        self.script = script
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        guard bound == 0, listen(listener, 16) == 0 else { throw CocoaError(.fileWriteUnknown) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    var address: String { "127.0.0.1:\(port)" }
    var records: [Record] { condition.withLock { recorded } }
    /// Connections accepted so far (1 when the runtime reuses its connection).
    var connections: Int { condition.withLock { accepted } }

    /// Waits until `predicate` holds of (records, polls held open) or `seconds` pass.
    @discardableResult
    func wait(seconds: Double = 30, until predicate: ([Record], Int) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(recorded, held) {
            if !condition.wait(until: deadline) { return predicate(recorded, held) }
        }
        return true
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            condition.withLock { accepted += 1 }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        let socket = FileDescriptor(connection)
        let input = InputBuffer(socket, timeout: nil)
        while true {
            var parsed: HTTP1.Head?
            while parsed == nil {
                parsed = try? HTTP1.parseHead(Array(input.buffer))
                if parsed == nil { guard (try? input.fill()) == true else { return } }
            }
            guard let head = parsed else { return }
            while input.count < head.bodyOffset + head.contentLength { guard (try? input.fill()) == true else { return } }
            let bytes = input.take(head.bodyOffset + head.contentLength)
            let body = Array(bytes[head.bodyOffset...])
            var headers: [String: String] = [:]
            for (name, value) in head.headers.all { headers[name.lowercased()] = value }
            let path = head.target
            if head.method == "GET", path.hasSuffix("/runtime/invocation/next") {
                guard let (id, event) = nextEvent() else { return }
                let reply =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: \(id)\r\n"
                    + "Lambda-Runtime-Deadline-Ms: \(Int64(Date().timeIntervalSince1970 * 1000) + 30_000)\r\n"
                    + "Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1\r\n"
                    + "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:authfn\r\n"
                    + "Content-Length: \(event.count)\r\n\r\n"
                guard socket.write(Array(reply.utf8) + event) else { return }
            } else if head.method == "POST" {
                let parts = path.split(separator: "/")
                let kind: Record.Kind? =
                    path.hasSuffix("/runtime/init/error")
                    ? .initError
                    : path.hasSuffix("/response") ? .response : path.hasSuffix("/error") ? .error : nil
                guard let kind else { return }
                let id = kind == .initError ? nil : parts.count >= 2 ? String(parts[parts.count - 2]) : nil
                condition.withLock {
                    recorded.append(Record(kind: kind, requestID: id, body: body, headers: headers))
                    condition.broadcast()
                }
                guard socket.write(Array("HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n".utf8)) else { return }
            } else {
                _ = socket.write(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
            }
        }
    }

    /// The script's next event, waiting (a held poll) while it has none; `nil` once stopped.
    private func nextEvent() -> (String, [UInt8])? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            if let event = script(recorded) {
                served += 1
                return (String(format: "8476a536-e9f4-11e8-9739-%012d", served), event)
            }
            held += 1
            condition.broadcast()
            condition.wait()
            held -= 1
        }
        return nil
    }

    /// Wakes held polls so the script is asked again (after the test changed what it will say).
    func poke() { condition.withLock { condition.broadcast() } }
}
