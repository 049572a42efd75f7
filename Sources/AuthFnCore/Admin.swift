/// The operator's commands on a data directory (`authfn users …`, `authfn prune`): no network, no
/// token, the same store and rules as the handlers.
public struct Admin: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        /// No user has this email or id.
        case noSuchUser(String)
        /// The password was refused by the policy; one message per reason.
        case unacceptablePassword([String])
    }

    public var context: Context

    public init(context: Context) { self.context = context }

    public func list() throws -> [UserRecord] { try context.store.allUsers() }

    /// The user a reference names: an id if it is all digits, otherwise an email (case-insensitively).
    public func find(_ reference: String) throws -> UserRecord {
        let found =
            if let id = Int(reference), id > 0 {
                try context.store.user(id: id)
            } else {
                try context.store.user(canonicalEmail: UserRecord.canonicalEmail(reference))
            }
        guard let found else { throw Failure.noSuchUser(reference) }
        return found
    }

    /// Activates or deactivates an account. A deactivated account's tokens stop working at once.
    public func setActive(_ reference: String, _ active: Bool) throws -> UserRecord {
        var user = try find(reference)
        user.isActive = active
        try context.commit([.updateUser(user)])
        return user
    }

    /// Deletes an account. Its tokens stop working at once: every token check looks the user up.
    public func delete(_ reference: String) throws -> UserRecord {
        let user = try find(reference)
        try context.commit([.deleteUser(id: user.id), LoginThrottle.clear(UserRecord.canonicalEmail(user.email))])
        return user
    }

    /// Sets a new password (policy applies) and ends every session of the account.
    public func setPassword(_ reference: String, password: String) throws -> UserRecord {
        var user = try find(reference)
        let problems = context.settings.passwordPolicy.problems(password, username: user.username, email: user.email)
        guard problems.isEmpty else { throw Failure.unacceptablePassword(problems) }
        user.password = try context.hasher.hash(password, random: context.random)
        user.tokensValidAfter = context.time.now()
        user.cutoffExemptSession = nil
        try context.commit([.updateUser(user), LoginThrottle.clear(UserRecord.canonicalEmail(user.email))])
        return user
    }

    /// Removes every revocation and throttle record that can no longer matter.
    public func prune() throws -> Int { try context.store.prune(now: context.time.now(), limit: nil) }
}
