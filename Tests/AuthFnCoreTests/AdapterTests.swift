import Foundation
import Testing

@testable import AuthFnCore

@Suite struct HTTP1Tests {
    static func parse(_ text: String) throws(HTTPError) -> HTTP1.Head? { try HTTP1.parseHead(Array(text.utf8)) }

    @Test func parsesARequest() throws {
        let text =
            "POST /v1/user/login/?next=%2Fhome&a=b+c HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n{}"
        let head = try #require(try Self.parse(text))
        #expect(head.method == "POST" && head.version == "HTTP/1.1" && head.contentLength == 2)
        #expect(head.headers["x-dup"] == "1, 2")
        let request = HTTP1.request(head, body: Array(text.utf8)[head.bodyOffset...])
        #expect(request.path == "/v1/user/login/")
        #expect(request.query == ["next": "/home", "a": "b c"])
        #expect(request.body == .raw(Array("{}".utf8)))
    }

    @Test("incomplete heads wait for more", arguments: ["", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n"])
    func incomplete(_ text: String) throws {
        #expect(try Self.parse(text) == nil)
    }

    @Test func acceptsBareLFAndHTTP10WithoutHost() throws {
        #expect(try Self.parse("GET / HTTP/1.0\n\n")?.method == "GET")
    }

    @Test(
        "refusals",
        arguments: [
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505), ("GET / HTTP/0.9\r\n\r\n", 505), ("GET / HTTP/1.x\r\n\r\n", 400),
            ("GET /\r\n\r\n", 400), ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400), ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("GET http://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", 400), ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400), ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400), ("GET / HTTP/1.1\r\nHost: x\u{1}y\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
            ("POST / HTTP/1.1\r\nHost: x\r\n\r\n{\"a\":1}", 411),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", 413),
            ("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 17000) + "\r\n\r\n", 431),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 17000), 431),
        ])
    func refusals(_ text: String, _ status: Int) {
        let error = #expect(throws: HTTPError.self) { try Self.parse(text) }
        #expect(error?.status == status)
    }

    @Test func bodyAtTheLimitIsFine() throws {
        #expect(try Self.parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n")?.contentLength == 65536)
    }

    @Test func encodesAFullResponse() {
        let bytes = HTTP1.encode(.message(401, "Token has expired", headers: ["WWW-Authenticate": "Bearer"]))
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nWWW-Authenticate: Bearer\r\nContent-Length: 31\r\nConnection: close\r\n\r\n{\"message\":\"Token has expired\"}"
        )
        #expect(!String(decoding: HTTP1.encode(.message(200, "x"), includeBody: false), as: UTF8.self).contains("{"))
    }

    @Test("percent-decoding", arguments: [("/a%20b", "/a b"), ("/%E2%9C%93", "/✓"), ("/bad%zz", "/bad%zz"), ("/x+y", "/x+y")])
    func paths(_ target: String, _ path: String) {
        #expect(Target.split(target).path == path)
    }
}

@Suite struct CGITests {
    @Test func readsTheCGIEnvironment() throws {
        let (request, length) = try CGI.head(
            [
                "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "post", "PATH_INFO": "/v1/user/login/", "QUERY_STRING": "a=1",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "12", "HTTP_AUTHORIZATION": "Bearer t",
                "HTTP_X_REQUEST_ID": "r1",
            ], flavor: .cgi)
        #expect(request.method == "POST" && request.path == "/v1/user/login/" && request.query == ["a": "1"])
        #expect(request.headers["Authorization"] == "Bearer t" && request.headers["X-Request-Id"] == "r1")
        #expect(request.headers["Content-Type"] == "application/json")
        #expect(length == 12)
    }

    @Test func readsOpenFaaSClassicVariables() throws {
        let (request, length) = try CGI.head(
            [
                "Http_Method": "GET", "Http_Path": "/v1/user/user_info", "Http_Query": "x=y", "Http_Authorization": "Bearer t",
                "Http_Content_Type": "application/json", "Http_ContentLength": "0",
            ], flavor: .openFaaS)
        #expect(request.method == "GET" && request.path == "/v1/user/user_info" && request.query == ["x": "y"])
        #expect(request.headers["Authorization"] == "Bearer t" && request.headers["Content-Type"] == "application/json")
        #expect(request.headers["Contentlength"] == nil && length == nil)
    }

