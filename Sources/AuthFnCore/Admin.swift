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

    /// Activates or deactivates an account. Deactivation ends every session (its tokens stop working
    /// at once, and stay ended when the account is activated again).
    public func setActive(_ reference: String, _ active: Bool) throws -> UserRecord {
        let user = try find(reference)
        // An account awaiting address verification is inactive, but deactivating it still means something.
        guard user.isActive != active || user.emailUnverified else { return user }
        let now = context.time.now()
        return try context.modifyUser(user) { user in
            user.isActive = active
            // An administrator's decision settles the address check too: a verification link can neither
            // undo a deactivation nor is it still needed after an activation.
            user.emailUnverified = false
            user.verifyToken = nil
            if !active { user.endSessions(at: now) }
        }
    }

    /// Deletes an account. Its tokens stop working at once: every token check looks the user up.
    public func delete(_ reference: String) throws -> UserRecord {
        let user = try find(reference)
        try context.commit([.deleteUser(id: user.id), .clearThrottle(key: UserRecord.canonicalEmail(user.email))])
        return user
    }

    /// Sets a new password (policy applies) and ends every session of the account.
    public func setPassword(_ reference: String, password: String) throws -> UserRecord {
        let user = try find(reference)
        let problems = context.settings.passwordPolicy.problems(password, username: user.username, email: user.email)
        guard problems.isEmpty else { throw Failure.unacceptablePassword(problems) }
        let hash = try context.hasher.hash(password, random: context.random)
        let now = context.time.now()
        return try context.modifyUser(user, with: [.clearThrottle(key: UserRecord.canonicalEmail(user.email))]) { user in
            user.setPassword(hash)
            user.endSessions(at: now)
        }
    }

    /// Why a password given on stdin (`users set-password`) is refused before the policy sees it.
    public enum PasswordInputProblem: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case multipleLines
        case notUTF8
        case tooLong(limit: Int)
        /// Typed twice at the prompt, differently.
        case mismatch

        public var description: String {
            switch self {
            case .mismatch: "the two passwords typed do not match"
            case .empty: "no password given"
            case .multipleLines: "the password must be one line"
            case .notUTF8: "the password is not valid UTF-8"
            case .tooLong(let limit): "the password input is longer than \(limit) bytes"
            }
        }
    }

    public static let maximumPasswordInputBytes = 4096

    /// The password in `input` (stdin, or what was typed at the prompt): one trailing LF or CRLF is
    /// the end of the line, not part of the password — removed as bytes, since in a Swift `String`
    /// `"\r\n"` is one character and would not match `"\n"`. Nothing else is trimmed.
    public static func password(fromInput input: [UInt8]) -> Result<String, PasswordInputProblem> {
        guard input.count <= maximumPasswordInputBytes else { return .failure(.tooLong(limit: maximumPasswordInputBytes)) }
        var bytes = input[...]
        if bytes.last == 0x0A {
            bytes.removeLast()
            if bytes.last == 0x0D { bytes.removeLast() }
        }
        guard !bytes.contains(0x0A), !bytes.contains(0x0D) else { return .failure(.multipleLines) }
        guard !bytes.isEmpty else { return .failure(.empty) }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.notUTF8) }
        return .success(text)
    }

    /// Removes every revocation and throttle record that can no longer matter.
    public func prune() throws -> Int { try context.store.prune(now: context.time.now(), limit: nil) }
}
