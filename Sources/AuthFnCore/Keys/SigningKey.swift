import Crypto
import CryptoExtras
import JWTKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The asymmetric algorithms authfn signs with (RFC 7518 §3.4 and §3.3, RFC 8037 §3.1).
public enum KeyAlgorithm: String, Sendable, Codable, CaseIterable {
    case es256 = "ES256"
    case eddsa = "EdDSA"
    case rs256 = "RS256"

    /// The names as the command line and `JWT_ALGORITHM` spell them (exactly, as JWA does).
    public static let names = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Why a key cannot be used: an unreadable PEM, the wrong type, a weak RSA key, a failed unseal.
public struct KeyError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A private key of one of `KeyAlgorithm`'s algorithms, held as swift-crypto's own type.
public struct PrivateSigningKey: Sendable {
    enum Material: Sendable {
        case es256(P256.Signing.PrivateKey)
        case eddsa(Curve25519.Signing.PrivateKey)
        case rs256(_RSA.Signing.PrivateKey)
    }

    let material: Material

    /// RSA keys shorter than this are refused (NIST SP 800-57; jwt-kit refuses them too).
    public static let minimumRSABits = 2048

    public var algorithm: KeyAlgorithm {
        switch material {
        case .es256: .es256
        case .eddsa: .eddsa
        case .rs256: .rs256
        }
    }

    /// A new key. EC and Ed25519 keys come from `random` (so a seeded source makes them reproducible);
    /// RSA keys from BoringSSL's generator, which takes no seed.
    public static func generate(_ algorithm: KeyAlgorithm, random: any RandomSource, rsaBits: Int = 2048) throws(KeyError)
        -> PrivateSigningKey
    {
        switch algorithm {
        case .es256:
            // A uniformly random scalar below the group order: retry the (≈2^-32) out-of-range draws.
            for _ in 0..<64 {
                if let key = try? P256.Signing.PrivateKey(rawRepresentation: random.bytes(32)) {
                    return PrivateSigningKey(material: .es256(key))
                }
            }
            throw KeyError("could not draw a P-256 scalar")
        case .eddsa:
            do {
                return PrivateSigningKey(material: .eddsa(try Curve25519.Signing.PrivateKey(rawRepresentation: random.bytes(32))))
            } catch {
                throw KeyError("could not make an Ed25519 key: \(error)")
            }
        case .rs256:
            guard rsaBits >= minimumRSABits, rsaBits % 8 == 0, rsaBits <= 8192 else {
                throw KeyError("RSA keys must have 2048 to 8192 bits")
            }
            do {
                return PrivateSigningKey(material: .rs256(try _RSA.Signing.PrivateKey(keySize: .init(bitCount: rsaBits))))
            } catch {
                throw KeyError("could not generate an RSA key: \(error)")
            }
        }
    }

    /// A PEM private key (PKCS#8, or SEC 1 / PKCS#1) of `algorithm`'s type.
    public init(pem: String, algorithm: KeyAlgorithm) throws(KeyError) {
        do {
            switch algorithm {
            case .es256: material = .es256(try P256.Signing.PrivateKey(pemRepresentation: pem))
            case .eddsa: material = .eddsa(try Curve25519.Signing.PrivateKey(pemRepresentation: pem))
            case .rs256:
                let key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
                guard key.keySizeInBits >= Self.minimumRSABits else {
                    throw KeyError("the RSA key has \(key.keySizeInBits) bits; at least \(Self.minimumRSABits) are required")
                }
                material = .rs256(key)
            }
        } catch let error as KeyError {
            throw error
        } catch {
            throw KeyError("not a PEM private key for \(algorithm.rawValue)")
        }
    }

    init(material: Material) { self.material = material }

    /// PKCS#8 PEM (the RSA key as PKCS#1 `RSA PRIVATE KEY`, which is what swift-crypto writes).
    public var pemRepresentation: String {
        switch material {
        case .es256(let key): key.pemRepresentation
        case .eddsa(let key): key.pemRepresentation
        case .rs256(let key): key.pemRepresentation
        }
    }

