import Synchronization

/// The `Store` for unit tests: same contract as `FileStore`, held in memory.
public final class InMemoryStore: Store {
    private struct State {
        var users: [Int: UserRecord] = [:]
        var byEmail: [String: Int] = [:]
        var byUsername: [String: Int] = [:]
        var revoked: [String: RevocationRecord] = [:]
        var nextID = 1
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

    public func isRevoked(jti: String) -> Bool { state.withLock { $0.revoked[jti] != nil } }

    public var userCount: Int { state.withLock { $0.users.count } }

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
                    user.id = next.nextID
                    next.nextID += 1
                    next.users[user.id] = user
                    next.byUsername[username] = user.id
                    next.byEmail[email] = user.id
                    ids.append(user.id)
                case .revoke(let record):
                    next.revoked[record.jti] = record
                }
            }
            current = next
            return ids
        }
    }
}
