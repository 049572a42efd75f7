import Foundation
import Testing

@testable import AuthFnCore

/// The whole mail path as a user deploys it: the built binary with `AUTHFN_MAIL_COMMAND` = Debian's
/// `msmtp`, relaying to an SMTP server on 127.0.0.1 started here (Python's aiosmtpd), which stores what
/// it receives. Skipped without msmtp or aiosmtpd unless AUTHFN_REQUIRE_MAIL=1 (as .ci/run sets).
@Suite(.enabled(if: SMTPServer.available || SMTPServer.required, "needs msmtp and python3's aiosmtpd"))
struct MailEndToEndTests {
    static let from = "no-reply@example.com"

    static func environment(_ dir: URL, smtp: SMTPServer, command: String? = nil) -> [String: String] {
        Executable.environment(
            dataDirectory: dir.appendingPathComponent("data"),
            [
                "JWT_SECRET_KEY": "mail-test-secret-0123456789abcdef0123456", "AUTHFN_LOG_LEVEL": "error",
                "AUTHFN_PASSWORD_HASH": "scrypt:1024:8:1",
                "AUTHFN_MAIL_COMMAND": command ?? smtp.msmtpCommand(from: from), "AUTHFN_MAIL_FROM": "Example <\(from)>",
                "AUTHFN_RESET_URL": "https://app.example.com/reset#token={token}", "AUTHFN_VERIFY_EMAIL": "1",
                "AUTHFN_VERIFY_URL": "https://app.example.com/verify?token={token}",
            ])
    }

    @Test func registerVerifyResetThroughMsmtp() async throws {
        try #require(SMTPServer.available, "msmtp and python3's aiosmtpd are required")
        try await withTemporaryDirectory { dir in
            let smtp = try SMTPServer(directory: dir.appendingPathComponent("inbox"))
            defer { smtp.stop() }
            let env = Self.environment(dir, smtp: smtp)

            let registered = try Executable.run(EndToEndTests.registerSeed, environment: env)
            #expect(registered.json?["status"] == 201)
            let verification = try smtp.waitForMessage(0)
            #expect(verification["to"] == "oluch@gmail.com")
            #expect(verification["envelope_to"] == ["oluch@gmail.com"])
            #expect(verification["from"] == "Example <no-reply@example.com>")
            #expect(verification["subject"] == "Confirm your email address")
            #expect(verification["date"]?.stringValue?.hasSuffix("+0000") == true)
            #expect(verification["message_id"]?.stringValue?.hasSuffix("@example.com>") == true)
            let verifyToken = try #require(SMTPServer.token(in: verification, after: "verify?token="))
            #expect(try Executable.run(EndToEndTests.loginSeed, environment: env).json?["status"] == 403)
            let verified = try Executable.run(
                request("POST", "/v1/user/verify_email/", body: ["token": .string(verifyToken)]), environment: env)
            #expect(verified.json?["body"] == ["message": "Email verified"])
            #expect(try Executable.run(EndToEndTests.loginSeed, environment: env).json?["status"] == 200)

            let asked = try Executable.run(
                request("POST", "/v1/user/password_reset/", body: ["email": "oluch@gmail.com"]), environment: env)
            #expect(asked.json?["status"] == 202)
            let unknown = try Executable.run(
                request("POST", "/v1/user/password_reset/", body: ["email": "nobody@example.com"]), environment: env)
            #expect(unknown.json?["body"] == asked.json?["body"])
            let reset = try smtp.waitForMessage(1)
            #expect(reset["subject"] == "Reset your password")
            let text = try #require(reset["text"]?.stringValue)
            let stored = try #require(try FileStore(directory: dir.appendingPathComponent("data").path).user(id: 1))
            #expect(!text.contains(seedPassword) && !text.contains(stored.password))
            let resetToken = try #require(SMTPServer.token(in: reset, after: "reset#token="))
            let confirmed = try Executable.run(
                request(
                    "POST", "/v1/user/password_reset/confirm/", body: ["token": .string(resetToken), "new_password": "N3w-pass#word!"]),
                environment: env)
            #expect(confirmed.json?["status"] == 200)
            let login = try Executable.run(
                request("POST", "/v1/user/login/", body: ["email": "oluch@gmail.com", "password": "N3w-pass#word!"]), environment: env)
            #expect(login.json?["status"] == 200)
            // Only the two mails for the registered address arrived (none for the unknown one).
            try await Task.sleep(for: .milliseconds(500))
            #expect(smtp.count == 2)
        }
    }

