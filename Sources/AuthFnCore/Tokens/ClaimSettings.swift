/// The claims Flask-JWT-Extended lets an app configure: `JWT_ENCODE_AUDIENCE`, `JWT_DECODE_AUDIENCE`,
/// `JWT_DECODE_ISSUER`, `JWT_DECODE_LEEWAY`, `JWT_IDENTITY_CLAIM` and `JWT_ENCODE_NBF`. (The issuer
/// written into tokens, `JWT_ENCODE_ISSUER`, is in `KeySettings`, beside the discovery document.)
public struct ClaimSettings: Sendable, Equatable {
    /// `aud` of issued tokens: a string for one audience, a list for several (as PyJWT writes them).
    public var encodeAudience: [String]?
    /// Accepted audiences: a token must name at least one. `nil`: `aud` is not checked.
    public var decodeAudience: [String]?
    /// The accepted `iss`. `nil`: `iss` is not checked.
    public var decodeIssuer: String?
    /// Seconds of clock skew allowed when checking `exp`, `nbf` and `iat`.
    public var leeway: Int64 = 0
    /// The claim that names the user (`sub`).
    public var identityClaim = "sub"
    /// Whether issued tokens carry `nbf`.
    public var encodeNotBefore = true

    public init() {}

    /// Claims authfn writes itself, which the identity claim may not replace.
    static let reserved: Set<String> = ["iat", "nbf", "exp", "jti", "type", "fresh", "sid", "gen", "sxp", "csrf", "iss", "aud"]

    static func identityClaim(_ text: String) -> String? {
        guard !reserved.contains(text), text.utf8.count <= 64, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return text
    }

    static func audiences(_ text: String) -> [String]?? {
        let items = WebSettings.commaList(text)
        return items.isEmpty ? nil : .some(items)
    }
}
