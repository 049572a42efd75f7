import Foundation
import Testing

@testable import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// The built executable, run the way users run it: stdin in, stdout out, exit status, files on disk.
@Suite struct EndToEndTests {
    static let registerSeed = request(
        "POST", "/v1/user/register/", body: ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
    static let loginSeed = request("POST", "/v1/user/login/", body: ["email": "oluch@gmail.com", "password": .string(seedPassword)])

    @Test func zeroSetupGeneratesAndKeepsASecret() async throws {
        try await withTemporaryDirectory { dir in
            let data = dir.appendingPathComponent("data")
            let env = Executable.environment(dataDirectory: data)
            #expect(try Executable.run(Self.registerSeed, environment: env).json?["status"] == 201)
            let login = try #require(try Executable.run(Self.loginSeed, environment: env).json)
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            let secretPath = data.appendingPathComponent("secret.key").path
            let secret = try String(contentsOfFile: secretPath, encoding: .utf8)
            #expect(secret.trimmingCharacters(in: .newlines).count == 64)
            #expect(try FileStoreTests.mode(secretPath) == 0o600)
            let info = try Executable.run(
                request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]), environment: env)
            #expect(info.json?["status"] == 200)
            // The generated secret is what signs: PyJWT given the file's text would verify the token too.
            let service = await TokenService(
                secret: Array(secret.trimmingCharacters(in: .newlines).utf8), accessLifetime: 1, refreshLifetime: 1)
            #expect(try await service.verify(access, now: Int64(Date().timeIntervalSince1970)).subject == "1")
        }
    }

    @Test(
        "unusable configuration: generic 500 on stdout, detail on stderr, exit 78",
        arguments: [
            ["JWT_SECRET_KEY": "too-short"], ["AUTHFN_PASSWORD_HASH": "md5"], ["JWT_ACCESS_TOKEN_EXPIRES": "soon"],
            ["AUTHFN_NOW": "yesterday"],
        ])
    func badConfiguration(_ extra: [String: String]) async throws {
        try await withTemporaryDirectory { dir in
            let result = try Executable.run(
                Self.registerSeed, environment: Executable.environment(dataDirectory: dir.appendingPathComponent("d"), extra))
            #expect(result.status == 78)
            #expect(result.json?["status"] == 500)
            #expect(result.json?["body"] == ["message": "Internal server error: authfn is misconfigured."])
            #expect(result.stderr.contains(try #require(extra.keys.first)))
            for value in extra.values { #expect(!result.json!.encodedString.contains(value)) }
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("d/users").path))
        }
    }

    @Test func futureDataFormatIsRefused() async throws {
        try await withTemporaryDirectory { dir in
            try Data(#"{"format":"authfn-data","version":99}"#.utf8).write(to: dir.appendingPathComponent("authfn.json"))
            let result = try Executable.run(Self.registerSeed, environment: Executable.environment(dataDirectory: dir))
            #expect(result.status == 78)
            #expect(result.stderr.contains("upgrade authfn"))
        }
    }

    @Test func unwritableDataDirectory() async throws {
        try await withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("not-a-directory")
            try Data().write(to: file)
            let result = try Executable.run(Self.registerSeed, environment: Executable.environment(dataDirectory: file))
            #expect(result.status == 78)
            #expect(result.json?["status"] == 500)
        }
    }

    @Test func closedStdoutExits74() async throws {
        try await withTemporaryDirectory { dir in
            let result = try Executable.run(
                request("GET", "/"), environment: Executable.environment(dataDirectory: dir), closeStdout: true)
            #expect(result.status == 74)
        }
    }

    @Test func dotEnvAndDataDirOption() async throws {
        try await withTemporaryDirectory { dir in
            try Data("JWT_ACCESS_TOKEN_EXPIRES=60\nJWT_SECRET_KEY=dotenv-secret-0123456789abcdef0123456789\n".utf8)
                .write(to: dir.appendingPathComponent(".env"))
            var env = Executable.environment(dataDirectory: dir.appendingPathComponent("ignored"))
            env["AUTHFN_NOW"] = "1767225600"
            let custom = dir.appendingPathComponent("custom").path
            _ = try Executable.run(Self.registerSeed, environment: env, arguments: ["--data-dir", custom], directory: dir)
            let login = try #require(
                try Executable.run(Self.loginSeed, environment: env, arguments: ["--data-dir", custom], directory: dir).json)
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            let service = await TokenService(
                secret: Array("dotenv-secret-0123456789abcdef0123456789".utf8), accessLifetime: 1, refreshLifetime: 1)
            #expect(try await service.verify(access, now: 1_767_225_600).expiresAt == 1_767_225_660)
            #expect(FileManager.default.fileExists(atPath: custom + "/users/1.json"))
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("ignored").path))
        }
    }

    @Test func logsNeverContainSecrets() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir, ["AUTHFN_NOW": "1767225600", "AUTHFN_LOG_LEVEL": "trace"])
            let register = try Executable.run(Self.registerSeed, environment: env)
            let login = try Executable.run(Self.loginSeed, environment: env)
            let access = try #require(login.json?["body"]?["data"]?["access_token"]?.stringValue)
            let info = try Executable.run(
                request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]), environment: env)
            let hash = try #require(try FileStore(directory: dir.path).user(id: 1)?.password)
            for result in [register, login, info] {
                #expect(result.stderr.contains("AUTHFN_NOW or AUTHFN_SEED is set"))
                #expect(result.stderr.contains("status=") && result.stderr.contains("duration_ms="))
                for secret in [seedPassword, access, String(hash.suffix(32)), "oluch@gmail.com"] {
                    #expect(!result.stderr.contains(secret))
                }
            }
            #expect(info.stderr.contains("user=1"))
        }
    }

    @Test func concurrentProcessesLoseNothing() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            let created = LockedCounter()
            DispatchQueue.concurrentPerform(iterations: 8) { worker in
                for n in 0..<25 {
                    let body: JSONValue = [
                        "username": .string("w\(worker)n\(n)"), "email": .string("w\(worker)n\(n)@example.com"),
                        "password": .string(seedPassword),
                    ]
                    if let result = try? Executable.run(request("POST", "/v1/user/register", body: body), environment: env),
                        result.json?["status"] == 201
                    {
                        created.add()
                    }
                }
            }
            #expect(created.value == 200)
            let store = try FileStore(directory: dir.path)
            var names: Set<String> = []
            for id in 1...200 { if let user = try store.user(id: id) { names.insert(user.username) } }
            #expect(names.count == 200)
            #expect(try store.user(id: 201) == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/tmp").isEmpty)
        }
    }

    @Test func sameUsernameFromTwentyProcessesYieldsOne201() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            let statuses = LockedList()
            DispatchQueue.concurrentPerform(iterations: 20) { n in
                let body: JSONValue = ["username": "Racer", "email": .string("racer\(n)@example.com"), "password": .string(seedPassword)]
                let status = (try? Executable.run(request("POST", "/v1/user/register", body: body), environment: env))?.json?["status"]
                statuses.append(status?.integerValue ?? -1)
            }
            #expect(statuses.values.filter { $0 == 201 }.count == 1)
            #expect(statuses.values.filter { $0 == 400 }.count == 19)
        }
    }

    @Test func killedWritersLeaveConsistentState() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            var acknowledged: [String] = []
            for n in 0..<40 {
                let process = Process()
                process.executableURL = try Executable.url
                process.environment = env
                let stdin = Pipe(), stdout = Pipe()
                process.standardInput = stdin
                process.standardOutput = stdout
                process.standardError = FileHandle.nullDevice
                try process.run()
                let body: JSONValue = [
                    "username": .string("k\(n)"), "email": .string("k\(n)@example.com"), "password": .string(seedPassword),
                ]
                try stdin.fileHandleForWriting.write(contentsOf: Data(request("POST", "/v1/user/register", body: body)))
                try stdin.fileHandleForWriting.close()
                usleep(UInt32.random(in: 0...40_000))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                if (try? JSONValue.parse(Array(output)))?["status"] == 201 { acknowledged.append("k\(n)") }
            }
            // Every data file parses, whatever moment each writer died at.
            let files = try #require(FileManager.default.enumerator(atPath: dir.path)).compactMap { $0 as? String }
            for file in files where file.hasSuffix(".json") {
                #expect((try? JSONValue.parse(Array(try Data(contentsOf: dir.appendingPathComponent(file))))) != nil, "\(file)")
            }
            // The next request succeeds and finishes any committed batch.
            let after = try Executable.run(
                request(
                    "POST", "/v1/user/register",
                    body: ["username": "after", "email": "after@example.com", "password": .string(seedPassword)]),
                environment: env)
            #expect(after.json?["status"] == 201)
            let store = try FileStore(directory: dir.path)
            for name in acknowledged {
                #expect(try store.user(canonicalEmail: "\(name)@example.com")?.username == name, "acknowledged \(name) lost")
            }
            // Users and indexes agree: every user file is reachable through both indexes.
            for id in 1..<1000 {
                guard let user = try store.user(id: id) else { break }
                #expect(try store.user(canonicalEmail: UserRecord.canonicalEmail(user.email))?.id == id)
                #expect(try store.usernameExists(canonicalUsername: UserRecord.canonicalUsername(user.username)))
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/journal.json"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/tmp").isEmpty)
        }
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int64] = []
    func append(_ value: Int64) { lock.withLock { items.append(value) } }
    var values: [Int64] { lock.withLock { items } }
}