    public var publicKey: PublicSigningKey {
        switch material {
        case .es256(let key): PublicSigningKey(material: .es256(key.publicKey))
        case .eddsa(let key): PublicSigningKey(material: .eddsa(key.publicKey))
        case .rs256(let key): PublicSigningKey(material: .rs256(key.publicKey))
        }
    }

    /// jwt-kit's algorithm signing with this key.
    func signer() async throws(KeyError) -> any JWTAlgorithm {
        let keys = JWTKeyCollection()
        do {
            switch material {
            case .es256(let key): await keys.add(ecdsa: try ES256PrivateKey(backing: key))
            case .eddsa(let key): await keys.add(eddsa: EdDSA.PrivateKey(backing: key))
            case .rs256(let key):
                let rsa = try Insecure.RSA.PrivateKey(backing: key)
                await keys.add(rsa: rsa, digestAlgorithm: DigestAlgorithm.sha256)
            }
            return try await keys.getKey()
        } catch {
            throw KeyError("jwt-kit refused the key: \(error)")
        }
    }
}

/// A public key: what the JWKS publishes and what verifies tokens.
public struct PublicSigningKey: Sendable {
    enum Material: Sendable {
        case es256(P256.Signing.PublicKey)
        case eddsa(Curve25519.Signing.PublicKey)
        case rs256(_RSA.Signing.PublicKey)
    }

    let material: Material

    init(material: Material) { self.material = material }

    /// A PEM public key (SubjectPublicKeyInfo) of `algorithm`'s type.
    public init(pem: String, algorithm: KeyAlgorithm) throws(KeyError) {
        do {
            switch algorithm {
            case .es256: material = .es256(try P256.Signing.PublicKey(pemRepresentation: pem))
            case .eddsa: material = .eddsa(try Curve25519.Signing.PublicKey(pemRepresentation: pem))
            case .rs256:
                let key = try _RSA.Signing.PublicKey(pemRepresentation: pem)
                guard key.keySizeInBits >= PrivateSigningKey.minimumRSABits else {
                    throw KeyError("the RSA key has \(key.keySizeInBits) bits; at least 2048 are required")
                }
                material = .rs256(key)
            }
        } catch let error as KeyError {
            throw error
        } catch {
            throw KeyError("not a PEM public key for \(algorithm.rawValue)")
        }
    }

    public var algorithm: KeyAlgorithm {
        switch material {
        case .es256: .es256
        case .eddsa: .eddsa
        case .rs256: .rs256
        }
    }

    public var pemRepresentation: String {
        switch material {
        case .es256(let key): key.pemRepresentation
        case .eddsa(let key): key.pemRepresentation
        case .rs256(let key): key.pemRepresentation
        }
    }

    /// The JWK members RFC 7638 §3.2 requires for the key type, and nothing else: EC `crv`, `kty`, `x`,
    /// `y` (each coordinate the curve's full 32 bytes, RFC 7518 §6.2.1.2); OKP `crv`, `kty`, `x` (RFC 8037
    /// §2); RSA `e`, `kty`, `n` (big-endian, without leading zero octets, RFC 7518 §6.3.1).
    public var requiredMembers: JSONObject {
        switch material {
        case .es256(let key):
            // x9.63: 0x04 ‖ x ‖ y, each exactly 32 bytes.
            let point = Array(key.x963Representation)
            return [
                "crv": "P-256", "kty": "EC", "x": .string(Base64URL.encode(point[1..<33])),
                "y": .string(Base64URL.encode(point[33..<65])),
            ]
        case .eddsa(let key):
            return ["crv": "Ed25519", "kty": "OKP", "x": .string(Base64URL.encode(key.rawRepresentation))]
        case .rs256(let key):
            // `getKeyPrimitives` only fails on a key BoringSSL could not have made.
            let primitives = try? key.getKeyPrimitives()
            return [
                "e": .string(Base64URL.encode(Self.minimal(primitives?.publicExponent ?? Data()))), "kty": "RSA",
                "n": .string(Base64URL.encode(Self.minimal(primitives?.modulus ?? Data()))),
            ]
        }
    }

