import Foundation
import Testing

@testable import AuthFnCore

/// A whole rotation through the built executable, one process per step, the clock driven by
/// `AUTHFN_NOW`: create → (wait) activate → old tokens still valid → revoke after `not_after` → old
/// tokens refused and the key gone from the JWKS; then HS256 turned off the same way.
@Suite struct KeyRotationEndToEndTests {
    static let t0: Int64 = 1_767_225_600
    static let secret = "rotation-e2e-secret-0123456789abcdef0123"

    struct Instance {
        let dir: URL

        func env(at time: Int64, _ extra: [String: String] = [:]) -> [String: String] {
            Executable.environment(
                dataDirectory: dir,
                ["AUTHFN_NOW": String(time), "JWT_SECRET_KEY": KeyRotationEndToEndTests.secret, "AUTHFN_LOG_LEVEL": "error"]
                    .merging(extra) { $1 })
        }

        func keys(_ arguments: [String], at time: Int64, _ extra: [String: String] = [:]) throws -> (
            status: Int32, lines: [JSONValue], stderr: String
        ) {
            let result = try Executable.run([], environment: env(at: time, extra), arguments: ["keys"] + arguments)
            let lines = String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").compactMap {
                try? JSONValue.parse(Array($0.utf8))
            }
            return (result.status, lines, result.stderr)
        }

        func send(_ envelope: [UInt8], at time: Int64, _ extra: [String: String] = [:]) throws -> JSONValue {
            try #require(try Executable.run(envelope, environment: env(at: time, extra)).json)
        }

        func login(at time: Int64) throws -> (access: String, refresh: String) {
            let response = try send(EndToEndTests.loginSeed, at: time)
            return (
                try #require(response["body"]?["data"]?["access_token"]?.stringValue),
                try #require(response["body"]?["data"]?["refresh_token"]?.stringValue)
            )
        }

        func userInfo(_ token: String, at time: Int64) throws -> JSONValue {
            try send(request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(token)"]), at: time)
        }

        func jwksKids(at time: Int64) throws -> [String] {
            try send(request("GET", "/.well-known/jwks.json"), at: time)["body"]?["keys"]?.arrayValue?.compactMap { $0["kid"]?.stringValue }
                ?? []
        }
    }

    static func header(_ token: String) throws -> JSONValue {
        try JSONValue.parse(try #require(Base64URL.decode(String(token.split(separator: ".")[0]))))
    }

    @Test func aFullRotation() async throws {
        try await withTemporaryDirectory { dir in
            let node = Instance(dir: dir)
            #expect(try node.send(EndToEndTests.registerSeed, at: Self.t0)["status"] == 201)
            let hs256 = try node.login(at: Self.t0)
            #expect(try Self.header(hs256.access) == ["alg": "HS256", "typ": "JWT"])

            // create: standby, published at once, signing nothing.
            let created = try node.keys(["create"], at: Self.t0)
            #expect(created.status == 0)
            let first = try #require(created.lines.first)
            let kid = try #require(first["kid"]?.stringValue)
            #expect(first == ["kid": .string(kid), "alg": "ES256", "state": "standby", "created_at": .int(Self.t0)])
            #expect(try node.jwksKids(at: Self.t0) == [kid])
            #expect(try Self.header(try node.login(at: Self.t0 + 1).access)["alg"] == "HS256")

            // activate: refused until AUTHFN_JWKS_MAX_AGE has passed, then the only signing key.
            let early = try node.keys(["activate", kid], at: Self.t0 + 599)
            #expect(early.status == 1)
            #expect(early.stderr.contains("AUTHFN_JWKS_MAX_AGE"))
            let activated = try node.keys(["activate", kid], at: Self.t0 + 600)
            #expect(activated.status == 0)
            #expect(activated.lines.map { $0["state"] } == ["current", "previous"])
            let es256 = try node.login(at: Self.t0 + 700)
            #expect(try Self.header(es256.access) == ["alg": "ES256", "kid": .string(kid), "typ": "JWT"])
            // Old tokens still valid: the secret is previous.
            #expect(try node.userInfo(es256.access, at: Self.t0 + 700)["status"] == 200)
            #expect(try node.userInfo(hs256.access, at: Self.t0 + 700)["status"] == 200)

            // A second key takes over; the first verifies until its not_after.
            let second = try #require(try node.keys(["create", "--alg", "EdDSA"], at: Self.t0 + 800).lines.first?["kid"]?.stringValue)
            #expect(try node.keys(["activate", "--force", second], at: Self.t0 + 800).status == 0)
            let listed = try node.keys(["list"], at: Self.t0 + 800).lines
            #expect(listed.map { $0["kid"]?.stringValue } == ["secret", kid, second])
            #expect(listed.map { $0["state"] } == ["previous", "previous", "current"])
            let notAfter = try #require(listed[1]["not_after"]?.integerValue)
            #expect(notAfter == Self.t0 + 800 + 2_592_000 + 60)
            #expect(
                try node.send(
                    request("POST", "/v1/user/refresh_token", headers: ["Authorization": "Bearer \(es256.refresh)"]), at: Self.t0 + 900
                )["status"] == 200)

            // revoke: refused before not_after, done after it; the key's tokens are refused (as an
            // unknown key, before their expiry is even looked at) and it leaves the JWKS.
            #expect(try node.keys(["revoke", kid], at: notAfter - 1).status == 1)
            #expect(try node.keys(["revoke", kid], at: notAfter).status == 0)
            let refused = try node.userInfo(es256.refresh, at: notAfter)
            #expect(refused["status"] == 422)
            #expect(refused["body"]?["message"] == .string(TokenError.unknownKey.message))
            #expect(try node.jwksKids(at: notAfter) == [second])
            #expect(try node.keys(["delete", kid], at: notAfter).status == 0)
            #expect(try node.keys(["list"], at: notAfter).lines.map { $0["kid"]?.stringValue } == ["secret", second])

            // HS256 off: the secret is revoked like any previous key.
            let secretNotAfter = Self.t0 + 600 + 2_592_000 + 60
            #expect(try node.keys(["revoke", "secret"], at: secretNotAfter).status == 0)
            let old = try node.userInfo(Forge.token(payload: Forge.claims(), secret: Array(Self.secret.utf8)), at: Self.t0 + 700)
            #expect(old["status"] == 422)
            #expect(try node.userInfo(try node.login(at: secretNotAfter).access, at: secretNotAfter)["status"] == 200)
        }
    }

