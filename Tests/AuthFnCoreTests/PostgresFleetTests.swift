import AuthFnCore
import Foundation
import Testing

/// The built binary as a fleet would run it: several "hosts" (each its own working and data
/// directory) on one PostgreSQL database, many processes at once.
@Suite("PostgreSQL fleet, end to end", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipNotice))
struct PostgresFleetTests {
    static let secret = "fleet-secret-0123456789abcdef0123456789"
    static let password = "445hD#@%yu78"

    /// One host: its own directories, the shared database.
    struct Host {
        var directory: URL
        var environment: [String: String]

        init(_ root: URL, _ name: String, database: String, route: TestDatabase.Route = .tcp, extra: [String: String] = [:]) throws {
            directory = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            environment = Executable.environment(
                dataDirectory: directory.appendingPathComponent("data"),
                ["AUTHFN_DATABASE_URL": TestDatabase.url(database, via: route), "JWT_SECRET_KEY": PostgresFleetTests.secret]
                    .merging(extra) { _, new in new })
        }

        func send(_ method: String, _ path: String, body: JSONValue? = nil, bearer: String? = nil) throws -> JSONValue {
            let headers = bearer.map { ["Authorization": "Bearer \($0)"] } ?? [:]
            let result = try Executable.run(
                request(method, path, body: body, headers: headers), environment: environment, directory: directory)
            guard let json = result.json else { throw CocoaError(.coderReadCorrupt, userInfo: [NSLocalizedDescriptionKey: result.stderr]) }
            return json
        }

        func admin(_ arguments: [String], input: [UInt8] = []) throws -> ProcessResult {
            try Executable.run(input, environment: environment, arguments: arguments, directory: directory)
        }

        /// Whether the host wrote anything under its data directory (it must not).
        var wroteData: Bool { FileManager.default.fileExists(atPath: directory.appendingPathComponent("data").path) }
    }

    /// Runs `body(0..<count)` on `width` threads (processes are what is measured, not the pool).
    static func parallel<T: Sendable>(_ count: Int, width: Int = 16, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = LockedResults<T>(count)
        let next = LockedIndex()
        let threads = (0..<min(width, count)).map { _ in
            Thread {
                while let index = next.take(below: count) { results.set(index, Result { try body(index) }) }
            }
        }
        threads.forEach { $0.start() }
        while !results.complete { usleep(5_000) }
        return try results.values()
    }

    static func withFleet(_ body: (URL, String) throws -> Void) throws {
        let name = try TestDatabase.create()
        defer { TestDatabase.drop(name) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-fleet-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let migrate = try Host(root, "migrate", database: name).admin(["db", "migrate"])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        try body(root, name)
    }

    @Test("unmigrated: a route answers 500 and logs `run authfn db migrate`, db check exits 1; no secret: exit 78")
    func unmigratedAndUnconfigured() throws {
        let name = try TestDatabase.create()
        defer { TestDatabase.drop(name) }
        try withTemporaryDirectoryBlocking { root in
            let host = try Host(root, "a", database: name)
            let login = request("POST", "/v1/user/login/", body: ["email": "a@example.com", "password": .string(Self.password)])
            let answer = try Executable.run(login, environment: host.environment, directory: host.directory)
            #expect(answer.json?["status"] == 500 && answer.stderr.contains("run `authfn db migrate`"), "\(answer.stderr)")
            #expect(try host.admin(["db", "check"]).status == 1)
            var unsigned = host.environment
            unsigned["JWT_SECRET_KEY"] = nil
            let refused = try Executable.run(login, environment: unsigned, directory: host.directory)
            #expect(refused.status == 78 && refused.stderr.contains("JWT_SECRET_KEY"))
            #expect(!host.wroteData)
        }
    }

    @Test("register on one host, log in on the other, sign out on one: the other refuses the token; no data directory")
    func twoHosts() throws {
        try Self.withFleet { root, name in
            let a = try Host(root, "a", database: name), b = try Host(root, "b", database: name, route: .pgbouncer)
            #expect(
                try a.send(
                    "POST", "/v1/user/register/",
                    body: ["username": "fleet", "email": "fleet@example.com", "password": .string(Self.password)])["status"] == 201)
            let login = try b.send("POST", "/v1/user/login/", body: ["email": "fleet@example.com", "password": .string(Self.password)])
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            #expect(try a.send("GET", "/v1/user/user_info/", bearer: access)["status"] == 200)
            #expect(try a.send("POST", "/v1/user/signout_access/", bearer: access)["status"] == 200)
            #expect(try b.send("GET", "/v1/user/user_info/", bearer: access)["status"] == 401)
            #expect(!a.wroteData && !b.wroteData)
            let listed = try b.admin(["users", "list"])
            #expect(listed.status == 0 && String(decoding: listed.stdout, as: UTF8.self).contains("fleet@example.com"))
        }
    }

