import Testing

@testable import AuthFnCore

/// Token locations, cookies with CSRF double submit, and CORS (Flask-JWT-Extended 4's names, defaults
/// and messages; `FlaskParityTests` runs the same requests through Flask-JWT-Extended itself).
@Suite struct TokenLocationTests {
    static func web(_ locations: [WebSettings.Location], _ change: (inout WebSettings) -> Void = { _ in }) -> WebSettings {
        var web = WebSettings()
        web.locations = locations
        change(&web)
        return web
    }

    @Test(
        "no token: each location's message, and the combined one",
        arguments: [
            ([WebSettings.Location.headers], "GET", Headers(), Request.Body.none, "Missing Authorization Header"),
            ([.cookies], "GET", [:], .none, "Missing cookie \"access_token_cookie\""),
            ([.cookies], "GET", ["Cookie": "other=1; access_token_cookie="], .none, "Missing cookie \"access_token_cookie\""),
            ([.queryString], "GET", [:], .none, "Missing 'jwt' query paramater"),
            ([.json], "GET", [:], .none, "Invalid content-type. Must be application/json."),
            ([.json], "GET", ["Content-Type": "application/json"], .raw(Array("{}".utf8)), "Missing \"access_token\" key in json data."),
            ([.json], "GET", ["Content-Type": "application/json"], .raw(Array("[1".utf8)), "Missing \"access_token\" key in json data."),
            ([.json], "GET", [:], .json(["access_token": ""]), "Missing \"access_token\" key in json data."),
            (
                [.headers, .cookies], "GET", [:], .none,
                "Missing JWT in headers or cookies (Missing Authorization Header; Missing cookie \"access_token_cookie\")"
            ),
            (
                [.cookies, .queryString, .json], "GET", [:], .none,
                "Missing JWT in cookies, query_string or json (Missing cookie \"access_token_cookie\"; Missing 'jwt' query paramater; Invalid content-type. Must be application/json.)"
            ),
        ] as [([WebSettings.Location], String, Headers, Request.Body, String)])
    func missing(_ locations: [WebSettings.Location], _ method: String, _ headers: Headers, _ body: Request.Body, _ message: String)
        async
    {
        let harness = await TestHarness(web: Self.web(locations))
        let response = await harness.app.handle(Request(method: method, path: "/v1/user/user_info", headers: headers, body: body))
        #expect(response.status == 401)
        #expect(response.body == ["message": .string(message)])
        #expect(response.headers["WWW-Authenticate"] == "Bearer")
    }

