/// How tokens are signed and verified beyond the HS256 secret, and how keys are published: the
/// configuration's `JWT_ALGORITHM`/`JWT_PRIVATE_KEY`/`JWT_PUBLIC_KEY`, `JWT_DECODE_ALGORITHMS`,
/// `AUTHFN_KEY_ENCRYPTION_KEY`, `AUTHFN_JWKS_MAX_AGE`, `JWT_ENCODE_ISSUER` and `AUTHFN_PUBLIC_URL`.
public struct KeySettings: Sendable {
    /// A key managed outside authfn (`JWT_PRIVATE_KEY`): it signs whatever the key ring says, and is
    /// published in the JWKS.
    public var configured: ConfiguredKey?
    /// `JWT_DECODE_ALGORITHMS`: when set, a token whose `alg` is not listed is refused before any key
    /// is looked at.
    public var decodeAlgorithms: Set<String>?
    /// Opens (and seals) private keys at rest.
    public var sealing: KeySealing?
    /// `AUTHFN_JWKS_MAX_AGE`: seconds a JWKS response may be cached.
    public var jwksMaxAge: Int64
    /// `JWT_ENCODE_ISSUER`: the `iss` claim of every token issued.
    public var issuer: String?
    /// `AUTHFN_PUBLIC_URL`: where clients reach authfn, for the discovery document's `jwks_uri`.
    public var publicURL: String?

    public init(
        configured: ConfiguredKey? = nil, decodeAlgorithms: Set<String>? = nil, sealing: KeySealing? = nil,
        jwksMaxAge: Int64 = 600, issuer: String? = nil, publicURL: String? = nil
    ) {
        self.configured = configured
        self.decodeAlgorithms = decodeAlgorithms
        self.sealing = sealing
        self.jwksMaxAge = jwksMaxAge
        self.issuer = issuer
        self.publicURL = publicURL
    }
}

/// `JWT_PRIVATE_KEY` (with `JWT_ALGORITHM`), checked against `JWT_PUBLIC_KEY` when that is given too.
/// Its `kid` is its RFC 7638 thumbprint, like every other key's.
public struct ConfiguredKey: Sendable, Equatable {
    public let privateKey: PrivateSigningKey
    public let kid: String

    public init(privateKey: PrivateSigningKey) {
        self.privateKey = privateKey
        self.kid = privateKey.publicKey.thumbprint
    }

    public var algorithm: KeyAlgorithm { privateKey.algorithm }

    /// Two configured keys are the same key when their public halves are (the thumbprint says so).
    public static func == (lhs: ConfiguredKey, rhs: ConfiguredKey) -> Bool { lhs.kid == rhs.kid }
}