    @Test(
        "key commands refuse what they cannot do, changing nothing",
        arguments: [
            (["activate", "nope"], Int32(1)), (["revoke", "nope"], 1), (["delete", "secret"], 1), (["revoke", "secret"], 1),
            (["create", "--alg", "HS512"], 64), (["create", "--alg", "RS256", "--rsa-bits", "1024"], 65),
            (["import", "--alg", "ES256", "/nonexistent.pem"], 66),
        ] as [([String], Int32)])
    func refusals(_ arguments: [String], _ status: Int32) async throws {
        try await withTemporaryDirectory { dir in
            let node = Instance(dir: dir)
            _ = try node.send(EndToEndTests.registerSeed, at: Self.t0)
            _ = try node.keys(["create"], at: Self.t0)
            let ring = dir.appendingPathComponent("keys.json")
            let before = try Data(contentsOf: ring)
            let result = try node.keys(arguments, at: Self.t0)
            #expect(result.status == status, "\(result.stderr)")
            #expect(result.lines.isEmpty)
            #expect(try Data(contentsOf: ring) == before)
        }
    }

    /// A thumbprint is base64url: one in 64 begins with `-`, which must not be taken for an option.
    @Test func aKidBeginningWithADashIsAKid() async throws {
        try await withTemporaryDirectory { dir in
            let node = Instance(dir: dir)
            var key: PrivateSigningKey
            repeat {
                key = try PrivateSigningKey.generate(.eddsa, random: SystemRandomSource())
            } while !key.publicKey.thumbprint.hasPrefix("-")
            let pemFile = dir.appendingPathComponent("dash.pem")
            try Data(key.pemRepresentation.utf8).write(to: pemFile)
            let kid = key.publicKey.thumbprint
            #expect(try node.keys(["import", "--alg", "EdDSA", pemFile.path], at: Self.t0).lines.first?["kid"] == .string(kid))
            #expect(try node.keys(["activate", "--force", kid], at: Self.t0).status == 0)
            #expect(try node.keys(["activate", kid, "--force"], at: Self.t0).stderr.contains("is current"))
            #expect(try node.keys(["activate", "--force", "--", kid], at: Self.t0).stderr.contains("is current"))
            #expect(try node.keys(["activate"], at: Self.t0).status == 64)
            #expect(try node.keys(["activate", "a", "b"], at: Self.t0).status == 64)
        }
    }

