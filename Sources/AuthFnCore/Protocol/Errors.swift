/// Errors a handler throws. `Response(rendering:)` in ErrorRendering.swift is the one place that
/// turns any of them into a response.

/// 404 and 405 from the router.
public enum RoutingError: Error, Equatable, Sendable {
    case notFound
    case methodNotAllowed(allowed: [String])
}

/// Body problems found before field validation.
public enum BodyError: Error, Equatable, Sendable {
    /// The body claims to be JSON but is not (400).
    case invalidJSON(String)
    /// A raw body whose Content-Type is not JSON (415).
    case unsupportedMediaType(String?)
}

/// Field-keyed input errors, webargs/marshmallow style (422): `{"errors": {"field": ["message", …]}}`.
public struct ValidationError: Error, Equatable, Sendable {
    public var fields: [String: [String]]

    public init(_ fields: [String: [String]] = [:]) { self.fields = fields }

    public mutating func add(_ field: String, _ message: String) { fields[field, default: []].append(message) }

    public var isEmpty: Bool { fields.isEmpty }
}

/// Outcomes of the account routes that are not successes.
public enum AuthError: Error, Equatable, Sendable {
    case invalidCredentials
    case usernameTaken
    case emailTaken
    /// The token is valid but names a user that does not exist (any more).
    case unknownUser
    case tokenWithoutID
    /// Right password, but the account is not (or no longer) active (403).
    case accountInactive
    /// Too many failed logins for this account; try again after `retryAfter` seconds (429).
    case throttled(retryAfter: Int64)
    /// Too many mail requests (reset, verification) for this address (429).
    case mailThrottled(retryAfter: Int64)
    /// A mailed link's token that is spent, expired, superseded or made up: one answer for all (400).
    case invalidLinkToken
    /// Password reset or address verification by mail is not configured here (501).
    case mailNotConfigured(String)
}

/// Token problems, with the statuses and messages Flask-JWT-Extended 4 / PyJWT 2 give.
public enum TokenError: Error, Equatable, Sendable {
    /// No token where the configured locations were looked at: Flask-JWT-Extended's
    /// `NoAuthorizationError` ("Missing Authorization Header", "Missing cookie …", or the combined
    /// "Missing JWT in headers or cookies (…)").
    case noAuthorization(String)
    /// The header holds a token but not in the form `<type> <token>` (`InvalidHeaderError`).
    case badAuthorizationHeader(String)
    /// The query parameter does not start with `JWT_QUERY_STRING_VALUE_PREFIX`.
    case invalidQueryParameter(String)
    /// A cookie-authenticated request without the double-submit value, or with another one.
    case csrf(String)
    /// A PyJWT `DecodeError`/`InvalidTokenError` text: "Not enough segments", "Invalid header padding", …
    case malformed(String)
    case signatureVerificationFailed
    case algorithmNotAllowed
    /// The header's `kid` names no key that verifies (unknown, standby or revoked), or the token has
    /// no `kid` and the HS256 secret no longer verifies.
    case unknownKey
    case expired
    case notYetValid(claim: String)
    case missingClaim(String)
    case refreshTokenNotAllowed
    case refreshTokenRequired
    case revoked
    case freshTokenRequired

    public var status: Int {
        switch self {
        case .noAuthorization, .csrf, .expired, .revoked, .freshTokenRequired: 401
        default: 422
        }
    }

    public var message: String {
        switch self {
        case .noAuthorization(let text), .badAuthorizationHeader(let text), .invalidQueryParameter(let text), .csrf(let text): text
        case .malformed(let text): text
        case .signatureVerificationFailed: "Signature verification failed"
        case .algorithmNotAllowed: "The specified alg value is not allowed"
        case .unknownKey: "The token's signing key is unknown or has been revoked"
        case .expired: "Token has expired"
        case .notYetValid(let claim): "The token is not yet valid (\(claim))"
        case .missingClaim(let claim): "Missing claim: \(claim)"
        case .refreshTokenNotAllowed: "Only non-refresh tokens are allowed"
        case .refreshTokenRequired: "Only refresh tokens are allowed"
        case .revoked: "Token has been revoked"
        case .freshTokenRequired: "Fresh token required"
        }
    }
}
