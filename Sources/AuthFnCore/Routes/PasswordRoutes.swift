/// Changing one's own password.
enum PasswordRoutes {
    /// Needs a fresh access token (one straight from a login), the old password and an acceptable new
    /// one. Wrong old passwords count as failed logins. On success every other session ends; the
    /// session that made the change stays signed in.
    static func changePassword(_ request: Request, _ context: Context) async throws -> Response {
        let principal = try await Authentication.require(.access, request, context)
        guard principal.token.fresh else { throw TokenError.freshTokenRequired }
        let user = principal.user
        let (old, new) = try UserInput.passwordChange(
            from: try RequestBody.json(request), policy: context.settings.passwordPolicy, user: user)

        let throttle = LoginThrottle.keys(account: UserRecord.canonicalEmail(user.email), address: request.clientAddress)
        let reservation = try LoginThrottle.reserve(throttle, context)
        guard context.settings.passwordPolicy.mayCheck(old), PasswordHasher.verify(old, against: user.password) else {
            throw ValidationError(["old_password": ["Incorrect password."]])
        }
        let hash = try context.hasher.hash(new, random: context.random)
        let now = context.time.now()
        // A compare-and-set on the record read, so that a change that landed meanwhile is never undone: a
        // sign-out everywhere meanwhile ended this session too (401); a new password meanwhile means the
        // old one is checked again.
        var current = user
        for _ in 0..<16 {
            var updated = current
            updated.setPassword(hash)
            updated.endSessions(at: now, except: principal.token.sid)
            do {
                try LoginThrottle.succeed(
                    throttle, reservedAt: reservation, context, with: [.replaceUser(expected: current, new: updated)])
                var response = Response.message(200, "Password changed")
                response.subject = principal.token.subject
                return response
            } catch let error as StoreError where error == .conflict(.user) {
                guard let again = try context.store.user(id: current.id), again.isActive else { throw AuthError.unknownUser }
                // Every session ended meanwhile, this one included: the change comes too late.
                if again.cutoffGeneration != current.cutoffGeneration { throw TokenError.revoked }
                if again.password != current.password, !PasswordHasher.verify(old, against: again.password) {
                    throw ValidationError(["old_password": ["Incorrect password."]])
                }
                current = again
            }
        }
        throw StoreError.corrupt(path: "users", detail: "could not update an account under contention")
    }
}