    @Test func customHeaderNameAndType() async throws {
        let harness = await TestHarness(
            web: Self.web([.headers]) {
                $0.headerName = "X-Auth-Token"; $0.headerType = "JWT"
            })
        let (access, _) = try await harness.loggedIn()
        func info(_ headers: Headers) async -> Response {
            await harness.app.handle(Request(method: "GET", path: "/v1/user/user_info", headers: headers))
        }
        #expect(await info(["X-Auth-Token": "JWT \(access)"]).status == 200)
        #expect(await info(["Authorization": "Bearer \(access)"]).body == ["message": "Missing X-Auth-Token Header"])
        #expect(
            await info(["X-Auth-Token": "Bearer \(access)"]).body
                == ["message": "Missing 'JWT' type in 'X-Auth-Token' header. Expected 'X-Auth-Token: JWT <JWT>'"])
        let bad = await info(["X-Auth-Token": "JWT \(access) extra"])
        #expect(bad.status == 422)
        #expect(bad.body == ["message": "Bad X-Auth-Token header. Expected 'X-Auth-Token: JWT <JWT>'"])
    }

    @Test func queryStringAndJSONLocations() async throws {
        let harness = await TestHarness(web: Self.web([.queryString, .json]) { $0.queryStringValuePrefix = "Bearer " })
        let (access, refresh) = try await harness.loggedIn()
        let byQuery = await harness.app.handle(
            Request(method: "GET", path: "/v1/user/user_info", query: [ByteKey("jwt"): "Bearer \(access)"]))
        #expect(byQuery.status == 200)
        let noPrefix = await harness.app.handle(Request(method: "GET", path: "/v1/user/user_info", query: [ByteKey("jwt"): access]))
        #expect(noPrefix.status == 422)
        #expect(noPrefix.body == ["message": "Invalid value for query parameter 'jwt'. Expected the value to start with 'Bearer '"])
        let byJSON = await harness.app.handle(
            Request(method: "POST", path: "/v1/user/refresh_token", body: .json(["refresh_token": .string(refresh)])))
        #expect(byJSON.status == 200)
        let wrongType = await harness.app.handle(
            Request(method: "POST", path: "/v1/user/refresh_token", body: .json(["refresh_token": 5])))
        #expect(wrongType.status == 422)
        #expect(wrongType.body == ["message": "Invalid token type. Token must be a <class 'bytes'>"])
    }

    @Test("the first location holding a token decides; a bad token there is not skipped")
    func firstLocationWins() async throws {
        let harness = await TestHarness(web: Self.web([.headers, .queryString]))
        let (access, _) = try await harness.loggedIn()
        let response = await harness.app.handle(
            Request(
                method: "GET", path: "/v1/user/user_info", query: [ByteKey("jwt"): access], headers: ["Authorization": "Bearer x.y"]))
        #expect(response.status == 422)
        #expect(response.body == ["message": "Not enough segments"])
    }
}

@Suite struct CookieTests {
    static let cookies = TokenLocationTests.web([.cookies])

    /// Logs in and returns the response's cookies by name (value, whole line).
    static func cookieJar(_ response: Response) -> [String: (value: String, line: String)] {
        var jar: [String: (String, String)] = [:]
        for line in response.cookies {
            let pair = line.split(separator: ";", maxSplits: 1)[0]
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            jar[String(parts[0])] = (parts.count > 1 ? String(parts[1]) : "", line)
        }
        return jar
    }

    static func send(
        _ harness: TestHarness, _ method: String, _ path: String, cookie: String?, csrf: String? = nil, body: Request.Body = .none
    ) async -> Response {
        var headers = Headers()
        if let cookie { headers["Cookie"] = cookie }
        if let csrf { headers["X-CSRF-TOKEN"] = csrf }
        return await harness.app.handle(Request(method: method, path: path, headers: headers, body: body))
    }

    @Test func loginSetsHttpOnlyTokenCookiesAndReadableCSRFCookies() async throws {
        let harness = await TestHarness(web: Self.cookies)
        await harness.register()
        let login = await harness.app.login()
        #expect(login.status == 200)
        #expect(login.headers["Cache-Control"] == "no-store" && login.headers["Pragma"] == "no-cache")
        let jar = Self.cookieJar(login)
        #expect(jar.keys.sorted() == ["access_token_cookie", "csrf_access_token", "csrf_refresh_token", "refresh_token_cookie"])
        // The JSON body is unchanged: the same tokens are in it.
        #expect(jar["access_token_cookie"]?.value == login.accessToken)
        #expect(jar["refresh_token_cookie"]?.value == login.refreshToken)
        #expect(jar["access_token_cookie"]?.line == "access_token_cookie=\(login.accessToken ?? ""); Secure; HttpOnly; Path=/")
        let csrf = try #require(jar["csrf_access_token"]?.value)
        #expect(jar["csrf_access_token"]?.line == "csrf_access_token=\(csrf); Secure; Path=/")
        // The readable value is the token's csrf claim.
        let claims = try await harness.app.context.tokens.verify(try #require(login.accessToken), now: harness.now).claims
        #expect(claims["csrf"] == .string(csrf))
        #expect(jar["csrf_refresh_token"]?.value != csrf)
    }

    @Test func csrfDoubleSubmitOnStateChangingMethods() async throws {
        let harness = await TestHarness(web: Self.cookies)
        await harness.register()
        let jar = Self.cookieJar(await harness.app.login())
        let access = try #require(jar["access_token_cookie"]?.value)
        let csrf = try #require(jar["csrf_access_token"]?.value)
        let cookie = "access_token_cookie=\(access); csrf_access_token=\(csrf)"
        // GET is not a CSRF method.
        #expect(await Self.send(harness, "GET", "/v1/user/user_info", cookie: cookie).status == 200)
        let missing = await Self.send(harness, "POST", "/v1/user/signout_access", cookie: cookie)
        #expect(missing.status == 401)
        #expect(missing.body == ["message": "Missing CSRF token"])
        let wrong = await Self.send(harness, "POST", "/v1/user/signout_access", cookie: cookie, csrf: "0" + csrf.dropFirst())
        #expect(wrong.status == 401)
        #expect(wrong.body == ["message": "CSRF double submit tokens do not match"])
        let signout = await Self.send(harness, "POST", "/v1/user/signout_access", cookie: cookie, csrf: csrf)
        #expect(signout.status == 200)
        #expect(
            signout.cookies == [
                "access_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; Path=/",
                "csrf_access_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; Path=/",
                "refresh_token_cookie=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; Path=/",
                "csrf_refresh_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; Path=/",
            ])
        let after = await Self.send(harness, "GET", "/v1/user/user_info", cookie: cookie)
        #expect(after.status == 401)
        #expect(after.body == ["message": "Token has been revoked"])
    }

