import Synchronization

/// The `Store` for unit tests: same contract as `FileStore`, held in memory.
public final class InMemoryStore: Store {
    private struct State {
        var users: [Int: UserRecord] = [:]
        var byEmail: [String: Int] = [:]
        var byUsername: [String: Int] = [:]
        var revocations: [String: RevocationRecord] = [:]
        var throttles: [String: ThrottleRecord] = [:]
        var nextID = 1
        var keyRing = KeyRing.empty
    }

    private let state = Mutex(State())

    public init() {}

    public func user(id: Int) -> UserRecord? { state.withLock { $0.users[id] } }

    public func user(canonicalEmail: String) -> UserRecord? {
        state.withLock { state in state.byEmail[canonicalEmail].flatMap { state.users[$0] } }
    }

    public func usernameExists(canonicalUsername: String) -> Bool {
        state.withLock { $0.byUsername[canonicalUsername] != nil }
    }

    public func allUsers() -> [UserRecord] { state.withLock { $0.users.values.sorted { $0.id < $1.id } } }

    public func revocation(_ key: String) -> RevocationRecord? { state.withLock { $0.revocations[key] } }

    public func throttle(_ key: String) -> ThrottleRecord? { state.withLock { $0.throttles[key] } }

    public func passwordMethods() -> [String: Int] {
        state.withLock { state in state.users.values.reduce(into: [:]) { $0[$1.passwordMethod, default: 0] += 1 } }
    }

    public func allRevocations() -> [RevocationRecord] { state.withLock { Array($0.revocations.values) } }

    public func allThrottles() -> [ThrottleRecord] { state.withLock { Array($0.throttles.values) } }

    public func nextUserID() -> Int { state.withLock { $0.nextID } }

    public func keyRing() -> KeyRing { state.withLock { $0.keyRing } }

    public var userCount: Int { state.withLock { $0.users.count } }

    /// Sets the id the next user gets (for tests of ids near the top of the range).
    public func setNextUserID(_ id: Int) { state.withLock { $0.nextID = id } }
    public var revocationCount: Int { state.withLock { $0.revocations.count } }
    public var throttleCount: Int { state.withLock { $0.throttles.count } }

    @discardableResult
    public func commit(_ changes: [Change]) throws(StoreError) -> [Int] {
        try state.withLock { (current: inout State) throws(StoreError) -> [Int] in
            var next = current
            var ids: [Int] = []
            for change in changes {
                switch change {
                case .createUser(var user):
                    let username = UserRecord.canonicalUsername(user.username)
                    let email = UserRecord.canonicalEmail(user.email)
                    if next.byUsername[username] != nil { throw .conflict(.username) }
                    if next.byEmail[email] != nil { throw .conflict(.email) }
                    guard next.nextID < Int.max else { throw .exhausted("user ids") }
                    user.id = next.nextID
                    next.nextID += 1
                    next.users[user.id] = user
                    next.byUsername[username] = user.id
                    next.byEmail[email] = user.id
                    ids.append(user.id)
                case .insertUser(let user):
                    let username = UserRecord.canonicalUsername(user.username)
                    let email = UserRecord.canonicalEmail(user.email)
                    guard user.id > 0, next.users[user.id] == nil else { throw .conflict(.user) }
                    if next.byUsername[username] != nil { throw .conflict(.username) }
                    if next.byEmail[email] != nil { throw .conflict(.email) }
                    next.users[user.id] = user
                    next.byUsername[username] = user.id
                    next.byEmail[email] = user.id
                    if user.id >= next.nextID { next.nextID = user.id == Int.max ? Int.max : user.id + 1 }
                case .advanceUserIDs(let id):
                    next.nextID = max(next.nextID, id)
                case .updateUser(let user):
                    guard let old = next.users[user.id], Self.sameKeys(old, user) else { throw .conflict(.user) }
                    next.users[user.id] = user
                case .replaceUser(let expected, let user):
                    guard expected.id == user.id, next.users[user.id] == expected, Self.sameKeys(expected, user) else {
                        throw .conflict(.user)
                    }
                    next.users[user.id] = user
                case .deleteUser(let id):
                    guard let old = next.users.removeValue(forKey: id) else { throw .conflict(.user) }
                    next.byUsername[UserRecord.canonicalUsername(old.username)] = nil
                    next.byEmail[UserRecord.canonicalEmail(old.email)] = nil
                case .revoke(let record):
                    next.revocations[record.key] = record
                case .requireNoRevocation(let key):
                    if next.revocations[key] != nil { throw .conflict(.revocation) }
                case .replaceThrottle(let key, let expected, let new):
                    guard next.throttles[key] == expected else { throw .conflict(.throttle) }
                    next.throttles[key] = new
                case .clearThrottle(let key):
                    next.throttles[key] = nil
                case .replaceKeyRing(let expected, let new):
                    guard next.keyRing.version == expected else { throw .conflict(.keyRing) }
                    next.keyRing = new
                }
            }
            current = next
            return ids
        }
    }

    @discardableResult
    public func prune(now: Int64, limit: Int?) -> Int {
        state.withLock { state in
            var removed = 0
            for (key, record) in state.revocations where (record.expiresAt ?? .max) <= now {
                if let limit, removed >= limit { return removed }
                state.revocations[key] = nil
                removed += 1
            }
            for (key, record) in state.throttles where record.expiresAt <= now {
                if let limit, removed >= limit { return removed }
                state.throttles[key] = nil
                removed += 1
            }
            return removed
        }
    }

    static func sameKeys(_ a: UserRecord, _ b: UserRecord) -> Bool {
        UserRecord.canonicalUsername(a.username) == UserRecord.canonicalUsername(b.username)
            && UserRecord.canonicalEmail(a.email) == UserRecord.canonicalEmail(b.email)
    }
}