extension EndToEndTests {
    @Test func logsTheClientAddressTheLauncherGives() async throws {
        try await withTemporaryDirectory { dir in
            let result = try Executable.run(
                request("GET", "/"), environment: Executable.environment(dataDirectory: dir, ["SOCAT_PEERADDR": "203.0.113.7"]))
            #expect(result.stderr.contains("client=203.0.113.7"))
            let cgi = try Executable.run(
                request("GET", "/"), environment: Executable.environment(dataDirectory: dir, ["REMOTE_ADDR": "198.51.100.2"]))
            #expect(cgi.stderr.contains("client=198.51.100.2"))
        }
    }

    @Test func adminCommandsExitCodes() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            _ = try Executable.run(Self.registerSeed, environment: env)
            let shown = try Executable.run([], environment: env, arguments: ["users", "show", "OLUCH@GMAIL.COM"])
            #expect(shown.status == 0 && shown.json?["id"] == 1 && shown.json?["password"] == nil)
            let missing = try Executable.run([], environment: env, arguments: ["users", "activate", "ghost@example.com"])
            #expect(missing.status == 1 && missing.stderr.contains("no user with email or id 'ghost@example.com'"))
            let refused = try Executable.run(Array("weak\n".utf8), environment: env, arguments: ["users", "set-password", "1"])
            #expect(refused.status == 65 && refused.stderr.contains("Password must be at least 8 characters long."))
            #expect(!refused.stderr.contains("weak\n"))
            let misconfigured = try Executable.run(
                [], environment: Executable.environment(dataDirectory: dir, ["JWT_SECRET_KEY": "short"]), arguments: ["prune"])
            #expect(misconfigured.status == 78 && misconfigured.stdout.isEmpty)
            let usage = try Executable.run([], environment: env, arguments: ["users", "frobnicate"])
            #expect(usage.status == 64)
        }
    }
}