    @Test func refreshByCookieSetsANewAccessCookie() async throws {
        let harness = await TestHarness(web: Self.cookies)
        await harness.register()
        let jar = Self.cookieJar(await harness.app.login())
        let cookie = "refresh_token_cookie=\(try #require(jar["refresh_token_cookie"]?.value))"
        // The refresh cookie's CSRF value, not the access cookie's.
        let crossed = await Self.send(harness, "POST", "/v1/user/refresh_token", cookie: cookie, csrf: jar["csrf_access_token"]?.value)
        #expect(crossed.body == ["message": "CSRF double submit tokens do not match"])
        let refreshed = await Self.send(harness, "POST", "/v1/user/refresh_token", cookie: cookie, csrf: jar["csrf_refresh_token"]?.value)
        #expect(refreshed.status == 200)
        #expect(refreshed.headers["Cache-Control"] == "no-store")
        let newJar = Self.cookieJar(refreshed)
        #expect(newJar.keys.sorted() == ["access_token_cookie", "csrf_access_token"])
        #expect(newJar["access_token_cookie"]?.value == refreshed.body["token"]?.stringValue)
    }

    @Test func rotationSetsBothCookiesAndARetryGetsTheSameOnes() async throws {
        var settings = AccountSettings()
        settings.refreshRotation = true
        let harness = await TestHarness(settings: settings, web: Self.cookies)
        await harness.register()
        let jar = Self.cookieJar(await harness.app.login())
        let cookie = "refresh_token_cookie=\(try #require(jar["refresh_token_cookie"]?.value))"
        let first = await Self.send(harness, "POST", "/v1/user/refresh_token", cookie: cookie, csrf: jar["csrf_refresh_token"]?.value)
        let retry = await Self.send(harness, "POST", "/v1/user/refresh_token", cookie: cookie, csrf: jar["csrf_refresh_token"]?.value)
        let firstJar = Self.cookieJar(first)
        #expect(firstJar.keys.sorted() == ["access_token_cookie", "csrf_access_token", "csrf_refresh_token", "refresh_token_cookie"])
        #expect(firstJar["refresh_token_cookie"]?.value == first.refreshToken)
        #expect(Self.cookieJar(retry)["refresh_token_cookie"]?.value == first.refreshToken)
        #expect(Self.cookieJar(retry)["csrf_refresh_token"]?.value == firstJar["csrf_refresh_token"]?.value)
        // The successor's CSRF value works with it.
        let next = await Self.send(
            harness, "POST", "/v1/user/refresh_token", cookie: "refresh_token_cookie=\(first.refreshToken ?? "")",
            csrf: firstJar["csrf_refresh_token"]?.value)
        #expect(next.status == 200)
    }

