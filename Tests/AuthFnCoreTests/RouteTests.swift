import Testing

@testable import AuthFnCore

@Suite struct RouteTests {
    @Test func home() async {
        let response = await TestHarness().send("GET", "/")
        #expect(response.status == 200)
        #expect(response.body == ["status": "success", "data": ["msg": "Welcome to the diary API"]])
    }

    @Test func registerCreatesTheUser() async throws {
        let harness = await TestHarness()
        let response = await harness.register()
        #expect(response.status == 201)
        #expect(response.body == ["id": 1, "username": "oluchiy", "email": "oluch@gmail.com"])
        let stored = try #require(harness.store.user(id: 1))
        #expect(stored.password.hasPrefix("scrypt:1024:8:1$"))
        #expect(!stored.password.contains(seedPassword))
        #expect(await harness.register("second", "second@example.com").body["id"] == 2)
    }

    @Test(
        "duplicates are refused, case- and width-insensitively",
        arguments: [
            ("oluchiy", "other@example.com", "username already exist"),
            ("OLUCHIY", "other@example.com", "username already exist"),
            ("ｏｌｕｃｈｉｙ", "other@example.com", "username already exist"),
            ("someone", "oluch@gmail.com", "email already exist"),
            ("someone", "OLUCH@GMAIL.COM", "email already exist"),
            ("oluchiy", "oluch@gmail.com", "username already exist"),
        ])
    func duplicates(_ username: String, _ email: String, _ message: String) async {
        let harness = await TestHarness()
        await harness.register()
        let response = await harness.register(username, email)
        #expect(response.status == 400)
        #expect(response.body == ["message": .string(message)])
        #expect(harness.store.userCount == 1)
    }

    @Test func invalidRegistrationChangesNothing() async {
        let harness = await TestHarness()
        let response = await harness.register("olu", "olu@gmail.com", password: "445h")
        #expect(response.status == 422)
        #expect(response.body["errors"]?["password"] != nil)
        #expect(harness.store.userCount == 0)
    }

    @Test func loginIssuesFreshAccessAndRefreshTokens() async throws {
        let harness = await TestHarness()
        await harness.register()
        let response = await harness.send("POST", "/v1/user/login/", body: ["email": "Oluch@Gmail.com", "password": .string(seedPassword)])
        #expect(response.status == 200)
        #expect(response.body["status"] == "success")
        #expect(response.body["data"]?["user_id"] == 1)
        #expect(response.body["data"]?["email"] == "oluch@gmail.com")
        let access = try #require(response.body["data"]?["access_token"]?.stringValue)
        let refresh = try #require(response.body["data"]?["refresh_token"]?.stringValue)
        let tokens = harness.app.context.tokens
        let a = try await tokens.verify(access, now: harness.now)
        let r = try await tokens.verify(refresh, now: harness.now)
        #expect(a.kind == .access && a.fresh && a.subject == "1" && a.expiresAt == harness.now + 900)
        #expect(r.kind == .refresh && !r.fresh && r.expiresAt == harness.now + 2_592_000)
        #expect(a.jti != r.jti)
    }

    @Test(
        "login failures are identical whether or not the email exists",
        arguments: [
            ("oluch@gmail.com", "wrong-Password1!"), ("nobody@gmail.com", seedPassword),
            ("oluch@gmail.com", String(repeating: "A", count: 10_000)),
        ])
    func loginFailure(_ email: String, _ password: String) async {
        let harness = await TestHarness()
        await harness.register()
        let response = await harness.send("POST", "/v1/user/login/", body: ["email": .string(email), "password": .string(password)])
        #expect(response.status == 401)
        #expect(response.body == ["status": "fail", "data": ["msg": "Unable to authenticate user: Invalid credentials"]])
    }

    @Test func loginValidation() async {
        let harness = await TestHarness()
        let response = await harness.send("POST", "/v1/user/login/", body: ["email": "nope"])
        #expect(response.status == 422)
        #expect(response.body == ["errors": ["email": ["Not a valid email address."], "password": ["Missing data for required field."]]])
    }

    @Test func userInfo() async throws {
        let harness = await TestHarness()
        let (access, _) = try await harness.loggedIn()
        let response = await harness.send("GET", "/v1/user/user_info/", bearer: access)
        #expect(response.status == 200)
        #expect(response.body == ["message": "welcome to your biodata page", "id": 1, "username": "oluchiy", "email": "oluch@gmail.com"])
    }

