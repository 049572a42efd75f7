import Foundation

/// Bearer-token checks in Flask-JWT-Extended 4's order: header, token, type, blocklist.
enum Authentication {
    static func require(_ kind: TokenKind, _ request: Request, _ context: Context) async throws -> VerifiedToken {
        let raw = try bearerToken(from: request.headers["Authorization"])
        let token = try await context.tokens.verify(raw, now: context.time.now())
        switch (kind, token.kind) {
        case (.access, .refresh): throw TokenError.refreshTokenNotAllowed
        case (.refresh, .access): throw TokenError.refreshTokenRequired
        default: break
        }
        if let jti = token.jti, try context.store.isRevoked(jti: jti) { throw TokenError.revoked }
        return token
    }

    /// The user a verified token names; `AuthError.unknownUser` if there is none.
    static func user(for token: VerifiedToken, _ context: Context) throws -> UserRecord {
        guard let id = Int(token.subject), id > 0, let user = try context.store.user(id: id) else {
            throw AuthError.unknownUser
        }
        return user
    }

    /// Flask-JWT-Extended's `_decode_jwt_from_headers`: comma-separated credentials, exactly one
    /// of which must use the `Bearer` scheme and carry exactly one token.
    static func bearerToken(from header: String?) throws(TokenError) -> String {
        let value = (header ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            .trimmingCharacters(in: CharacterSet(charactersIn: ","))
        guard !value.isEmpty else { throw .missingAuthorizationHeader }
        let credentials = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let bearers = credentials.filter { $0.split(whereSeparator: \.isWhitespace).first == "Bearer" }
        guard bearers.count == 1, let bearer = bearers.first else { throw .missingBearer }
        let parts = bearer.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2 else { throw .badAuthorizationHeader }
        return String(parts[1])
    }
}