    @Test func formFieldWhenCheckFormIsOn() async throws {
        let harness = await TestHarness(web: TokenLocationTests.web([.cookies]) { $0.csrf.checkForm = true })
        await harness.register()
        let jar = Self.cookieJar(await harness.app.login())
        let request = Request(
            method: "POST", path: "/v1/user/signout_access",
            headers: [
                "Cookie": "access_token_cookie=\(jar["access_token_cookie"]?.value ?? "")",
                "Content-Type": "application/x-www-form-urlencoded",
            ],
            body: .raw(Array("csrf_token=\(jar["csrf_access_token"]?.value ?? "")".utf8)))
        #expect(await harness.app.handle(request).status == 200)
    }

    @Test func withoutCSRFProtectionNoClaimNoCookieNoCheck() async throws {
        let harness = await TestHarness(web: TokenLocationTests.web([.cookies]) { $0.csrf.protect = false })
        await harness.register()
        let login = await harness.app.login()
        let jar = Self.cookieJar(login)
        #expect(jar.keys.sorted() == ["access_token_cookie", "refresh_token_cookie"])
        let claims = try await harness.app.context.tokens.verify(try #require(login.accessToken), now: harness.now).claims
        #expect(claims["csrf"] == nil)
        let signout = await Self.send(
            harness, "POST", "/v1/user/signout_access", cookie: "access_token_cookie=\(jar["access_token_cookie"]?.value ?? "")")
        #expect(signout.status == 200)
        #expect(signout.cookies.count == 2)
    }

    @Test("a token minted without a csrf claim cannot pass a CSRF check")
    func tokenWithoutCSRFClaim() async throws {
        let headerMode = await TestHarness()
        let (access, _) = try await headerMode.loggedIn()
        var context = headerMode.app.context
        context.web = Self.cookies
        let response = await App(context: context).handle(
            Request(
                method: "POST", path: "/v1/user/signout_access", headers: ["Cookie": "access_token_cookie=\(access)", "X-CSRF-TOKEN": "x"]))
        #expect(response.status == 422)
        #expect(response.body == ["message": "Missing claim: csrf"])
    }

    enum Variant: String, CaseIterable, Sendable { case defaults, insecure, lax, domainPathNone, persistent }

    @Test(
        "cookie attributes",
        arguments: [
            (Variant.defaults, "access_token_cookie=T; Secure; HttpOnly; Path=/"),
            (.insecure, "access_token_cookie=T; HttpOnly; Path=/"),
            (.lax, "access_token_cookie=T; Secure; HttpOnly; Path=/; SameSite=Lax"),
            (.domainPathNone, "access_token_cookie=T; Domain=example.com; Secure; HttpOnly; Path=/v1/; SameSite=None"),
            (.persistent, "access_token_cookie=T; Expires=Sat, 01 Jan 2028 01:06:40 GMT; Max-Age=31540000; Secure; HttpOnly; Path=/"),
        ])
    func attributes(_ variant: Variant, _ expected: String) {
        var web = Self.cookies
        switch variant {
        case .defaults: break
        case .insecure: web.cookies.secure = false
        case .lax: web.cookies.sameSite = .lax
        case .domainPathNone:
            web.cookies.domain = "example.com"
            web.cookies.accessPath = "/v1/"
            web.cookies.sameSite = CookieSettings.SameSite.none
        case .persistent: web.cookies.sessionCookie = false
        }
        // 2027-01-01T00:00:00Z plus 31,540,000 s (365 days, 1 h 6 min 40 s).
        #expect(web.cookies(access: ("T", nil), refresh: nil, now: 1_798_761_600).first == expected)
    }

    @Test(
        "Cookie header parsing",
        arguments: [
            ("access_token_cookie=abc", "abc"),
            ("a=1; access_token_cookie=abc; b=2", "abc"),
            ("a=1;access_token_cookie=abc", "abc"),
            ("access_token_cookie=\"abc\"", "abc"),
            ("access_token_cookie=first; access_token_cookie=second", "first"),
            ("xaccess_token_cookie=abc", nil),
            ("access_token_cookie", nil),
            ("", nil),
        ] as [(String, String?)])
    func parsing(_ header: String, _ expected: String?) {
        #expect(Cookies.value(named: "access_token_cookie", in: header) == expected)
    }

    @Test(arguments: [
        (Int64(0), "Thu, 01 Jan 1970 00:00:00 GMT"), (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"), (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func httpDate(_ seconds: Int64, _ text: String) {
        #expect(Cookies.httpDate(seconds) == text)
    }

    @Test("every adapter carries cookies in and Set-Cookie fields out")
    func adapters() throws {
        var response = Response.message(200, "ok")
        response.cookies = ["a=1; Path=/", "b=2; HttpOnly; Path=/"]
        let http = String(decoding: HTTP1.encode(response), as: UTF8.self)
        #expect(http.contains("Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly; Path=/\r\n"))
        let cgi = String(decoding: CGI.encode(response, flavor: .cgi), as: UTF8.self)
        #expect(cgi.contains("Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly; Path=/\r\n"))
        let envelope = try JSONValue.parse(Envelope.encodeResponse(response, format: .envelope))
        #expect(envelope["cookies"] == ["a=1; Path=/", "b=2; HttpOnly; Path=/"])
        let v1 = try JSONValue.parse(Envelope.encodeResponse(response, format: .apiGatewayV1))
        #expect(v1["multiValueHeaders"]?["Set-Cookie"] == ["a=1; Path=/", "b=2; HttpOnly; Path=/"])
        let v2 = try JSONValue.parse(Envelope.encodeResponse(response, format: .apiGatewayV2))
        #expect(v2["cookies"] == ["a=1; Path=/", "b=2; HttpOnly; Path=/"])
        // Without cookies, nothing is added (the golden files stay as they were).
        #expect(try JSONValue.parse(Envelope.encodeResponse(.message(200, "ok"), format: .envelope))["cookies"] == nil)

        // In: two Cookie fields over HTTP, v1's multiValueHeaders, v2's cookies array.
        let head = try #require(
            try HTTP1.parseHead(Array("GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n".utf8)))
        #expect(head.headers["Cookie"] == "a=1; b=2")
        let v1Event: JSONValue = [
            "httpMethod": "GET", "path": "/", "multiValueHeaders": ["Cookie": ["a=1", "b=2"]],
        ]
        #expect(try Envelope.decode(v1Event.encoded()).request.headers["Cookie"] == "a=1; b=2")
        let v2Event: JSONValue = [
            "version": "2.0", "rawPath": "/", "cookies": ["a=1", "b=2"], "requestContext": ["http": ["method": "GET"]],
        ]
        #expect(try Envelope.decode(v2Event.encoded()).request.headers["Cookie"] == "a=1; b=2")
    }
}

@Suite struct CORSTests {
    static func harness(_ origins: CORSSettings.Origins?) async -> TestHarness {
        var web = WebSettings()
        web.cors.origins = origins
        web.csrf.accessHeaderName = "X-Access-CSRF"
        return await TestHarness(web: web)
    }

    static func preflight(_ origin: String, path: String = "/v1/user/register") -> Request {
        Request(
            method: "OPTIONS", path: path,
            headers: ["Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"])
    }

    @Test func preflightFromAListedOrigin() async {
        let harness = await Self.harness(.listed(["https://app.example.com"]))
        let response = await harness.app.handle(Self.preflight("https://app.example.com"))
        #expect(response.status == 204)
        #expect(!response.hasContent)
        #expect(response.headers["Access-Control-Allow-Origin"] == "https://app.example.com")
        #expect(response.headers["Access-Control-Allow-Credentials"] == "true")
        #expect(response.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST")
        #expect(response.headers["Access-Control-Allow-Headers"] == "Content-Type, Authorization, X-CSRF-TOKEN, X-Access-CSRF")
        #expect(response.headers["Access-Control-Max-Age"] == "600")
        #expect(response.headers["Vary"] == "Origin")
    }

    @Test(
        "no CORS headers for an unlisted origin, or without AUTHFN_CORS_ORIGINS",
        arguments: [
            (CORSSettings.Origins?.some(.listed(["https://app.example.com"])), "https://evil.example.com"),
            (.some(.listed(["https://app.example.com"])), "https://app.example.com.evil.example"),
            (.some(.listed(["https://app.example.com"])), "null"),
            (nil, "https://app.example.com"),
        ])
    func refused(_ origins: CORSSettings.Origins?, _ origin: String) async {
        let harness = await Self.harness(origins)
        let preflight = await harness.app.handle(Self.preflight(origin))
        // Answered as a plain OPTIONS: 200 with Allow.
        #expect(preflight.status == 200)
        #expect(preflight.headers["Allow"] == "OPTIONS, POST")
        #expect(preflight.headers["Access-Control-Allow-Origin"] == nil)
        #expect(preflight.headers["Access-Control-Allow-Credentials"] == nil)
        let actual = await harness.app.handle(Request(method: "GET", path: "/", headers: ["Origin": origin]))
        #expect(actual.headers["Access-Control-Allow-Origin"] == nil)
        #expect(actual.headers["Vary"] == (origins == nil ? nil : "Origin"))
    }

    @Test func anyOriginWithoutCredentials() async {
        let harness = await Self.harness(.any)
        let preflight = await harness.app.handle(Self.preflight("https://whoever.example"))
        #expect(preflight.status == 204)
        #expect(preflight.headers["Access-Control-Allow-Origin"] == "*")
        #expect(preflight.headers["Access-Control-Allow-Credentials"] == nil)
        let actual = await harness.app.handle(Request(method: "GET", path: "/", headers: ["Origin": "https://whoever.example"]))
        #expect(actual.headers["Access-Control-Allow-Origin"] == "*")
    }

    @Test("errors carry the headers too, so the page can read a 401")
    func errorsCarryTheHeaders() async {
        let harness = await Self.harness(.listed(["http://127.0.0.1:8000", "https://app.example.com"]))
        for request in [
            Request(method: "GET", path: "/v1/user/user_info", headers: ["Origin": "https://APP.example.com"]),
            Request(method: "GET", path: "/nowhere", headers: ["Origin": "https://APP.example.com"]),
            Request(method: "DELETE", path: "/v1/user/login", headers: ["Origin": "https://APP.example.com"]),
        ] {
            let response = await harness.app.handle(request)
            #expect(response.status >= 400)
            #expect(response.headers["Access-Control-Allow-Origin"] == "https://APP.example.com")
            #expect(response.headers["Access-Control-Allow-Credentials"] == "true")
            #expect(response.headers["Access-Control-Expose-Headers"] == "Retry-After, WWW-Authenticate")
        }
    }

    @Test("the JWKS is public: always Access-Control-Allow-Origin *", arguments: [nil, CORSSettings.Origins.listed(["https://a.example"])])
    func jwksIsAlwaysPublic(_ origins: CORSSettings.Origins?) async {
        let harness = await Self.harness(origins)
        let response = await harness.app.handle(
            Request(method: "GET", path: "/.well-known/jwks.json", headers: ["Origin": "https://b.example"]))
        #expect(response.status == 200)
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
        #expect(response.headers["Access-Control-Allow-Credentials"] == nil)
        let preflight = await harness.app.handle(Self.preflight("https://b.example", path: "/.well-known/jwks.json"))
        #expect(preflight.status == 204)
        #expect(preflight.headers["Access-Control-Allow-Origin"] == "*")
    }

    @Test func plainOptionsIsUnchanged() async {
        let harness = await Self.harness(.listed(["https://app.example.com"]))
        let response = await harness.app.handle(Request(method: "OPTIONS", path: "/v1/user/login"))
        #expect(response.status == 200)
        #expect(response.headers["Allow"] == "OPTIONS, POST")
    }
}

@Suite struct ClaimSettingsTests {
    static func claims(_ change: (inout ClaimSettings) -> Void) -> ClaimSettings {
        var claims = ClaimSettings()
        change(&claims)
        return claims
    }

    @Test func audienceIsWrittenAsPyJWTWritesIt() async throws {
        for (audiences, expected) in [(["api"], JSONValue.string("api")), (["api", "web"], ["api", "web"])] {
            let harness = await TestHarness(claims: Self.claims { $0.encodeAudience = audiences })
            let (access, _) = try await harness.loggedIn()
            let token = try await harness.app.context.tokens.verify(access, now: harness.now)
            #expect(token.claims["aud"] == expected)
        }
    }

    @Test(
        "audience and issuer are checked when configured, with PyJWT's messages",
        arguments: [
            (["aud": "api"], nil),
            (["aud": ["x", "api"]], nil),
            ([:], "Token is missing the \"aud\" claim"),
            (["aud": "web"], "Audience doesn't match"),
            (["aud": 5], "Invalid claim format in token"),
            (["aud": "api", "iss": "other"], "Invalid issuer"),
        ] as [(JSONObject, String?)])
    func decodeChecks(_ extra: JSONObject, _ message: String?) throws {
        var payload: JSONObject = ["sub": "1", "iss": "https://auth.example"]
        for (key, value) in extra { payload[key] = value }
        let rules = Self.claims {
            $0.decodeAudience = ["api", "other"]
            $0.decodeIssuer = "https://auth.example"
        }
        do {
            _ = try TokenService.validateClaims(payload, now: 100, rules: rules)
            #expect(message == nil)
        } catch {
            #expect(error == .malformed(message ?? "(accepted)"))
        }
    }

    @Test func issuerIsRequiredWhenConfigured() {
        #expect(throws: TokenError.malformed("Token is missing the \"iss\" claim")) {
            try TokenService.validateClaims(["sub": "1"], now: 100, rules: Self.claims { $0.decodeIssuer = "a" })
        }
        // Without a configured audience, a token's aud is accepted (as Flask-JWT-Extended does).
        #expect(throws: Never.self) { try TokenService.validateClaims(["sub": "1", "aud": "x"], now: 100) }
    }

    @Test(
        "leeway widens exp, nbf and iat by the same seconds",
        arguments: [
            (["exp": 100], 0, .expired),
            (["exp": 100], 1, nil),
            (["exp": 99], 1, .expired),
            (["nbf": 110], 9, .notYetValid(claim: "nbf")),
            (["nbf": 110], 10, nil),
            (["iat": 105], 5, nil),
            (["iat": 106], 5, .notYetValid(claim: "iat")),
        ] as [(JSONObject, Int64, TokenError?)])
    func leeway(_ claims: JSONObject, _ leeway: Int64, _ expected: TokenError?) {
        var payload = claims
        payload["sub"] = "1"
        let result = Result { () throws(TokenError) in
            try TokenService.validateClaims(payload, now: 100, rules: Self.claims { $0.leeway = leeway })
        }
        switch result {
        case .success: #expect(expected == nil)
        case .failure(let error): #expect(error == expected)
        }
    }

    @Test func identityClaimAndNotBefore() async throws {
        let harness = await TestHarness(
            claims: Self.claims {
                $0.identityClaim = "identity"
                $0.encodeNotBefore = false
            })
        let (access, refresh) = try await harness.loggedIn()
        let token = try await harness.app.context.tokens.verify(access, now: harness.now)
        #expect(token.claims["identity"] == "1" && token.claims["sub"] == nil && token.claims["nbf"] == nil)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: access).status == 200)
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: refresh).status == 200)
        #expect(throws: TokenError.missingClaim("identity")) {
            try TokenService.validateClaims(["sub": "1"], now: 100, rules: Self.claims { $0.identityClaim = "identity" })
        }
    }
}