    @Test("keys on a fleet: made on one host, signing on every host at once; revoked on one, refused on the other at once")
    func keyRotationAcrossHosts() throws {
        try Self.withFleet { root, name in
            let a = try Host(root, "a", database: name), b = try Host(root, "b", database: name, route: .pgbouncer)
            _ = try a.send(
                "POST", "/v1/user/register/", body: ["username": "k", "email": "k@example.com", "password": .string(Self.password)])
            let created = try a.admin(["keys", "create", "--alg", "EdDSA"])
            let kid = try #require(created.json?["kid"]?.stringValue, "\(created.stderr)")
            #expect(try b.send("GET", "/.well-known/jwks.json")["body"]?["keys"]?.arrayValue?.first?["kid"] == .string(kid))
            #expect(try b.admin(["keys", "activate", "--force", kid]).status == 0)
            let login = try a.send("POST", "/v1/user/login/", body: ["email": "k@example.com", "password": .string(Self.password)])
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            #expect(access.hasPrefix("eyJhbGciOiJFZERTQSIs"))
            #expect(try b.send("GET", "/v1/user/user_info/", bearer: access)["status"] == 200)
            let next = try #require(try b.admin(["keys", "create"]).json?["kid"]?.stringValue)
            #expect(try a.admin(["keys", "activate", "--force", next]).status == 0)
            #expect(try a.admin(["keys", "revoke", "--force", kid]).status == 0)
            #expect(try b.send("GET", "/v1/user/user_info/", bearer: access)["status"] == 422)
            #expect(!a.wroteData && !b.wroteData)
        }
    }

