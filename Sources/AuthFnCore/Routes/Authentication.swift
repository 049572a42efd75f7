#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Bearer-token checks in Flask-JWT-Extended 4's order (header, token, type), then the account and
/// revocation checks: the user must exist and be active, and neither the token, its session nor a
/// sign-out-everywhere cut-off may have revoked it.
enum Authentication {
    struct Principal {
        var token: VerifiedToken
        var user: UserRecord
    }

    static func require(_ kind: TokenKind, _ request: Request, _ context: Context) async throws -> Principal {
        let raw = try bearerToken(from: request.headers["Authorization"])
        let token = try await context.tokens.verify(raw, now: context.time.now())
        switch (kind, token.kind) {
        case (.access, .refresh): throw TokenError.refreshTokenNotAllowed
        case (.refresh, .access): throw TokenError.refreshTokenRequired
        default: break
        }
        let store = context.store
        if let jti = token.jti, try store.revocation(RevocationRecord.key(.token, jti)) != nil { throw TokenError.revoked }
        if let sid = token.sid, try store.revocation(RevocationRecord.key(.session, sid)) != nil { throw TokenError.revoked }
        guard let id = Int(token.subject), id > 0, let user = try store.user(id: id), user.isActive else {
            throw AuthError.unknownUser
        }
        if isCutOff(token, by: user) { throw TokenError.revoked }
        return Principal(token: token, user: user)
    }

    /// A sign-out-everywhere or password change at time T revokes every token issued at or before T
    /// (inclusive: with whole-second `iat`s, a token from that same second may predate it), except the
    /// tokens of the session that changed the password.
    static func isCutOff(_ token: VerifiedToken, by user: UserRecord) -> Bool {
        guard let cutoff = user.tokensValidAfter else { return false }
        if let sid = token.sid, sid == user.cutoffExemptSession { return false }
        return (token.issuedAt ?? .min) <= cutoff
    }

    /// Flask-JWT-Extended's `_decode_jwt_from_headers`: comma-separated credentials, exactly one
    /// of which must use the `Bearer` scheme and carry exactly one token.
    static func bearerToken(from header: String?) throws(TokenError) -> String {
        let value = (header ?? "").trimming(Trim.whitespaceOrNewline)
            .trimming { $0 == "," }
        guard !value.isEmpty else { throw .missingAuthorizationHeader }
        let credentials = value.split(separator: ",").map { $0.trimming(Trim.whitespace) }
        let bearers = credentials.filter { $0.split(whereSeparator: \.isWhitespace).first == "Bearer" }
        guard bearers.count == 1, let bearer = bearers.first else { throw .missingBearer }
        let parts = bearer.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2 else { throw .badAuthorizationHeader }
        return String(parts[1])
    }
}