@Suite struct WebConfigurationTests {
    @Test func defaultsAreFlaskJWTExtendedsExceptSecure() throws {
        let config = try Configuration.load(environment: [:])
        #expect(config.web.locations == [.headers])
        #expect(config.web.cookies.secure)
        #expect(config.web.csrf.methods == ["POST", "PUT", "PATCH", "DELETE"])
        #expect(config.web.cors.origins == nil)
        #expect(config.claims.identityClaim == "sub" && config.claims.encodeNotBefore)
    }

    @Test func variablesAreRead() throws {
        let config = try Configuration.load(environment: [
            "JWT_TOKEN_LOCATION": "cookies, headers", "JWT_COOKIE_SAMESITE": "strict", "JWT_COOKIE_DOMAIN": ".Example.com",
            "JWT_CSRF_METHODS": "post,delete", "AUTHFN_CORS_ORIGINS": "https://App.example.com, http://127.0.0.1:8000",
            "JWT_DECODE_AUDIENCE": "a, b", "JWT_DECODE_LEEWAY": "30", "JWT_IDENTITY_CLAIM": "identity", "JWT_ENCODE_NBF": "false",
        ])
        #expect(config.web.locations == [.cookies, .headers])
        #expect(config.web.cookies.sameSite == .strict)
        #expect(config.web.cookies.domain == "example.com")
        #expect(config.web.csrf.methods == ["POST", "DELETE"])
        #expect(config.web.cors.origins == .listed(["https://app.example.com", "http://127.0.0.1:8000"]))
        #expect(config.claims.decodeAudience == ["a", "b"])
        #expect(config.claims.leeway == 30)
        #expect(config.claims.identityClaim == "identity" && !config.claims.encodeNotBefore)
    }

