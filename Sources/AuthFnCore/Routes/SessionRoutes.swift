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
        var session = token.session
        var successor: (token: String, csrf: String?)?
        if context.settings.refreshRotation, let jti = token.jti {
            let rotated = try await rotate(token, jti: jti, now: now, keys: principal.keys, context)
            successor = (rotated.token, rotated.csrf)
            session = rotated.session
        }
        let csrf = context.web.newCSRFValue(context.random)
        let access = try await context.tokens.issue(
            subject: token.subject, kind: .access, fresh: false, now: now, jti: context.random.uuidV4(), session: session,
            keys: principal.keys, csrf: csrf)
        var body: JSONObject = ["token": .string(access)]
        if let successor { body["refresh_token"] = .string(successor.token) }
        var response = Response(status: 200, headers: Response.tokenHeaders, body: .object(body))
        response.cookies = context.web.cookies(access: (access, csrf), refresh: successor, now: now)
        response.subject = token.subject
        return response
    }

    /// Spends refresh token `jti` and returns its successor and the session claims the successor
    /// carries. The spend is a compare-and-set in the store, so of two concurrent refreshes with one
    /// token exactly one creates the successor; the other, like any retry within
    /// `JWT_REFRESH_REUSE_INTERVAL`, gets that same successor (re-signed: signing is deterministic). A
    /// spent token presented later is taken as stolen: the session ends.
    ///
    /// The successor extends the session's horizon; the new horizon is stored with the spend, so that
    /// ending the session later with an older token of it still outlasts the successor.
    static func rotate(
        _ token: VerifiedToken, jti: String, now: Int64, keys: KeyRing, _ context: Context
    ) async throws -> (token: String, session: SessionClaims?, csrf: String?) {
        let spentKey = RevocationRecord.key(.spentRefresh, jti)
        var spent = try context.store.revocation(spentKey)
        var spentNow = false
        if spent == nil {
            let child = RevocationRecord.Child(jti: context.random.uuidV4(), issuedAt: now)
            let record = RevocationRecord(
                kind: .spentRefresh, id: jti, expiresAt: token.expiresAt, revokedAt: now, child: child)
            var changes: [Change] = [.requireNoRevocation(key: spentKey), .revoke(record)]
            if let sid = token.sid {
                let horizon = context.tokens.sessionHorizon(issuedAt: now)
                changes.append(.revoke(RevocationRecord(kind: .sessionHorizon, id: sid, expiresAt: horizon, revokedAt: now)))
            }
            do throws(StoreError) {
                try context.commit(changes)
                (spent, spentNow) = (record, true)
            } catch {
                guard error == .conflict(.revocation) else { throw error }
                spent = try context.store.revocation(spentKey)
            }
        }
        guard let spent, let child = spent.child else {
            throw StoreError.corrupt(path: "revoked", detail: "a spent refresh token without its successor")
        }
        if !spentNow, now - spent.revokedAt > context.settings.refreshReuseInterval {
            try endSession(token, now: now, context)
            context.logger.warning("refresh token reused after rotation; session ended", metadata: ["user": "\(token.subject)"])
            throw TokenError.revoked
        }
        let session = token.session.map {
            SessionClaims(id: $0.id, generation: $0.generation, expiry: context.tokens.sessionHorizon(issuedAt: child.issuedAt))
        }
        // The successor's CSRF value is derived from its `jti`, so that a retried refresh (which must
        // get the same successor) gets the same value too.
        let csrf = context.web.usesCookies && context.web.csrf.protect ? WebSettings.csrfValue(successorJTI: child.jti) : nil
        let successor = try await context.tokens.issue(
            subject: token.subject, kind: .refresh, fresh: false, now: child.issuedAt, jti: child.jti, session: session, keys: keys,
            csrf: csrf)
        return (successor, session, csrf)
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
        response.cookies = context.web.unsetCookies
        response.subject = token.subject
        return response
    }

    /// Ends every session of the user: its tokens stop working; a login afterwards (even in the same
    /// second) starts a session that works.
    static func signoutAll(_ request: Request, _ context: Context) async throws -> Response {
        let principal = try await Authentication.require(.access, request, context)
        let now = context.time.now()
        try context.modifyUser(principal.user) { $0.endSessions(at: now) }
        var response = Response.message(200, "Successfully logged out of all sessions")
        response.cookies = context.web.unsetCookies
        response.subject = principal.token.subject
        return response
    }

    /// Revokes `token` and, if it has one, its session. The session's record must outlive every
    /// token of the session, whatever the lifetimes configured now: it lasts until the session's
    /// horizon — the `sxp` the token carries, or the later one a rotation stored — and never less
    /// than the presented token. (Tokens from authfn 1.0 carry no horizon: for them it is computed from
    /// the lifetimes configured now, as 1.0 did.)
    static func endSession(_ token: VerifiedToken, now: Int64, _ context: Context) throws {
        var changes: [Change] = []
        if let jti = token.jti {
            changes.append(.revoke(RevocationRecord(kind: .token, id: jti, expiresAt: token.expiresAt, revokedAt: now)))
        }
        if let session = token.session {
            var horizon = session.expiry ?? context.tokens.sessionHorizon(issuedAt: now)
            if let rotated = try context.store.revocation(RevocationRecord.key(.sessionHorizon, session.id))?.expiresAt {
                horizon = max(horizon, rotated)
            }
            horizon = max(horizon, token.expiresAt ?? horizon)
            changes.append(.revoke(RevocationRecord(kind: .session, id: session.id, expiresAt: horizon, revokedAt: now)))
        }
        try context.commit(changes)
    }
}
