import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import AuthFnCore

/// The `kid`/`alg` binding: a token verifies only with the key its `kid` names, and only when its
/// `alg` is that key's. Every attack is a 422 (or 401), never a 5xx, and nothing is written.
@Suite struct KeyBindingTests {
    /// A harness whose ring holds a current ES256 key, a previous EdDSA key, a standby RS256 key and a
    /// revoked ES256 key; the secret is previous.
    struct Keys {
        let harness: TestHarness
        let current: PrivateSigningKey
        let previous: PrivateSigningKey
        let standby: PrivateSigningKey
        let revoked: PrivateSigningKey

        init() async throws {
            harness = await TestHarness()
            let random = SeededRandomSource(seed: 11)
            current = try PrivateSigningKey.generate(.es256, random: random)
            previous = try PrivateSigningKey.generate(.eddsa, random: random)
            standby = try PrivateSigningKey.generate(.rs256, random: random)
            revoked = try PrivateSigningKey.generate(.es256, random: random)
            let now = harness.now
            func record(_ key: PrivateSigningKey) throws -> KeyRecord {
                try KeyRecord.make(key, now: now - 10_000, sealing: nil, random: random)
            }
            let policy = harness.app.context.tokens.keyPolicy
            let ring = try KeyRing.empty.adding(record(previous)).adding(record(current)).adding(record(standby)).adding(record(revoked))
                .activating(previous.publicKey.thumbprint, now: now - 5000, policy: policy, force: false)
                .activating(current.publicKey.thumbprint, now: now - 4000, policy: policy, force: false)
                .revoking(revoked.publicKey.thumbprint, now: now - 3000, policy: policy, force: false)
            try harness.store.commit([.replaceKeyRing(expected: 0, new: ring)])
            await harness.register()
        }

        func userInfo(_ token: String) async -> Response {
            await harness.send("GET", "/v1/user/user_info", bearer: token)
        }
    }

