#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One signing key as the store keeps it. Public keys are PEM; private keys PEM, or sealed
/// (`KeySealing`) when `AUTHFN_KEY_ENCRYPTION_KEY` was set as the key was created or imported.
///
/// The HS256 secret has a record too (`secretID`, no key material: the secret itself stays in the
/// configuration), so that it moves through the same states as the other keys once an asymmetric
/// key takes over.
public struct KeyRecord: Sendable, Equatable, Encodable {
    /// standby: published, not signing. current: the one signing key (published). previous: retired
    /// from signing; verifies and is published until revoked. revoked: neither verifies nor is
    /// published; `keys delete` removes it.
    public enum State: String, Sendable, Encodable {
        case standby, current, previous, revoked
    }

    /// The `kid` of the HS256 secret's record: tokens it signs carry no `kid`; an RFC 7638 thumbprint
    /// (43 base64url characters) can never be this.
    public static let secretID = "secret"

    public var kid: String
    /// `ES256`, `EdDSA`, `RS256`, or `HS256` for the secret.
    public var alg: String
    public var state: State
    public var createdAt: Int64
    public var activatedAt: Int64?
    public var retiredAt: Int64?
    public var revokedAt: Int64?
    /// When the last token this key can have signed expires: its retirement plus the longest token
    /// lifetime configured then, plus `KeyPolicy.leeway`. Set when it leaves `current`.
    public var notAfter: Int64?
    public var publicKey: String?
    public var privateKey: String?

    public init(
        kid: String, alg: String, state: State, createdAt: Int64, activatedAt: Int64? = nil, retiredAt: Int64? = nil,
        revokedAt: Int64? = nil, notAfter: Int64? = nil, publicKey: String? = nil, privateKey: String? = nil
    ) {
        self.kid = kid
        self.alg = alg
        self.state = state
        self.createdAt = createdAt
        self.activatedAt = activatedAt
        self.retiredAt = retiredAt
        self.revokedAt = revokedAt
        self.notAfter = notAfter
        self.publicKey = publicKey
        self.privateKey = privateKey
    }

    enum CodingKeys: String, CodingKey {
        case kid, alg, state
        case createdAt = "created_at"
        case activatedAt = "activated_at"
        case retiredAt = "retired_at"
        case revokedAt = "revoked_at"
        case notAfter = "not_after"
        case publicKey = "public_key"
        case privateKey = "private_key"
    }

    public var isSecret: Bool { kid == Self.secretID }
    /// Standby, current and previous keys are in the JWKS (the secret never is).
    public var isPublished: Bool { !isSecret && state != .revoked }
    /// Current and previous keys verify tokens; a standby key signed nothing, so it verifies nothing.
    public var verifies: Bool { state == .current || state == .previous }

    /// What `keys list` shows: never key material.
    public var listing: JSONValue {
        var object: JSONObject = ["kid": .string(kid), "alg": .string(alg), "state": .string(state.rawValue)]
        object["created_at"] = .int(createdAt)
        object["activated_at"] = activatedAt.map(JSONValue.int) ?? .null
        object["retired_at"] = retiredAt.map(JSONValue.int) ?? .null
        object["revoked_at"] = revokedAt.map(JSONValue.int) ?? .null
        object["not_after"] = notAfter.map(JSONValue.int) ?? .null
        if privateKey.map(KeySealing.isSealed) == true { object["sealed"] = true }
        return .object(object)
    }
}

/// Every key, versioned as one document: each change is a compare-and-set on `version`, so two
/// operators activating different keys at once cannot leave two current keys.
public struct KeyRing: Sendable, Equatable, Encodable {
    public var version: Int64
    public var keys: [KeyRecord]

    public init(version: Int64 = 0, keys: [KeyRecord] = []) {
        self.version = version
        self.keys = keys
    }

    public static let empty = KeyRing()

    public func key(_ kid: String) -> KeyRecord? { keys.first { $0.kid == kid } }

    /// The asymmetric key that signs, if any.
    public var current: KeyRecord? { keys.first { $0.state == .current && !$0.isSecret } }

    /// The secret's record, or the one it implicitly has: current until an asymmetric key is.
    public var secret: KeyRecord {
        key(KeyRecord.secretID)
            ?? KeyRecord(kid: KeyRecord.secretID, alg: "HS256", state: current == nil ? .current : .previous, createdAt: 0)
    }

    /// Whether the secret still verifies tokens without a `kid`.
    public var secretVerifies: Bool { secret.verifies }

    /// Published keys, in the order they were added.
    public var published: [KeyRecord] { keys.filter(\.isPublished) }

    /// `keys list`: the secret first, then every stored key in the order it was added.
    public var listing: [KeyRecord] { [secret] + keys.filter { !$0.isSecret } }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(self))) ?? []
    }
}