extension EndToEndTests {
    /// `authfn`, `--http`, `--cgi` and `--stream` skip the argument parser; every other command line
    /// must still meet it, with its usage errors (64) and its help.
    @Test(
        "other command lines still go through the argument parser",
        arguments: [
            (["--http", "--cgi"], Int32(64), "Choose at most one of --http, --cgi, --stream and --lambda."),
            (["--http", "--http"], 0, ""),
            (["--htp"], 64, "Unknown option '--htp'"),
            (["handle", "--http"], 0, ""),
            (["--help"], 0, "USAGE: authfn"),
        ])
    func parsedCommandLines(_ arguments: [String], status: Int32, message: String) async throws {
        try await withTemporaryDirectory { dir in
            let result = try Executable.run(
                Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), environment: Executable.environment(dataDirectory: dir),
                arguments: arguments)
            #expect(result.status == status, "\(result.stderr)")
            if status == 0 && message.isEmpty {
                #expect(String(decoding: result.stdout, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
            } else {
                #expect((result.stderr + String(decoding: result.stdout, as: UTF8.self)).contains(message))
            }
        }
    }

    @Test func pruneCommandRemovesExactlyTheExpiredRecords() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            let now: Int64 = 1_767_225_600
            let expiries: [Int64] = [now - 100_000, now - 3600, now - 1, now, now + 1, now + 3600]
            try store.commit(expiries.enumerated().map { .revoke(RevocationRecord(id: "e\($0)", expiresAt: $1, revokedAt: 0)) })
            let result = try Executable.run(
                [], environment: Executable.environment(dataDirectory: dir, ["AUTHFN_NOW": String(now)]), arguments: ["prune"])
            #expect(result.status == 0)
            #expect(result.json == ["removed": 4])
            for (index, expiry) in expiries.enumerated() {
                #expect(try store.isRevoked(jti: "e\(index)") == (expiry > now), "e\(index)")
            }
            let revoked = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/revoked")
            #expect(revoked.count == 2)
        }
    }
}
