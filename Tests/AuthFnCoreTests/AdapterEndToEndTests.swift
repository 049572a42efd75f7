import Foundation
import Testing

@testable import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// Adapter behaviour that needs a live process: clients that stall, and the stream's line-by-line flow.
@Suite struct AdapterEndToEndTests {
    /// Starts authfn with `arguments`, stdin kept open for the caller.
    static func launch(_ arguments: [String], environment: [String: String]) throws -> (Process, FileHandle, FileHandle) {
        let process = Process()
        process.executableURL = try Executable.url
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, stdin.fileHandleForWriting, stdout.fileHandleForReading)
    }

    @Test("a client that stalls gets 408", arguments: [["--http"], ["--cgi"]])
    func stalledClient(_ arguments: [String]) async throws {
        try await withTemporaryDirectory { dir in
            var env = Executable.environment(dataDirectory: dir, ["AUTHFN_READ_TIMEOUT": "1"])
            if arguments == ["--cgi"] {
                env.merge(["GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "PATH_INFO": "/v1/user/login", "CONTENT_LENGTH": "50"])
                { $1 }
            }
            let (process, stdin, stdout) = try Self.launch(arguments, environment: env)
            try stdin.write(contentsOf: Data((arguments == ["--http"] ? "GET / HTTP/1.1\r\nHost: x\r\n" : "{\"email\"").utf8))
            let started = Date()
            let output = String(decoding: stdout.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            try stdin.close()
            #expect(output.contains("408 Request Timeout"))
            #expect(output.contains("Request timeout: the request was not complete within 1 second."))
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(process.terminationStatus == 0)
        }
    }

    @Test func streamAnswersEachLineBeforeTheNextArrivesAndSharesTheDataDirectory() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            let (process, stdin, stdout) = try Self.launch(["--stream"], environment: env)
            var pending: [UInt8] = []
            func roundTrip(_ line: [UInt8]) throws -> JSONValue {
                try stdin.write(contentsOf: Data(line + [0x0A]))
                while !pending.contains(0x0A) {
                    let chunk = stdout.availableData
                    if chunk.isEmpty { break }
                    pending += chunk
                }
                let end = try #require(pending.firstIndex(of: 0x0A))
                defer { pending.removeFirst(end + 1) }
                return try JSONValue.parse(pending[..<end])
            }
            #expect(try roundTrip(EndToEndTests.registerSeed)["status"] == 201)
            // A one-shot process sees what the stream wrote, and the stream sees what it writes.
            #expect(try Executable.run(EndToEndTests.loginSeed, environment: env).json?["status"] == 200)
            let other = request(
                "POST", "/v1/user/register", body: ["username": "two", "email": "two@example.com", "password": .string(seedPassword)])
            #expect(try Executable.run(other, environment: env).json?["status"] == 201)
            #expect(try roundTrip(other)["status"] == 400)
            let login = try roundTrip(EndToEndTests.loginSeed)
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            #expect(try roundTrip(request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]))["status"] == 200)
            #expect(
                try Executable.run(
                    request("POST", "/v1/user/signout_access", headers: ["Authorization": "Bearer \(access)"]), environment: env
                ).json?["status"] == 200)
            #expect(try roundTrip(request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]))["status"] == 401)
            try stdin.close()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
    }
}
