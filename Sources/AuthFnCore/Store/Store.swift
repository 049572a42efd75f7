/// Persistent state behind the handlers: point lookups plus one atomic batch of changes.
///
/// Small enough that a SQL backend can implement it with a transaction, two unique indexes and
/// compare-and-set updates. Implementations must make `commit` all-or-nothing and durable before it
/// returns, and must check every precondition (uniqueness, `requireNoRevocation`, `replaceThrottle`)
/// inside the batch's atomicity, not before it.
public protocol Store: Sendable {
    /// The user with this id, if any.
    func user(id: Int) throws(StoreError) -> UserRecord?
    /// The user whose canonical email (`UserRecord.canonicalEmail`) is `canonicalEmail`, if any.
    func user(canonicalEmail: String) throws(StoreError) -> UserRecord?
    /// Whether a user with this canonical username exists.
    func usernameExists(canonicalUsername: String) throws(StoreError) -> Bool
    /// Every user, by id (admin listing; the one lookup whose cost grows with the number of users).
    func allUsers() throws(StoreError) -> [UserRecord]
    /// The revocation stored under `key` (see `RevocationRecord.key`), if any.
    func revocation(_ key: String) throws(StoreError) -> RevocationRecord?
    /// The failed-login record for `key`, if any.
    func throttle(_ key: String) throws(StoreError) -> ThrottleRecord?
    /// How many stored password hashes use each method (`UserRecord.passwordMethod`), so that a login
    /// for an unknown email can cost what one for a registered account costs.
    func passwordMethods() throws(StoreError) -> [String: Int]
    /// Applies every change or none. Returns the ids assigned to `.createUser` changes, in order.
    @discardableResult
    func commit(_ changes: [Change]) throws(StoreError) -> [Int]
    /// Removes revocations and throttle records whose `expiresAt` is at or before `now`, at most
    /// about `limit` of them (all when `nil`). Returns how many were removed.
    @discardableResult
    func prune(now: Int64, limit: Int?) throws(StoreError) -> Int
}

extension Store {
    public func isRevoked(jti: String) throws(StoreError) -> Bool {
        try revocation(RevocationRecord.key(.token, jti)) != nil
    }
}

/// One change in a `Store.commit` batch.
public enum Change: Sendable, Equatable {
    /// A new user; the store assigns `id` (the value given is ignored). Fails the whole batch with
    /// `StoreError.conflict` when the canonical username or email is taken.
    case createUser(UserRecord)
    /// Replaces an existing user (same id, same canonical username and email); `conflict(.user)` if gone.
    case updateUser(UserRecord)
    /// Removes a user and its index entries; `conflict(.user)` if there is none.
    case deleteUser(id: Int)
    /// Stores a revocation (replacing one under the same key).
    case revoke(RevocationRecord)
    /// Fails the batch with `conflict(.revocation)` if a revocation exists under `key`.
    case requireNoRevocation(key: String)
    /// Compare-and-set: sets the throttle record under `key` to `new` (or removes it) only if the current
    /// record equals `expected`; otherwise the batch fails with `conflict(.throttle)`.
    case replaceThrottle(key: String, expected: ThrottleRecord?, new: ThrottleRecord?)
    /// Removes the throttle record under `key`, whatever it is.
    case clearThrottle(key: String)
}

/// Storage failures. `conflict` is a normal outcome; the rest become a 5xx and change nothing.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Field: String, Sendable { case username, email, user, revocation, throttle }

    case conflict(Field)
    /// A system call failed; `errno` is kept so a full disk can be told apart.
    case io(operation: String, path: String, errno: Int32)
    /// A file exists but cannot be read as what it should be.
    case corrupt(path: String, detail: String)
    /// The data directory was written by a newer authfn.
    case unsupportedFormat(path: String, found: String)
    /// There is no data directory at `path` (and the caller did not ask for one to be created).
    case noDataDirectory(path: String)
    /// The data directory, or a directory in it, is a symbolic link or writable by others.
    case unsafe(path: String, reason: String)
    /// A counter has reached its largest value.
    case exhausted(String)

    public var isOutOfSpace: Bool {
        if case .io(_, _, let code) = self { return code == 28 || code == 122 }  // ENOSPC, EDQUOT
        return false
    }

    /// For logs: a record's file is named by the SHA-256 of its key (a canonical email, say), which
    /// is a brute-forceable pseudonym, so descriptions name the kind of record, never the digest.
    public var description: String {
        switch self {
        case .conflict(let field): "\(field.rawValue) already exists"
        case .io(let operation, let path, let code):
            "\(operation) \(Self.redacted(path)): \(String(cString: strerror(code)))"
        case .corrupt(let path, let detail): "\(Self.redacted(path)) is corrupt: \(detail)"
        case .unsupportedFormat(let path, let found):
            "\(path) declares data format \(found), which this authfn does not know; upgrade authfn"
        case .noDataDirectory(let path): "no data directory at \(path)"
        case .unsafe(let path, let reason): "\(path) \(reason)"
        case .exhausted(let what): "no more \(what) can be assigned"
        }
    }

    /// `index/email/<64 hex>.json` → `index/email/(record)`: every path component that is a digest,
    /// with or without `.json`, replaced.
    static func redacted(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { component -> String in
            let stem = component.hasSuffix(".json") ? component.dropLast(5) : component[...]
            let isDigest = stem.utf8.count == 64 && stem.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
            return isDigest ? "(record)" : String(component)
        }.joined(separator: "/")
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
