import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import AuthFnCore

/// JWKs and thumbprints against the RFCs' own examples, key parsing and sealing.
@Suite struct SigningKeyTests {
    static func bytes(_ base64url: String) throws -> [UInt8] { try #require(Base64URL.decode(base64url)) }

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    @Test func rsaThumbprintMatchesRFC7638() throws {
        let n =
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let key = PublicSigningKey(material: .rs256(try _RSA.Signing.PublicKey(n: try Self.bytes(n), e: try Self.bytes("AQAB"))))
        #expect(key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        #expect(key.requiredMembers == ["e": "AQAB", "kty": "RSA", "n": .string(n)])
        let jwk = key.jwk(kid: key.thumbprint)
        #expect(jwk["alg"] == "RS256" && jwk["use"] == "sig" && jwk["kid"] == .string(key.thumbprint))
    }

    /// RFC 8037 A.1–A.3: the Ed25519 key, its public JWK and its thumbprint.
    @Test func ed25519JWKAndThumbprintMatchRFC8037() throws {
        let d = try Self.bytes("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        let key = PrivateSigningKey(material: .eddsa(try Curve25519.Signing.PrivateKey(rawRepresentation: d)))
        #expect(key.publicKey.requiredMembers == ["crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"])
        #expect(key.publicKey.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    /// RFC 8037 A.4: the example signature verifies with the public key authfn builds from the
    /// example, and a token authfn signs with that key verifies with the bare Ed25519 primitive over
    /// its signing input (so it is a plain RFC 8037 JWS, whatever jwt-kit adds).
    @Test func ed25519SignaturesAreRFC8037s() async throws {
        let d = try Self.bytes("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        let key = PrivateSigningKey(material: .eddsa(try Curve25519.Signing.PrivateKey(rawRepresentation: d)))
        guard case .eddsa(let publicKey) = key.publicKey.material else { throw KeyError("not EdDSA") }
        let input = Array("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".utf8)
        let signature = try Self.bytes("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
        #expect(publicKey.isValidSignature(signature, for: input))

        let service = await TokenService(
            secret: testSecret, accessLifetime: 900, refreshLifetime: 2_592_000,
            keys: KeySettings(configured: ConfiguredKey(privateKey: key)))
        let token = try await service.issue(subject: "1", kind: .access, fresh: true, now: 1000, jti: "j")
        let parts = token.split(separator: ".")
        #expect(publicKey.isValidSignature(try Self.bytes(String(parts[2])), for: Array("\(parts[0]).\(parts[1])".utf8)))
        // EdDSA is deterministic: the same token twice.
        #expect(try await service.issue(subject: "1", kind: .access, fresh: true, now: 1000, jti: "j") == token)
    }

    /// RFC 7517 A.1/A.2: the P-256 key's coordinates come out as the RFC prints them (32 bytes each,
    /// unpadded base64url).
    @Test func p256JWKMatchesRFC7517() throws {
        let d = try Self.bytes("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE")
        let key = PrivateSigningKey(material: .es256(try P256.Signing.PrivateKey(rawRepresentation: d)))
        #expect(
            key.publicKey.requiredMembers == [
                "crv": "P-256", "kty": "EC", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
            ])
    }

    /// Coordinates with leading zero bytes keep their full 32 bytes (43 characters each).
    @Test func ecCoordinatesAreFixedWidth() throws {
        let random = SeededRandomSource(seed: 1)
        for _ in 0..<64 {
            let jwk = try PrivateSigningKey.generate(.es256, random: random).publicKey.requiredMembers
            #expect(jwk["x"]?.stringValue?.count == 43)
            #expect(jwk["y"]?.stringValue?.count == 43)
        }
    }

    @Test func base64URLIsUnpaddedAndRoundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(
                text
                    == Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: ""))
            #expect(Base64URL.decode(text) == bytes)
        }
    }

    @Test("generated keys are reproducible from the seed and survive their PEM", arguments: KeyAlgorithm.allCases)
    func generatedKeysRoundTrip(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateSigningKey.generate(algorithm, random: SeededRandomSource(seed: 9))
        let again = try PrivateSigningKey(pem: key.pemRepresentation, algorithm: algorithm)
        #expect(again.publicKey.thumbprint == key.publicKey.thumbprint)
        let parsed = try PublicSigningKey(pem: key.publicKey.pemRepresentation, algorithm: algorithm)
        #expect(parsed.thumbprint == key.publicKey.thumbprint)
        if algorithm != .rs256 {
            #expect(
                try PrivateSigningKey.generate(algorithm, random: SeededRandomSource(seed: 9)).publicKey.thumbprint
                    == key.publicKey.thumbprint)
        }
    }

    @Test func unusableKeysAreRefusedWithAReason() throws {
        let ec = try PrivateSigningKey.generate(.es256, random: SeededRandomSource(seed: 3))
        #expect(throws: KeyError("not a PEM private key for EdDSA")) { try PrivateSigningKey(pem: ec.pemRepresentation, algorithm: .eddsa) }
        #expect(throws: KeyError("not a PEM private key for ES256")) { try PrivateSigningKey(pem: "garbage", algorithm: .es256) }
        let weak = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        #expect(throws: KeyError.self) { try PrivateSigningKey(pem: weak.pemRepresentation, algorithm: .rs256) }
        #expect(throws: KeyError("RSA keys must have 2048 to 8192 bits")) {
            try PrivateSigningKey.generate(.rs256, random: SystemRandomSource(), rsaBits: 1024)
        }
    }

    @Test func sealedKeysOpenOnlyWithTheirKeyAndKid() throws {
        let sealing = try #require(KeySealing(secret: Array("k".utf8) + [UInt8](repeating: 0x61, count: 40)))
        #expect(KeySealing(secret: Array("short".utf8)) == nil)
        let key = try PrivateSigningKey.generate(.eddsa, random: SeededRandomSource(seed: 4))
        let record = try KeyRecord.make(key, now: 1, sealing: sealing, random: SeededRandomSource(seed: 5))
        let stored = try #require(record.privateKey)
        #expect(KeySealing.isSealed(stored))
        #expect(!stored.contains("PRIVATE KEY"))
        #expect(record.listing["sealed"] == true)
        #expect(try record.privateSigningKey(sealing: sealing).publicKey.thumbprint == record.kid)
        #expect(throws: KeyError.self) { try record.privateSigningKey(sealing: nil) }
        let other = try #require(KeySealing(secret: [UInt8](repeating: 0x62, count: 32)))
        #expect(throws: KeyError.self) { try record.privateSigningKey(sealing: other) }
        // Moved onto another record, the sealed key does not open (its kid is authenticated).
        #expect(throws: KeyError.self) { try sealing.open(stored, kid: "another") }
    }

    @Test func aRecordWhosePublicKeyIsNotItsKidIsRefused() throws {
        let key = try PrivateSigningKey.generate(.es256, random: SeededRandomSource(seed: 6))
        var record = try KeyRecord.make(key, now: 1, sealing: nil, random: SeededRandomSource(seed: 6))
        record.kid = "someone-else"
        #expect(throws: KeyError.self) { try record.publicSigningKey() }
        #expect(throws: KeyError.self) { try record.privateSigningKey(sealing: nil) }
    }
}
