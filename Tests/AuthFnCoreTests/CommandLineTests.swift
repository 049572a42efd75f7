import Foundation
import Logging
import Testing

@testable import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9's findings about the executable as a new user meets it: logs under inetd, the admin
/// commands, `--version`, booleans, `authfn config`, and the throttling attack end to end.
@Suite struct CommandLineTests {
    static let getRoot = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)

    /// Runs authfn with stdin, stdout and stderr all on one socket, as inetd and xinetd start a server,
    /// and returns everything the client end receives.
    static func runOnASocket(_ arguments: [String], environment: [String: String], input: [UInt8]) throws -> [UInt8] {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { throw POSIXError(.EIO) }
        let server = FileHandle(fileDescriptor: pair[1], closeOnDealloc: true)
        let process = Process()
        process.executableURL = try Executable.url
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.standardInput = server
        process.standardOutput = server
        process.standardError = server
        try process.run()
        try server.close()
        let client = FileHandle(fileDescriptor: pair[0], closeOnDealloc: true)
        try client.write(contentsOf: Data(input))
        shutdown(pair[0], Int32(SHUT_WR))
        let received = readAll(pair[0])
        process.waitUntilExit()
        return received
    }

    /// Everything readable from `fd` until end of file (or a reset connection), retrying on EINTR:
    /// Foundation's `readDataToEndOfFile` traps on either.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    @Test(.bug(id: "9.15", "logs never reach the client's socket"))
    func underInetdTheResponseIsAllTheClientSees() async throws {
        try await withTemporaryDirectory { dir in
            // The default log level: an info line per request would come first if it went to stderr.
            let env = Executable.environment(dataDirectory: dir.appendingPathComponent("data"))
            let received = String(decoding: try Self.runOnASocket(["--http"], environment: env, input: Self.getRoot), as: UTF8.self)
            #expect(received.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(received.prefix(120))")
            #expect(!received.contains("duration_ms"))
        }
    }

    @Test(.bug(id: "9.15"))
    func aMisconfigurationsDetailStaysOffTheSocket() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir, ["JWT_SECRET_KEY": "short-secret-xyz"])
            let received = String(decoding: try Self.runOnASocket(["--http"], environment: env, input: Self.getRoot), as: UTF8.self)
            #expect(received.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
            #expect(!received.contains("JWT_SECRET_KEY") && !received.contains("short-secret"))
        }
    }

    @Test(.bug(id: "9.15"))
    func aLogFileGetsTheLinesInstead() async throws {
        try await withTemporaryDirectory { dir in
            let log = dir.appendingPathComponent("authfn.log").path
            let env = Executable.environment(dataDirectory: dir.appendingPathComponent("data"), ["AUTHFN_LOG_FILE": log])
            let received = String(decoding: try Self.runOnASocket(["--http"], environment: env, input: Self.getRoot), as: UTF8.self)
            #expect(received.hasPrefix("HTTP/1.1 200 OK\r\n"))
            let lines = try String(contentsOfFile: log, encoding: .utf8)
            #expect(lines.contains("status=200") && lines.contains("method=GET") && lines.hasSuffix("request\n"))
            #expect(try FileStoreTests.mode(log) == 0o600)
            // Appended to, not replaced, by the next process.
            _ = try Self.runOnASocket(["--http"], environment: env, input: Self.getRoot)
            #expect(try String(contentsOfFile: log, encoding: .utf8).components(separatedBy: "status=200").count == 3)
        }
    }

    @Test(.bug(id: "9.15"))
    func syslogLinesAreRFC3164() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("log.sock").path
            let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(receiver) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0)
            #expect(LogDestination.choose(logFile: nil, standardErrorIsSocket: true, syslogPath: path) == .syslog(path))
            #expect(LogDestination.choose(logFile: nil, standardErrorIsSocket: true, syslogPath: path + ".none") == .none)
            #expect(LogDestination.choose(logFile: nil, standardErrorIsSocket: false, syslogPath: path) == .standardError)
            #expect(LogDestination.choose(logFile: "/x", standardErrorIsSocket: true, syslogPath: path) == .file("/x"))
            let handler = LineLogHandler(label: "authfn", sink: LogSink(.syslog(path)), level: .info)
            handler.log(
                event: .init(
                    level: .warning, message: "storage failure", metadata: ["status": "500"], source: "t", file: "", function: "", line: 0))
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(receiver, &buffer, buffer.count, 0)
            let line = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
            // Facility auth (4), severity warning (4): <36>.
            #expect(line.hasPrefix("<36>"))
            #expect(line.hasSuffix("authfn[\(getpid())]: warning authfn: status=500 storage failure"), "\(line)")
        }
    }

    // MARK: 16 — set-password input

    @Test(
        .bug(id: "9.16", "one trailing LF or CRLF ends the line"),
        arguments: ["N3w&Better-Secret\r\n", "N3w&Better-Secret\n", "N3w&Better-Secret"])
    func setPasswordStripsTheLineEnd(_ input: String) async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            let set = try Executable.run(Array(input.utf8), environment: env, arguments: ["users", "set-password", "1"])
            #expect(set.status == 0, "\(set.stderr)")
            let login = request("POST", "/v1/user/login/", body: ["email": "oluch@gmail.com", "password": "N3w&Better-Secret"])
            #expect(try Executable.run(login, environment: env).json?["status"] == 200)
        }
    }

    @Test(
        .bug(id: "9.16"),
        arguments: [
            ("", "no password given"), ("\n", "no password given"), ("\r\n", "no password given"),
            ("N3w&Better-Secret\nsecond line\n", "the password must be one line"),
        ])
    func setPasswordRefusesUnusableInput(_ input: String, _ message: String) async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            let set = try Executable.run(Array(input.utf8), environment: env, arguments: ["users", "set-password", "1"])
            #expect(set.status == 65 && set.stderr.contains(message), "\(set.stderr)")
            #expect(!set.stderr.contains("Password must"))
        }
    }

    @Test(.bug(id: "9.16", "a terminal gets a prompt without echo"))
    func setPasswordPromptsWithoutEcho() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            // python3's pty module plays the person at the terminal.
            let script = """
                import os, pty, sys, time
                pid, fd = pty.fork()
                if pid == 0:
                    os.execv(sys.argv[1], [sys.argv[1], "users", "set-password", "1"])
                seen = b""
                def until(text):
                    global seen
                    while text not in seen:
                        chunk = os.read(fd, 1024)
                        if not chunk: break
                        seen += chunk
                until(b"New password: "); os.write(fd, b"N3w&Better-Secret\\n")
                until(b"Repeat the password: "); os.write(fd, b"N3w&Better-Secret\\n")
                try:
                    while True:
                        chunk = os.read(fd, 1024)
                        if not chunk: break
                        seen += chunk
                except OSError:
                    pass
                _, status = os.waitpid(pid, 0)
                sys.stdout.write(seen.decode(errors="replace"))
                sys.exit(os.waitstatus_to_exitcode(status))
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, try Executable.url.path]
            process.environment = env
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let transcript = String(decoding: Self.readAll(out.fileHandleForReading.fileDescriptor), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(transcript)")
            #expect(transcript.contains("New password: ") && transcript.contains("Repeat the password: "))
            #expect(!transcript.contains("N3w&Better-Secret"), "the password was echoed")
            let login = request("POST", "/v1/user/login/", body: ["email": "oluch@gmail.com", "password": "N3w&Better-Secret"])
            #expect(try Executable.run(login, environment: env).json?["status"] == 200)
        }
    }

    // MARK: 17, 18 — admin commands, --version, --help

    @Test(
        .bug(id: "9.17", "admin commands never create an empty store"), arguments: [["users", "list"], ["prune"], ["users", "show", "1"]])
    func adminCommandsRefuseAMissingDataDirectory(_ arguments: [String]) async throws {
        try await withTemporaryDirectory { dir in
            let missing = dir.appendingPathComponent("typo")
            let result = try Executable.run([], environment: Executable.environment(dataDirectory: missing), arguments: arguments)
            #expect(result.status == 1)
            #expect(
                result.stderr.contains(missing.path) && result.stderr.contains("--data-dir") && result.stderr.contains("AUTHFN_DATA_DIR"))
            #expect(!FileManager.default.fileExists(atPath: missing.path))
        }
    }

    @Test(
        .bug(id: "9.17"),
        arguments: [["--data-dir", "DIR", "users", "list"], ["users", "list", "--data-dir", "DIR"], ["--data-dir=DIR", "users", "list"]])
    func dataDirWorksBeforeOrAfterTheSubcommand(_ template: [String]) async throws {
        try await withTemporaryDirectory { dir in
            let data = dir.appendingPathComponent("elsewhere")
            let env = Executable.environment(dataDirectory: dir.appendingPathComponent("ignored"))
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env, arguments: ["--data-dir", data.path])
            let arguments = template.map { $0.replacingOccurrences(of: "DIR", with: data.path) }
            let listed = try Executable.run([], environment: env, arguments: arguments)
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.json?["email"] == "oluch@gmail.com")
        }
    }

    @Test(.bug(id: "9.18", "one version, printed and documented"))
    func versionAndHelp() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir)
            let version = try Executable.run([], environment: env, arguments: ["--version"])
            #expect(version.status == 0 && String(decoding: version.stdout, as: UTF8.self) == Build.version + "\n")
            let help = try Executable.run([], environment: env, arguments: ["--help"])
            let text = String(decoding: help.stdout, as: UTF8.self)
            for flag in ["--http", "--cgi", "--stream", "--data-dir", "config", "users", "prune", "--version"] {
                #expect(text.contains(flag), "\(flag) missing from --help")
            }
            let document = try JSONValue.parse(Array(OpenAPIDocument.text.utf8))
            #expect(document["info"]?["version"] == .string(Build.version))
        }
    }

    // MARK: 19, 25 — booleans and `authfn config`

    @Test(.bug(id: "9.19", "every spelling of true works"), arguments: ["1", "true", "TRUE", "yes", "On"])
    func allowWeakSecretTakesEveryBooleanSpelling(_ value: String) async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir, ["JWT_SECRET_KEY": "old-flask-secret", "AUTHFN_ALLOW_WEAK_SECRET": value])
            let result = try Executable.run(request("GET", "/"), environment: env)
            #expect(result.status == 0 && result.json?["status"] == 200, "\(result.stderr)")
        }
    }

    @Test(.bug(id: "9.25", "authfn config prints the settings in effect"))
    func configPrintsEverySetting() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(
                dataDirectory: dir, ["JWT_SECRET_KEY": "config-secret-0123456789abcdef0123456789", "JWT_REFRESH_TOKEN_ROTATION": "yes"])
            let result = try Executable.run([], environment: env, arguments: ["config"])
            #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
            let config = try #require(result.json?.objectValue)
            #expect(Set(config.keys) == Set(Configuration.settings.map(\.name)))
            #expect(config["JWT_SECRET_KEY"] == "<redacted>" && config["SECRET_KEY"] == .null)
            #expect(!String(decoding: result.stdout, as: UTF8.self).contains("config-secret"))
            #expect(config["JWT_REFRESH_TOKEN_ROTATION"] == true && config["JWT_ACCESS_TOKEN_EXPIRES"] == 900)
            #expect(config["AUTHFN_DATA_DIR"] == .string(dir.path) && config["AUTHFN_PASSWORD_HASH"] == "scrypt:1024:8:1")
            // Nothing is opened or created by it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        }
    }

    @Test(.bug(id: "9.25", "every bad variable is reported at once"))
    func configReportsEveryBadVariable() async throws {
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(
                dataDirectory: dir, ["JWT_ACCESS_TOKEN_EXPIRES": "soon", "AUTHFN_REQUIRE_ACTIVATION": "maybe", "AUTHFN_LOG_LEVEL": "loud"])
            for arguments in [["config"], []] {
                let result = try Executable.run(request("GET", "/"), environment: env, arguments: arguments)
                #expect(result.status == 78)
                for name in ["JWT_ACCESS_TOKEN_EXPIRES", "AUTHFN_REQUIRE_ACTIVATION", "AUTHFN_LOG_LEVEL"] {
                    #expect(result.stderr.contains(name), "\(name) not reported: \(result.stderr)")
                }
            }
        }
    }

    // MARK: 4 — the lockout attack, end to end

    @Test(.bug(id: "9.4", "attacker and owner at different addresses, with AUTHFN_NOW"))
    func theOwnerGetsInWhileAnAttackerKeepsGuessing() async throws {
        try await withTemporaryDirectory { dir in
            let start: Int64 = 1_767_225_600
            func run(_ password: String, at second: Int64, from address: String) throws -> Int64? {
                let env = Executable.environment(
                    dataDirectory: dir,
                    [
                        "AUTHFN_NOW": String(start + second), "REMOTE_ADDR": address, "AUTHFN_LOGIN_MAX_FAILURES": "3",
                        "AUTHFN_LOGIN_WINDOW": "60",
                    ])
                let login = request("POST", "/v1/user/login/", body: ["email": "oluch@gmail.com", "password": .string(password)])
                return try Executable.run(login, environment: env).json?["status"]?.integerValue
            }
            _ = try Executable.run(EndToEndTests.registerSeed, environment: Executable.environment(dataDirectory: dir))
            var owner: [Int64?] = [], attacker: [Int64?] = []
            // Five simulated minutes: a guess every 10 seconds, the owner once a minute.
            for second in stride(from: Int64(0), to: 300, by: 10) {
                attacker.append(try run("Wrong#pass1", at: second, from: "198.51.100.66"))
                if second % 60 == 30 { owner.append(try run(seedPassword, at: second, from: "203.0.113.5")) }
            }
            #expect(owner == Array(repeating: 200, count: 5))
            // 3 counted guesses per minute at most.
            #expect(attacker.filter { $0 == 401 }.count <= 15 && attacker.contains(429))
        }
    }
}
