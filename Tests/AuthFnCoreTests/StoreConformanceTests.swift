import AuthFnCore
import Foundation
import Logging
import Testing

/// One contract, every store: the in-memory store, the data directory, and PostgreSQL reached
/// directly and through PgBouncer in transaction mode (when a test cluster is configured).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, files, postgres, pgbouncer

    var testDescription: String { rawValue }

    static var available: [StoreKind] {
        [.memory, .files] + (TestDatabase.isAvailable ? [.postgres, .pgbouncer] : [])
    }

    /// A fresh, empty store of this kind, and a way to open a second handle on the same state (a
    /// second process, in effect: its own descriptors or its own database connection).
    func make() throws -> Fixture {
        switch self {
        case .memory:
            let store = InMemoryStore()
            return Fixture(store: store, another: { store }, cleanup: {})
        case .files:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-conformance-\(UUID().uuidString)").path
            let open = { () throws -> any Store in try FileStore(directory: directory, create: true, logger: Logger(label: "test")) }
            return Fixture(store: try open(), another: open, cleanup: { try? FileManager.default.removeItem(atPath: directory) })
        case .postgres, .pgbouncer:
            let name = try TestDatabase.create()
            let route: TestDatabase.Route = self == .postgres ? .tcp : .pgbouncer
            let open = { () throws -> any Store in try TestDatabase.store(name, via: route) }
            return Fixture(store: try open(), another: open, cleanup: { TestDatabase.drop(name) })
        }
    }

    struct Fixture {
        var store: any Store
        var another: () throws -> any Store
        var cleanup: () -> Void
    }
}

func withStore<T>(_ kind: StoreKind, _ body: (StoreKind.Fixture) async throws -> T) async throws -> T {
    let fixture = try kind.make()
    defer { fixture.cleanup() }
    return try await body(fixture)
}

func user(_ name: String, email: String? = nil, method: String = "scrypt:1024:8:1") -> UserRecord {
    UserRecord(
        id: 0, username: name, email: email ?? "\(name.lowercased())@example.com", password: "\(method)$salt$hash", createdAt: 1_700_000_000
    )
}