    /// RFC 7638 §3: base64url(SHA-256(the required members, sorted, no whitespace)).
    public var thumbprint: String {
        Base64URL.encode(SHA256.hash(data: JSONValue.object(requiredMembers).encoded()))
    }

    /// The published JWK: the required members plus `kid`, `alg` and `use` (RFC 7517 §4).
    public func jwk(kid: String) -> JSONObject {
        var members = requiredMembers
        members["kid"] = .string(kid)
        members["alg"] = .string(algorithm.rawValue)
        members["use"] = "sig"
        return members
    }

    private static func minimal(_ bytes: Data) -> [UInt8] {
        let array = Array(bytes)
        let start = array.firstIndex { $0 != 0 } ?? max(array.count - 1, 0)
        return Array(array[start...])
    }

    /// jwt-kit's algorithm for this key: authfn has already chosen the key by `kid` and checked the
    /// header's `alg` against it, so jwt-kit's own lookup has nothing to decide.
    func verifier() async throws(KeyError) -> any JWTAlgorithm {
        let keys = JWTKeyCollection()
        do {
            switch material {
            case .es256(let key): await keys.add(ecdsa: try ES256PublicKey(backing: key))
            case .eddsa(let key): await keys.add(eddsa: EdDSA.PublicKey(backing: key))
            case .rs256(let key):
                let rsa = try Insecure.RSA.PublicKey(backing: key)
                await keys.add(rsa: rsa, digestAlgorithm: DigestAlgorithm.sha256)
            }
            return try await keys.getKey()
        } catch {
            throw KeyError("jwt-kit refused the key: \(error)")
        }
    }
}

extension KeyRecord {
    /// A stored key's record: public PEM, private PEM sealed when `sealing` is given; `kid` the
    /// thumbprint.
    public static func make(
        _ key: PrivateSigningKey, state: State = .standby, now: Int64, sealing: KeySealing?, random: any RandomSource
    ) throws(KeyError) -> KeyRecord {
        let publicKey = key.publicKey
        let kid = publicKey.thumbprint
        let pem = key.pemRepresentation
        let stored = try sealing.map { sealing throws(KeyError) in try sealing.seal(pem, kid: kid, random: random) } ?? pem
        return KeyRecord(
            kid: kid, alg: key.algorithm.rawValue, state: state, createdAt: now, publicKey: publicKey.pemRepresentation,
            privateKey: stored)
    }

    var keyAlgorithm: KeyAlgorithm? { KeyAlgorithm(rawValue: alg) }

    /// The public key, checked against the record: its algorithm, and its thumbprint is the `kid`.
    public func publicSigningKey() throws(KeyError) -> PublicSigningKey {
        guard let algorithm = keyAlgorithm, let pem = publicKey else { throw KeyError("key \(kid) has no public key of a known type") }
        let key = try PublicSigningKey(pem: pem, algorithm: algorithm)
        guard key.thumbprint == kid else { throw KeyError("key \(kid): the public key's thumbprint is not its kid") }
        return key
    }

    /// The private key, unsealed with `sealing` when it is sealed.
    public func privateSigningKey(sealing: KeySealing?) throws(KeyError) -> PrivateSigningKey {
        guard let algorithm = keyAlgorithm, let stored = privateKey else { throw KeyError("key \(kid) has no private key") }
        var pem = stored
        if KeySealing.isSealed(stored) {
            guard let sealing else {
                throw KeyError("key \(kid) is sealed: set AUTHFN_KEY_ENCRYPTION_KEY to the value it was sealed with")
            }
            pem = try sealing.open(stored, kid: kid)
        }
        let key = try PrivateSigningKey(pem: pem, algorithm: algorithm)
        guard key.publicKey.thumbprint == kid else { throw KeyError("key \(kid): the private key does not match its kid") }
        return key
    }
}
