import Foundation
import Logging
import Testing

@testable import AuthFnCore

/// Keeps every message it is handed (and answers `outcome`).
final class RecordingMailer: Mailer, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [MailMessage] = []
    let outcome: MailOutcome

    init(outcome: MailOutcome = .accepted) { self.outcome = outcome }

    func deliver(_ message: MailMessage) -> MailOutcome {
        lock.withLock { recorded.append(message) }
        return outcome
    }

    var messages: [MailMessage] { lock.withLock { recorded } }

    /// The token in the last message's link (`…#token=<token>`).
    var lastToken: String? {
        guard let text = messages.last?.text, let range = text.range(of: "token=") else { return nil }
        return String(text[range.upperBound...].prefix { !$0.isWhitespace })
    }
}

/// Password reset and address verification by mail, on the pure handler with an in-memory store.
@Suite struct RecoveryTests {
    static var mail: MailSettings {
        var mail = MailSettings()
        mail.command = ["/usr/sbin/sendmail", "-t", "-i"]
        mail.from = "Example <no-reply@example.com>"
        mail.resetURL = "https://app.example.com/reset#token={token}"
        mail.verifyURL = "https://app.example.com/verify#token={token}"
        return mail
    }

    struct Setup {
        let harness: TestHarness
        let mailer: RecordingMailer

        init(verify: Bool = false, settings: AccountSettings = AccountSettings()) async {
            var mail = RecoveryTests.mail
            mail.verifyEmail = verify
            mailer = RecordingMailer()
            harness = await TestHarness(settings: settings, mail: mail, mailer: mailer)
        }

        var app: App { harness.app }

        /// Sends a request and does its deferred work, as a transport does after writing the answer.
        func send(_ method: String, _ path: String, body: JSONValue? = nil, bearer: String? = nil, at time: Int64? = nil) async
            -> Response
        {
            let app = time.map { harness.at($0) } ?? harness.app
            let response = await app.send(method, path, body: body, bearer: bearer)
            await app.perform(response.deferred)
            return response
        }

        func requestReset(_ email: String = "oluch@gmail.com", at time: Int64? = nil) async -> Response {
            await send("POST", "/v1/user/password_reset/", body: ["email": .string(email)], at: time)
        }

        func confirm(_ token: String, _ password: String = "N3w-pass#word!", at time: Int64? = nil) async -> Response {
            await send(
                "POST", "/v1/user/password_reset/confirm/", body: ["token": .string(token), "new_password": .string(password)], at: time)
        }
    }

    @Test("the answer is the same whether the address is registered or not; only a registered one gets mail")
    func noEnumeration() async throws {
        let setup = await Setup()
        await setup.harness.register()
        let registered = await setup.harness.app.send("POST", "/v1/user/password_reset/", body: ["email": "oluch@gmail.com"])
        let unknown = await setup.harness.app.send("POST", "/v1/user/password_reset/", body: ["email": "nobody@example.com"])
        #expect(registered.status == 202 && unknown.status == 202)
        #expect(registered.body == unknown.body)
        #expect(registered.body == ["message": "If the address is registered, a reset link has been sent."])
        #expect(registered.headers == unknown.headers)
        // Nothing about the account is done before the answer: both leave the same kind of work.
        #expect(registered.deferred == [.passwordReset(canonicalEmail: "oluch@gmail.com")])
        #expect(unknown.deferred == [.passwordReset(canonicalEmail: "nobody@example.com")])
        #expect(setup.harness.store.user(id: 1)?.resetToken == nil)
        await setup.app.perform(unknown.deferred)
        #expect(setup.mailer.messages.isEmpty)
        await setup.app.perform(registered.deferred)
        #expect(setup.mailer.messages.count == 1)
    }

