/// The seed app's account routes, as plain functions of (request, context).
enum UserRoutes {
    static func home(_ request: Request, _ context: Context) async throws -> Response {
        Response(status: 200, body: ["status": "success", "data": ["msg": "Welcome to the diary API"]])
    }

    static func register(_ request: Request, _ context: Context) async throws -> Response {
        let input = try UserInput.registration(from: try RequestBody.json(request), policy: context.settings.passwordPolicy)
        let usernameKey = UserRecord.canonicalUsername(input.username)
        let emailKey = UserRecord.canonicalEmail(input.email)
        // Checked before hashing so duplicates cost no KDF work; checked again inside the commit,
        // which is what makes concurrent registrations of one name yield exactly one 201.
        if try context.store.usernameExists(canonicalUsername: usernameKey) { throw AuthError.usernameTaken }
        if try context.store.user(canonicalEmail: emailKey) != nil { throw AuthError.emailTaken }

        let hash = try context.hasher.hash(input.password, random: context.random)
        let now = context.time.now()
        let verify = context.mail.verifyEmail
        var record = UserRecord(
            id: 0, username: input.username, email: input.email, password: hash,
            isActive: !context.settings.requireActivation && !verify, createdAt: now, emailUnverified: verify)
        // The link's secret is made before the id is known (the token is `<id>.<secret>`; only the
        // secret's digest is kept), so the account and its link are one commit.
        var secret: String?
        if verify {
            let (token, kept) = RecoveryRoutes.newToken(for: 0, expiresAt: now + context.mail.verifyExpires, context.random)
            secret = String(token.dropFirst(2))
            record.verifyToken = kept
        }
        let assigned: [Int]
        switch Result(catching: { () throws(StoreError) in try context.commit([.createUser(record)]) }) {
        case .success(let ids): assigned = ids
        case .failure(.conflict(.username)): throw AuthError.usernameTaken
        case .failure(.conflict(.email)): throw AuthError.emailTaken
        case .failure(let error): throw error
        }
        guard let id = assigned.first else { throw StoreError.corrupt(path: "(store)", detail: "no id assigned") }
        var response = Response(
            status: 201, body: ["id": .int(id), "username": .string(input.username), "email": .string(input.email)])
        if let secret { response.deferred = [.verification(userID: id, token: "\(id).\(secret)")] }
        response.subject = String(id)
        return response
    }

    /// Checks the password (after reserving a throttle slot), then starts a session: a fresh access
    /// token and a refresh token sharing a new `sid`.
    ///
    /// Timing does not tell whether the email is registered, nor which hash method its account uses:
    /// every attempt runs one derivation of each method in use in the store (the account's own check
    /// standing in for its method), whatever the outcome.
    static func login(_ request: Request, _ context: Context) async throws -> Response {
        let input = try UserInput.credentials(from: try RequestBody.json(request))
        let emailKey = UserRecord.canonicalEmail(input.email)
        let throttle = LoginThrottle.keys(account: emailKey, address: request.clientAddress)
        let reservation = try LoginThrottle.reserve(throttle, context)
        let policy = context.settings.passwordPolicy
        guard policy.mayCheck(input.password), input.password.count <= policy.maximumLength else {
            // No stored password can be this long; refuse without running the KDF at all.
            throw AuthError.invalidCredentials
        }
        let methods = PasswordHasher.timingMethods(inUse: try context.store.passwordMethods(), configured: context.hasher.method)
        guard let user = try context.store.user(canonicalEmail: emailKey) else {
            PasswordHasher.spendVerifications(input.password, methods: methods)
            throw AuthError.invalidCredentials
        }
        let verified = PasswordHasher.verify(input.password, against: user.password)
        let own = PasswordHasher.parseMethod(user.passwordMethod)
        PasswordHasher.spendVerifications(input.password, methods: methods.filter { $0 != own })
        guard verified else { throw AuthError.invalidCredentials }
        var changes: [Change] = []
        if context.hasher.needsRehash(user.password) {
            var upgraded = user
            upgraded.password = try context.hasher.hash(input.password, random: context.random)
            // Compare-and-set: a password change that landed since the read must not be undone by
            // writing the old password's stronger hash over it.
            changes.append(.replaceUser(expected: user, new: upgraded))
        }
        do {
            try LoginThrottle.succeed(throttle, reservedAt: reservation, context, with: changes)
        } catch let error as StoreError where error == .conflict(.user) {
            // The account changed meanwhile: keep that change, and upgrade the hash at a later login.
            try LoginThrottle.succeed(throttle, reservedAt: reservation, context, with: [])
        }
        guard user.isActive else { throw AuthError.accountInactive }
        let now = context.time.now()
        let subject = String(user.id)
        let session = SessionClaims(
            id: context.random.uuidV4(), generation: user.cutoffGeneration, expiry: context.tokens.sessionHorizon(issuedAt: now))
        let keys = try context.store.keyRing()
        let accessCSRF = context.web.newCSRFValue(context.random)
        let access = try await context.tokens.issue(
            subject: subject, kind: .access, fresh: true, now: now, jti: context.random.uuidV4(), session: session, keys: keys,
            csrf: accessCSRF)
        let refreshCSRF = context.web.newCSRFValue(context.random)
        let refresh = try await context.tokens.issue(
            subject: subject, kind: .refresh, fresh: false, now: now, jti: context.random.uuidV4(), session: session, keys: keys,
            csrf: refreshCSRF)
        var response = Response(
            status: 200, headers: Response.tokenHeaders,
            body: [
                "status": "success",
                "data": [
                    "user_id": .int(user.id), "email": .string(user.email),
                    "access_token": .string(access), "refresh_token": .string(refresh),
                ],
            ])
        response.cookies = context.web.cookies(access: (access, accessCSRF), refresh: (refresh, refreshCSRF), now: now)
        response.subject = subject
        return response
    }

    static func userInfo(_ request: Request, _ context: Context) async throws -> Response {
        let principal = try await Authentication.require(.access, request, context)
        let user = principal.user
        var response = Response(
            status: 200,
            body: [
                "message": "welcome to your biodata page", "id": .int(user.id),
                "username": .string(user.username), "email": .string(user.email),
            ])
        response.subject = principal.token.subject
        return response
    }
}