    static func sign(_ key: PrivateSigningKey, _ input: [UInt8]) throws -> [UInt8] {
        switch key.material {
        case .es256(let key): Array(try key.signature(for: input).rawRepresentation)
        case .eddsa(let key): Array(try key.signature(for: input))
        case .rs256(let key): Array(try key.signature(for: input, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }

    /// A token with this header, the standard claims, signed by `sign` over the signing input.
    static func token(_ header: JSONObject, sign: ([UInt8]) throws -> [UInt8]) rethrows -> String {
        let input = Base64URL.encode(JSONValue.object(header).encoded()) + "." + Base64URL.encode(Array(Forge.claims().utf8))
        return input + "." + Base64URL.encode(try sign(Array(input.utf8)))
    }

    static func token(_ key: PrivateSigningKey, alg: String? = nil, kid: String?) throws -> String {
        var header: JSONObject = ["alg": .string(alg ?? key.algorithm.rawValue), "typ": "JWT"]
        if let kid { header["kid"] = .string(kid) }
        return try token(header) { try sign(key, $0) }
    }

    static func hmac(_ header: JSONObject, secret: [UInt8]) -> String {
        token(header) { Array(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: secret))) }
    }

    @Test func theCurrentAndPreviousKeysVerifyTheirOwnTokens() async throws {
        let keys = try await Keys()
        #expect(await keys.userInfo(try Self.token(keys.current, kid: keys.current.publicKey.thumbprint)).status == 200)
        #expect(await keys.userInfo(try Self.token(keys.previous, kid: keys.previous.publicKey.thumbprint)).status == 200)
        // The secret is previous: HS256 tokens without a kid (Flask-era, pre-rotation) still work.
        #expect(await keys.userInfo(Forge.token(payload: Forge.claims())).status == 200)
    }

    @Test func issuedTokensCarryTheCurrentKeysKidAndAlg() async throws {
        let keys = try await Keys()
        let login = await keys.harness.app.login()
        let access = try #require(login.accessToken)
        let header = try JSONValue.parse(try #require(Base64URL.decode(String(access.split(separator: ".")[0]))))
        #expect(header == ["alg": "ES256", "kid": .string(keys.current.publicKey.thumbprint), "typ": "JWT"])
        #expect(await keys.userInfo(access).status == 200)
    }

    enum Attack: String, CaseIterable, CustomTestStringConvertible {
        case hs256NamingTheECKeyWithItsPEMAsSecret, hs256NamingTheECKeyWithItsJWKAsSecret, noneNamingTheCurrentKey
        case es256HeaderNamingTheEdDSAKey, unknownKid, emptyKid, secretAsKid, standbyKeysToken, revokedKeysToken
        case signedByOneKeyNamingAnother, asymmetricWithoutKid, eddsaWithoutKid

        var testDescription: String { rawValue }
    }

    @Test("kid/alg attacks are refused", arguments: Attack.allCases)
    func attack(_ attack: Attack) async throws {
        let keys = try await Keys()
        let currentKid = keys.current.publicKey.thumbprint
        let publicPEM = keys.current.publicKey.pemRepresentation
        let (token, expected): (String, TokenError) =
            switch attack {
            case .hs256NamingTheECKeyWithItsPEMAsSecret:
                (Self.hmac(["alg": "HS256", "kid": .string(currentKid)], secret: Array(publicPEM.utf8)), .algorithmNotAllowed)
            case .hs256NamingTheECKeyWithItsJWKAsSecret:
                (
                    Self.hmac(
                        ["alg": "HS256", "kid": .string(currentKid)],
                        secret: JSONValue.object(keys.current.publicKey.jwk(kid: currentKid)).encoded()),
                    .algorithmNotAllowed
                )
            case .noneNamingTheCurrentKey: (Self.token(["alg": "none", "kid": .string(currentKid)]) { _ in [] }, .algorithmNotAllowed)
            case .es256HeaderNamingTheEdDSAKey:
                (try Self.token(keys.current, kid: keys.previous.publicKey.thumbprint), .algorithmNotAllowed)
            case .unknownKid: (try Self.token(keys.current, kid: "no-such-key"), .unknownKey)
            case .emptyKid: (try Self.token(keys.current, kid: ""), .unknownKey)
            case .secretAsKid: (Self.hmac(["alg": "HS256", "kid": "secret"], secret: testSecret), .unknownKey)
            case .standbyKeysToken: (try Self.token(keys.standby, kid: keys.standby.publicKey.thumbprint), .unknownKey)
            case .revokedKeysToken: (try Self.token(keys.revoked, kid: keys.revoked.publicKey.thumbprint), .unknownKey)
            case .signedByOneKeyNamingAnother: (try Self.token(keys.revoked, kid: currentKid), .signatureVerificationFailed)
            case .asymmetricWithoutKid: (try Self.token(keys.current, kid: nil), .algorithmNotAllowed)
            case .eddsaWithoutKid: (try Self.token(keys.previous, kid: nil), .algorithmNotAllowed)
            }
        let before = try keys.harness.store.keyRing()
        let response = await keys.userInfo(token)
        #expect(response.status == expected.status)
        #expect(response.body["message"] == .string(expected.message))
        #expect(try keys.harness.store.keyRing() == before)
        #expect(keys.harness.store.revocationCount == 0)
    }

    @Test func aRevokedSecretRefusesTokensWithoutKid() async throws {
        let keys = try await Keys()
        let ring = try keys.harness.store.keyRing()
        let off = try ring.revoking("secret", now: keys.harness.now, policy: keys.harness.app.context.tokens.keyPolicy, force: true)
        try keys.harness.store.commit([.replaceKeyRing(expected: ring.version, new: off)])
        let response = await keys.userInfo(Forge.token(payload: Forge.claims()))
        #expect(response.status == 422)
        #expect(response.body["message"] == .string(TokenError.unknownKey.message))
    }

    @Test func decodeAlgorithmsRestrictWhatIsAccepted() async throws {
        let keys = try await Keys()
        var context = keys.harness.app.context
        context.tokens.keys.decodeAlgorithms = ["ES256"]
        let app = App(context: context)
        #expect(await app.send("GET", "/v1/user/user_info", bearer: Forge.token(payload: Forge.claims())).status == 422)
        let eddsa = try Self.token(keys.previous, kid: keys.previous.publicKey.thumbprint)
        #expect(
            await app.send("GET", "/v1/user/user_info", bearer: eddsa).body["message"] == .string(TokenError.algorithmNotAllowed.message))
        let es256 = try Self.token(keys.current, kid: keys.current.publicKey.thumbprint)
        #expect(await app.send("GET", "/v1/user/user_info", bearer: es256).status == 200)
    }

    @Test func aConfiguredKeySignsAndVerifiesWithAndWithoutKid() async throws {
        let key = try PrivateSigningKey.generate(.es256, random: SeededRandomSource(seed: 21))
        let harness = await TestHarness()
        var context = harness.app.context
        context.tokens.keys.configured = ConfiguredKey(privateKey: key)
        let app = App(context: context)
        await app.send(
            "POST", "/v1/user/register", body: ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        let access = try #require(await app.login().accessToken)
        #expect(try await context.tokens.verify(access, now: harness.now).subject == "1")
        #expect(access.hasPrefix(Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(key.publicKey.thumbprint)","typ":"JWT"}"#.utf8))))
        // Flask-JWT-Extended signing with the same JWT_PRIVATE_KEY writes no kid.
        #expect(await app.send("GET", "/v1/user/user_info", bearer: try Self.token(key, kid: nil)).status == 200)
        let jwks = await app.send("GET", "/.well-known/jwks.json")
        #expect(jwks.body["keys"]?.arrayValue?.first?["kid"] == .string(key.publicKey.thumbprint))
    }

    @Test func aSealedCurrentKeyWithoutTheEncryptionKeyIsA500NotATokenError() async throws {
        let harness = await TestHarness()
        let sealing = try #require(KeySealing(secret: [UInt8](repeating: 0x41, count: 32)))
        let key = try PrivateSigningKey.generate(.eddsa, random: SeededRandomSource(seed: 2))
        let record = try KeyRecord.make(key, now: 0, sealing: sealing, random: SeededRandomSource(seed: 3))
        let ring = try KeyRing.empty.adding(record).activating(
            record.kid, now: 10_000, policy: harness.app.context.tokens.keyPolicy, force: false)
        try harness.store.commit([.replaceKeyRing(expected: 0, new: ring)])
        await harness.register()
        #expect(await harness.app.login().status == 500)
        var context = harness.app.context
        context.tokens.keys.sealing = sealing
        #expect(await App(context: context).login().status == 200)
    }
}