    @Test func resetMailAndConfirmation() async throws {
        let setup = await Setup()
        let (access, refresh) = try await setup.harness.loggedIn()
        #expect(await setup.requestReset("OLUCH@gmail.com").status == 202)
        let message = try #require(setup.mailer.messages.first)
        #expect(message.to == "oluch@gmail.com")
        #expect(message.from == "Example <no-reply@example.com>")
        #expect(message.subject == "Reset your password")
        #expect(message.text.contains("https://app.example.com/reset#token=1."))
        #expect(message.text.contains("within 60 minutes"))
        let rendered = String(decoding: message.rendered, as: UTF8.self)
        let stored = try #require(setup.harness.store.user(id: 1))
        // Neither the password, its hash nor the token's digest is in the mail; the store keeps only the digest.
        for secret in [seedPassword, stored.password, try #require(stored.resetToken?.digest)] {
            #expect(!rendered.contains(secret) && !message.text.contains(secret))
        }
        let token = try #require(setup.mailer.lastToken)
        #expect(token.split(separator: ".")[1].count == 43)  // 256 bits
        #expect(stored.resetToken?.digest == RecoveryRoutes.digest(String(token.split(separator: ".")[1])))
        #expect(stored.resetToken?.expiresAt == setup.harness.now + 3600)

        let confirmed = await setup.confirm(token)
        #expect(confirmed.status == 200)
        #expect(confirmed.body == ["message": "Password reset"])
        #expect(await setup.app.login().status == 401)
        #expect(await setup.app.login(password: "N3w-pass#word!").status == 200)
        // Every session ended; the link is spent.
        #expect(await setup.app.send("GET", "/v1/user/user_info", bearer: access).status == 401)
        #expect(await setup.app.send("POST", "/v1/user/refresh_token", bearer: refresh).status == 401)
        #expect(setup.harness.store.user(id: 1)?.resetToken == nil)
        #expect(await setup.confirm(token, "An0ther-pass#word").body == ["message": "Invalid or expired token"])
    }

    enum Spoil: String, CaseIterable, Sendable {
        case madeUp, malformed, otherUser, expired, superseded, passwordChanged, spent, deactivated
    }

    @Test("every bad token gets the same 400", arguments: Spoil.allCases)
    func badTokens(_ spoil: Spoil) async throws {
        let setup = await Setup()
        let (access, _) = try await setup.harness.loggedIn()
        await setup.harness.register("second", "second@example.com")
        await setup.requestReset()
        var token = try #require(setup.mailer.lastToken)
        var at: Int64?
        switch spoil {
        case .madeUp: token = "1." + Base64URL.encode([UInt8](repeating: 7, count: 32))
        case .malformed: token = "not a token"
        case .otherUser: token = "2." + token.split(separator: ".")[1]
        case .expired: at = setup.harness.now + 3600
        case .superseded: await setup.requestReset()
        case .passwordChanged:
            let changed = await setup.send(
                "POST", "/v1/user/change_password", body: ["old_password": .string(seedPassword), "new_password": "Chang3d-pass#word"],
                bearer: access)
            #expect(changed.status == 200)
        case .spent: #expect(await setup.confirm(token).status == 200)
        case .deactivated: _ = try Admin(context: setup.app.context).setActive("1", false)
        }
        let response = await setup.confirm(token, "Th1rd-pass#word!", at: at)
        #expect(response.status == 400)
        #expect(response.body == ["message": "Invalid or expired token"])
        #expect(response.headers == ["Content-Type": "application/json"])
    }

    @Test("a weak new password is refused with the policy's reasons, and the link still works")
    func policyApplies() async throws {
        let setup = await Setup()
        await setup.harness.register()
        await setup.requestReset()
        let token = try #require(setup.mailer.lastToken)
        let weak = await setup.confirm(token, "short")
        #expect(weak.status == 422)
        #expect(weak.body["errors"]?["new_password"] != nil)
        #expect(await setup.confirm(token).status == 200)
    }

