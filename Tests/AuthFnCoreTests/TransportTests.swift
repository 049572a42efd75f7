import Foundation
import Testing

@testable import AuthFnCore

/// The serving loops driven in memory: no process, no descriptor.
@Suite struct TransportTests {
    static func serve(
        _ transport: Transport, _ chunks: [[UInt8]], stall: Bool = false, environment: [String: String] = [:],
        closed: Bool = false
    ) async -> (served: Bool, output: String) {
        let app = await TestHarness().app
        let output = MemoryOutput()
        output.closed = closed
        let served = await transport.serve(
            app, input: MemoryInput(chunks, stallAtEnd: stall), output: output, environment: environment, timeout: 1)
        return (served, String(decoding: output.bytes, as: UTF8.self))
    }

    static let registerBody = #"{"username":"oluchiy","email":"oluch@gmail.com","password":"445hD#@%yu78"}"#

    @Test func anEnvelopeInPiecesIsOneRequest() async {
        let envelope = Array(#"{"method":"POST","path":"/v1/user/register","body":\#(Self.registerBody)}"#.utf8)
        let pieces = stride(from: 0, to: envelope.count, by: 7).map { Array(envelope[$0..<min($0 + 7, envelope.count)]) }
        let (served, output) = await Self.serve(.envelope, pieces)
        #expect(served)
        #expect(output.hasPrefix(#"{"body":{"email":"oluch@gmail.com","id":1"#) && output.hasSuffix("\"status\":201}\n"))
    }

    @Test func anEnvelopeOverTheLimitIs413WithoutReadingTheRest() async {
        let huge = [UInt8](repeating: 0x20, count: Envelope.maximumRequestBytes + 10)
        let (_, output) = await Self.serve(.envelope, [huge])
        #expect(output.contains("\"status\":413"))
    }

    @Test func httpHeadAndBodyInPieces() async {
        let text =
            "POST /v1/user/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(Self.registerBody.utf8.count)\r\n\r\n\(Self.registerBody)"
        let bytes = Array(text.utf8)
        let (served, output) = await Self.serve(.http, [Array(bytes[..<20]), Array(bytes[20..<90]), Array(bytes[90...])])
        #expect(served)
        #expect(output.hasPrefix("HTTP/1.1 201 Created\r\n"))
        #expect(output.hasSuffix(#""username":"oluchiy"}"#))
    }

    @Test(
        "http refusals",
        arguments: [
            ("GET / HTTP/1.1\r\nHost: x\r\n", true, "HTTP/1.1 408 Request Timeout"),
            ("GET / HTTP/1.1\r\nHost: x\r\n", false, "HTTP/1.1 400 Bad Request"),
            ("POST /v1/user/login HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}", false, "HTTP/1.1 400 Bad Request"),
            ("POST /v1/user/login HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}", true, "HTTP/1.1 408 Request Timeout"),
            ("BREW / HTCPCP/1.0\r\n\r\n", false, "HTTP/1.1 400 Bad Request"),
        ])
    func httpRefusals(_ text: String, _ stall: Bool, _ status: String) async {
        let (served, output) = await Self.serve(.http, [Array(text.utf8)], stall: stall)
        #expect(served)
        #expect(output.hasPrefix(status + "\r\n"), "\(output)")
    }

    @Test func httpWithNothingSentAnswersNothingAndHeadHasNoBody() async {
        #expect(await Self.serve(.http, []) == (true, ""))
        let (_, head) = await Self.serve(.http, [Array("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)])
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"))
    }

    @Test func aClientThatWentAwayIsReported() async {
        #expect(await Self.serve(.http, [Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)], closed: true).served == false)
        #expect(await Self.serve(.stream, [Array("{\"method\":\"GET\",\"path\":\"/\"}\n".utf8)], closed: true).served == false)
    }

    @Test func cgiReadsExactlyContentLength() async {
        let environment = [
            "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "PATH_INFO": "/v1/user/register",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": String(Self.registerBody.utf8.count),
        ]
        let (_, output) = await Self.serve(
            .cgi(.cgi), [Array(Self.registerBody.utf8) + Array("trailing junk".utf8)], environment: environment)
        #expect(output.hasPrefix("Status: 201 Created\r\n"))
        var short = environment
        short["CONTENT_LENGTH"] = "500"
        #expect(await Self.serve(.cgi(.cgi), [Array(Self.registerBody.utf8)], environment: short).output.hasPrefix("Status: 400"))
        #expect(await Self.serve(.cgi(.cgi), [Array("{".utf8)], stall: true, environment: short).output.hasPrefix("Status: 408"))
    }

    @Test func streamAnswersEveryLineAcrossChunkBoundaries() async {
        let line = "{\"method\":\"GET\",\"path\":\"/\"}\n"
        let text =
            String(repeating: line, count: 3000) + "\n   \r\n" + String(repeating: "x", count: Envelope.maximumRequestBytes + 5)
            + "\n" + line.dropLast()
        let bytes = Array(text.utf8)
        // Odd-sized chunks, so lines straddle them.
        let chunks = stride(from: 0, to: bytes.count, by: 4093).map { Array(bytes[$0..<min($0 + 4093, bytes.count)]) }
        let (served, output) = await Self.serve(.stream, chunks)
        #expect(served)
        let answers = output.split(separator: "\n")
        #expect(answers.count == 3002)
        #expect(answers.dropLast(2).allSatisfy { $0.contains("\"status\":200") })
        #expect(answers[3000].contains("\"status\":413"))
        #expect(answers[3001].contains("\"status\":200"))
    }

    @Test func misconfiguredAnswersInEachFormat() {
        #expect(String(decoding: Transport.http.misconfigured(), as: UTF8.self).hasPrefix("HTTP/1.1 500 Internal Server Error"))
        #expect(String(decoding: Transport.cgi(.cgi).misconfigured(), as: UTF8.self).hasPrefix("Status: 500"))
        #expect(String(decoding: Transport.envelope.misconfigured(), as: UTF8.self).contains("\"status\":500"))
    }

    @Test func inputBufferTakesLinesInLinearTime() throws {
        // 200,000 short lines in one read: each take moves an offset, never the remaining bytes.
        let bytes = Array(String(repeating: "ab\n", count: 200_000).utf8)
        let buffer = InputBuffer(MemoryInput([bytes]), timeout: nil)
        var lines = 0
        while let line = try buffer.nextLine(limit: 10) {
            #expect(line == .line(Array("ab".utf8)))
            lines += 1
        }
        #expect(lines == 200_000)
    }
}
