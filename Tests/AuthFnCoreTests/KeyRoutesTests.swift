import Foundation
import Testing

@testable import AuthFnCore

/// `/.well-known/jwks.json` and `/.well-known/openid-configuration`: contents, caching headers,
/// conditional requests, and what the adapters send for a 304.
@Suite struct KeyRoutesTests {
    static func harness(keys: KeySettings = KeySettings()) async throws -> (TestHarness, App) {
        let harness = await TestHarness()
        var context = harness.app.context
        context.tokens.keys = keys
        return (harness, App(context: context))
    }

    /// Adds keys through the admin commands: standby `es`, current `ed`, a revoked RS256 key.
    static func populate(_ app: App) throws -> (standby: KeyRecord, current: KeyRecord, revoked: KeyRecord) {
        let admin = KeyAdmin(context: app.context)
        let standby = try admin.create(.es256)
        let current = try admin.create(.eddsa)
        let revoked = try admin.create(.rs256)
        _ = try admin.activate(current.kid, force: true)
        _ = try admin.revoke(revoked.kid, force: false)
        return (standby, current, revoked)
    }

    @Test func anEmptySetIsAnEmptyKeysArray() async throws {
        let (_, app) = try await Self.harness()
        let response = await app.send("GET", "/.well-known/jwks.json")
        #expect(response.status == 200)
        #expect(response.body == ["keys": []])
        #expect(response.headers["Cache-Control"] == "public, max-age=600")
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
        #expect(response.headers["ETag"]?.hasPrefix("\"") == true)
    }

    @Test func theSetHoldsStandbyCurrentAndPreviousPublicKeysOnly() async throws {
        let (_, app) = try await Self.harness(keys: KeySettings(jwksMaxAge: 42))
        let (standby, current, revoked) = try Self.populate(app)
        let response = await app.send("GET", "/.well-known/jwks.json/")
        let keys = try #require(response.body["keys"]?.arrayValue)
        #expect(keys.compactMap { $0["kid"]?.stringValue } == [standby.kid, current.kid])
        #expect(!keys.contains { $0["kid"] == .string(revoked.kid) })
        for key in keys {
            let members = Set(try #require(key.objectValue).keys)
            #expect(members.isSubset(of: ["kty", "kid", "alg", "use", "crv", "x", "y", "n", "e"]))
            #expect(key["use"] == "sig")
            #expect(key["d"] == nil && key["p"] == nil)
        }
        #expect(keys[0]["kty"] == "EC" && keys[0]["alg"] == "ES256")
        #expect(keys[1]["kty"] == "OKP" && keys[1]["alg"] == "EdDSA")
        #expect(response.headers["Cache-Control"] == "public, max-age=42")
    }

    @Test(
        "If-None-Match",
        arguments: [
            ("{tag}", 304), ("W/{tag}", 304), ("\"other\", {tag}", 304), ("*", 304), ("\"other\"", 200), ("", 200),
            ("{tag}x", 200),
        ])
    func conditional(_ condition: String, _ status: Int) async throws {
        let (_, app) = try await Self.harness()
        _ = try Self.populate(app)
        let first = await app.send("GET", "/.well-known/jwks.json")
        let tag = try #require(first.headers["ETag"])
        let request = Request(
            method: "GET", path: "/.well-known/jwks.json",
            headers: ["If-None-Match": condition.replacingOccurrences(of: "{tag}", with: tag)])
        let response = await app.handle(request)
        #expect(response.status == status)
        #expect(response.headers["ETag"] == tag)
        #expect(response.headers["Cache-Control"] != nil)
        if status == 304 {
            #expect(response.headers["Content-Type"] == nil)
            let http = String(decoding: HTTP1.encode(response), as: UTF8.self)
            #expect(http.hasPrefix("HTTP/1.1 304 Not Modified\r\n"))
            #expect(http.hasSuffix("\r\n\r\n") && !http.contains("Content-Length"))
            #expect(!String(decoding: CGI.encode(response, flavor: .cgi), as: UTF8.self).contains("Content-Length"))
            #expect(String(decoding: APIGateway.encode(response), as: UTF8.self).contains(#""body":"""#))
        }
    }

    @Test func theTagChangesWhenTheSetDoes() async throws {
        let (_, app) = try await Self.harness()
        let before = await app.send("GET", "/.well-known/jwks.json").headers["ETag"]
        #expect(await app.send("GET", "/.well-known/jwks.json").headers["ETag"] == before)
        _ = try KeyAdmin(context: app.context).create(.es256)
        #expect(await app.send("GET", "/.well-known/jwks.json").headers["ETag"] != before)
    }

    @Test func headIsAnsweredWithoutABody() async throws {
        let (_, app) = try await Self.harness()
        let response = await app.send("HEAD", "/.well-known/jwks.json")
        #expect(response.status == 200)
        let http = String(decoding: HTTP1.encode(response, includeBody: false), as: UTF8.self)
        #expect(http.hasSuffix("\r\n\r\n"))
    }

    @Test func discoveryNeedsAnIssuerAndAPublicURL() async throws {
        for settings in [
            KeySettings(), KeySettings(issuer: "https://auth.example.com"), KeySettings(publicURL: "https://auth.example.com"),
        ] {
            let (_, app) = try await Self.harness(keys: settings)
            #expect(await app.send("GET", "/.well-known/openid-configuration").status == 404)
        }
    }

    @Test func discoveryPointsAtTheJWKS() async throws {
        let (_, app) = try await Self.harness(
            keys: KeySettings(issuer: "https://auth.example.com", publicURL: "https://auth.example.com/base"))
        _ = try Self.populate(app)
        let response = await app.send("GET", "/.well-known/openid-configuration")
        #expect(response.status == 200)
        #expect(
            response.body == [
                "issuer": "https://auth.example.com", "jwks_uri": "https://auth.example.com/base/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": ["ES256", "EdDSA"], "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
            ])
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
    }

    @Test func issuedTokensCarryTheIssuer() async throws {
        let (harness, app) = try await Self.harness(keys: KeySettings(issuer: "https://auth.example.com"))
        await app.send(
            "POST", "/v1/user/register", body: ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        let access = try #require(await app.login().accessToken)
        let verified = try await app.context.tokens.verify(access, now: harness.now)
        #expect(verified.claims["iss"] == "https://auth.example.com")
    }

    @Test func aCorruptStoredKeyIsA500NotAShorterSet() async throws {
        let (harness, app) = try await Self.harness()
        let ring = try KeyRing.empty.adding(KeyRecord(kid: "k", alg: "ES256", state: .standby, createdAt: 0, publicKey: "not pem"))
        try harness.store.commit([.replaceKeyRing(expected: 0, new: ring)])
        #expect(await app.send("GET", "/.well-known/jwks.json").status == 500)
    }
}
