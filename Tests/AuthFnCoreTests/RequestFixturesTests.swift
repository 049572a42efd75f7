import Foundation
import Testing

@testable import AuthFnCore

/// The ready-to-pipe files in fixtures/requests/, used the way the README shows.
@Suite struct RequestFixturesTests {
    static let directory = fixturesDirectory.appendingPathComponent("requests")

    static func load(_ name: String, access: String = "", refresh: String = "") throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        return Array(
            text.replacingOccurrences(of: "ACCESS_TOKEN", with: access).replacingOccurrences(of: "REFRESH_TOKEN", with: refresh).utf8)
    }

    @Test func everyFixtureIsAValidEnvelope() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".json") }
        #expect(names.count >= 12)
        for name in names { #expect(throws: Never.self, "\(name)") { try Envelope.decodeRequest(try Self.load(name)) } }
    }

    @Test func theREADMEWalkthrough() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            func status(_ name: String, access: String = "", refresh: String = "") throws -> (Int64?, JSONValue?) {
                let json = try Executable.run(try Self.load(name, access: access, refresh: refresh), environment: env).json
                return (json?["status"]?.integerValue, json?["body"])
            }
            #expect(try status("home.json").0 == 200)
            #expect(try status("register.json").0 == 201)
            #expect(try status("register-weak-password.json").0 == 422)
            #expect(try status("register-duplicate.json").0 == 400)
            #expect(try status("login-wrong-password.json").0 == 401)
            let (loginStatus, login) = try status("login.json")
            #expect(loginStatus == 200)
            let access = try #require(login?["data"]?["access_token"]?.stringValue)
            let refresh = try #require(login?["data"]?["refresh_token"]?.stringValue)
            #expect(try status("user_info.json", access: access).0 == 200)
            #expect(try status("refresh_token.json", refresh: refresh).0 == 200)
            #expect(try status("signout_access.json", access: access).0 == 200)
            #expect(try status("user_info.json", access: access) == (401, ["message": "Token has been revoked"]))
            #expect(try status("signout_refresh.json", refresh: refresh).0 == 401)

            let (_, second) = try status("login.json")
            let access2 = try #require(second?["data"]?["access_token"]?.stringValue)
            let refresh2 = try #require(second?["data"]?["refresh_token"]?.stringValue)
            #expect(try status("change_password.json", access: access2).0 == 200)
            #expect(try status("signout_refresh.json", refresh: refresh2).0 == 200)
            #expect(try status("signout_all.json", access: access2).0 == 401)
        }
    }
}
