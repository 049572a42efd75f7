import Foundation
import Testing

@testable import AuthFnCore

/// Many processes on one data directory, as inetd or a function runner would start them.
@Suite struct LoadTests {
    @Test func sixteenProcessesFiftyMixedRequestsEach() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            let created = LockedStrings(), statuses = LockedList()
            DispatchQueue.concurrentPerform(iterations: 16) { worker in
                var access = "", refresh = ""
                for n in 0..<50 {
                    let name = "w\(worker)u\(n % 10)"  // registered names repeat: all but the first try must fail
                    let input: [UInt8]
                    switch n % 5 {
                    case 0, 1:
                        input = request(
                            "POST", "/v1/user/register",
                            body: ["username": .string(name), "email": .string("\(name)@example.com"), "password": .string(seedPassword)])
                    case 2:
                        input = request(
                            "POST", "/v1/user/login", body: ["email": .string("\(name)@example.com"), "password": .string(seedPassword)])
                    case 3: input = request("POST", "/v1/user/refresh_token", headers: ["Authorization": "Bearer \(refresh)"])
                    default: input = request("POST", "/v1/user/signout_access", headers: ["Authorization": "Bearer \(access)"])
                    }
                    guard let json = try? Executable.run(input, environment: env).json, let status = json["status"]?.integerValue else {
                        statuses.append(-1)
                        continue
                    }
                    statuses.append(status)
                    if status == 201 { created.append(name) }
                    if let token = json["body"]?["data"]?["access_token"]?.stringValue { access = token }
                    if let token = json["body"]?["data"]?["refresh_token"]?.stringValue { refresh = token }
                }
            }
            #expect(!statuses.values.contains(-1), "a process gave no JSON")
            #expect(!statuses.values.contains { $0 >= 500 })
            let store = try FileStore(directory: dir.path)
            let users = try store.allUsers()
            #expect(Set(users.map(\.username)) == Set(created.values))
            #expect(created.values.count == Set(created.values).count, "a name was created twice")
            #expect(users.count == 16 * 4)  // names u0, u1, u5, u6 per worker, each tried several times
            #expect(Set(users.map(\.id)).count == users.count)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/tmp").isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/journal.json"))
        }
    }

    @Test func parallelSignoutsAndRefreshesOfOneSession() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            let login = try #require(try Executable.run(EndToEndTests.loginSeed, environment: env).json)
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            let refresh = try #require(login["body"]?["data"]?["refresh_token"]?.stringValue)
            let statuses = LockedList()
            DispatchQueue.concurrentPerform(iterations: 12) { n in
                let input =
                    n.isMultiple(of: 2)
                    ? request("POST", "/v1/user/signout_access", headers: ["Authorization": "Bearer \(access)"])
                    : request("POST", "/v1/user/refresh_token", headers: ["Authorization": "Bearer \(refresh)"])
                statuses.append((try? Executable.run(input, environment: env))?.json?["status"]?.integerValue ?? -1)
            }
            #expect(statuses.values.allSatisfy { $0 == 200 || $0 == 401 })
            #expect(statuses.values.contains(200))
            // Whatever the interleaving, the session ends up ended.
            for (path, token) in [("/v1/user/user_info", access), ("/v1/user/refresh_token", refresh)] {
                let method = path.hasSuffix("user_info") ? "GET" : "POST"
                let after = try Executable.run(request(method, path, headers: ["Authorization": "Bearer \(token)"]), environment: env)
                #expect(after.json?["status"] == 401)
            }
        }
    }
}

final class LockedStrings: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ value: String) { lock.withLock { items.append(value) } }
    var values: [String] { lock.withLock { items } }
}