    @Test("under CGI the answer ends before the mail command runs, and the mail still arrives")
    func cgiAnswersFirst() async throws {
        try #require(SMTPServer.available, "msmtp and python3's aiosmtpd are required")
        try await withTemporaryDirectory { dir in
            let smtp = try SMTPServer(directory: dir.appendingPathComponent("inbox"))
            defer { smtp.stop() }
            // A mail command that takes two seconds before relaying.
            var env = Self.environment(dir, smtp: smtp, command: "sh -c 'sleep 2; exec \(smtp.msmtpCommand(from: Self.from))'")
            env["AUTHFN_VERIFY_EMAIL"] = "0"
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            let body = Array(#"{"email":"oluch@gmail.com"}"#.utf8)
            env.merge([
                "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "PATH_INFO": "/v1/user/password_reset/",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": String(body.count), "SERVER_PROTOCOL": "HTTP/1.1",
            ]) { $1 }
            let process = Process()
            process.executableURL = try Executable.url
            process.environment = env
            let stdin = Pipe(), stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            stdin.fileHandleForWriting.write(Data(body))
            try stdin.fileHandleForWriting.close()
            let answer = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            // End of output while the process is still busy with the (slow) mail command.
            let runningAtEnd = process.isRunning
            process.waitUntilExit()
            #expect(answer.hasPrefix("Status: 202 Accepted\r\n"))
            #expect(runningAtEnd, "the answer's end should come before the mail command finishes")
            #expect(process.terminationStatus == 0)
            let reset = try smtp.waitForMessage(0)
            #expect(reset["subject"] == "Reset your password")
        }
    }

    @Test("a failing or hanging mail command changes no answer")
    func failingCommand() async throws {
        try #require(SMTPServer.available, "msmtp and python3's aiosmtpd are required")
        try await withTemporaryDirectory { dir in
            let smtp = try SMTPServer(directory: dir.appendingPathComponent("inbox"))
            defer { smtp.stop() }
            for command in ["sh -c 'cat >/dev/null; exit 1'", "sleep 30"] {
                var env = Self.environment(dir, smtp: smtp, command: command)
                env["AUTHFN_VERIFY_EMAIL"] = "0"
                env["AUTHFN_MAIL_TIMEOUT"] = "1"
                env["AUTHFN_LOG_LEVEL"] = "info"
                env["AUTHFN_LOG_FILE"] = dir.appendingPathComponent("authfn.log").path
                _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
                let asked = try Executable.run(
                    request("POST", "/v1/user/password_reset/", body: ["email": "oluch@gmail.com"]), environment: env)
                #expect(asked.json?["status"] == 202)
                #expect(asked.status == 0)
            }
            let log = String(
                decoding: FileManager.default.contents(atPath: dir.appendingPathComponent("authfn.log").path) ?? Data(), as: UTF8.self)
            #expect(log.contains("the mail command refused the mail"))
            #expect(log.contains("did not finish in 1 s and was killed"))
            #expect(!log.contains("token="))
        }
    }

    @Test("as a Lambda runtime, the mail goes out after the answer is posted and before the next poll")
    func lambdaSendsAfterPosting() async throws {
        let mailer = RecordingMailer()
        let api = try FakeRuntimeAPI { answered in
            switch answered.count {
            case 0: return LambdaRuntimeTests.register
            case 1: return LambdaRuntimeTests.v2("POST", "/v1/user/password_reset", body: #"{"email":"oluch@gmail.com"}"#)
            default: return nil
            }
        }
        defer { api.stop() }
        let harness = await TestHarness(mail: RecoveryTests.mail, mailer: mailer)
        let runtime = LambdaRuntime(client: try RuntimeAPIClient(address: api.address), logger: harness.app.context.logger)
        try await runtime.run(harness.app, limit: 2)
        #expect(api.records.count == 2)
        #expect(api.records.last?.json?["statusCode"] == 202)
        #expect(mailer.messages.count == 1)
    }
}

/// aiosmtpd on a free port of 127.0.0.1, storing each message it accepts as `<n>.eml` in `directory`
/// (with the envelope recipients in `<n>.rcpt`).
final class SMTPServer: @unchecked Sendable {
    static let required = ProcessInfo.processInfo.environment["AUTHFN_REQUIRE_MAIL"] == "1"
    static let available: Bool =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/msmtp")
        && (try? Python.run("import aiosmtpd; print('{}')", arguments: [])) != nil

    let process = Process()
    let port: Int
    let directory: URL

    init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3",
            "-u", "-c",
            """
            import os, socket, sys, time
            from aiosmtpd.controller import Controller
            out = sys.argv[1]
            class Inbox:
                count = 0
                async def handle_DATA(self, server, session, envelope):
                    n = Inbox.count
                    Inbox.count += 1
                    with open(os.path.join(out, f"{n}.rcpt"), "w") as f:
                        f.write("\\n".join(envelope.rcpt_tos))
                    with open(os.path.join(out, f"{n}.tmp"), "wb") as f:
                        f.write(envelope.original_content)
                    os.rename(os.path.join(out, f"{n}.tmp"), os.path.join(out, f"{n}.eml"))
                    return "250 Message accepted"
            probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
            controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
            controller.start()
            print(port, flush=True)
            while True:
                time.sleep(3600)
            """,
            directory.path,
        ]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                let why = String(decoding: errors.fileHandleForReading.readDataToEndOfFile().suffix(1500), as: UTF8.self)
                throw Python.Failure(message: "aiosmtpd did not start: \(why)")
            }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Python.Failure(message: "aiosmtpd printed no port")
        }
        self.port = port
    }

    /// msmtp relaying to this server: no configuration file, no TLS, no authentication.
    func msmtpCommand(from: String) -> String {
        "/usr/bin/msmtp -C /dev/null --host=127.0.0.1 --port=\(port) --auth=off --tls=off --from=\(from) -t"
    }

    var count: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".eml") }.count
    }

    /// Message `index`, parsed by Python's `email` package: to, from, subject, date, message_id, the
    /// text part decoded, and the envelope recipients. Waits up to 15 s for it.
    func waitForMessage(_ index: Int) throws -> JSONValue {
        let file = directory.appendingPathComponent("\(index).eml")
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: file.path) { usleep(50_000) }
        return try Python.run(
            """
            import email, json, sys
            from email import policy
            message = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)
            text = message.get_body(preferencelist=("plain",)).get_content()
            print(json.dumps({"to": message["To"], "from": message["From"], "subject": message["Subject"],
                "date": message["Date"], "message_id": message["Message-ID"], "text": text,
                "envelope_to": open(sys.argv[2]).read().split("\\n")}))
            """, arguments: [file.path, directory.appendingPathComponent("\(index).rcpt").path])
    }

    /// The token after `marker` in a parsed message's text.
    static func token(in message: JSONValue, after marker: String) -> String? {
        guard let text = message["text"]?.stringValue, let range = text.range(of: marker) else { return nil }
        return String(text[range.upperBound...].prefix { !$0.isWhitespace })
    }

    func stop() {
        // SIGKILL: the test runner's children inherit a signal mask in which SIGTERM is blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