    @Test("two confirmations of one link at once: exactly one succeeds")
    func concurrentConfirmations() async throws {
        let setup = await Setup()
        await setup.harness.register()
        await setup.requestReset()
        let token = try #require(setup.mailer.lastToken)
        let statuses = await withTaskGroup(of: Int.self) { group in
            for index in 0..<8 { group.addTask { await setup.confirm(token, "Paral1el-pass#\(index)").status } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.sorted() == [200] + Array(repeating: 400, count: 7))
    }

    @Test("reset, verification and one winner of concurrent confirmations, on every store", arguments: StoreKind.available)
    func everyStore(kind: StoreKind) async throws {
        try await withStore(kind) { fixture in
            var mail = Self.mail
            mail.verifyEmail = true
            let mailer = RecordingMailer()
            let app = await TestHarness.app(store: fixture.store, now: 1_767_225_600, mail: mail, mailer: mailer)
            func send(_ path: String, _ body: JSONValue) async -> Response {
                let response = await app.send("POST", path, body: body)
                await app.perform(response.deferred)
                return response
            }
            #expect(
                await send("/v1/user/register/", ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
                    .status == 201)
            let verify = try #require(mailer.lastToken)
            #expect(await send("/v1/user/verify_email/", ["token": .string(verify)]).status == 200)
            #expect(await send("/v1/user/password_reset/", ["email": "oluch@gmail.com"]).status == 202)
            let reset = try #require(mailer.lastToken)
            let statuses = await withTaskGroup(of: Int.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        await send(
                            "/v1/user/password_reset/confirm/",
                            ["token": .string(reset), "new_password": .string("Paral1el-pass#\(index)")]
                        )
                        .status
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.sorted() == [200, 400, 400, 400, 400, 400])
            #expect(try fixture.another().user(id: 1)?.resetToken == nil)
        }
    }

    @Test func noMailForInactiveAccountsAndRequestsAreThrottled() async throws {
        var settings = AccountSettings()
        settings.loginMaxFailures = 3
        let setup = await Setup(settings: settings)
        await setup.harness.register()
        _ = try Admin(context: setup.app.context).setActive("1", false)
        await setup.requestReset()
        #expect(setup.mailer.messages.isEmpty)
        _ = try Admin(context: setup.app.context).setActive("1", true)
        for _ in 0..<2 { #expect(await setup.requestReset().status == 202) }
        let throttled = await setup.requestReset()
        #expect(throttled.status == 429)
        #expect(throttled.headers["Retry-After"] != nil)
        #expect(throttled.body["message"]?.stringValue?.hasPrefix("Too many requests for this address") == true)
        // Counted apart from logins: the owner still logs in.
        #expect(await setup.app.login().status == 200)
        // An unknown address is throttled the same way (no enumeration through 429s).
        for _ in 0..<3 { _ = await setup.requestReset("ghost@example.com") }
        #expect(await setup.requestReset("ghost@example.com").status == 429)
    }

    @Test func notConfiguredIs501() async {
        let harness = await TestHarness()
        for path in [
            "/v1/user/password_reset/", "/v1/user/password_reset/confirm/", "/v1/user/verify_email/", "/v1/user/verify_email/resend/",
        ] {
            let response = await harness.send("POST", path, body: ["email": "a@example.com"])
            #expect(response.status == 501)
        }
    }

    @Test(
        "bodies are validated like the other routes",
        arguments: [
            ("/v1/user/password_reset/", JSONValue.object([:]), "email", "Missing data for required field."),
            ("/v1/user/password_reset/", ["email": "not-an-address"], "email", "Not a valid email address."),
            ("/v1/user/password_reset/", ["email": 5], "email", "Not a valid email address."),
            ("/v1/user/password_reset/confirm/", ["new_password": "x"], "token", "Missing data for required field."),
            ("/v1/user/password_reset/confirm/", ["token": "x"], "new_password", "Missing data for required field."),
            (
                "/v1/user/password_reset/confirm/", ["token": .string(String(repeating: "a", count: 300)), "new_password": "x"], "token",
                "Longer than maximum length 256."
            ),
            ("/v1/user/verify_email/", [:], "token", "Missing data for required field."),
            ("/v1/user/verify_email/resend/", ["email": .null], "email", "Field may not be null."),
        ] as [(String, JSONValue, String, String)])
    func validation(_ path: String, _ body: JSONValue, _ field: String, _ message: String) async {
        let setup = await Setup(verify: true)
        let response = await setup.send("POST", path, body: body)
        #expect(response.status == 422)
        #expect(response.body["errors"]?[field] == [.string(message)])
    }

    // MARK: Verification

    @Test func verificationFlow() async throws {
        let setup = await Setup(verify: true)
        let registered = await setup.send(
            "POST", "/v1/user/register/", body: ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        #expect(registered.status == 201)
        let user = try #require(setup.harness.store.user(id: 1))
        #expect(!user.isActive && user.emailUnverified)
        let message = try #require(setup.mailer.messages.first)
        #expect(message.subject == "Confirm your email address")
        #expect(message.text.contains("https://app.example.com/verify#token=1."))
        #expect(message.text.contains("within 24 hours"))
        let login = await setup.app.login()
        #expect(login.status == 403)
        #expect(login.body == ["message": "The user account is not activated yet"])

        // A new link supersedes the first.
        let first = try #require(setup.mailer.lastToken)
        #expect(await setup.send("POST", "/v1/user/verify_email/resend/", body: ["email": "oluch@gmail.com"]).status == 202)
        #expect(setup.mailer.messages.count == 2)
        let second = try #require(setup.mailer.lastToken)
        #expect(
            await setup.send("POST", "/v1/user/verify_email/", body: ["token": .string(first)]).body == [
                "message": "Invalid or expired token"
            ])
        let verified = await setup.send("POST", "/v1/user/verify_email/", body: ["token": .string(second)])
        #expect(verified.status == 200)
        #expect(verified.body == ["message": "Email verified"])
        #expect(await setup.app.login().status == 200)
        // Spent; and a verified account gets no more links.
        #expect(await setup.send("POST", "/v1/user/verify_email/", body: ["token": .string(second)]).status == 400)
        #expect(await setup.send("POST", "/v1/user/verify_email/resend/", body: ["email": "oluch@gmail.com"]).status == 202)
        #expect(setup.mailer.messages.count == 2)
    }

    @Test("a verification link cannot undo an administrator's deactivation, nor outlive its expiry")
    func verificationLimits() async throws {
        let setup = await Setup(verify: true)
        await setup.harness.register()
        await setup.app.perform([.verification(userID: 1, token: "unused")])
        await setup.send("POST", "/v1/user/verify_email/resend/", body: ["email": "oluch@gmail.com"])
        let token = try #require(setup.mailer.lastToken)
        #expect(
            await setup.send("POST", "/v1/user/verify_email/", body: ["token": .string(token)], at: setup.harness.now + 86_400).status
                == 400)
        _ = try Admin(context: setup.app.context).setActive("1", false)
        #expect(await setup.send("POST", "/v1/user/verify_email/", body: ["token": .string(token)]).status == 400)
        #expect(setup.harness.store.user(id: 1)?.isActive == false)
    }

    @Test("with AUTHFN_REQUIRE_ACTIVATION too, a verified address still waits for the administrator")
    func verificationWithAdminActivation() async throws {
        var settings = AccountSettings()
        settings.requireActivation = true
        let setup = await Setup(verify: true, settings: settings)
        let registered = await setup.send(
            "POST", "/v1/user/register/", body: ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        #expect(registered.status == 201)
        let token = try #require(setup.mailer.lastToken)
        #expect(await setup.send("POST", "/v1/user/verify_email/", body: ["token": .string(token)]).status == 200)
        let user = try #require(setup.harness.store.user(id: 1))
        #expect(!user.isActive && !user.emailUnverified)
    }

    @Test("a refused or failed delivery changes no answer and is logged")
    func failedDeliveryIsLogged() async throws {
        var mail = Self.mail
        mail.verifyEmail = false
        let mailer = RecordingMailer(outcome: .refused(status: 75, detail: "msmtp: cannot connect"))
        let harness = await TestHarness(mail: mail, mailer: mailer)
        await harness.register()
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("log").path
            var context = harness.app.context
            context.logger = Logger(label: "authfn") { label in LineLogHandler(label: label, sink: LogSink(.file(path)), level: .info) }
            let app = App(context: context)
            let response = await app.send("POST", "/v1/user/password_reset/", body: ["email": "oluch@gmail.com"])
            #expect(response.status == 202)
            await app.perform(response.deferred)
            let log = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            #expect(log.contains("the mail command refused the mail"))
            #expect(log.contains("msmtp: cannot connect"))
            #expect(!log.contains("token="))
        }
    }
}

@Suite struct MailMessageTests {
    static func message(subject: String = "Reset your password", html: String? = nil) -> MailMessage {
        MailMessage(
            from: "Example <no-reply@example.com>", to: "oluch@gmail.com", subject: subject, text: "Hello\nLink: https://x/#token=1.abc\n",
            html: html, date: 1_796_562_000, messageID: "c0ffee@example.com", boundary: "authfn-b0undary")
    }