    @Test(
        "refusals",
        arguments: [
            (["GATEWAY_INTERFACE": "CGI/1.1"], 400),
            (["GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "x"], 400),
            (["GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "70000"], 413),
            (["GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "PATH_INFO": "x"], 400),
        ])
    func refusals(_ environment: [String: String], _ status: Int) {
        let error = #expect(throws: HTTPError.self) { try CGI.head(environment, flavor: .cgi) }
        #expect(error?.status == status)
    }

    @Test func encodesAStatusHeader() {
        let text = String(decoding: CGI.encode(.message(404, "x"), flavor: .cgi), as: UTF8.self)
        #expect(text.hasPrefix("Status: 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"))
        #expect(CGI.encode(.message(404, "x"), flavor: .openFaaS) == Array(#"{"message":"x"}"#.utf8))
    }

    @Test func flavors() {
        #expect(CGI.flavor(["GATEWAY_INTERFACE": "CGI/1.1"]) == .cgi)
        #expect(CGI.flavor(["Http_Method": "GET"]) == .openFaaS)
        #expect(CGI.flavor(["PATH": "/bin"]) == nil)
    }
}

@Suite struct APIGatewayTests {
    static let v1 = #"""
        {"resource":"/{proxy+}","path":"/v1/user/login/","httpMethod":"POST","headers":{"Content-Type":"application/json"},
         "multiValueHeaders":{"X-Multi":["a","b"]},"queryStringParameters":{"q":"1"},"multiValueQueryStringParameters":{"q":["1","2"]},
         "requestContext":{"identity":{"sourceIp":"203.0.113.9"}},"body":"eyJlbWFpbCI6ImFAYi5jbyJ9","isBase64Encoded":true}
        """#

    static let v2 = #"""
        {"version":"2.0","routeKey":"$default","rawPath":"/v1/user/user_info","rawQueryString":"a=1&b=2",
         "cookies":["c1=v1","c2=v2"],"headers":{"authorization":"Bearer t"},
         "requestContext":{"http":{"method":"GET","path":"/v1/user/user_info","sourceIp":"203.0.113.9"}},"isBase64Encoded":false}
        """#

    @Test func decodesV1() throws {
        let (request, format) = try Envelope.decode(Array(Self.v1.utf8))
        #expect(format == .apiGatewayV1)
        #expect(request.method == "POST" && request.path == "/v1/user/login/" && request.query == ["q": "1"])
        #expect(request.headers["x-multi"] == "a, b" && request.headers["Content-Type"] == "application/json")
        #expect(request.body == .raw(Array(#"{"email":"a@b.co"}"#.utf8)))
    }

    @Test func decodesV2() throws {
        let (request, format) = try Envelope.decode(Array(Self.v2.utf8))
        #expect(format == .apiGatewayV2)
        #expect(request.method == "GET" && request.path == "/v1/user/user_info" && request.query == ["a": "1", "b": "2"])
        #expect(request.headers["Authorization"] == "Bearer t" && request.headers["Cookie"] == "c1=v1; c2=v2")
        #expect(request.body == .none)
    }

    @Test(
        "malformed events",
        arguments: [
            #"{"httpMethod":5,"path":"/"}"#, #"{"httpMethod":"GET","path":"x"}"#, #"{"httpMethod":"GET","path":"/","headers":[]}"#,
            #"{"httpMethod":"GET","path":"/","multiValueHeaders":{"a":"b"}}"#, #"{"httpMethod":"GET","path":"/","body":{}}"#,
            #"{"httpMethod":"GET","path":"/","body":"%%","isBase64Encoded":true}"#,
            #"{"version":"2.0","rawPath":"/","requestContext":{}}"#,
            #"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}},"cookies":[1]}"#,
        ])
    func malformed(_ text: String) {
        #expect(throws: EnvelopeError.self) { try Envelope.decode(Array(text.utf8)) }
    }

    @Test func answersInTheEventsShape() async throws {
        let harness = await TestHarness()
        let reply = await harness.app.reply(envelope: Array(Self.v2.utf8))
        let event = try JSONValue.parse(reply.output)
        #expect(event["statusCode"] == 422)
        #expect(event["isBase64Encoded"] == false)
        #expect(event["headers"]?["Content-Type"] == "application/json")
        #expect(event["body"] == .string(#"{"message":"Not enough segments"}"#))
    }
}
