/// The seed app's routes, as plain functions of (request, context).
enum UserRoutes {
    static func home(_ request: Request, _ context: Context) async throws -> Response {
        Response(status: 200, body: ["status": "success", "data": ["msg": "Welcome to the diary API"]])
    }

    static func register(_ request: Request, _ context: Context) async throws -> Response {
        let input = try UserInput.registration(from: try RequestBody.json(request))
        let usernameKey = UserRecord.canonicalUsername(input.username)
        let emailKey = UserRecord.canonicalEmail(input.email)
        // Checked before hashing so duplicates cost no KDF work; checked again inside the commit,
        // which is what makes concurrent registrations of one name yield exactly one 201.
        if try context.store.usernameExists(canonicalUsername: usernameKey) { throw AuthError.usernameTaken }
        if try context.store.user(canonicalEmail: emailKey) != nil { throw AuthError.emailTaken }

        let hash = try context.hasher.hash(input.password, random: context.random)
        let record = UserRecord(
            id: 0, username: input.username, email: input.email, password: hash, createdAt: context.time.now())
        let assigned: [Int]
        do {
            assigned = try context.store.commit([.createUser(record)])
        } catch StoreError.conflict(.username) {
            throw AuthError.usernameTaken
        } catch StoreError.conflict(.email) {
            throw AuthError.emailTaken
        }
        guard let id = assigned.first else { throw StoreError.corrupt(path: "(store)", detail: "no id assigned") }
        var response = Response(
            status: 201, body: ["id": .number(Double(id)), "username": .string(input.username), "email": .string(input.email)])
        response.subject = String(id)
        return response
    }

    static func login(_ request: Request, _ context: Context) async throws -> Response {
        let input = try UserInput.credentials(from: try RequestBody.json(request))
        guard input.password.count <= PasswordPolicy.seed.maximumLength else {
            // No stored password can be this long; refuse without running the KDF at all.
            throw AuthError.invalidCredentials
        }
        guard let user = try context.store.user(canonicalEmail: UserRecord.canonicalEmail(input.email)) else {
            context.hasher.spendVerification(input.password)
            throw AuthError.invalidCredentials
        }
        guard PasswordHasher.verify(input.password, against: user.password) else { throw AuthError.invalidCredentials }

        let now = context.time.now()
        let subject = String(user.id)
        let access = try await context.tokens.issue(
            subject: subject, kind: .access, fresh: true, now: now, jti: context.random.uuidV4())
        let refresh = try await context.tokens.issue(
            subject: subject, kind: .refresh, fresh: false, now: now, jti: context.random.uuidV4())
        var response = Response(
            status: 200,
            body: [
                "status": "success",
                "data": [
                    "user_id": .number(Double(user.id)), "email": .string(user.email),
                    "access_token": .string(access), "refresh_token": .string(refresh),
                ],
            ])
        response.subject = subject
        return response
    }

    static func userInfo(_ request: Request, _ context: Context) async throws -> Response {
        let token = try await Authentication.require(.access, request, context)
        let user = try Authentication.user(for: token, context)
        var response = Response(
            status: 200,
            body: [
                "message": "welcome to your biodata page", "id": .number(Double(user.id)),
                "username": .string(user.username), "email": .string(user.email),
            ])
        response.subject = token.subject
        return response
    }

    static func refresh(_ request: Request, _ context: Context) async throws -> Response {
        let token = try await Authentication.require(.refresh, request, context)
        // The Flask app minted tokens for any identity a refresh token named, even a deleted one.
        let user = try Authentication.user(for: token, context)
        let access = try await context.tokens.issue(
            subject: String(user.id), kind: .access, fresh: false, now: context.time.now(),
            jti: context.random.uuidV4())
        var response = Response(status: 200, body: ["token": .string(access)])
        response.subject = token.subject
        return response
    }

    static func signoutAccess(_ request: Request, _ context: Context) async throws -> Response {
        let token = try await Authentication.require(.access, request, context)
        guard let jti = token.jti else { throw AuthError.tokenWithoutID }
        try context.store.commit([
            .revoke(RevocationRecord(jti: jti, expiresAt: token.expiresAt, revokedAt: context.time.now()))
        ])
        var response = Response.message(200, "Successfully logged out")
        response.subject = token.subject
        return response
    }
}