    @Test(
        "unusable values are refused, each named",
        arguments: [
            (["JWT_TOKEN_LOCATION": "headers,body"], "JWT_TOKEN_LOCATION"),
            (["JWT_HEADER_NAME": "X Auth"], "JWT_HEADER_NAME"),
            (["JWT_ACCESS_COOKIE_PATH": "/a;b"], "JWT_ACCESS_COOKIE_PATH"),
            (["JWT_COOKIE_SAMESITE": "sometimes"], "JWT_COOKIE_SAMESITE"),
            (["JWT_COOKIE_SAMESITE": "None", "JWT_COOKIE_SECURE": "false"], "JWT_COOKIE_SAMESITE"),
            (["JWT_COOKIE_DOMAIN": "exa mple.com"], "JWT_COOKIE_DOMAIN"),
            (["AUTHFN_CORS_ORIGINS": "https://app.example.com/"], "AUTHFN_CORS_ORIGINS"),
            (["AUTHFN_CORS_ORIGINS": "app.example.com"], "AUTHFN_CORS_ORIGINS"),
            (["AUTHFN_CORS_ORIGINS": "*, https://a.example"], "AUTHFN_CORS_ORIGINS"),
            (["JWT_IDENTITY_CLAIM": "jti"], "JWT_IDENTITY_CLAIM"),
            (["JWT_DECODE_LEEWAY": "-1"], "JWT_DECODE_LEEWAY"),
            (["JWT_TOKEN_LOCATION": "cookies", "JWT_REFRESH_COOKIE_NAME": "access_token_cookie"], "JWT_REFRESH_COOKIE_NAME"),
        ])
    func refused(_ environment: [String: String], _ variable: String) {
        #expect {
            try Configuration.load(environment: environment)
        } throws: { error in
            guard case ConfigError.invalid(let problems) = error else { return false }
            return problems.map(\.variable) == [variable]
        }
    }
}
