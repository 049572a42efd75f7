/// What kind of token: Flask-JWT-Extended's `type` claim.
public enum TokenKind: String, Sendable, Codable {
    case access
    case refresh
}

/// The claims authfn writes, in Flask-JWT-Extended 4's shape. Times are integer seconds, as PyJWT
/// writes them (jwt-kit's own date claims would serialise fractional seconds).
struct IssuedClaims: Equatable {
    var fresh: Bool
    var iat: Int64
    var jti: String
    var type: TokenKind
    var sub: String
    var nbf: Int64?
    var exp: Int64
    /// The session (one login) the token belongs to; absent from tokens minted outside a session.
    var sid: String?
    /// The user's sign-out-everywhere generation when the session began (`UserRecord.cutoffGeneration`).
    var gen: Int64?
    /// The session's horizon: no token of the session expires later (rotation extends it, and records
    /// the new horizon in the store), so a revocation of the session that lasts until then covers all.
    var sxp: Int64?
    /// `JWT_ENCODE_ISSUER`, when configured.
    var iss: String? = nil
    /// `JWT_ENCODE_AUDIENCE`: one audience is written as a string, several as a list (PyJWT's forms).
    var aud: [String]? = nil
    /// The double-submit value of a token that travels in a cookie.
    var csrf: String? = nil
    /// `JWT_IDENTITY_CLAIM`: the name `sub` is written under.
    var identityClaim = "sub"

    /// The payload; optional claims left out when absent.
    var json: JSONValue {
        var object: JSONObject = [
            "fresh": .bool(fresh), "iat": .int(iat), "jti": .string(jti), "type": .string(type.rawValue),
            identityClaim: .string(sub), "exp": .int(exp),
        ]
        if let nbf { object["nbf"] = .int(nbf) }
        if let aud { object["aud"] = aud.count == 1 ? .string(aud[0]) : .array(aud.map(JSONValue.string)) }
        if let csrf { object["csrf"] = .string(csrf) }
        if let sid { object["sid"] = .string(sid) }
        if let gen { object["gen"] = .int(gen) }
        if let sxp { object["sxp"] = .int(sxp) }
        if let iss { object["iss"] = .string(iss) }
        return .object(object)
    }
}

/// The session a token belongs to, as its `sid`, `gen` and `sxp` claims carry it. Tokens minted before
/// authfn wrote `gen` and `sxp` have only the id.
public struct SessionClaims: Sendable, Equatable {
    public var id: String
    public var generation: Int64?
    public var expiry: Int64?

    public init(id: String, generation: Int64?, expiry: Int64?) {
        self.id = id
        self.generation = generation
        self.expiry = expiry
    }
}

/// A token that passed every check: signature, algorithm, time claims and claim types.
public struct VerifiedToken: Sendable, Equatable {
    public var subject: String
    public var kind: TokenKind
    public var fresh: Bool
    /// `nil` for tokens issued without a `jti` (Flask-JWT-Extended tolerates that too).
    public var jti: String?
    public var expiresAt: Int64?
    public var issuedAt: Int64?
    /// The session id, for tokens authfn issued at a login; `nil` for Flask-era tokens.
    public var sid: String?
    public var claims: JSONObject

    /// The session claims (`nil` for a token without `sid`).
    public var session: SessionClaims? {
        sid.map { SessionClaims(id: $0, generation: claims["gen"]?.integerValue, expiry: claims["sxp"]?.integerValue) }
    }
}
