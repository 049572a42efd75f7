import Logging
import Testing

@testable import AuthFnCore

@Suite struct EnvelopeTests {
    @Test func decodesAFullEnvelope() throws {
        let text =
            #"{"method":"post","path":"/v1/user/login/?next=%2F","query":{"k":"v"},"headers":{"content-TYPE":"application/json","Authorization":"Bearer x"},"body":{"a":1}}"#
        let request = try Envelope.decodeRequest(Array(text.utf8))
        #expect(request.method == "POST")
        #expect(request.path == "/v1/user/login/")
        #expect(request.query == ["k": "v", "next": "%2F"])
        #expect(request.headers["Content-Type"] == "application/json")
        #expect(request.headers["authorization"] == "Bearer x")
        #expect(request.body == .json(["a": 1]))
    }

    @Test(
        "body forms",
        arguments: [
            (#"{"method":"GET","path":"/"}"#, Request.Body.none),
            (#"{"method":"GET","path":"/","body":null}"#, .none),
            (#"{"method":"GET","path":"/","body":"{\"a\":1}"}"#, .raw(Array(#"{"a":1}"#.utf8))),
            (#"{"method":"GET","path":"/","body":[1,2]}"#, .json([1, 2])),
            (#"{"method":"GET","path":"/","body":5}"#, .json(5)),
            (#"{"method":"GET","path":"/","body_base64":"aGk="}"#, .raw(Array("hi".utf8))),
        ])
    func bodies(_ text: String, _ body: Request.Body) throws {
        #expect(try Envelope.decodeRequest(Array(text.utf8)).body == body)
    }

    @Test(
        "invalid envelopes",
        arguments: [
            ("", EnvelopeError.invalidJSON("unexpected end of data at byte 0")),
            ("[]", .notAnObject),
            ("\"GET /\"", .notAnObject),
            (#"{"path":"/"}"#, .missingField("method")),
            (#"{"method":"GET"}"#, .missingField("path")),
            (#"{"method":5,"path":"/"}"#, .wrongType(field: "method", expected: "a non-empty string of ASCII letters, such as \"POST\"")),
            (
                #"{"method":"G T","path":"/"}"#,
                .wrongType(field: "method", expected: "a non-empty string of ASCII letters, such as \"POST\"")
            ),
            (#"{"method":"GET","path":"x"}"#, .wrongType(field: "path", expected: "a string starting with \"/\"")),
            (#"{"method":"GET","path":"/","headers":[]}"#, .wrongType(field: "headers", expected: "an object of strings")),
            (#"{"method":"GET","path":"/","headers":{"A":1}}"#, .wrongType(field: "headers.A", expected: "a string")),
            (#"{"method":"GET","path":"/","query":"a=b"}"#, .wrongType(field: "query", expected: "an object of strings")),
            (#"{"method":"GET","path":"/","body":{},"body_base64":"aGk="}"#, .conflictingBodies),
            (#"{"method":"GET","path":"/","body_base64":"%%%"}"#, .wrongType(field: "body_base64", expected: "standard base64 text")),
        ])
    func invalid(_ text: String, _ error: EnvelopeError) {
        #expect(throws: error) { try Envelope.decodeRequest(Array(text.utf8)) }
    }

    @Test func oversizedIsRefusedUnparsed() {
        let huge = [UInt8](repeating: UInt8(ascii: "["), count: Envelope.maximumRequestBytes + 1)
        #expect(throws: EnvelopeError.tooLarge(limit: Envelope.maximumRequestBytes)) { try Envelope.decodeRequest(huge) }
    }

    @Test(
        "bad envelopes become 400/413 responses",
        arguments: [
            ("not json", 400), ("[1]", 400), ("{\"method\":\"GET\"}", 400), ("\u{FEFF}{}", 400),
            (String(repeating: "[", count: 100_000), 400),
        ])
    func rendered(_ text: String, _ status: Int) async {
        let response = await TestHarness().app.handle(envelope: Array(text.utf8))
        #expect(response.status == status)
        #expect(response.body["message"]?.stringValue?.hasPrefix("Invalid request envelope") == true)
    }

    @Test func invalidUTF8Envelope() async {
        let bytes = Array(#"{"method":"GET","path":"/"#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(await TestHarness().app.handle(envelope: bytes).status == 400)
    }

    @Test func responseEnvelopeIsOneSortedLine() {
        let bytes = Envelope.encodeResponse(.message(401, "Token has expired", headers: ["WWW-Authenticate": "Bearer"]))
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"body":{"message":"Token has expired"},"headers":{"Content-Type":"application/json","WWW-Authenticate":"Bearer"},"status":401}"#
                + "\n")
    }

    @Test func unexpectedErrorsDoNotLeakDetail() {
        struct Secretive: Error { var detail = "password=hunter2" }
        let response = Response(rendering: Secretive())
        #expect(response.status == 500)
        #expect(!response.body.encodedString.contains("hunter2"))
    }

    @Test func storageErrors() {
        #expect(Response(rendering: StoreError.io(operation: "write", path: "/d/x", errno: 28)).status == 507)
        let generic = Response(rendering: StoreError.io(operation: "fsync", path: "/d/x", errno: 5))
        #expect(generic.status == 500)
        #expect(!generic.body.encodedString.contains("/d/x"))
    }
}

@Suite struct ConfigurationTests {
    @Test func defaults() throws {
        let config = try Configuration.load(environment: [:])
        #expect(config.secret == .generated)
        #expect(config.accessLifetime == 900 && config.refreshLifetime == 2_592_000)
        #expect(config.dataDirectory == "./data")
        #expect(config.passwordMethod == .scrypt(n: 131_072, r: 8, p: 1))
        #expect(!config.isDeterministic)
    }

    @Test func readsEverything() throws {
        let config = try Configuration.load(environment: [
            "SECRET_KEY": String(repeating: "s", count: 32), "JWT_ACCESS_TOKEN_EXPIRES": "60",
            "JWT_REFRESH_TOKEN_EXPIRES": "3600", "AUTHFN_DATA_DIR": "/var/lib/authfn",
            "AUTHFN_PASSWORD_HASH": "pbkdf2:sha256:600000", "AUTHFN_NOW": "2026-01-01T00:00:00Z", "AUTHFN_SEED": "42",
            "AUTHFN_LOG_LEVEL": "WARNING",
        ])
        #expect(config.secret == .configured(Array(String(repeating: "s", count: 32).utf8)))
        #expect(config.accessLifetime == 60 && config.refreshLifetime == 3600)
        #expect(config.dataDirectory == "/var/lib/authfn")
        #expect(config.passwordMethod == .pbkdf2(hash: "sha256", iterations: 600_000))
        #expect(config.fixedNow == 1_767_225_600 && config.seed == 42 && config.isDeterministic)
        #expect(config.logLevel == .warning)
    }

    @Test func jwtSecretKeyWinsOverSecretKey() throws {
        let config = try Configuration.load(environment: [
            "SECRET_KEY": String(repeating: "a", count: 40), "JWT_SECRET_KEY": String(repeating: "b", count: 40),
        ])
        #expect(config.secret == .configured(Array(String(repeating: "b", count: 40).utf8)))
    }

    @Test func dotEnvFillsInButEnvironmentWins() throws {
        let dotEnv = """
            # comment
            export JWT_SECRET_KEY="from-dotenv-0123456789abcdef0123456789"
            JWT_ACCESS_TOKEN_EXPIRES=120 # two minutes
            AUTHFN_DATA_DIR='/srv/data'
            """
        let config = try Configuration.load(environment: ["AUTHFN_DATA_DIR": "/real"], dotEnv: dotEnv)
        #expect(config.secret == .configured(Array("from-dotenv-0123456789abcdef0123456789".utf8)))
        #expect(config.accessLifetime == 120)
        #expect(config.dataDirectory == "/real")
    }

    @Test func weakSecretNeedsExplicitConsent() throws {
        #expect(throws: ConfigError.self) { try Configuration.load(environment: ["JWT_SECRET_KEY": "short"]) }
        let config = try Configuration.load(environment: ["JWT_SECRET_KEY": "short", "AUTHFN_ALLOW_WEAK_SECRET": "1"])
        #expect(config.secret == .configured(Array("short".utf8)))
    }

    @Test(
        "unusable values",
        arguments: [
            ("JWT_ACCESS_TOKEN_EXPIRES", "0"), ("JWT_ACCESS_TOKEN_EXPIRES", "15m"), ("JWT_REFRESH_TOKEN_EXPIRES", "-1"),
            ("AUTHFN_PASSWORD_HASH", "md5"), ("AUTHFN_PASSWORD_HASH", "scrypt:1000:8:1"), ("AUTHFN_NOW", "tomorrow"),
            ("AUTHFN_SEED", "-3"), ("AUTHFN_LOG_LEVEL", "loud"), ("AUTHFN_ALLOW_WEAK_SECRET", "maybe"),
            ("JWT_REFRESH_TOKEN_ROTATION", "enabled"), ("AUTHFN_REQUIRE_ACTIVATION", "2"),
        ])
    func refuses(_ variable: String, _ value: String) {
        let error = #expect(throws: ConfigError.self) { try Configuration.load(environment: [variable: value]) }
        guard case .invalid(let problems)? = error else { return }
        #expect(problems.map(\.variable) == [variable])
    }
}

@Suite struct LogLineTests {
    @Test func pathsCannotForgeLogLines() {
        #expect(App.loggable("/a\nfake=1\r\u{1B}[31m") == "/a?fake=1??[31m")
        #expect(App.loggable(String(repeating: "x", count: 500)).count == 200)
    }
}