    @Test func refreshIssuesNonFreshAccessToken() async throws {
        let harness = await TestHarness()
        let (_, refresh) = try await harness.loggedIn()
        let response = await harness.send("POST", "/v1/user/refresh_token/", bearer: refresh)
        #expect(response.status == 200)
        let token = try #require(response.body["token"]?.stringValue)
        let verified = try await harness.app.context.tokens.verify(token, now: harness.now)
        #expect(verified.kind == .access && !verified.fresh && verified.subject == "1")
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: token).status == 200)
    }

    @Test func tokenTypesAreEnforced() async throws {
        let harness = await TestHarness()
        let (access, refresh) = try await harness.loggedIn()
        let a = await harness.send("GET", "/v1/user/user_info", bearer: refresh)
        #expect(a.status == 422 && a.body == ["message": "Only non-refresh tokens are allowed"])
        let b = await harness.send("POST", "/v1/user/refresh_token", bearer: access)
        #expect(b.status == 422 && b.body == ["message": "Only refresh tokens are allowed"])
        let c = await harness.send("POST", "/v1/user/signout_access", bearer: refresh)
        #expect(c.status == 422)
    }

    @Test func signoutEndsTheWholeSession() async throws {
        let harness = await TestHarness()
        let (access, refresh) = try await harness.loggedIn()
        let refreshed = try #require(await harness.send("POST", "/v1/user/refresh_token", bearer: refresh).body["token"]?.stringValue)
        let out = await harness.send("POST", "/v1/user/signout_access/", bearer: access)
        #expect(out.status == 200 && out.body == ["message": "Successfully logged out"])
        for (method, path, token) in [
            ("GET", "/v1/user/user_info", access), ("POST", "/v1/user/signout_access", access),
            ("POST", "/v1/user/refresh_token", refresh), ("GET", "/v1/user/user_info", refreshed),
        ] {
            let again = await harness.send(method, path, bearer: token)
            #expect(again.status == 401)
            #expect(again.body == ["message": "Token has been revoked"])
            #expect(again.headers["WWW-Authenticate"] == #"Bearer error="invalid_token""#)
        }
    }

    @Test func signoutWithoutJTI() async throws {
        let harness = await TestHarness()
        await harness.register()
        let token = Forge.token(payload: #"{"sub":"1","type":"access"}"#)
        let response = await harness.send("POST", "/v1/user/signout_access", bearer: token)
        #expect(response.status == 400)
        #expect(response.body == ["message": "Something bad occurred while trying to log you out"])
    }

    @Test("tokens for users that do not exist", arguments: [#""99""#, #""abc""#, #""0""#, #""-1""#])
    func unknownUser(_ sub: String) async throws {
        let harness = await TestHarness()
        await harness.register()
        for (method, path, type) in [("GET", "/v1/user/user_info", "access"), ("POST", "/v1/user/refresh_token", "refresh")] {
            let token = Forge.token(payload: Forge.claims(sub: sub, type: type))
            let response = await harness.send(method, path, bearer: token)
            #expect(response.status == 401)
            #expect(response.body == ["status": "fail"])
            #expect(response.headers["WWW-Authenticate"] == "Bearer")
        }
    }

    @Test func expiredAccessToken() async throws {
        let harness = await TestHarness()
        let (access, _) = try await harness.loggedIn()
        let later = harness.at(harness.now + 900)
        let response = await later.handle(
            Request(method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]))
        #expect(response.status == 401 && response.body == ["message": "Token has expired"])
    }

    @Test(
        "routing",
        arguments: [
            ("GET", "/nope", 404, nil), ("GET", "/v1/user/register", 405, "OPTIONS, POST"),
            ("DELETE", "/", 405, "GET, HEAD, OPTIONS"), ("POST", "/v1/user/user_info/", 405, "GET, HEAD, OPTIONS"),
            ("HEAD", "/nope", 404, nil), ("GET", "/v1/user/login//", 405, "OPTIONS, POST"), ("GET", "/v1/user/REGISTER", 404, nil),
            ("OPTIONS", "/v1/user/login/", 200, "OPTIONS, POST"), ("OPTIONS", "/", 200, "GET, HEAD, OPTIONS"),
            ("OPTIONS", "/nope", 404, nil),
        ] as [(String, String, Int, String?)])
    func routing(_ method: String, _ path: String, _ status: Int, _ allow: String?) async {
        let response = await TestHarness().send(method, path)
        #expect(response.status == status)
        #expect(response.headers["Allow"] == allow)
        switch status {
        case 404: #expect(response.body["status"] == "fail")
        // Flask's own 405 body; Flask answers OPTIONS itself, with 200 and `Allow`.
        case 405: #expect(response.body == ["message": "The method is not allowed for the requested URL."])
        default: #expect(response.body == [:])
        }
    }

    @Test(
        "raw bodies",
        arguments: [
            ("application/json", #"{"email":"x"}"#, 422), ("application/json; charset=utf-8", "{bad", 400),
            ("application/vnd.api+json", "{}", 422), ("text/plain", "{}", 415), (nil, "{}", 415),
            ("application/x-www-form-urlencoded", "email=a", 415), ("application/json", "", 422),
        ] as [(String?, String, Int)])
    func rawBodies(_ contentType: String?, _ body: String, _ status: Int) async {
        var headers = Headers()
        if let contentType { headers["Content-Type"] = contentType }
        let response = await TestHarness().app.handle(
            Request(method: "POST", path: "/v1/user/login", headers: headers, body: .raw(Array(body.utf8))))
        #expect(response.status == status)
        if status == 415 { #expect(response.body["message"]?.stringValue?.contains("application/json") == true) }
    }
}

@Suite struct AuthorizationHeaderTests {
    @Test(
        "Flask-JWT-Extended's header rules",
        arguments: [
            (nil, 401, "Missing Authorization Header"), ("", 401, "Missing Authorization Header"),
            ("  ,", 401, "Missing Authorization Header"),
            ("Token abc", 401, "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'"),
            ("Basic dXNlcjpwYXNz", 401, "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'"),
            ("abc.def.ghi", 401, "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'"),
            ("bearer abc", 401, "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'"),
            ("Bearer", 422, "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'"),
            ("Bearer ", 422, "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'"),
            ("Bearer a b", 422, "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'"),
            ("Bearer abc", 422, "Not enough segments"),
            ("Basic x, Bearer abc", 422, "Not enough segments"),
        ] as [(String?, Int, String)])
    func header(_ value: String?, _ status: Int, _ message: String) async {
        var headers = Headers()
        if let value { headers["authorization"] = value }
        let response = await TestHarness().app.handle(Request(method: "GET", path: "/v1/user/user_info", headers: headers))
        #expect(response.status == status)
        #expect(response.body == ["message": .string(message)])
        #expect((response.headers["WWW-Authenticate"] != nil) == (status == 401))
    }
}
