import Foundation
import Testing

@testable import AuthFnCore

@Suite struct FileStoreTests {
    static func user(_ name: String, _ email: String? = nil) -> UserRecord {
        UserRecord(id: 0, username: name, email: email ?? "\(name)@example.com", password: "scrypt:1024:8:1$s$00", createdAt: 5)
    }

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func storesAndFindsUsers() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path + "/data")
            #expect(try store.commit([.createUser(Self.user("alice")), .createUser(Self.user("bob"))]) == [1, 2])
            #expect(try store.user(id: 2)?.username == "bob")
            #expect(try store.user(canonicalEmail: "alice@example.com")?.id == 1)
            #expect(try store.user(canonicalEmail: "carol@example.com") == nil)
            #expect(try store.usernameExists(canonicalUsername: UserRecord.canonicalUsername("ALICE")))
            #expect(try store.user(id: 3) == nil)
            // A second store on the same directory (another process, in effect) sees the same state.
            let again = try FileStore(directory: dir.path + "/data")
            #expect(try again.commit([.createUser(Self.user("carol"))]) == [3])
        }
    }

    @Test func conflictsFailTheWholeBatch() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            try store.commit([.createUser(Self.user("alice"))])
            #expect(throws: StoreError.conflict(.username)) {
                try store.commit([.createUser(Self.user("dave")), .createUser(Self.user("Alice", "new@example.com"))])
            }
            #expect(throws: StoreError.conflict(.email)) {
                try store.commit([.createUser(Self.user("erin", "ALICE@example.com"))])
            }
            #expect(throws: StoreError.conflict(.username)) {
                try store.commit([.createUser(Self.user("frank")), .createUser(Self.user("FRANK", "f2@example.com"))])
            }
            #expect(try store.user(canonicalEmail: "dave@example.com") == nil)
            #expect(try store.commit([.createUser(Self.user("gina"))]) == [2])
        }
    }

    @Test func revocations() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            #expect(try !store.isRevoked(jti: "j1"))
            try store.commit([.revoke(RevocationRecord(id: "j1", expiresAt: 99, revokedAt: 9))])
            #expect(try store.isRevoked(jti: "j1"))
            #expect(try !store.isRevoked(jti: "../j1"))
            #expect(try !store.isRevoked(jti: "j2"))
        }
    }

    @Test func filesArePrivate() async throws {
        try await withTemporaryDirectory { dir in
            let root = dir.path + "/data"
            let store = try FileStore(directory: root)
            try store.commit([.createUser(Self.user("alice")), .revoke(RevocationRecord(id: "j", expiresAt: nil, revokedAt: 1))])
            #expect(try Self.mode(root) == 0o700)
            let files = try #require(FileManager.default.enumerator(atPath: root)).compactMap { $0 as? String }
            #expect(files.contains("users/1.json"))
            for file in files {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: root + "/" + file, isDirectory: &isDirectory)
                #expect(try Self.mode(root + "/" + file) == (isDirectory.boolValue ? 0o700 : 0o600), "\(file)")
            }
            #expect(!files.contains("journal.json"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
        }
    }

    @Test func refusesAFutureFormat() async throws {
        try await withTemporaryDirectory { dir in
            try Data(#"{"format":"authfn-data","version":3}"#.utf8).write(to: dir.appendingPathComponent("authfn.json"))
            #expect(throws: StoreError.unsupportedFormat(path: dir.path + "/authfn.json", found: "3")) {
                try FileStore(directory: dir.path)
            }
            try Data("garbage".utf8).write(to: dir.appendingPathComponent("authfn.json"))
            #expect(throws: StoreError.self) { try FileStore(directory: dir.path) }
        }
    }

    @Test func replaysAJournalAKilledWriterLeft() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            // What a writer killed right after its commit point leaves: the journal and a temp file.
            let user = try String(decoding: JSONEncoder().encode(Self.user("zed")), as: UTF8.self)
            let journal: JSONValue = [
                "writes": [
                    ["path": "users/1.json", "content": .string(user.replacingOccurrences(of: "\"id\":0", with: "\"id\":1"))],
                    [
                        "path": .string(FileStore.indexPath(kind: "email", key: "zed@example.com")),
                        "content": #"{"email":"zed@example.com","id":1}"#,
                    ],
                    ["path": .string(FileStore.indexPath(kind: "username", key: "zed")), "content": #"{"id":1,"username":"zed"}"#],
                    ["path": "counters.json", "content": #"{"next_user_id":2}"#],
                ]
            ]
            try Data(journal.encoded()).write(to: dir.appendingPathComponent("journal.json"))
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("tmp"), withIntermediateDirectories: true)
            try Data("half-written".utf8).write(to: dir.appendingPathComponent("tmp/123-1"))

            #expect(try store.user(canonicalEmail: "zed@example.com")?.id == 1)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/journal.json"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/tmp").isEmpty)
            #expect(try store.commit([.createUser(Self.user("next"))]) == [2])
        }
    }

    @Test func concurrentWritersLoseNothing() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.path
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        let store = try FileStore(directory: path)  // one per worker, like separate processes
                        for n in 0..<25 { try store.commit([.createUser(Self.user("w\(worker)n\(n)"))]) }
                    }
                }
                try await group.waitForAll()
            }
            let store = try FileStore(directory: path)
            var names: Set<String> = []
            for id in 1...200 { names.insert(try #require(try store.user(id: id)).username) }
            #expect(names.count == 200)
            #expect(try store.user(id: 201) == nil)
        }
    }

    @Test func concurrentSameNameYieldsOneWinner() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.path
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for n in 0..<20 {
                    group.addTask { try Self.tryRegister(path: path, "Same", "same\(n)@example.com") }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    static func tryRegister(path: String, _ name: String, _ email: String) throws -> Bool {
        let store = try FileStore(directory: path)
        do {
            try store.commit([.createUser(Self.user(name, email))])
            return true
        } catch {
            guard error == .conflict(.username) else { throw error }
            return false
        }
    }

    @Test func unwritableDirectoryIsAnIOError() async throws {
        try await withTemporaryDirectory { dir in
            #expect(throws: StoreError.self) { try FileStore(directory: dir.path + "/missing/parent/data") }
        }
    }
}

extension FileStoreTests {
    @Test func aLostCounterNeverOverwritesAUser() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            try store.commit([.createUser(Self.user("alice")), .createUser(Self.user("bob"))])
            try FileManager.default.removeItem(atPath: dir.path + "/counters.json")
            #expect(try store.commit([.createUser(Self.user("carol"))]) == [3])
            #expect(try store.user(id: 1)?.username == "alice")
        }
    }
}