    @Test func plainMessage() throws {
        let text = String(decoding: Self.message().rendered, as: UTF8.self)
        let (head, body) = try #require(text.split(separator: "\n\n", maxSplits: 1).map(String.init).pair)
        #expect(
            head.split(separator: "\n") == [
                "From: Example <no-reply@example.com>", "To: oluch@gmail.com", "Subject: Reset your password",
                "Date: Sun, 06 Dec 2026 13:00:00 +0000", "Message-ID: <c0ffee@example.com>", "MIME-Version: 1.0",
                "Auto-Submitted: auto-generated", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
            ])
        let decoded = try #require(Data(base64Encoded: body.replacingOccurrences(of: "\n", with: "")))
        #expect(String(decoding: decoded, as: UTF8.self) == "Hello\nLink: https://x/#token=1.abc\n")
        #expect(!text.contains("\r"))
    }

    @Test func utf8SubjectAndHTMLAlternative() throws {
        let subject = "Réinitialisez votre mot de passe — 密码重置, long enough to need two encoded words"
        let text = String(decoding: Self.message(subject: subject, html: "<p>Hello</p>").rendered, as: UTF8.self)
        let subjectLines = text.split(separator: "\n").drop { !$0.hasPrefix("Subject:") }.prefix {
            $0.hasPrefix("Subject:") || $0.hasPrefix(" ")
        }
        #expect(subjectLines.count >= 2)
        #expect(subjectLines.allSatisfy { $0.count <= 78 })
        var decoded = ""
        for line in subjectLines {
            for word in line.split(separator: " ") where word.hasPrefix("=?UTF-8?B?") {
                let payload = word.dropFirst(10).dropLast(2)
                decoded += String(decoding: try #require(Data(base64Encoded: String(payload))), as: UTF8.self)
            }
        }
        #expect(decoded == subject)
        #expect(text.contains("Content-Type: multipart/alternative; boundary=\"authfn-b0undary\""))
        #expect(text.contains("--authfn-b0undary\nContent-Type: text/html; charset=utf-8"))
        #expect(text.hasSuffix("--authfn-b0undary--\n"))
    }

    @Test("no header injection through the subject or the sender")
    func oneLineHeaders() {
        var message = Self.message(subject: "Hi\nBcc: victim@example.com")
        message.from = "a@example.com\r\nBcc: x@example.com"
        let text = String(decoding: message.rendered, as: UTF8.self)
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("Bcc:") })
    }

    @Test func templatesFromADirectory() throws {
        let files = [
            "/t/reset.subject": "Nouveau mot de passe pour {username}\nignored second line",
            "/t/reset.txt": "Lien : {link} ({minutes} min) {unknown}",
            "/t/reset.html": "<a href=\"{link}\">{username}</a>",
        ]
        let rendered = MailTemplates.render(
            .reset, directory: "/t", values: ["link": "https://x/?a=1&b=2", "username": "<b>o</b>", "minutes": "60"],
            read: { files[$0] })
        #expect(rendered.subject == "Nouveau mot de passe pour <b>o</b>")
        #expect(rendered.text == "Lien : https://x/?a=1&b=2 (60 min) {unknown}")
        #expect(rendered.html == "<a href=\"https://x/?a=1&amp;b=2\">&lt;b&gt;o&lt;/b&gt;</a>")
        // Without a directory (or a file), the built-in texts.
        #expect(MailTemplates.render(.verify, directory: nil, values: [:]).subject == "Confirm your email address")
    }

    @Test(
        "AUTHFN_MAIL_COMMAND is split like a shell's words, without a shell",
        arguments: [
            ("/usr/sbin/sendmail -t -i", ["/usr/sbin/sendmail", "-t", "-i"] as [String]?),
            ("msmtp  -t --from='a b@example.com'", ["msmtp", "-t", "--from=a b@example.com"]),
            (#"sh -c "cat > \"/tmp/x y\"""#, ["sh", "-c", #"cat > "/tmp/x y""#]),
            (#"a\ b c"#, ["a b", "c"]),
            ("echo $HOME;rm", ["echo", "$HOME;rm"]),
            ("'unclosed", nil),
            ("   ", nil),
        ])
    func shellWords(_ text: String, _ words: [String]?) {
        #expect(ShellWords.split(text) == words)
    }
}

@Suite struct CommandMailerTests {
    @Test func acceptedRefusedHangingAndMissing() throws {
        try withTemporaryDirectorySync { dir in
            let file = dir.appendingPathComponent("mail.eml").path
            let message = MailMessageTests.message()
            #expect(CommandMailer(arguments: ["sh", "-c", "cat > '\(file)'"], timeout: 10).deliver(message) == .accepted)
            #expect(FileManager.default.contents(atPath: file).map { [UInt8]($0) } == message.rendered)
            #expect(
                CommandMailer(arguments: ["sh", "-c", "cat > /dev/null; echo 'no route to host' >&2; exit 75"], timeout: 10).deliver(
                    message)
                    == .refused(status: 75, detail: "no route to host"))
            #expect(CommandMailer(arguments: ["sleep", "30"], timeout: 1).deliver(message) == .timedOut(seconds: 1))
            guard case .notStarted = CommandMailer(arguments: ["/nonexistent/sendmail"], timeout: 1).deliver(message) else {
                Issue.record("a missing command must be reported as not started")
                return
            }
        }
    }

    @Test("the transport finishes the answer before the mail goes out")
    func transportFinishesFirst() async throws {
        final class WatchingMailer: Mailer, @unchecked Sendable {
            let output: MemoryOutput
            var finishedBeforeMail: Bool?
            init(_ output: MemoryOutput) { self.output = output }
            func deliver(_ message: MailMessage) -> MailOutcome {
                finishedBeforeMail = output.finishedAt == output.bytes.count && !output.bytes.isEmpty
                return .accepted
            }
        }
        let output = MemoryOutput()
        let mailer = WatchingMailer(output)
        let harness = await TestHarness(mail: RecoveryTests.mail, mailer: mailer)
        await harness.register()
        let input = MemoryInput([request("POST", "/v1/user/password_reset/", body: ["email": "oluch@gmail.com"])])
        _ = await Transport.envelope.serve(harness.app, input: input, output: output, timeout: 5)
        #expect(mailer.finishedBeforeMail == true)
        #expect(try JSONValue.parse(output.bytes)["status"] == 202)
    }
}

