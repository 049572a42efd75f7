// Foundation (not only FoundationEssentials) for NFKC normalisation and case folding, which the
// canonical username and email keys are defined by.
import Foundation

/// A stored account. `password` is a Werkzeug-format hash, never the password.
public struct UserRecord: Sendable, Equatable, Encodable {
    public var id: Int
    public var username: String
    public var email: String
    public var password: String
    public var isActive: Bool
    public var createdAt: Int64
    /// How many times every session of the account has been ended (sign out everywhere, password
    /// change, deactivation). A session's tokens carry the value from when it began (`gen`) and are
    /// revoked once it is lower: exact, whatever the clock says, so a login in the same second as a
    /// sign-out gets working tokens.
    public var cutoffGeneration: Int64
    /// When the last cut-off happened. Tokens without `gen` (from the Flask app or authfn 1.0) issued at
    /// or before this time are revoked…
    public var tokensValidAfter: Int64?
    /// …and the tokens of this session (the one that changed the password) are exempt from it.
    public var cutoffExemptSession: String?
    /// The password-reset link mailed last (a newer one replaces it; any password change clears it).
    public var resetToken: AccountToken?
    /// The address-verification link mailed last.
    public var verifyToken: AccountToken?
    /// Registered under `AUTHFN_VERIFY_EMAIL` and the address not verified yet.
    public var emailUnverified: Bool

    public init(
        id: Int, username: String, email: String, password: String, isActive: Bool = true, createdAt: Int64,
        cutoffGeneration: Int64 = 0, tokensValidAfter: Int64? = nil, cutoffExemptSession: String? = nil,
        resetToken: AccountToken? = nil, verifyToken: AccountToken? = nil, emailUnverified: Bool = false
    ) {
        self.resetToken = resetToken
        self.verifyToken = verifyToken
        self.emailUnverified = emailUnverified
        self.id = id
        self.username = username
        self.email = email
        self.password = password
        self.isActive = isActive
        self.createdAt = createdAt
        self.cutoffGeneration = cutoffGeneration
        self.tokensValidAfter = tokensValidAfter
        self.cutoffExemptSession = cutoffExemptSession
    }

    /// Ends every session of the account at `now`, except `session` (the one changing its password).
    public mutating func endSessions(at now: Int64, except session: String? = nil) {
        cutoffGeneration += 1
        tokensValidAfter = now
        cutoffExemptSession = session
    }

    enum CodingKeys: String, CodingKey {
        case id, username, email, password
        case isActive = "is_active"
        case createdAt = "created_at"
        case cutoffGeneration = "cutoff_generation"
        case tokensValidAfter = "tokens_valid_after"
        case cutoffExemptSession = "cutoff_exempt_sid"
        case resetToken = "reset_token"
        case verifyToken = "verify_token"
        case emailUnverified = "email_unverified"
    }

