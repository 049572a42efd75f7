/// Changing one's own password.
enum PasswordRoutes {
    /// Needs a fresh access token (one straight from a login), the old password and an acceptable new
    /// one. Wrong old passwords count as failed logins. On success every other session ends; the
    /// session that made the change stays signed in.
    static func changePassword(_ request: Request, _ context: Context) async throws -> Response {
        let principal = try await Authentication.require(.access, request, context)
        guard principal.token.fresh else { throw TokenError.freshTokenRequired }
        var user = principal.user
        let (old, new) = try UserInput.passwordChange(
            from: try RequestBody.json(request), policy: context.settings.passwordPolicy, user: user)

        let throttle = LoginThrottle.keys(account: UserRecord.canonicalEmail(user.email), address: request.clientAddress)
        let reservation = try LoginThrottle.reserve(throttle, context)
        guard context.settings.passwordPolicy.mayCheck(old), PasswordHasher.verify(old, against: user.password) else {
            throw ValidationError(["old_password": ["Incorrect password."]])
        }
        user.setPassword(try context.hasher.hash(new, random: context.random))
        user.endSessions(at: context.time.now(), except: principal.token.sid)
        try LoginThrottle.succeed(throttle, reservedAt: reservation, context, with: [.updateUser(user)])
        var response = Response.message(200, "Password changed")
        response.subject = principal.token.subject
        return response
    }
}
