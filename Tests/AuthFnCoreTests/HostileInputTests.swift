import Foundation
import Testing

@testable import AuthFnCore

/// JSONTestSuite (read from ../shared/corpus beside the checkout, or JSONTESTSUITE_DIR; never copied
/// here) as request bodies and as whole envelopes: never a crash, a hang or a 5xx; everything it says
/// must be rejected gets a 400. Skipped where the corpus is absent, unless AUTHFN_REQUIRE_CORPUS=1 (as
/// .ci/run sets), where its absence fails.
@Suite(.enabled(if: JSONTestSuiteCorpus.available || JSONTestSuiteCorpus.required, "needs JSONTestSuite in ../shared/corpus"))
struct HostileInputTests {
    static let corpus = JSONTestSuiteCorpus.location

    static var parsingCases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent("test_parsing").path)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
    }

    static var transformCases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent("test_transform").path)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
    }

    static func bytes(_ folder: String, _ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: corpus.appendingPathComponent(folder).appendingPathComponent(name)))
    }

    @Test func theCorpusIsThere() { #expect(Self.parsingCases.count >= 300) }

    @Test func theParserAgreesWithTheSuite() throws {
        var disagreements: [String] = []
        for name in Self.parsingCases {
            let accepted = (try? JSONValue.parse(try Self.bytes("test_parsing", name))) != nil
            if name.hasPrefix("y_") && !accepted && name != "y_structure_500_nested_arrays.json" { disagreements.append(name) }
            if name.hasPrefix("n_") && accepted { disagreements.append(name) }
        }
        #expect(disagreements.isEmpty, "\(disagreements)")
    }

    @Test func everyFileAsARequestBody() async throws {
        let mailer = RecordingMailer()
        let harness = await TestHarness(mail: RecoveryTests.mail, mailer: mailer)
        for name in Self.parsingCases {
            let body = try Self.bytes("test_parsing", name)
            for path in [
                "/v1/user/register", "/v1/user/login", "/v1/user/password_reset", "/v1/user/password_reset/confirm",
                "/v1/user/verify_email", "/v1/user/verify_email/resend",
            ] {
                let response = await harness.app.handle(
                    Request(method: "POST", path: path, headers: ["Content-Type": "application/json"], body: .raw(body)))
                #expect(response.status < 500, "\(name) → \(response.status)")
                // The one documented exception: an empty body is no body, so its fields are missing (422).
                let expected = name == "n_structure_no_data.json" ? 422 : 400
                if name.hasPrefix("n_") { #expect(response.status == expected, "\(name) → \(response.status)") }
                if name.hasPrefix("y_") { #expect([400, 422].contains(response.status) || response.status == 401, "\(name)") }
            }
        }
        #expect(harness.store.userCount == 0)
        #expect(mailer.messages.isEmpty)
    }

    @Test func everyFileAsAWholeEnvelope() async throws {
        let harness = await TestHarness()
        for name in Self.parsingCases + Self.transformCases {
            let folder = Self.parsingCases.contains(name) ? "test_parsing" : "test_transform"
            let response = await harness.app.handle(envelope: try Self.bytes(folder, name))
            #expect(response.status == 400, "\(name) → \(response.status)")
        }
    }

    @Test func everyFileEmbeddedInAnEnvelopeBodyString() async throws {
        let harness = await TestHarness()
        for name in Self.parsingCases {
            let text = String(decoding: try Self.bytes("test_parsing", name), as: UTF8.self)
            let envelope: JSONValue = [
                "method": "POST", "path": "/v1/user/login", "headers": ["Content-Type": "application/json"], "body": .string(text),
            ]
            let response = await harness.app.handle(envelope: envelope.encoded())
            #expect(response.status < 500, "\(name)")
        }
    }
}

enum JSONTestSuiteCorpus {
    static let location =
        ProcessInfo.processInfo.environment["JSONTESTSUITE_DIR"].map { URL(fileURLWithPath: $0) }
        ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/JSONTestSuite")
    static let required = ProcessInfo.processInfo.environment["AUTHFN_REQUIRE_CORPUS"] == "1"
    static var available: Bool { FileManager.default.fileExists(atPath: location.appendingPathComponent("test_parsing").path) }
}

/// Envelope and body edge cases that need no corpus.
@Suite struct HostileEnvelopeTests {
    @Test(
        "edge cases",
        arguments: [
            (String(repeating: "[", count: 600) + String(repeating: "]", count: 600), 400),
            (#"{"method":"GET","path":"/","body":{"a":"\u0000"}}"#, 200),
            (#"{"method":"GET","path":"/","path":"/nope"}"#, 404),
            (#"{"method":"GET","path":"/","body":1e999}"#, 400),
            (#"{"method":"GET","path":"/","body":-1e-999}"#, 200),
            (#"{"method":"GET","path":"/\ud800"}"#, 400),
            (#"{"method":"GET","path":"/\ud83d\ude00"}"#, 404),
        ])
    func edgeCases(_ text: String, _ status: Int) async {
        #expect(await TestHarness().app.handle(envelope: Array(text.utf8)).status == status)
    }

    @Test func nulInsideStringsAndDuplicateKeysInBodies() async {
        let harness = await TestHarness()
        let nul = await harness.send(
            "POST", "/v1/user/register", body: ["username": "a\u{0}b", "email": "x@example.com", "password": .string(seedPassword)])
        #expect(nul.status == 422 && nul.body["errors"]?["username"] != nil)
        let duplicate = await harness.app.handle(
            Request(
                method: "POST", path: "/v1/user/login", headers: ["Content-Type": "application/json"],
                body: .raw(Array(#"{"email":"a@example.com","email":"not-an-email","password":"x"}"#.utf8))))
        #expect(duplicate.body == ["errors": ["email": ["Not a valid email address."]]])
    }
}

/// Token attacks beyond TokenServiceTests' table: headers that point elsewhere, injection in `kid`,
/// sizes, encodings.
@Suite struct HostileTokenTests {
    static let claims = Forge.claims()

    @Test(
        "header tricks are ignored or refused, never followed",
        arguments: [
            #"{"alg":"HS256","typ":"JWT","jku":"http://127.0.0.1:1/keys.json"}"#,
            #"{"alg":"HS256","typ":"JWT","x5u":"http://127.0.0.1:1/cert.pem"}"#,
            #"{"alg":"HS256","typ":"JWT","jwk":{"kty":"oct","k":"AAAA"}}"#,
        ])
    func headerTricksWithTheRightKeyStillVerify(_ header: String) async throws {
        // Signed with the real key, the extra header is inert: nothing is fetched, nothing is run.
        let service = await TokenServiceTests.service()
        let verified = try await service.verify(Forge.token(header: header, payload: Self.claims), now: TokenServiceTests.now)
        #expect(verified.subject == "1")
    }

    @Test(
        "a kid names a key in the ring or nothing: never a path, a query or a command",
        arguments: [
            #"{"alg":"HS256","typ":"JWT","kid":"../../../../dev/null"}"#,
            #"{"alg":"HS256","typ":"JWT","kid":"' OR 1=1 --"}"#,
            #"{"alg":"HS256","typ":"JWT","kid":"$(touch /tmp/authfn-pwned)"}"#,
            #"{"alg":"ES256","typ":"JWT","kid":"../keys.json"}"#,
        ])
    func kidTricks(_ header: String) async throws {
        // Even signed with the real secret: a kid that is no key's is refused.
        let harness = await TestHarness()
        await harness.register()
        let response = await harness.send("GET", "/v1/user/user_info", bearer: Forge.token(header: header, payload: Self.claims))
        #expect(response.status == 422)
        #expect(response.body["message"] == .string(TokenError.unknownKey.message))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/authfn-pwned"))
    }

    @Test(
        "the same tricks with an attacker's key fail",
        arguments: [
            #"{"alg":"HS256","jwk":{"kty":"oct","k":"YXR0YWNrZXI"}}"#, #"{"alg":"HS256","jku":"http://127.0.0.1:1/k"}"#,
        ])
    func attackerKeys(_ header: String) async {
        let service = await TokenServiceTests.service()
        await #expect(throws: TokenError.signatureVerificationFailed) {
            try await service.verify(
                Forge.token(header: header, payload: Self.claims, secret: Array("attacker".utf8)), now: TokenServiceTests.now)
        }
    }

    @Test(
        "sizes and encodings",
        arguments: [
            (String(repeating: "A", count: 1 << 20), TokenError.malformed("Token is too large")),
            (String(repeating: ".", count: 10_000), .malformed("Token is too large")),
            ("..", .malformed("Invalid header string: unexpected end of data at byte 0")),
            (".e30.", .malformed("Invalid header string: unexpected end of data at byte 0")),
            ("eyJhbGciOiJIUzI1NiJ9==.e30.sig", .malformed("Invalid header padding")),
            ("eyJhbGciOiJIUzI1NiJ9.e30.sig=", .malformed("Invalid crypto padding")),
            ("eyJhbGciOiJIUzI1NiJ9.e30.s===", .malformed("Invalid crypto padding")),
            ("eyJhbGciOiJIUzI1NiJ9.e+0.sig", .malformed("Invalid payload padding")),
            ("eyJhbGciOiJIUzI1NiJ9.e30.s/g", .malformed("Invalid crypto padding")),
            ("eyJhbGciOiJIUzI1NiJ9 .e30.sig", .malformed("Invalid header padding")),
        ])
    func sizes(_ token: String, _ expected: TokenError) async {
        let service = await TokenServiceTests.service()
        await #expect(throws: expected) { try await service.verify(token, now: TokenServiceTests.now) }
    }

    @Test func aMegabyteTokenIsRefusedThroughTheHandler() async {
        let response = await TestHarness().send("GET", "/v1/user/user_info", bearer: String(repeating: "a", count: 1_000_000))
        #expect(response.status == 422 && response.body == ["message": "Token is too large"])
    }
}