    /// Written without the members that are absent or false, so that a record without pending links
    /// is the record authfn 1.1 wrote.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(username, forKey: .username)
        try container.encode(email, forKey: .email)
        try container.encode(password, forKey: .password)
        try container.encode(isActive, forKey: .isActive)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(cutoffGeneration, forKey: .cutoffGeneration)
        try container.encodeIfPresent(tokensValidAfter, forKey: .tokensValidAfter)
        try container.encodeIfPresent(cutoffExemptSession, forKey: .cutoffExemptSession)
        try container.encodeIfPresent(resetToken, forKey: .resetToken)
        try container.encodeIfPresent(verifyToken, forKey: .verifyToken)
        if emailUnverified { try container.encode(true, forKey: .emailUnverified) }
    }

    /// Sets a new password hash. A pending reset link dies with the old password.
    public mutating func setPassword(_ hash: String) {
        password = hash
        resetToken = nil
    }

    /// The hash's method, as Werkzeug writes it before the first `$` (`scrypt:131072:8:1`).
    public var passwordMethod: String {
        String(password.prefix { $0 != "$" })
    }

    /// What admin tools and logs may show: everything but the password hash.
    public var summary: JSONValue {
        var fields: JSONObject = [
            "id": .int(id), "username": .string(username), "email": .string(email),
            "is_active": .bool(isActive), "created_at": .int(createdAt),
        ]
        if let tokensValidAfter { fields["tokens_valid_after"] = .int(tokensValidAfter) }
        return .object(fields)
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

/// A revocation: a token id, a whole session, or a refresh token spent by rotation. Kept until
/// nothing it covers can still be valid (`expiresAt`), then pruned.
public struct RevocationRecord: Sendable, Equatable, Encodable {
    public enum Kind: String, Sendable, Encodable {
        /// One token, by `jti`.
        case token
        /// Every token carrying this `sid`.
        case session
        /// A refresh token exchanged under rotation; `child` is what it was exchanged for.
        case spentRefresh = "spent_refresh"
        /// Not a revocation: the latest horizon a rotating session has reached (`expiresAt`), so that
        /// ending the session with an older token of it still outlasts its newest refresh token.
        case sessionHorizon = "session_horizon"
        /// A mailed link (password reset, address verification) that has been used, by its digest:
        /// what makes a link work once even when two requests present it together.
        case spentLink = "spent_link"
    }

    /// The replacement refresh token a spent one was exchanged for, enough to sign it again byte for byte.
    public struct Child: Sendable, Equatable, Encodable {
        public var jti: String
        public var issuedAt: Int64

        public init(jti: String, issuedAt: Int64) {
            self.jti = jti
            self.issuedAt = issuedAt
        }

        enum CodingKeys: String, CodingKey {
            case jti
            case issuedAt = "iat"
        }
    }

    public var kind: Kind
    /// The `jti` (tokens, spent refresh tokens) or `sid` (sessions).
    public var id: String
    public var expiresAt: Int64?
    public var revokedAt: Int64
    public var child: Child?

    public init(kind: Kind = .token, id: String, expiresAt: Int64?, revokedAt: Int64, child: Child? = nil) {
        self.kind = kind
        self.id = id
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.child = child
    }

    /// The store key: a token's `jti` as it is (the layout of data written before sessions existed),
    /// other kinds prefixed.
    public var key: String { Self.key(kind, id) }

    public static func key(_ kind: Kind, _ id: String) -> String {
        switch kind {
        case .token: id
        case .session: "sid:" + id
        case .spentRefresh: "spent:" + id
        case .sessionHorizon: "horizon:" + id
        case .spentLink: "link:" + id
        }
    }

    enum CodingKeys: String, CodingKey {
        case kind, child
        case id = "jti"
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
    }

}

/// Recent failed logins for one account (keyed by canonical email, whether or not it exists).
public struct ThrottleRecord: Sendable, Equatable, Encodable {
    public var key: String
    /// Times of failed attempts, oldest first, at most the configured maximum.
    public var failures: [Int64]
    /// When the newest failure leaves the window: the record can be pruned from then on.
    public var expiresAt: Int64

    public init(key: String, failures: [Int64], expiresAt: Int64) {
        self.key = key
        self.failures = failures
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case key, failures
        case expiresAt = "expires_at"
    }
}

/// What is kept of a token mailed in a link: the SHA-256 of its secret (hex) and when it expires. The
/// secret itself exists only in the mail.
public struct AccountToken: Sendable, Equatable, Encodable {
    public var digest: String
    public var expiresAt: Int64

    public init(digest: String, expiresAt: Int64) {
        self.digest = digest
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case digest
        case expiresAt = "expires_at"
    }

    /// `digest:expiresAt`, the one-column form PostgreSQL keeps.
    var columnText: String { "\(digest):\(expiresAt)" }

    init?(columnText text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let expiresAt = Int64(parts[1]) else { return nil }
        self.init(digest: String(parts[0]), expiresAt: expiresAt)
    }
}
