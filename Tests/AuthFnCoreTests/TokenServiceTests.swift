import Crypto
import Foundation
import Testing

@testable import AuthFnCore

/// Builds tokens by hand (header and payload as given, HMAC-SHA256 over them) for hostile cases.
enum Forge {
    static func b64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func token(header: String = #"{"alg":"HS256","typ":"JWT"}"#, payload: String, secret: [UInt8] = testSecret) -> String {
        let input = b64url(Array(header.utf8)) + "." + b64url(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))
        return input + "." + b64url(Array(mac))
    }

    static func claims(_ extra: String = "", sub: String = #""1""#, type: String = "access") -> String {
        #"{"exp":1767226500,"fresh":true,"iat":1767225600,"jti":"j-1","nbf":1767225600,"sub":\#(sub),"type":"\#(type)"\#(extra)}"#
    }
}

@Suite struct TokenServiceTests {
    static let now: Int64 = 1_767_225_700

    static func service(secret: [UInt8] = testSecret) async -> TokenService {
        await TokenService(secret: secret, accessLifetime: 900, refreshLifetime: 2_592_000)
    }

    struct Vectors: Decodable {
        struct Issued: Decodable { var kind: String; var token: String; var claims: [String: JSONValue] }
        struct Encoded: Decodable { var token: String; var claims: [String: JSONValue] }
        var secret: String
        var flask_jwt_extended: [Issued]
        var pyjwt: [Encoded]
    }

    static let vectors: Vectors? = try? JSONDecoder().decode(
        Vectors.self, from: Data(contentsOf: fixturesDirectory.appendingPathComponent("vectors/tokens.json")))

    @Test func acceptsFlaskJWTExtendedTokens() async throws {
        let vectors = try #require(Self.vectors)
        let service = await Self.service(secret: Array(vectors.secret.utf8))
        #expect(vectors.flask_jwt_extended.count == 2)
        for vector in vectors.flask_jwt_extended {
            let iat = try #require(vector.claims["iat"]?.integerValue)
            let verified = try await service.verify(vector.token, now: iat + 1)
            #expect(verified.kind.rawValue == vector.kind)
            #expect(verified.subject == "1")
            #expect(verified.jti == vector.claims["jti"]?.stringValue)
            #expect(verified.claims["csrf"] != nil)
            #expect(verified.fresh == (vector.claims["fresh"] == .bool(true)))
        }
    }

    @Test func issuesTheBytesPyJWTWrites() async throws {
        let vectors = try #require(Self.vectors)
        let service = await Self.service(secret: Array(vectors.secret.utf8))
        #expect(vectors.pyjwt.count == 2)
        for vector in vectors.pyjwt {
            let claims = vector.claims
            let token = try await service.issue(
                subject: try #require(claims["sub"]?.stringValue),
                kind: try #require(TokenKind(rawValue: claims["type"]?.stringValue ?? "")),
                fresh: claims["fresh"] == .bool(true), now: try #require(claims["iat"]?.integerValue),
                jti: try #require(claims["jti"]?.stringValue))
            #expect(token == vector.token)
        }
    }

    @Test func issuedClaimsHaveFlaskJWTExtendedShape() async throws {
        let service = await Self.service()
        let token = try await service.issue(subject: "7", kind: .refresh, fresh: false, now: 1000, jti: "abc")
        let verified = try await service.verify(token, now: 1001)
        #expect(
            verified.claims == [
                "fresh": false, "iat": 1000, "nbf": 1000, "exp": .number(1000 + 2_592_000), "jti": "abc", "type": "refresh", "sub": "7",
            ])
    }

    @Test func weakSecretsStillSignLikePyJWT() async throws {
        // A short secret is zero-padded for jwt-kit; HMAC pads it the same way, so PyJWT agrees.
        let short = Array("short".utf8)
        let service = await Self.service(secret: short)
        let forged = Forge.token(payload: Forge.claims(), secret: short)
        let verified = try await service.verify(forged, now: Self.now)
        #expect(verified.subject == "1")
    }