    @Test("200 concurrent registrations across two hosts all land; one of 20 same-name ones wins; no 5xx")
    func concurrentRegistrations() throws {
        try Self.withFleet { root, name in
            let hosts = [try Host(root, "a", database: name), try Host(root, "b", database: name, route: .pgbouncer)]
            let statuses = try Self.parallel(200) { index in
                try hosts[index % 2].send(
                    "POST", "/v1/user/register/",
                    body: [
                        "username": .string("user\(index)"), "email": .string("user\(index)@example.com"),
                        "password": .string(Self.password),
                    ]
                )["status"]?.integerValue ?? 0
            }
            #expect(statuses.allSatisfy { $0 == 201 }, "\(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            let same = try Self.parallel(20) { index in
                try hosts[index % 2].send(
                    "POST", "/v1/user/register/",
                    body: ["username": "Same", "email": .string("same\(index)@example.com"), "password": .string(Self.password)]
                )["status"]?.integerValue ?? 0
            }
            #expect(same.filter { $0 == 201 }.count == 1)
            #expect(same.filter { $0 == 400 }.count == 19)
            #expect(try TestDatabase.psql("SELECT count(*), max(id) FROM authfn_users", database: name) == "201|201")
        }
    }

    @Test("concurrent refreshes of one token under rotation yield one lineage; parallel wrong passwords are counted exactly")
    func rotationAndThrottling() throws {
        try Self.withFleet { root, name in
            let extra = ["JWT_REFRESH_TOKEN_ROTATION": "1", "JWT_REFRESH_REUSE_INTERVAL": "0", "AUTHFN_LOGIN_MAX_FAILURES": "1000"]
            let hosts = [
                try Host(root, "a", database: name, extra: extra), try Host(root, "b", database: name, route: .pgbouncer, extra: extra),
            ]
            _ = try hosts[0].send(
                "POST", "/v1/user/register/", body: ["username": "rot", "email": "rot@example.com", "password": .string(Self.password)])
            let login = try hosts[1].send(
                "POST", "/v1/user/login/", body: ["email": "rot@example.com", "password": .string(Self.password)])
            let refresh = try #require(login["body"]?["data"]?["refresh_token"]?.stringValue)
            let answers = try Self.parallel(10) { index in try hosts[index % 2].send("POST", "/v1/user/refresh_token/", bearer: refresh) }
            // The one spend wins; every other refresh in the reuse interval gets that same successor.
            let statuses = answers.compactMap { $0["status"]?.integerValue }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 401 }, "\(statuses)")
            let successors = Set(answers.compactMap { $0["body"]?["refresh_token"]?.stringValue })
            #expect(successors.count == 1)
            #expect(try TestDatabase.psql("SELECT count(*) FROM authfn_revocations WHERE kind = 'spent_refresh'", database: name) == "1")
            let wrong = try Self.parallel(30) { index in
                try hosts[index % 2].send(
                    "POST", "/v1/user/login/", body: ["email": "rot@example.com", "password": .string("wrong-password-\(index)")])[
                        "status"]?
                    .integerValue ?? 0
            }
            #expect(wrong.allSatisfy { $0 == 401 })
            let failures = try TestDatabase.psql("SELECT failures FROM authfn_throttles WHERE key = 'rot@example.com'", database: name)
            #expect(failures.split(separator: ",").count == 30)
        }
    }

    @Test("db copy file → PostgreSQL → file is lossless: valid tokens stay valid, revoked ones revoked")
    func copyRoundTrip() throws {
        let name = try TestDatabase.create()
        defer { TestDatabase.drop(name) }
        try withTemporaryDirectoryBlocking { root in
            let files = Executable.environment(dataDirectory: root.appendingPathComponent("data"), ["JWT_SECRET_KEY": Self.secret])
            func send(_ environment: [String: String], _ method: String, _ path: String, body: JSONValue? = nil, bearer: String? = nil)
                throws -> JSONValue?
            {
                try Executable.run(
                    request(method, path, body: body, headers: bearer.map { ["Authorization": "Bearer \($0)"] } ?? [:]),
                    environment: environment, directory: root
                ).json
            }
            _ = try send(
                files, "POST", "/v1/user/register/",
                body: ["username": "copy", "email": "copy@example.com", "password": .string(Self.password)])
            let kept = try #require(
                try send(files, "POST", "/v1/user/login/", body: ["email": "copy@example.com", "password": .string(Self.password)])?[
                    "body"]?["data"])
            let revoked = try #require(
                try send(files, "POST", "/v1/user/login/", body: ["email": "copy@example.com", "password": .string(Self.password)])?[
                    "body"]?["data"])
            #expect(try send(files, "POST", "/v1/user/signout_access/", bearer: revoked["access_token"]?.stringValue)?["status"] == 200)
            let url = TestDatabase.url(name, via: .tcp)
            let there = try Executable.run(
                [], environment: files, arguments: ["db", "copy", "--from", root.appendingPathComponent("data").path, "--to", url],
                directory: root)
            #expect(there.status == 0, "\(there.stderr)")
            #expect(there.json?["failed"] == 0 && there.json?["users"] == 1, "\(there.stdout)")
            let back = root.appendingPathComponent("back")
            let again = try Executable.run(
                [], environment: files, arguments: ["db", "copy", "--from", url, "--to", back.path], directory: root)
            #expect(again.status == 0, "\(again.stderr)")
            // Into a target holding someone else: refused.
            let other = Executable.environment(dataDirectory: root.appendingPathComponent("other"), ["JWT_SECRET_KEY": Self.secret])
            _ = try send(
                other, "POST", "/v1/user/register/",
                body: ["username": "someone", "email": "someone@example.com", "password": .string(Self.password)])
            let refused = try Executable.run(
                [], environment: files, arguments: ["db", "copy", "--from", url, "--to", root.appendingPathComponent("other").path],
                directory: root)
            #expect(refused.status == 1 && refused.stderr.contains("not empty"), "\(refused.stderr)")
            for environment in [
                files.merging(["AUTHFN_DATABASE_URL": url]) { _, new in new },
                files.merging(["AUTHFN_DATA_DIR": back.path]) { _, new in new },
            ] {
                #expect(try send(environment, "GET", "/v1/user/user_info/", bearer: kept["access_token"]?.stringValue)?["status"] == 200)
                #expect(try send(environment, "GET", "/v1/user/user_info/", bearer: revoked["access_token"]?.stringValue)?["status"] == 401)
                #expect(
                    try send(
                        environment, "POST", "/v1/user/register/",
                        body: ["username": "next", "email": "next@example.com", "password": .string(Self.password)])?["body"]?["id"] == 2)
            }
        }
    }

    @Test("users import from a real SQLite database made with the Flask app's schema, on both stores")
    func importFromSQLite() throws {
        let name = try TestDatabase.create()
        defer { TestDatabase.drop(name) }
        try withTemporaryDirectoryBlocking { root in
            let database = root.appendingPathComponent("app.db").path
            // Werkzeug's generate_password_hash("password", "pbkdf2:sha256:1000").
            let hash = "pbkdf2:sha256:1000$fmWxNlwIQE0Q1Bv7$fea86d87fce98bd6fcdbf237a9b55a4b90eb5f0ba6f68df8fb9c1077839e6ed3"
            let schema = """
                CREATE TABLE user (id INTEGER NOT NULL, created_on DATETIME DEFAULT (CURRENT_TIMESTAMP), updated_on DATETIME NOT NULL, \
                username VARCHAR(80) NOT NULL, email VARCHAR(200) NOT NULL, password VARCHAR(200) NOT NULL, PRIMARY KEY (id), \
                UNIQUE (username), UNIQUE (email));
                INSERT INTO user (id, created_on, updated_on, username, email, password) VALUES \
                (3, '2024-01-02 03:04:05', '2024-01-02 03:04:05', 'flask', 'flask@example.com', '\(hash)'), \
                (7, '2024-02-03 04:05:06.123456', '2024-02-03 04:05:06', 'bad', 'not-an-email', '\(hash)');
                """
            #expect(try shell(["sqlite3", database, schema]).status == 0)
            let export = try shell(["sqlite3", "-json", database, "SELECT * FROM user"])
            #expect(export.status == 0)
            let url = TestDatabase.url(name, via: .tcp)
            _ = try Executable.run(
                [], environment: Executable.environment(dataDirectory: root, ["AUTHFN_DATABASE_URL": url]), arguments: ["db", "migrate"])
            for extra in [["AUTHFN_DATABASE_URL": url], [:]] {
                let environment = Executable.environment(
                    dataDirectory: root.appendingPathComponent("data"), ["JWT_SECRET_KEY": Self.secret].merging(extra) { _, new in new })
                let first = try Executable.run(
                    export.stdout, environment: environment, arguments: ["users", "import", "-"], directory: root)
                #expect(first.status == 3, "\(first.stderr)")
                #expect(first.json == ["copied": 1, "skipped": 0, "failed": 1])
                #expect(first.stderr.contains("line 2") || first.stderr.contains("line 1"))
                let second = try Executable.run(
                    export.stdout, environment: environment, arguments: ["users", "import", "-"], directory: root)
                #expect(second.json == ["copied": 0, "skipped": 1, "failed": 1])
                let login = try Executable.run(
                    request("POST", "/v1/user/login/", body: ["email": "flask@example.com", "password": "password"]),
                    environment: environment, directory: root)
                #expect(login.json?["status"] == 200 && login.json?["body"]?["data"]?["user_id"] == 3, "\(login.stderr)")
                let register = try Executable.run(
                    request(
                        "POST", "/v1/user/register/",
                        body: ["username": "after", "email": "after@example.com", "password": .string(Self.password)]),
                    environment: environment, directory: root)
                // Row 7 was refused, so the counter stands past 3 only.
                #expect(register.json?["body"]?["id"] == 4)
            }
        }
    }
}

func withTemporaryDirectoryBlocking(_ body: (URL) throws -> Void) throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    try body(url)
}

final class LockedIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard next < limit else { return nil }
            defer { next += 1 }
            return next
        }
    }
}

final class LockedResults<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<T, any Error>?]
    init(_ count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ result: Result<T, any Error>) { lock.withLock { results[index] = result } }
    var complete: Bool { lock.withLock { results.allSatisfy { $0 != nil } } }
    func values() throws -> [T] {
        try lock.withLock {
            try results.map { result in
                guard let result else { throw CancellationError() }
                return try result.get()
            }
        }
    }
}