extension Array {
    fileprivate var pair: (Element, Element)? { count == 2 ? (self[0], self[1]) : nil }
}

func withTemporaryDirectorySync<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

@Suite struct MailConfigurationTests {
    @Test func variablesAreRead() throws {
        let config = try Configuration.load(environment: [
            "AUTHFN_MAIL_COMMAND": "msmtp -t --from='no-reply@example.com'", "AUTHFN_MAIL_FROM": "Example <no-reply@example.com>",
            "AUTHFN_RESET_URL": "https://app.example.com/reset#token={token}", "AUTHFN_VERIFY_EMAIL": "yes",
            "AUTHFN_VERIFY_URL": "https://app.example.com/verify?t={token}", "AUTHFN_RESET_TOKEN_EXPIRES": "600",
        ])
        #expect(config.mail.command == ["msmtp", "-t", "--from=no-reply@example.com"])
        #expect(config.mail.canReset && config.mail.canVerify && config.mail.verifyEmail)
        #expect(config.mail.resetExpires == 600 && config.mail.verifyExpires == 86_400 && config.mail.timeout == 10)
    }

    @Test(
        "unusable or incomplete mail settings stop start-up (exit 78), each variable named",
        arguments: [
            (["AUTHFN_VERIFY_EMAIL": "1"], ["AUTHFN_MAIL_COMMAND", "AUTHFN_MAIL_FROM", "AUTHFN_VERIFY_URL"]),
            (["AUTHFN_RESET_URL": "https://a.example/#token={token}"], ["AUTHFN_MAIL_COMMAND", "AUTHFN_MAIL_FROM"]),
            (["AUTHFN_RESET_URL": "https://a.example/reset"], ["AUTHFN_RESET_URL"]),
            (["AUTHFN_VERIFY_URL": "javascript:alert(1)//{token}"], ["AUTHFN_VERIFY_URL"]),
            (["AUTHFN_MAIL_COMMAND": "msmtp 'unclosed"], ["AUTHFN_MAIL_COMMAND"]),
            (["AUTHFN_MAIL_FROM": "no address"], ["AUTHFN_MAIL_FROM"]),
            (["AUTHFN_RESET_TOKEN_EXPIRES": "5"], ["AUTHFN_RESET_TOKEN_EXPIRES"]),
        ] as [([String: String], [String])])
    func refused(_ environment: [String: String], _ variables: [String]) {
        #expect {
            try Configuration.load(environment: environment)
        } throws: { error in
            guard case ConfigError.invalid(let problems) = error else { return false }
            return problems.map(\.variable).sorted() == variables.sorted()
        }
    }
}
