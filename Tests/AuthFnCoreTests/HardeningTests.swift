import Foundation
import Testing

@testable import AuthFnCore

/// Regression tests for issue 9's findings, one group per item, driven in process with the
/// in-memory store (the end-to-end ones are in `CommandLineTests` and `FileStoreHardeningTests`).
@Suite struct HardeningTests {
    // MARK: 1, 2, 21 — JSON strings, keys and integers

    @Test(
        .bug(id: "9.1", "strings are decoded in one pass"),
        arguments: [
            (#""a\nb\u00e9c\ud83d\udd11d""#, "a\nbécd".replacingOccurrences(of: "cd", with: "c\u{1F511}d")),
            (#""é\"ü\\""#, "é\"ü\\"), (#""\u0041\u00c5x""#, "AÅx"), (#""plain""#, "plain"), (#""""#, ""),
        ])
    func escapesBesideRawUTF8(_ json: String, _ expected: String) throws {
        #expect(try JSONValue.parse(Array(json.utf8)) == .string(expected))
    }

    @Test(.bug(id: "9.1"))
    func invalidUTF8NextToAnEscapeIsRefused() {
        // A lone lead byte, then an escape: each piece alone would not show it.
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x5C, 0x6E, 0x22]) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(#""\n"#.utf8) + [0x80, 0x22]) }
    }

    @Test(.bug(id: "9.1"))
    func manyEscapesParseToTheRightString() throws {
        let unit = "x\\n"
        let json = "\"" + String(repeating: unit, count: 100_000) + "\""
        let parsed = try #require(try JSONValue.parse(Array(json.utf8)).stringValue)
        #expect(parsed.utf8.count == 200_000 && parsed.hasPrefix("x\nx\n"))
    }

    @Test(.bug(id: "9.2", "object keys are compared as bytes"))
    func canonicallyEquivalentKeysStayDistinct() throws {
        // String's == would merge these two keys (canonical equivalence); Python's json keeps both.
        let object = try #require(try JSONValue.parse(Array(#"{"\u00e9":1,"e\u0301":2}"#.utf8)).objectValue)
        #expect(object.count == 2)
        #expect(object["\u{E9}"] == 1 && object["e\u{301}"] == 2)
        #expect(try JSONValue.parse(Array(#"{"é":1}"#.utf8)) != (try JSONValue.parse(Array(#"{"e\u0301":1}"#.utf8))))
    }

    @Test(.bug(id: "9.2"))
    func headerNamesFoldOnlyASCIICase() {
        var headers = Headers()
        headers["Authorization"] = "Bearer a"
        #expect(headers["AUTHORIZATION"] == "Bearer a")
        // U+212A KELVIN SIGN lowercases to "k" in Unicode; HTTP names are ASCII tokens.
        headers["\u{212A}ey"] = "x"
        #expect(headers["key"] == nil)
    }

    @Test(
        .bug(id: "9.21", "integers are exact"),
        arguments: ["9223372036854775807", "-9223372036854775808", "9007199254740993", "1"])
    func integersAreExact(_ text: String) throws {
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value.integerValue == Int64(text))
        #expect(value.encodedString == text)
    }

    @Test(.bug(id: "9.21"))
    func anIntegerBeyondInt64IsADouble() throws {
        #expect(try JSONValue.parse(Array("9223372036854775808".utf8)) == .number(9_223_372_036_854_775_808))
        #expect(try JSONValue.parse(Array("1.0".utf8)) == 1)
    }