    @Test func importedKeysAreCheckedAndKeysAtRestAre0600AndSealed() async throws {
        try await withTemporaryDirectory { dir in
            let node = Instance(dir: dir)
            let sealing = ["AUTHFN_KEY_ENCRYPTION_KEY": String(repeating: "ab", count: 16)]
            let key = try PrivateSigningKey.generate(.eddsa, random: SystemRandomSource())
            let pemFile = dir.appendingPathComponent("ed.pem")
            try Data(key.pemRepresentation.utf8).write(to: pemFile)
            let wrong = try node.keys(["import", "--alg", "ES256", pemFile.path], at: Self.t0)
            #expect(wrong.status == 65)
            // A huge file is read only as far as a PEM can go, then refused.
            let huge = dir.appendingPathComponent("huge.pem")
            try Data(repeating: 0x41, count: 10 << 20).write(to: huge)
            let tooLong = try node.keys(["import", "--alg", "ES256", huge.path], at: Self.t0)
            #expect(tooLong.status == 65 && tooLong.stderr.contains("longer than 65536 bytes"))
            let imported = try node.keys(["import", "--alg", "EdDSA", pemFile.path], at: Self.t0, sealing)
            #expect(imported.lines.first?["kid"] == .string(key.publicKey.thumbprint))
            #expect(imported.lines.first?["sealed"] == true)
            let path = dir.appendingPathComponent("keys.json").path
            let stored = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!stored.contains("PRIVATE KEY") && stored.contains("PUBLIC KEY"))
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            #expect(mode == 0o600)
            let activation = try node.keys(["activate", "--force", key.publicKey.thumbprint], at: Self.t0)
            #expect(activation.status == 0, "\(activation.stderr)")
            _ = try node.send(EndToEndTests.registerSeed, at: Self.t0)
            // Without the encryption key the sealed key cannot sign: a 500, and the log says why.
            let failed = try Executable.run(EndToEndTests.loginSeed, environment: node.env(at: Self.t0))
            #expect(failed.json?["status"] == 500)
            #expect(failed.stderr.contains("AUTHFN_KEY_ENCRYPTION_KEY"))
            let login = try node.send(EndToEndTests.loginSeed, at: Self.t0, sealing)
            #expect(login["status"] == 200)
            // `-` reads the PEM from stdin.
            let second = try PrivateSigningKey.generate(.es256, random: SystemRandomSource())
            let fromStdin = try Executable.run(
                Array(second.pemRepresentation.utf8), environment: node.env(at: Self.t0),
                arguments: ["keys", "import", "--alg", "ES256", "-"])
            #expect(fromStdin.json?["kid"] == .string(second.publicKey.thumbprint))
        }
    }

    @Test func aKeyFromTheEnvironmentSignsAndIsPublished() async throws {
        try await withTemporaryDirectory { dir in
            let node = Instance(dir: dir)
            let key = try PrivateSigningKey.generate(.rs256, random: SystemRandomSource())
            // One line with \n escapes, as secret stores often hold it.
            let oneLine = key.pemRepresentation.replacingOccurrences(of: "\n", with: "\\n")
            let env = ["JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY": oneLine]
            _ = try node.send(EndToEndTests.registerSeed, at: Self.t0, env)
            let login = try node.send(EndToEndTests.loginSeed, at: Self.t0, env)
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            #expect(try Self.header(access) == ["alg": "RS256", "kid": .string(key.publicKey.thumbprint), "typ": "JWT"])
            #expect(
                try node.send(request("GET", "/.well-known/jwks.json"), at: Self.t0, env)["body"]?["keys"]?.arrayValue?.first?["kid"]
                    == .string(key.publicKey.thumbprint))
            let listed = try node.keys(["list"], at: Self.t0, env).lines
            #expect(listed.last?["source"] == "JWT_PRIVATE_KEY")
        }
    }

    @Test(
        "key variables are checked at start-up",
        arguments: [
            (["JWT_ALGORITHM": "ES256"], "JWT_ALGORITHM"), (["JWT_ALGORITHM": "HS512"], "JWT_ALGORITHM"),
            (["JWT_PRIVATE_KEY": "x"], "JWT_PRIVATE_KEY"), (["JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY": "garbage"], "JWT_PRIVATE_KEY"),
            (["JWT_PUBLIC_KEY": "x"], "JWT_PUBLIC_KEY"), (["JWT_DECODE_ALGORITHMS": "HS256,none"], "JWT_DECODE_ALGORITHMS"),
            (["AUTHFN_KEY_ENCRYPTION_KEY": "short"], "AUTHFN_KEY_ENCRYPTION_KEY"), (["AUTHFN_PUBLIC_URL": "ftp://x"], "AUTHFN_PUBLIC_URL"),
            (["AUTHFN_JWKS_MAX_AGE": "-1"], "AUTHFN_JWKS_MAX_AGE"),
        ])
    func misconfiguration(_ extra: [String: String], _ variable: String) async throws {
        try await withTemporaryDirectory { dir in
            let result = try Executable.run(request("GET", "/"), environment: Instance(dir: dir).env(at: Self.t0, extra))
            #expect(result.status == 78)
            #expect(result.json?["status"] == 500)
            #expect(result.stderr.contains(variable))
        }
    }

    @Test func aPublicKeyThatIsNotThePrivateKeysHalfIsRefused() async throws {
        let one = try PrivateSigningKey.generate(.es256, random: SystemRandomSource())
        let two = try PrivateSigningKey.generate(.es256, random: SystemRandomSource())
        #expect(throws: ConfigError.self) {
            try Configuration.load(environment: [
                "JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY": one.pemRepresentation, "JWT_PUBLIC_KEY": two.publicKey.pemRepresentation,
            ])
        }
        let config = try Configuration.load(environment: [
            "JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY": one.pemRepresentation, "JWT_PUBLIC_KEY": one.publicKey.pemRepresentation,
            "JWT_DECODE_ALGORITHMS": "ES256, HS256", "AUTHFN_PUBLIC_URL": "https://auth.example.com/",
        ])
        #expect(config.configuredKey?.kid == one.publicKey.thumbprint)
        #expect(config.keySettings.decodeAlgorithms == ["ES256", "HS256"])
        #expect(config.publicURL == "https://auth.example.com")
        #expect(config.effective["JWT_PRIVATE_KEY"] == "<redacted>")
    }
}