@Suite("Store conformance")
struct StoreConformanceTests {
    @Test("users: ids in order, lookups by canonical email and username, all users", arguments: StoreKind.available)
    func users(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            #expect(try store.isEmpty())
            #expect(try store.commit([.createUser(user("Alice")), .createUser(user("bob"))]) == [1, 2])
            #expect(try store.user(id: 1)?.username == "Alice")
            #expect(try store.user(canonicalEmail: "alice@example.com")?.id == 1)
            #expect(try store.usernameExists(canonicalUsername: UserRecord.canonicalUsername("ＡＬＩＣＥ")))
            #expect(try !store.usernameExists(canonicalUsername: "carol"))
            #expect(try store.allUsers().map(\.id) == [1, 2])
            #expect(try store.nextUserID() == 3)
            #expect(try store.passwordMethods() == ["scrypt:1024:8:1": 2])
            #expect(try !store.isEmpty())
            // A second handle sees the same state.
            #expect(try fixture.another().user(id: 2)?.username == "bob")
        }
    }

    @Test("mailed links and the pending verification are kept with the account, and cleared", arguments: StoreKind.available)
    func accountTokens(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            var pending = user("Pending")
            pending.isActive = false
            pending.emailUnverified = true
            pending.verifyToken = AccountToken(digest: String(repeating: "ab", count: 32), expiresAt: 1_800_000_000)
            let id = try #require(try store.commit([.createUser(pending)]).first)
            pending.id = id
            #expect(try store.user(id: id) == pending)
            #expect(try fixture.another().user(canonicalEmail: "pending@example.com") == pending)
            pending.resetToken = AccountToken(digest: String(repeating: "cd", count: 32), expiresAt: 1_800_003_600)
            try store.commit([.updateUser(pending)])
            #expect(try fixture.another().user(id: id) == pending)
            pending.emailUnverified = false
            pending.verifyToken = nil
            pending.setPassword("scrypt:1024:8:1$salt$other")
            #expect(pending.resetToken == nil)
            try store.commit([
                .updateUser(pending), .revoke(RevocationRecord(kind: .spentLink, id: "ef", expiresAt: 1_800_000_000, revokedAt: 1)),
            ])
            #expect(try fixture.another().user(id: id) == pending)
            #expect(try store.revocation(RevocationRecord.key(.spentLink, "ef"))?.kind == .spentLink)
        }
    }

    @Test("replaceUser is a compare-and-set on the whole record, atomic with its batch", arguments: StoreKind.available)
    func replaceUser(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            let id = try #require(try store.commit([.createUser(user("Casey"))]).first)
            let read = try #require(try store.user(id: id))
            var linked = read
            linked.resetToken = AccountToken(digest: "aa", expiresAt: 5)
            // Another request changes the password in between: the stale replace fails, nothing of its batch lands.
            var changed = read
            changed.setPassword("scrypt:1024:8:1$salt$changed")
            try fixture.another().commit([.updateUser(changed)])
            let marker = RevocationRecord(kind: .spentLink, id: "cas", expiresAt: 9, revokedAt: 1)
            #expect(throws: StoreError.conflict(.user)) {
                try store.commit([.revoke(marker), .replaceUser(expected: read, new: linked)])
            }
            #expect(try store.revocation(marker.key) == nil)
            #expect(try store.user(id: id) == changed)
            // From the current record it succeeds.
            var relinked = changed
            relinked.resetToken = AccountToken(digest: "bb", expiresAt: 6)
            try store.commit([.replaceUser(expected: changed, new: relinked)])
            #expect(try fixture.another().user(id: id) == relinked)
        }
    }

    @Test("a taken username or email fails the whole batch, whatever its case", arguments: StoreKind.available)
    func uniqueness(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            try store.commit([.createUser(user("Alice"))])
            #expect(throws: StoreError.conflict(.username)) { try store.commit([.createUser(user("alice", email: "other@example.com"))]) }
            #expect(throws: StoreError.conflict(.email)) { try store.commit([.createUser(user("carol", email: "ALICE@example.com"))]) }
            // Half-way failures change nothing: the first user of this batch is not kept either.
            #expect(throws: StoreError.conflict(.username)) {
                try store.commit([.createUser(user("dave")), .createUser(user("Alice", email: "x@example.com"))])
            }
            #expect(try store.user(canonicalEmail: "dave@example.com") == nil)
            #expect(try store.allUsers().count == 1)
            #expect(try store.commit([.createUser(user("dave"))]) == [2])
        }
    }

    @Test("update, delete, method counts; ids are never reused", arguments: StoreKind.available)
    func updateAndDelete(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            try store.commit([.createUser(user("alice")), .createUser(user("bob"))])
            var alice = try #require(try store.user(id: 1))
            alice.password = "pbkdf2:sha256:1000$s$h"
            alice.isActive = false
            alice.endSessions(at: 1_700_000_100, except: "sid-1")
            try store.commit([.updateUser(alice)])
            #expect(try store.user(id: 1) == alice)
            #expect(try store.passwordMethods() == ["scrypt:1024:8:1": 1, "pbkdf2:sha256:1000": 1])
            var renamed = alice
            renamed.email = "new@example.com"
            #expect(throws: StoreError.conflict(.user)) { try store.commit([.updateUser(renamed)]) }
            var ghost = alice
            ghost.id = 99
            #expect(throws: StoreError.conflict(.user)) { try store.commit([.updateUser(ghost)]) }
            try store.commit([.deleteUser(id: 2)])
            #expect(throws: StoreError.conflict(.user)) { try store.commit([.deleteUser(id: 2)]) }
            #expect(try store.passwordMethods() == ["pbkdf2:sha256:1000": 1])
            #expect(try store.commit([.createUser(user("bob"))]) == [3])
        }
    }

    @Test("revocations: stored, replaced, required absent inside the batch", arguments: StoreKind.available)
    func revocations(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            let spent = RevocationRecord(
                kind: .spentRefresh, id: "jti-1", expiresAt: 2_000, revokedAt: 1_000, child: .init(jti: "jti-2", issuedAt: 1_000))
            try store.commit([.requireNoRevocation(key: spent.key), .revoke(spent)])
            #expect(try store.revocation(spent.key) == spent)
            #expect(throws: StoreError.conflict(.revocation)) {
                try store.commit([.createUser(user("alice")), .requireNoRevocation(key: spent.key), .revoke(spent)])
            }
            #expect(try store.allUsers().isEmpty)
            // A requirement alone leaves nothing behind.
            try store.commit([.requireNoRevocation(key: "sid:nothing")])
            #expect(try store.revocation("sid:nothing") == nil)
            let session = RevocationRecord(kind: .session, id: "s-1", expiresAt: nil, revokedAt: 1_000)
            try store.commit([
                .revoke(session), .revoke(RevocationRecord(kind: .token, id: "jti-%\u{0}-odd", expiresAt: 1_500, revokedAt: 1_000)),
            ])
            #expect(try store.isRevoked(jti: "jti-%\u{0}-odd"))
            #expect(Set(try store.allRevocations().map(\.key)) == [spent.key, session.key, "jti-%\u{0}-odd"])
        }
    }

    @Test("throttles: compare-and-set in every combination; keys with NUL", arguments: StoreKind.available)
    func throttles(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            let key = "client\u{0}10.0.0.1\u{0}alice@example.com"
            let first = ThrottleRecord(key: key, failures: [100], expiresAt: 1_000)
            let second = ThrottleRecord(key: key, failures: [100, 101], expiresAt: 1_001)
            try store.commit([.replaceThrottle(key: key, expected: nil, new: first)])
            #expect(try store.throttle(key) == first)
            #expect(throws: StoreError.conflict(.throttle)) { try store.commit([.replaceThrottle(key: key, expected: nil, new: second)]) }
            #expect(throws: StoreError.conflict(.throttle)) { try store.commit([.replaceThrottle(key: key, expected: second, new: first)]) }
            try store.commit([.replaceThrottle(key: key, expected: first, new: second)])
            #expect(try store.throttle(key) == second)
            try store.commit([.replaceThrottle(key: key, expected: second, new: nil)])
            #expect(try store.throttle(key) == nil)
            try store.commit([.replaceThrottle(key: key, expected: nil, new: nil)])
            #expect(try store.throttle(key) == nil)
            try store.commit([.replaceThrottle(key: key, expected: nil, new: first), .clearThrottle(key: "absent")])
            #expect(try store.allThrottles() == [first])
            try store.commit([.clearThrottle(key: key)])
            #expect(try store.throttle(key) == nil)
        }
    }

    // The data directory prunes by the hour a record expires in, so the times are hours apart.
    @Test("prune removes what expired, at most the limit", arguments: StoreKind.available)
    func prune(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            var changes: [Change] = (0..<5).map { .revoke(RevocationRecord(id: "old-\($0)", expiresAt: 100, revokedAt: 50)) }
            changes.append(.revoke(RevocationRecord(id: "new", expiresAt: 100_000, revokedAt: 50)))
            changes.append(.replaceThrottle(key: "t", expected: nil, new: ThrottleRecord(key: "t", failures: [1], expiresAt: 100)))
            try store.commit(changes)
            #expect(try store.prune(now: 10_000, limit: 2) == 2)
            #expect(try store.prune(now: 10_000, limit: nil) == 4)
            #expect(try store.allRevocations().map(\.id) == ["new"])
            #expect(try store.allThrottles().isEmpty)
        }
    }

    @Test("users with their own ids: kept exactly (up to 2^63 - 2), the counter moves past them", arguments: StoreKind.available)
    func insertedIDs(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            var imported = user("legacy")
            imported.id = 4_611_686_018_427_387_909  // 2^62 + 5: no Double holds it
            try store.commit([
                .insertUser(imported),
                .insertUser(
                    {
                        var u = user("seven"); u.id = 7; return u
                    }()),
            ])
            #expect(try store.user(id: 4_611_686_018_427_387_909)?.username == "legacy")
            #expect(try store.nextUserID() == 4_611_686_018_427_387_910)
            var clash = user("other")
            clash.id = 7
            #expect(throws: StoreError.conflict(.user)) { try store.commit([.insertUser(clash)]) }
            try store.commit([.advanceUserIDs(to: 5)])
            #expect(try store.nextUserID() == 4_611_686_018_427_387_910)
            #expect(try store.commit([.createUser(user("next"))]) == [4_611_686_018_427_387_910])
        }
    }

    @Test("concurrent writers: one of 20 same-name registrations wins; one of 10 spends a refresh token", arguments: StoreKind.available)
    func concurrentWriters(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let handles = try (0..<10).map { _ in try fixture.another() }
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    let store = handles[index % handles.count]
                    group.addTask {
                        do throws(StoreError) {
                            try store.commit([.createUser(user("Same", email: "same\(index)@example.com"))])
                            return true
                        } catch {
                            guard error == .conflict(.username) else { throw error }
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
            let key = RevocationRecord.key(.spentRefresh, "refresh-1")
            let spends = try await withThrowingTaskGroup(of: Bool.self) { group in
                for store in handles {
                    group.addTask {
                        do throws(StoreError) {
                            try store.commit([
                                .requireNoRevocation(key: key),
                                .revoke(RevocationRecord(kind: .spentRefresh, id: "refresh-1", expiresAt: 2_000, revokedAt: 1_000)),
                            ])
                            return true
                        } catch {
                            guard error == .conflict(.revocation) else { throw error }
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(spends == 1)
        }
    }

    @Test("compare-and-set counters from many handles count every increment exactly", arguments: StoreKind.available)
    func exactCounting(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let handles = try (0..<4).map { _ in try fixture.another() }
            try await Self.increment(handles, times: 10, key: "counter")
            #expect(try fixture.store.throttle("counter")?.failures.count == 40)
        }
    }

    /// Each handle adds `times` failures to the record under `key`, retrying on a lost compare-and-set.
    static func increment(_ handles: [any Store], times: Int, key: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in handles.enumerated() {
                group.addTask {
                    for step in 0..<times {
                        while true {
                            let current = try store.throttle(key)
                            let next = ThrottleRecord(
                                key: key, failures: (current?.failures ?? []) + [Int64(index * 1_000 + step)], expiresAt: 9_999)
                            do throws(StoreError) {
                                try store.commit([.replaceThrottle(key: key, expected: current, new: next)])
                                break
                            } catch {
                                guard error == .conflict(.throttle) else { throw error }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("db copy: every record and the id counter, and a resumed copy skips what is there", arguments: StoreKind.available)
    func copy(kind: StoreKind) async throws {
        try await withStore(kind) { source throws in
            try source.store.commit([.createUser(user("alice")), .createUser(user("bob")), .createUser(user("gone"))])
            try source.store.commit([
                .deleteUser(id: 3), .revoke(RevocationRecord(kind: .session, id: "s", expiresAt: 5_000, revokedAt: 1)),
                .replaceThrottle(key: "k\u{0}x", expected: nil, new: ThrottleRecord(key: "k\u{0}x", failures: [1, 2], expiresAt: 9)),
            ])
            let ring = try Self.sampleRing()
            try source.store.commit([.replaceKeyRing(expected: 0, new: ring)])
            for targetKind in StoreKind.available {
                try await withStore(targetKind) { target throws in
                    // An interrupted copy: alice made it over already.
                    try target.store.commit([.insertUser(try #require(try source.store.user(id: 1)))])
                    let summary = try StoreCopy.run(from: source.store, to: target.store, batchSize: 1)
                    #expect(summary.users == 1 && summary.skipped == 1 && summary.revocations == 1 && summary.throttles == 1)
                    #expect(try target.store.allUsers() == source.store.allUsers())
                    #expect(try target.store.allRevocations() == source.store.allRevocations())
                    #expect(try target.store.allThrottles() == source.store.allThrottles())
                    #expect(try target.store.nextUserID() == 4)
                    #expect(try target.store.passwordMethods() == source.store.passwordMethods())
                    #expect(try target.store.keyRing() == ring)
                    #expect(summary.keys == 3)  // a, b and the secret's record
                    // Run again (a resumed copy that had finished): the keys are there already.
                    #expect(try StoreCopy.run(from: source.store, to: target.store).keys == 3)
                    // A target with someone else's user, or keys of its own, is refused.
                    try await withStore(targetKind) { other throws in
                        try other.store.commit([.replaceKeyRing(expected: 0, new: try KeyRing.empty.adding(KeyRingTests.record("theirs")))])
                        #expect(throws: StoreCopy.Failure.self) { try StoreCopy.run(from: source.store, to: other.store) }
                        #expect(try other.store.allUsers().isEmpty)
                    }
                    try await withStore(targetKind) { other throws in
                        try other.store.commit([.createUser(user("stranger"))])
                        #expect(throws: StoreCopy.Failure.self) { try StoreCopy.run(from: source.store, to: other.store) }
                    }
                }
            }
        }
    }

    /// A ring with an activated key and a standby one, as the store would keep it.
    static func sampleRing() throws -> KeyRing {
        try KeyRing.empty.adding(KeyRingTests.record("a")).adding(KeyRingTests.record("b", alg: "EdDSA"))
            .activating("a", now: KeyRingTests.t0 + 600, policy: KeyRingTests.policy, force: false)
    }

    @Test("the key ring: empty at first, replaced by compare-and-set, atomic with the rest of a batch", arguments: StoreKind.available)
    func keyRing(kind: StoreKind) async throws {
        try await withStore(kind) { fixture throws in
            let store = fixture.store
            #expect(try store.keyRing() == .empty)
            let ring = try Self.sampleRing()
            try store.commit([.replaceKeyRing(expected: 0, new: ring)])
            #expect(try store.keyRing() == ring)
            #expect(try fixture.another().keyRing() == ring)
            // A stale version fails the whole batch: the user is not created either.
            let stale = try ring.revoking("b", now: 1, policy: KeyRingTests.policy, force: false)
            #expect(throws: StoreError.conflict(.keyRing)) {
                try store.commit([.createUser(user("alice")), .replaceKeyRing(expected: 0, new: stale)])
            }
            #expect(try store.allUsers().isEmpty)
            #expect(try store.keyRing() == ring)
            try store.commit([.replaceKeyRing(expected: ring.version, new: stale)])
            #expect(try fixture.another().keyRing().key("b")?.state == .revoked)
        }
    }

    @Test("concurrent key changes: exactly one of two writers with the same version wins", arguments: StoreKind.available)
    func keyRingRace(kind: StoreKind) async throws {
        try await withStore(kind) { fixture in
            let stores = try (0..<4).map { _ in try fixture.another() }
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        let next = try KeyRing.empty.adding(KeyRingTests.record("k\(index)"))
                        do throws(StoreError) {
                            try store.commit([.replaceKeyRing(expected: 0, new: next)])
                            return true
                        } catch {
                            guard error == .conflict(.keyRing) else { throw error }
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try fixture.store.keyRing().keys.count == 1)
        }
    }
}
