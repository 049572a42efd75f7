import Foundation
import Testing

@testable import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9's findings about the data directory: links, permissions, journals that do not belong to
/// authfn, log hygiene, id limits and the format upgrade.
@Suite struct FileStoreHardeningTests {
    static let fm = FileManager.default

    /// A data directory with one user, and a directory outside it that nothing may touch.
    static func withPopulatedStore(_ body: (_ data: String, _ outside: String) throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let data = dir.path + "/data", outside = dir.path + "/outside"
            try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try FileStore(directory: data).commit([.createUser(FileStoreTests.user("alice"))])
            try body(data, outside)
            #expect(try fm.contentsOfDirectory(atPath: outside).isEmpty, "something was written outside the data directory")
        }
    }

    @Test(
        .bug(id: "9.10", "links inside the data directory are never followed"),
        arguments: ["users", "index", "index/email", "revoked", "throttle", "expiry", "tmp"])
    func aLinkedSubdirectoryIsRefused(_ subdirectory: String) async throws {
        try await Self.withPopulatedStore { data, outside in
            let path = data + "/" + subdirectory
            try? Self.fm.removeItem(atPath: path)
            try Self.fm.createSymbolicLink(atPath: path, withDestinationPath: outside)
            let error = #expect(throws: StoreError.self) {
                let store = try FileStore(directory: data)
                try store.commit([
                    .createUser(FileStoreTests.user("bob")), .revoke(RevocationRecord(id: "j", expiresAt: 10, revokedAt: 1)),
                    .replaceThrottle(key: "k", expected: nil, new: ThrottleRecord(key: "k", failures: [1], expiresAt: 10)),
                ])
            }
            guard case .unsafe(let named, let reason)? = error else {
                Issue.record("expected .unsafe, got \(String(describing: error))")
                return
            }
            #expect(named == path && reason.contains("symbolic link"))
        }
    }

    @Test(.bug(id: "9.10"))
    func aLinkPlantedAfterOpeningIsNotFollowedEither() async throws {
        try await Self.withPopulatedStore { data, outside in
            let store = try FileStore(directory: data)
            // No revocation yet, so revoked/ does not exist: the attacker creates it as a link.
            try Self.fm.createSymbolicLink(atPath: data + "/revoked", withDestinationPath: outside)
            #expect(throws: StoreError.self) { try store.commit([.revoke(RevocationRecord(id: "j", expiresAt: 10, revokedAt: 1))]) }
            // Refused before the commit point: no journal waits to be replayed, and reads go on.
            #expect(!Self.fm.fileExists(atPath: data + "/journal.json"))
            #expect(try store.user(id: 1)?.username == "alice")
        }
    }

    @Test(.bug(id: "9.10"))
    func aLinkedDataDirectoryIsRefused() async throws {
        try await Self.withPopulatedStore { data, outside in
            let link = outside + "/../link"
            try Self.fm.createSymbolicLink(atPath: link, withDestinationPath: data)
            defer { try? Self.fm.removeItem(atPath: link) }
            #expect(
                throws: StoreError.unsafe(
                    path: link,
                    reason:
                        "is a symbolic link; authfn does not follow links in its data directory: point AUTHFN_DATA_DIR (or --data-dir) at the directory itself"
                )
            ) {
                try FileStore(directory: link)
            }
        }
    }

    @Test(.bug(id: "9.10"), arguments: ["", "/users", "/index/email"])
    func aDirectoryOthersMayWriteIsRefused(_ subdirectory: String) async throws {
        try await Self.withPopulatedStore { data, _ throws in
            _ = chmod(data + subdirectory, 0o777)
            let error = #expect(throws: StoreError.self) { try FileStore(directory: data).user(id: 1) }
            #expect(error?.description.contains("chmod go-w '\(data + subdirectory)'") == true, "\(String(describing: error))")
            _ = chmod(data + subdirectory, 0o700)
            #expect(try FileStore(directory: data).user(id: 1)?.username == "alice")
        }
    }

    @Test(.bug(id: "9.10"))
    func newDirectoriesArePrivate() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path + "/fresh")
            try store.commit([
                .createUser(FileStoreTests.user("alice")), .revoke(RevocationRecord(id: "j", expiresAt: 100, revokedAt: 1)),
            ])
            for sub in ["", "/users", "/index", "/index/email", "/index/username", "/revoked", "/expiry", "/expiry/0", "/tmp"] {
                #expect(try FileStoreTests.mode(dir.path + "/fresh" + sub) == 0o700, "\(sub)")
            }
        }
    }

    @Test(
        .bug(id: "9.10", "a journal naming files authfn does not write is not applied"),
        arguments: [
            "../outside/authorized_keys", "users/../../outside/authorized_keys", "/tmp/x", "authorized_keys",
            "users/1.json/../../../outside/x", "index/other/\(String(repeating: "a", count: 64)).json", "expiry/1/../../../outside/x",
        ])
    func aForeignJournalIsRefused(_ path: String) async throws {
        try await Self.withPopulatedStore { data, _ in
            let journal: JSONValue = ["writes": [["path": .string(path), "content": "ssh-ed25519 AAAA attacker"]]]
            try Data(journal.encoded()).write(to: URL(fileURLWithPath: data + "/journal.json"))
            #expect(throws: StoreError.corrupt(path: "journal.json", detail: "a journal entry names a file authfn does not write")) {
                try FileStore(directory: data).user(id: 1)
            }
        }
    }

    @Test(.bug(id: "9.10"))
    func pruneDeletesOnlyRecords() async throws {
        try await Self.withPopulatedStore { data, outside in
            let victim = outside + "/../victim"
            try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
            defer { try? Self.fm.removeItem(atPath: victim) }
            try Self.fm.createDirectory(atPath: data + "/expiry/0", withIntermediateDirectories: true)
            for (index, target) in ["../victim", "revoked/../../victim", "users/1.json", "counters.json"].enumerated() {
                try Data(target.utf8).write(to: URL(fileURLWithPath: data + "/expiry/0/" + String(repeating: "\(index)", count: 64)))
            }
            #expect(try FileStore(directory: data).prune(now: 1_767_225_600, limit: nil) == 0)
            #expect(Self.fm.fileExists(atPath: victim))
            #expect(try FileStore(directory: data).user(id: 1)?.username == "alice")
        }
    }

    @Test(.bug(id: "9.14", "storage errors name the record kind, not its key"))
    func storeErrorsDoNotCarryKeyDigests() {
        let digest = FileStore.digest("oluch@gmail.com")
        for error in [
            StoreError.io(operation: "create", path: "index/email/\(digest).json", errno: 28),
            .corrupt(path: "throttle/\(digest).json", detail: "not a ThrottleRecord record"),
            .io(operation: "rename", path: "expiry/490896/\(digest)", errno: 5),
        ] {
            #expect(!error.description.contains(digest), "\(error.description)")
            #expect(error.description.contains("(record)"))
        }
    }

    @Test(.bug(id: "9.21", "ids are exact up to Int.max and never overflow"))
    func idsNearTheTopOfTheRange() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            try store.commit([.createUser(FileStoreTests.user("alice"))])
            try Data(#"{"next_user_id":9223372036854775806,"password_methods":{"scrypt:1024:8:1":1}}"#.utf8)
                .write(to: dir.appendingPathComponent("counters.json"))
            #expect(try store.commit([.createUser(FileStoreTests.user("big"))]) == [9_223_372_036_854_775_806])
            #expect(try store.user(id: 9_223_372_036_854_775_806)?.username == "big")
            let index = try Data(contentsOf: dir.appendingPathComponent(FileStore.indexPath(kind: "email", key: "big@example.com")))
            #expect(String(decoding: index, as: UTF8.self).contains(#""id":9223372036854775806"#))
            #expect(throws: StoreError.exhausted("user ids")) { try store.commit([.createUser(FileStoreTests.user("bigger"))]) }
        }
    }

    @Test(.bug(id: "9.9", "format 2 counts the password methods in use"))
    func aVersionOneDirectoryIsUpgradedInPlace() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            let legacy = UserRecord(
                id: 0, username: "legacy", email: "legacy@example.com", password: "pbkdf2:sha256:150000$s$00", createdAt: 1)
            try store.commit([.createUser(FileStoreTests.user("alice")), .createUser(legacy)])
            // What authfn 1.0 left: marker version 1, counters without methods.
            try Data(#"{"format":"authfn-data","version":1}"#.utf8).write(to: dir.appendingPathComponent("authfn.json"))
            try Data(#"{"next_user_id":3}"#.utf8).write(to: dir.appendingPathComponent("counters.json"))
            let upgraded = try FileStore(directory: dir.path)
            #expect(try upgraded.passwordMethods() == ["scrypt:1024:8:1": 1, "pbkdf2:sha256:150000": 1])
            let marker = try JSONValue.parse(Array(try Data(contentsOf: dir.appendingPathComponent("authfn.json"))))
            #expect(marker["version"] == 2)
            try upgraded.commit([.deleteUser(id: 2)])
            #expect(try upgraded.passwordMethods() == ["scrypt:1024:8:1": 1])
            #expect(try upgraded.commit([.createUser(FileStoreTests.user("carol"))]) == [3])
        }
    }

    @Test(.bug(id: "9.17", "a missing data directory is not created on request"))
    func openingWithoutCreateRefusesAMissingDirectory() async throws {
        try await withTemporaryDirectory { dir in
            #expect(throws: StoreError.noDataDirectory(path: dir.path + "/absent")) {
                try FileStore(directory: dir.path + "/absent", create: false)
            }
            #expect(!Self.fm.fileExists(atPath: dir.path + "/absent"))
        }
    }
}
