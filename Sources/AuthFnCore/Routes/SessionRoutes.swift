import Logging

/// Refreshing and ending sessions.
enum SessionRoutes {
    /// A new non-fresh access token in the refresh token's session. With rotation on, the refresh
    /// token is spent and a successor returned; see `rotate`.
    static func refresh(_ request: Request, _ context: Context) async throws -> Response {
        // The Flask app minted tokens for any identity a refresh token named, even a deleted one;
        // `require` looks the user up.
        let principal = try await Authentication.require(.refresh, request, context)
        let token = principal.token
        let now = context.time.now()
        let access = try await context.tokens.issue(
            subject: token.subject, kind: .access, fresh: false, now: now, jti: context.random.uuidV4(), sid: token.sid)
        var body: [String: JSONValue] = ["token": .string(access)]
        if context.settings.refreshRotation, let jti = token.jti {
            body["refresh_token"] = .string(try await rotate(token, jti: jti, now: now, context))
        }
        var response = Response(status: 200, body: .object(body))
        response.subject = token.subject
        return response
    }

    /// Spends refresh token `jti` and returns its successor. The spend is a compare-and-set in the
    /// store, so of two concurrent refreshes with one token exactly one creates the successor; the
    /// other, like any retry within `JWT_REFRESH_REUSE_INTERVAL`, gets that same successor (re-signed:
    /// signing is deterministic). A spent token presented later is taken as stolen: the session ends.
    static func rotate(_ token: VerifiedToken, jti: String, now: Int64, _ context: Context) async throws -> String {
        let spentKey = RevocationRecord.key(.spentRefresh, jti)
        var spent = try context.store.revocation(spentKey)
        var spentNow = false
        if spent == nil {
            let child = RevocationRecord.Child(jti: context.random.uuidV4(), issuedAt: now)
            let record = RevocationRecord(
                kind: .spentRefresh, id: jti, expiresAt: token.expiresAt, revokedAt: now, child: child)
            do {
                try context.commit([.requireNoRevocation(key: spentKey), .revoke(record)])
                (spent, spentNow) = (record, true)
            } catch StoreError.conflict(.revocation) {
                spent = try context.store.revocation(spentKey)
            }
        }
        guard let spent, let child = spent.child else { throw StoreError.corrupt(path: spentKey, detail: "no successor") }
        if !spentNow, now - spent.revokedAt > context.settings.refreshReuseInterval {
            try endSession(token, now: now, context)
            context.logger.warning("refresh token reused after rotation; session ended", metadata: ["user": "\(token.subject)"])
            throw TokenError.revoked
        }
        return try await context.tokens.issue(
            subject: token.subject, kind: .refresh, fresh: false, now: child.issuedAt, jti: child.jti, sid: token.sid)
    }

    /// Ends the session of an access token: that token, the session's refresh token and every access
    /// token refreshed from it. Tokens without a session (Flask-era) are revoked by `jti` alone.
    static func signoutAccess(_ request: Request, _ context: Context) async throws -> Response {
        try await signout(.access, request, context)
    }

    /// The same, presenting the refresh token (Flask-JWT-Extended's documented pattern).
    static func signoutRefresh(_ request: Request, _ context: Context) async throws -> Response {
        try await signout(.refresh, request, context)
    }

    private static func signout(_ kind: TokenKind, _ request: Request, _ context: Context) async throws -> Response {
        let token = try await Authentication.require(kind, request, context).token
        guard token.jti != nil || token.sid != nil else { throw AuthError.tokenWithoutID }
        try endSession(token, now: context.time.now(), context)
        var response = Response.message(200, "Successfully logged out")
        response.subject = token.subject
        return response
    }

    /// Ends every session of the user: tokens issued up to now stop working.
    static func signoutAll(_ request: Request, _ context: Context) async throws -> Response {
        let principal = try await Authentication.require(.access, request, context)
        var user = principal.user
        user.tokensValidAfter = context.time.now()
        user.cutoffExemptSession = nil
        try context.commit([.updateUser(user)])
        var response = Response.message(200, "Successfully logged out of all sessions")
        response.subject = principal.token.subject
        return response
    }

    /// Revokes `token` and, if it has one, its session. A session record must outlive every token of
    /// the session: none can expire later than a refresh token issued now plus an access token
    /// refreshed at that token's last moment.
    static func endSession(_ token: VerifiedToken, now: Int64, _ context: Context) throws {
        var changes: [Change] = []
        if let jti = token.jti {
            changes.append(.revoke(RevocationRecord(kind: .token, id: jti, expiresAt: token.expiresAt, revokedAt: now)))
        }
        if let sid = token.sid {
            let horizon = now + context.tokens.refreshLifetime + context.tokens.accessLifetime
            changes.append(.revoke(RevocationRecord(kind: .session, id: sid, expiresAt: horizon, revokedAt: now)))
        }
        try context.commit(changes)
    }
}
