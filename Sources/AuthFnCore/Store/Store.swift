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
    /// The revocations stored under any of `keys`, read together (one lock, one query): what an
    /// authenticated request checks.
    func revocations(_ keys: [String]) throws(StoreError) -> [RevocationRecord]
    /// The failed-login record for `key`, if any.
    func throttle(_ key: String) throws(StoreError) -> ThrottleRecord?
    /// How many stored password hashes use each method (`UserRecord.passwordMethod`), so that a login
    /// for an unknown email can cost what one for a registered account costs.
    func passwordMethods() throws(StoreError) -> [String: Int]
    /// Every revocation record (including session horizons), in no particular order: `db copy` only.
    func allRevocations() throws(StoreError) -> [RevocationRecord]
    /// Every failed-login record, in no particular order: `db copy` only.
    func allThrottles() throws(StoreError) -> [ThrottleRecord]
    /// The signing keys and their states (`KeyRing.empty`, version 0, when none was ever stored). Read
    /// for every token a request signs or verifies, so a key change reaches every instance at once.
    func keyRing() throws(StoreError) -> KeyRing
    /// The id the next `.createUser` gets (ids are never reused, so this can exceed every stored id + 1).
    func nextUserID() throws(StoreError) -> Int
    /// Applies every change or none. Returns the ids assigned to `.createUser` changes, in order.
    @discardableResult
    func commit(_ changes: [Change]) throws(StoreError) -> [Int]
    /// Removes revocations and throttle records whose `expiresAt` is at or before `now`, at most
    /// about `limit` of them (all when `nil`). Returns how many were removed.
    @discardableResult
    func prune(now: Int64, limit: Int?) throws(StoreError) -> Int
}

extension Store {
    /// Whether the store holds nothing at all: no user, revocation or throttle record, and no id used.
    public func isEmpty() throws(StoreError) -> Bool {
        guard try nextUserID() == 1, try allUsers().isEmpty, try allRevocations().isEmpty else { return false }
        return try allThrottles().isEmpty
    }

    /// One lookup per key, for stores where that is as cheap as a batch.
    public func revocations(_ keys: [String]) throws(StoreError) -> [RevocationRecord] {
        var found: [RevocationRecord] = []
        for key in keys { if let record = try revocation(key) { found.append(record) } }
        return found
    }

    public func isRevoked(jti: String) throws(StoreError) -> Bool {
        try revocation(RevocationRecord.key(.token, jti)) != nil
    }
}

/// One change in a `Store.commit` batch.
public enum Change: Sendable, Equatable {
    /// A new user; the store assigns `id` (the value given is ignored). Fails the whole batch with
    /// `StoreError.conflict` when the canonical username or email is taken.
    case createUser(UserRecord)
    /// A user with the id it has (`db copy`, `users import`): `conflict(.user)` when the id is taken,
    /// `.username`/`.email` as for `.createUser`. Later `.createUser`s get ids above it.
    case insertUser(UserRecord)
    /// Makes the next `.createUser` id at least `id` (carrying an id counter over in `db copy`).
    case advanceUserIDs(to: Int)
    /// Replaces an existing user (same id, same canonical username and email); `conflict(.user)` if gone.
    case updateUser(UserRecord)
    /// Compare-and-set: replaces the user only if the stored record still equals `expected` (same id,
    /// same canonical username and email); otherwise the batch fails with `conflict(.user)`. For changes
    /// made from a record read earlier, which must not undo what another request did meanwhile.
    case replaceUser(expected: UserRecord, new: UserRecord)
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
    /// Compare-and-set: replaces the key ring with `new` only if the stored ring's version is
    /// `expected`; otherwise the batch fails with `conflict(.keyRing)`.
    case replaceKeyRing(expected: Int64, new: KeyRing)
}

/// Storage failures. `conflict` is a normal outcome; the rest become a 5xx and change nothing.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Field: String, Sendable {
        case username, email, user, revocation, throttle
        case keyRing = "key ring"
    }

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
    /// The database cannot be reached, refuses the credentials, or did not answer in time (503). The
    /// text never carries the URL's password.
    case unavailable(String)
    /// The database has no authfn schema, or an older one: `authfn db migrate` fixes it.
    case notMigrated(String)
    /// The database answered with an error authfn did not expect (SQLSTATE and message, no values).
    case database(String)

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
        case .unavailable(let why): "database unavailable: \(why)"
        case .notMigrated(let why): "\(why); run `authfn db migrate`"
        case .database(let what): "database error: \(what)"
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
