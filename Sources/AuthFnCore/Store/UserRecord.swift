import Foundation

/// A stored account. `password` is a Werkzeug-format hash, never the password.
public struct UserRecord: Sendable, Equatable, Codable {
    public var id: Int
    public var username: String
    public var email: String
    public var password: String
    public var isActive: Bool
    public var createdAt: Int64

    public init(id: Int, username: String, email: String, password: String, isActive: Bool = true, createdAt: Int64) {
        self.id = id
        self.username = username
        self.email = email
        self.password = password
        self.isActive = isActive
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, username, email, password
        case isActive = "is_active"
        case createdAt = "created_at"
    }

    /// The key under which usernames are unique: NFKC, then case folding, then NFKC again
    /// (Unicode's NFKC_Casefold in effect), so `Alice`, `alice` and `ａｌｉｃｅ` collide.
    public static func canonicalUsername(_ username: String) -> String {
        username.precomposedStringWithCompatibilityMapping
            .folding(options: [.caseInsensitive], locale: nil)
            .precomposedStringWithCompatibilityMapping
    }

    /// The key under which emails are unique and looked up at login.
    public static func canonicalEmail(_ email: String) -> String {
        email.precomposedStringWithCompatibilityMapping.lowercased()
    }
}

/// A revoked token id, kept until the token would have expired anyway.
public struct RevocationRecord: Sendable, Equatable, Codable {
    public var jti: String
    public var expiresAt: Int64?
    public var revokedAt: Int64

    public init(jti: String, expiresAt: Int64?, revokedAt: Int64) {
        self.jti = jti
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case jti
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
    }
}