    static let hostile: [(String, TokenError)] = [
        ("abc", .malformed("Not enough segments")),
        ("a.b", .malformed("Not enough segments")),
        ("", .malformed("Not enough segments")),
        ("!!!.e30.sig", .malformed("Invalid header padding")),
        ("a.e30.sig", .malformed("Invalid header padding")),
        ("bm90anNvbg.e30.c2ln", .malformed("Invalid header string: invalid literal at byte 0")),
        ("W10.e30.c2ln", .malformed("Invalid header string: must be a json object")),
        (Forge.b64url(Array(#"{"alg":"HS256"}"#.utf8)) + ".!!.c2ln", .malformed("Invalid payload padding")),
        (Forge.b64url(Array(#"{"alg":"HS256"}"#.utf8)) + ".e30.!!", .malformed("Invalid crypto padding")),
        (Forge.b64url(Array(#"{"alg":"HS256"}"#.utf8)) + ".e30.c2ln.extra", .malformed("Invalid payload padding")),
        (Forge.token(header: #"{"alg":"none"}"#, payload: Forge.claims()), .algorithmNotAllowed),
        (Forge.token(header: #"{"alg":"None"}"#, payload: Forge.claims()), .algorithmNotAllowed),
        (Forge.token(header: #"{"alg":"hs256"}"#, payload: Forge.claims()), .algorithmNotAllowed),
        (Forge.token(header: #"{"alg":"HS384"}"#, payload: Forge.claims()), .algorithmNotAllowed),
        (Forge.token(header: #"{"alg":"RS256"}"#, payload: Forge.claims()), .algorithmNotAllowed),
        (Forge.token(header: #"{"typ":"JWT"}"#, payload: Forge.claims()), .malformed("Algorithm not specified")),
        (Forge.token(header: #"{"alg":"HS256","kid":7}"#, payload: Forge.claims()), .malformed("Key ID header parameter must be a string")),
        (
            Forge.token(header: #"{"alg":"HS256","crit":["exp"]}"#, payload: Forge.claims()),
            .malformed("Unsupported critical extension: exp")
        ),
        (Forge.token(payload: Forge.claims(), secret: Array("another-secret-of-sufficient-length!!".utf8)), .signatureVerificationFailed),
        (String(Forge.token(payload: Forge.claims()).dropLast(4)), .signatureVerificationFailed),
        (Forge.token(payload: Forge.claims()) + "AAAA", .signatureVerificationFailed),
        (Forge.token(payload: Forge.claims()).split(separator: ".").prefix(2).joined(separator: ".") + ".", .signatureVerificationFailed),
        (Forge.token(payload: "[1]"), .malformed("Invalid payload string: must be a json object")),
        (Forge.token(payload: #"{"exp":1767225700,"sub":"1"}"#), .expired),
        (Forge.token(payload: #"{"exp":1,"sub":"1"}"#), .expired),
        (Forge.token(payload: #"{"nbf":1767225701,"sub":"1"}"#), .notYetValid(claim: "nbf")),
        (Forge.token(payload: #"{"iat":1767225701,"sub":"1"}"#), .notYetValid(claim: "iat")),
        (Forge.token(payload: #"{"iat":"soon","sub":"1"}"#), .malformed("Issued At claim (iat) must be an integer.")),
        (Forge.token(payload: #"{"nbf":null,"sub":"1"}"#), .malformed("Not Before claim (nbf) must be an integer.")),
        (Forge.token(payload: #"{"exp":[1],"sub":"1"}"#), .malformed("Expiration Time claim (exp) must be an integer.")),
        (Forge.token(payload: #"{"exp":1e300,"sub":"1"}"#), .malformed("Expiration Time claim (exp) must be an integer.")),
        (Forge.token(payload: Forge.claims(sub: "1")), .malformed("Subject must be a string")),
        (Forge.token(payload: Forge.claims(sub: "null")), .malformed("Subject must be a string")),
        (Forge.token(payload: #"{"exp":1767226500}"#), .missingClaim("sub")),
        (Forge.token(payload: #"{"sub":"1","jti":5}"#), .malformed("JWT ID must be a string")),
        (String(repeating: "a", count: 9000), .malformed("Token is too large")),
        (String(repeating: ".", count: 10_000), .malformed("Token is too large")),
    ]

    @Test("hostile and malformed tokens get PyJWT's verdict", arguments: hostile)
    func rejects(_ token: String, _ expected: TokenError) async {
        let service = await Self.service()
        await #expect(throws: expected) { try await service.verify(token, now: Self.now) }
    }

    @Test(
        "claims PyJWT tolerates",
        arguments: [
            #"{"sub":"1"}"#, #"{"sub":"1","exp":"1767226500"}"#, #"{"sub":"1","exp":1767226500.9}"#,
            #"{"sub":"1","iat":true,"nbf":false}"#, #"{"sub":"1","aud":""}"#,
            // Flask-JWT-Extended checks `aud` and `iss` only when an audience or issuer is configured.
            #"{"sub":"1","aud":"other"}"#, #"{"sub":"1","aud":["a","b"],"iss":"https://elsewhere.example"}"#,
        ])
    func accepts(_ payload: String) async throws {
        let service = await Self.service()
        let verified = try await service.verify(Forge.token(payload: payload), now: Self.now)
        #expect(verified.subject == "1" && verified.kind == .access && verified.jti == nil && !verified.fresh)
    }

    @Test func flippedSignatureBitFails() async throws {
        let service = await Self.service()
        var bytes = Array(Forge.token(payload: Forge.claims()).utf8)
        let last = bytes.count - 2
        bytes[last] = bytes[last] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        await #expect(throws: TokenError.signatureVerificationFailed) {
            try await service.verify(String(decoding: bytes, as: UTF8.self), now: Self.now)
        }
    }

    @Test func pemPublicKeyAsHMACSecretIsJustAWrongKey() async throws {
        let pem = Array("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n".utf8)
        let service = await Self.service()
        await #expect(throws: TokenError.signatureVerificationFailed) {
            try await service.verify(Forge.token(payload: Forge.claims(), secret: pem), now: Self.now)
        }
    }
}