    @Test(.bug(id: "9.21"))
    func userIDsNearTheTopOfInt64AreAnsweredExactly() async throws {
        let store = InMemoryStore()
        store.setNextUserID(9_223_372_036_854_775_806)
        let app = await TestHarness.app(store: store, now: 1_767_225_600)
        let created = await app.send(
            "POST", "/v1/user/register", body: ["username": "big", "email": "big@example.com", "password": .string(seedPassword)])
        #expect(created.status == 201)
        #expect(Envelope.encodeResponse(created).contains(subsequence: Array(#""id":9223372036854775806"#.utf8)))
        let login = await app.login("big@example.com")
        #expect(login.body["data"]?["user_id"] == .integer(9_223_372_036_854_775_806))
        let info = await app.send("GET", "/v1/user/user_info", bearer: login.accessToken)
        #expect(info.body["id"] == .integer(9_223_372_036_854_775_806))
        // The last id is never handed out past Int.max: the store says so instead of overflowing.
        let next = await app.send(
            "POST", "/v1/user/register", body: ["username": "bigger", "email": "bigger@example.com", "password": .string(seedPassword)])
        #expect(next.status == 500)
    }

    // MARK: 2 — bounds before Unicode work

    @Test(
        .bug(id: "9.2", "hostile text is refused before normalisation"),
        arguments: [
            ("username", String(repeating: "a\u{301}\u{316}", count: 20_000), "Length must be between 1 and 80."),
            (
                "username", "a" + String(repeating: "\u{301}\u{316}", count: 20),
                "Username must not contain more than 30 combining marks in a row."
            ),
            ("email", String(repeating: "\u{301}", count: 100_000) + "@example.com", "Longer than maximum length 200."),
            ("password", "Aa1!" + String(repeating: "\u{301}\u{316}", count: 50_000), "Password must be at most 200 characters long."),
            (
                "password", "Aa1!xyzw" + String(repeating: "\u{301}", count: 31),
                "Password must not contain more than 30 combining marks in a row."
            ),
        ])
    func boundedFields(_ field: String, _ value: String, _ message: String) {
        #expect(throws: ValidationError([field: [message]])) {
            try UserInput.registration(from: UserInputTests.with(field, .string(value)))
        }
    }

    @Test(.bug(id: "9.2"))
    func aHugeLoginPasswordIsRefusedWithoutTheKDF() async throws {
        let harness = await TestHarness()
        await harness.register()
        let response = await harness.app.login(password: String(repeating: "\u{301}", count: 400_000))
        #expect(response.status == 401)
    }

    // MARK: 3 — stored-hash bounds

    @Test(
        .bug(id: "9.3", "hashes beyond the bounds are not run"),
        arguments: [
            (PasswordHasher.Method.scrypt(n: 1 << 20, r: 8, p: 1), false), (.scrypt(n: 1 << 19, r: 8, p: 1), false),
            (.scrypt(n: 1 << 18, r: 8, p: 1), true), (.scrypt(n: 1 << 17, r: 8, p: 2), true), (.scrypt(n: 1 << 17, r: 8, p: 3), false),
            (.scrypt(n: 32768, r: 8, p: 1), true), (.pbkdf2(hash: "sha256", iterations: 1_000_000), true),
            (.pbkdf2(hash: "sha256", iterations: 2_000_000), true), (.pbkdf2(hash: "sha256", iterations: 2_000_001), false),
            (.pbkdf2(hash: "sha512", iterations: 10_000_000), false),
        ])
    func hashBounds(_ method: PasswordHasher.Method, _ allowed: Bool) {
        #expect(PasswordHasher.isWithinBounds(method) == allowed)
        #expect((PasswordHasher.parseMethod(method.description) != nil) == allowed)
        // A stored hash beyond them verifies as false at once.
        if !allowed { #expect(!PasswordHasher.verify("x", against: "\(method)$salt$00")) }
    }

    // MARK: 4 — no client can lock out another

    /// The seed user registered, with throttling limits of its own.
    static func throttled(max: Int, window: Int64 = 60, accountMax: Int = 100) async -> TestHarness {
        var settings = ThrottleTests.settings(max: max, window: window)
        settings.loginAccountMaxFailures = accountMax
        let harness = await TestHarness(settings: settings)
        await harness.register()
        return harness
    }

    @Test(.bug(id: "9.4", "an attacker at one address cannot lock the owner out"))
    func ownerAtAnotherAddressAlwaysGetsIn() async throws {
        let harness = await Self.throttled(max: 5)
        var attackerFailures = 0, attackerAttempts = 0, ownerSuccesses = 0
        // Ten simulated minutes: the attacker tries every second, the owner every 30 seconds.
        for second in stride(from: Int64(0), to: 600, by: 1) {
            let app = harness.at(harness.now + second)
            attackerAttempts += 1
            if await app.login(password: "Wrong#pass1", from: "198.51.100.66").status == 401 { attackerFailures += 1 }
            if second % 30 == 15, await app.login(from: "203.0.113.5").status == 200 { ownerSuccesses += 1 }
        }
        #expect(ownerSuccesses == 20)
        // At most the configured rate: 5 counted guesses per 60-second window, 10 windows.
        #expect(attackerFailures <= 5 * 10 && attackerFailures >= 5 * 9)
        #expect(attackerAttempts == 600)
    }

    @Test(.bug(id: "9.4"))
    func theAccountCeilingBoundsADistributedAttack() async throws {
        let harness = await Self.throttled(max: 3, accountMax: 7)
        var statuses: [Int] = []
        for address in 1...4 {
            for _ in 0..<3 { statuses.append(await harness.app.login(password: "Wrong#pass1", from: "192.0.2.\(address)").status) }
        }
        #expect(statuses.filter { $0 == 401 }.count == 7)
        #expect(statuses.filter { $0 == 429 }.count == 5)
    }

    @Test(.bug(id: "9.4"))
    func aSuccessClearsOnlyItsOwnClientsCount() async throws {
        let harness = await Self.throttled(max: 2, window: 900)
        for _ in 0..<2 { _ = await harness.app.login(password: "Wrong#pass1", from: "198.51.100.66") }
        #expect(await harness.app.login(from: "203.0.113.5").status == 200)
        #expect(await harness.app.login(from: "198.51.100.66").status == 429)
    }

    @Test(.bug(id: "9.4"))
    func apiGatewaysSourceIPIsTheClientAddress() async throws {
        func event(_ ip: String, _ password: String) -> [UInt8] {
            let body = JSONValue.object(["email": "oluch@gmail.com", "password": .string(password)]).encodedString
            let event: JSONValue = [
                "version": "2.0", "rawPath": "/v1/user/login/", "body": .string(body), "headers": ["content-type": "application/json"],
                "requestContext": ["http": ["method": "POST", "sourceIp": .string(ip)]],
            ]
            return event.encoded()
        }
        let harness = await Self.throttled(max: 2, window: 900)
        for _ in 0..<3 { _ = await harness.app.reply(envelope: event("198.51.100.66", "Wrong#pass1")) }
        #expect(await harness.app.reply(envelope: event("198.51.100.66", seedPassword)).response.status == 429)
        #expect(await harness.app.reply(envelope: event("203.0.113.5", seedPassword)).response.status == 200)
        // A sourceIp that is not a short printable token is ignored, not trusted and not refused.
        let odd = try Envelope.decodeRequest(event("203.0.113.5 \u{7}" + String(repeating: "x", count: 100), seedPassword))
        #expect(odd.clientAddress == nil)
    }

    // MARK: 5, 6, 7 — revocations that stay revoked

    @Test(.bug(id: "9.5", "a revocation outlives its tokens whatever the lifetimes are now"), arguments: [false, true])
    func shorterLifetimesLaterDoNotResurrectASession(_ onDisk: Bool) async throws {
        try await withTemporaryDirectory { dir in
            try await Self.shorterLifetimes(onDisk ? try FileStore(directory: dir.path) : InMemoryStore())
        }
    }

    static func shorterLifetimes(_ store: any Store) async throws {
        let now: Int64 = 1_767_225_600
        let thirtyDays = await TestHarness.app(store: store, now: now)
        _ = await thirtyDays.send(
            "POST", "/v1/user/register", body: ["username": "u", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        let login = await thirtyDays.login()
        // The operator shortens refresh tokens to an hour, then the user signs out.
        let oneHour = await TestHarness.app(store: store, now: now + 60, refreshLifetime: 3600)
        #expect(await oneHour.send("POST", "/v1/user/signout_access", bearer: login.accessToken).status == 200)
        let later = await TestHarness.app(store: store, now: now + 7200, refreshLifetime: 3600)
        #expect(try Admin(context: later.context).prune() >= 0)
        let refreshed = await later.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        #expect(refreshed.status == 401 && refreshed.body == ["message": "Token has been revoked"])
    }

    @Test(.bug(id: "9.5"), arguments: [false, true])
    func aRotatedSessionStaysEndedWhenEndedWithAnOlderToken(_ onDisk: Bool) async throws {
        try await withTemporaryDirectory { dir in
            try await Self.rotatedSession(onDisk ? try FileStore(directory: dir.path) : InMemoryStore())
        }
    }

    static func rotatedSession(_ store: any Store) async throws {
        let now: Int64 = 1_767_225_600
        var settings = AccountSettings()
        settings.refreshRotation = true
        func app(at offset: Int64, refresh: Int64) async -> App {
            await TestHarness.app(store: store, now: now + offset, settings: settings, refreshLifetime: refresh)
        }
        // Logged in with one-hour refresh tokens: the first access token's session horizon is 1 h 15 min.
        let start = await app(at: 0, refresh: 3600)
        _ = await start.send(
            "POST", "/v1/user/register", body: ["username": "u", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        let login = await start.login()
        // The operator moves to 30-day refresh tokens; a rotation then issues a successor for 30 days.
        let rotated = await app(at: 700, refresh: 2_592_000).send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        let successor = try #require(rotated.body["refresh_token"]?.stringValue)
        // Signed out with the first access token, which knows only the old horizon.
        #expect(await app(at: 800, refresh: 2_592_000).send("POST", "/v1/user/signout_access", bearer: login.accessToken).status == 200)
        let later = await app(at: 7200, refresh: 2_592_000)
        _ = try Admin(context: later.context).prune()
        #expect(await later.send("POST", "/v1/user/refresh_token", bearer: successor).body == ["message": "Token has been revoked"])
    }

    @Test(.bug(id: "9.6", "deactivation ends every session"))
    func reactivationDoesNotRestoreOldTokens() async throws {
        let harness = await TestHarness()
        await harness.register()
        let login = await harness.app.login()
        let admin = Admin(context: harness.app.context)
        _ = try admin.setActive("oluch@gmail.com", false)
        _ = try admin.setActive("oluch@gmail.com", true)
        let info = await harness.send("GET", "/v1/user/user_info", bearer: login.accessToken)
        #expect(info.status == 401 && info.body == ["message": "Token has been revoked"])
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken).status == 401)
        let again = await harness.app.login()
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: again.accessToken).status == 200)
    }

    @Test(.bug(id: "9.7", "a login in the same second as a sign-out everywhere works"))
    func loginInTheSameSecondAsSignoutAllWorks() async throws {
        let harness = await TestHarness()
        await harness.register()
        let before = await harness.app.login()
        #expect(await harness.send("POST", "/v1/user/signout_all", bearer: before.accessToken).status == 200)
        let after = await harness.app.login()
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: after.accessToken).status == 200)
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: after.refreshToken).status == 200)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: before.accessToken).status == 401)
    }

    @Test(.bug(id: "9.7"))
    func tokensWithoutAGenerationFallBackToTheCutoffTime() async throws {
        let harness = await TestHarness()
        await harness.register()
        let login = await harness.app.login()
        // An authfn 1.0 token: a session id, no `gen`.
        let legacy = Forge.token(
            payload:
                #"{"exp":1767226500,"fresh":true,"iat":1767225600,"jti":"old-1","nbf":1767225600,"sid":"s-old","sub":"1","type":"access"}"#)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: legacy).status == 200)
        _ = await harness.send("POST", "/v1/user/signout_all", bearer: login.accessToken)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: legacy).status == 401)
    }

    // MARK: 8 — look-alike usernames

    @Test(
        .bug(id: "9.8", "invisible and bidi characters are refused in usernames"),
        arguments: [
            "ad\u{200D}min", "ad\u{200C}min", "ad\u{200B}min", "ad\u{00AD}min", "ad\u{2060}min", "\u{FEFF}admin", "ad\u{034F}min",
            "admin\u{FE0F}", "admin\u{E0100}", "\u{202E}nimda", "\u{2066}admin\u{2069}", "ad\u{2028}min", "ad\u{2029}min", "ad\u{E000}min",
            "ad\u{0378}min", "\u{3164}admin", "ad\u{180E}min",
        ])
    func lookAlikes(_ username: String) {
        #expect(throws: ValidationError(["username": [UserInputTests.invisible]])) {
            try UserInput.registration(from: UserInputTests.with("username", .string(username)))
        }
    }

    @Test(.bug(id: "9.8"), arguments: ["admin", "Zoë", "José Ñúñez", "李小龍", "o'brien", "user-1_2.3", "Ωmega"])
    func ordinaryNamesStayAllowed(_ username: String) throws {
        #expect(try UserInput.registration(from: UserInputTests.with("username", .string(username))).username == username)
    }

    // MARK: 9 — timing by hash method

    @Test(.bug(id: "9.9", "every login derives each method in use once"))
    func timingMethodsCoverTheStore() {
        let inUse = ["scrypt:131072:8:1": 10, "pbkdf2:sha256:600000": 2, "garbage": 1]
        let methods = PasswordHasher.timingMethods(inUse: inUse, configured: .scrypt(n: 1024, r: 8, p: 1))
        #expect(Set(methods) == [.scrypt(n: 131_072, r: 8, p: 1), .pbkdf2(hash: "sha256", iterations: 600_000)])
        #expect(PasswordHasher.timingMethods(inUse: [:], configured: .scrypt(n: 1024, r: 8, p: 1)) == [.scrypt(n: 1024, r: 8, p: 1)])
        let many = Dictionary(uniqueKeysWithValues: (10...16).map { ("scrypt:\(1 << $0):8:1", 1) })
        #expect(
            PasswordHasher.timingMethods(inUse: many, configured: .scrypt(n: 1024, r: 8, p: 1))
                == [16, 15, 14, 13].map { .scrypt(n: 1 << $0, r: 8, p: 1) })
    }

    @Test(.bug(id: "9.9"), arguments: [false, true])
    func storesCountTheMethodsInUse(_ onDisk: Bool) async throws {
        try await withTemporaryDirectory { dir in
            try await Self.countsMethods(onDisk ? try FileStore(directory: dir.path) : InMemoryStore())
        }
    }

    static func countsMethods(_ store: any Store) async throws {
        let harness = await TestHarness.app(store: store, now: 1_767_225_600)
        let legacy = try #require(PasswordHasherTests.werkzeugVectors.first { $0.method == "pbkdf2:sha256:150000" })
        try store.commit([
            .createUser(UserRecord(id: 0, username: "legacy", email: "legacy@example.com", password: legacy.hash, createdAt: 1))
        ])
        _ = await harness.send(
            "POST", "/v1/user/register", body: ["username": "u", "email": "u@example.com", "password": .string(seedPassword)])
        #expect(try store.passwordMethods() == ["pbkdf2:sha256:150000": 1, "scrypt:1024:8:1": 1])
        // Rehash-on-login moves the account to the configured method.
        #expect(await harness.login("legacy@example.com", legacy.password).status == 200)
        #expect(try store.passwordMethods() == ["scrypt:1024:8:1": 2])
    }

    // MARK: 12 — envelopes

    @Test(
        .bug(id: "9.12", "envelope headers and methods"),
        arguments: [
            (
                #"{"method":"GET","path":"/","headers":{"Authorization":"Bearer a","authorization":"Bearer b"}}"#,
                EnvelopeError.duplicateHeader("authorization")
            ),
            (#"{"method":"GET","path":"/","headers":{"Bad Name":"x"}}"#, .invalidHeaderName("Bad Name")),
            (
                #"{"method":"poſt","path":"/"}"#,
                .wrongType(field: "method", expected: "a non-empty string of ASCII letters, such as \"POST\"")
            ),
        ])
    func envelopeRefusals(_ text: String, _ error: EnvelopeError) {
        #expect(throws: error) { try Envelope.decodeRequest(Array(text.utf8)) }
    }

    @Test(.bug(id: "9.12"))
    func escapedSlashesDoNotRoute() async throws {
        for target in ["/v1%2Fuser%2Flogin", "/v1%2fuser%2flogin", "/v1/user%2Flogin/"] {
            let head = try #require(try HTTP1.parseHead(Array("POST \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
            let request = HTTP1.request(head, body: [])
            #expect(request.path.contains("%2"), "\(target)")
            #expect(await TestHarness().app.handle(request).status == 404, "\(target)")
        }
        // Other escapes still decode.
        #expect(Target.split("/v1/user/log%69n").path == "/v1/user/login")
    }

    @Test(.bug(id: "9.12"), arguments: ["Host: a\r\nHost: b", "Host: a\r\nhost: a"])
    func twoHostHeadersAreABadRequest(_ hosts: String) {
        #expect(throws: HTTPError.badRequest("more than one Host header")) {
            try HTTP1.parseHead(Array("GET / HTTP/1.1\r\n\(hosts)\r\n\r\n".utf8))
        }
    }

    @Test(.bug(id: "9.12"), arguments: ["Authorization", "authorization", "Content-Type"])
    func twoSingletonHeadersAreABadRequest(_ second: String) {
        let first = second == "Content-Type" ? "content-type" : "Authorization"
        #expect(throws: HTTPError.badRequest("more than one \(second) header")) {
            try HTTP1.parseHead(Array("GET / HTTP/1.1\r\nHost: x\r\n\(first): a\r\n\(second): b\r\n\r\n".utf8))
        }
    }

    // MARK: 13 — one spelling per token

    @Test(.bug(id: "9.13", "only canonical base64url verifies"))
    func alternativeSpellingsOfATokenAreRefused() async throws {
        let service = await TokenServiceTests.service()
        let token = Forge.token(payload: Forge.claims())
        #expect(try await service.verify(token, now: TokenServiceTests.now).subject == "1")
        // 43 characters for 32 bytes: the last one carries 2 spare bits.
        let last = try #require(token.last)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let value = try #require(alphabet.firstIndex(of: last))
        var variants = [token + "=", token + "==="]
        for spare in 1...3 { variants.append(String(token.dropLast()) + String(alphabet[(value & ~3) | spare])) }
        let parts = token.split(separator: ".")
        variants.append(parts[0] + "=." + parts[1] + "." + parts[2])
        for variant in variants {
            await #expect(throws: TokenError.self, "\(variant.suffix(4))") { try await service.verify(variant, now: TokenServiceTests.now) }
        }
    }

    // MARK: 20 — empty bodies

    @Test(.bug(id: "9.20", "an empty string body is no body"))
    func emptyStringBodiesAreNoBody() async throws {
        let envelope = #"{"method":"POST","path":"/v1/user/login/","body":""}"#
        let request = try Envelope.decodeRequest(Array(envelope.utf8))
        #expect(request.body == .none)
        let response = await TestHarness().app.handle(request)
        #expect(response.status == 422)
        let event = #"{"version":"2.0","rawPath":"/v1/user/login/","body":"","requestContext":{"http":{"method":"POST"}}}"#
        #expect(try Envelope.decodeRequest(Array(event.utf8)).body == .none)
        let v1 = #"{"httpMethod":"POST","path":"/v1/user/login/","body":"","isBase64Encoded":true}"#
        #expect(try Envelope.decodeRequest(Array(v1.utf8)).body == .none)
    }
}

extension Array where Element: Equatable {
    func contains(subsequence: [Element]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { self[$0..<($0 + subsequence.count)].elementsEqual(subsequence) }
    }
}
