import Foundation
import Testing

@testable import AuthFnCore

/// The same requests through authfn and through a Flask app with Flask-JWT-Extended 4 configured the
/// same way: statuses and messages must agree, for every token location, cookies with CSRF, and the
/// audience/issuer/leeway checks. Skipped without python3's Flask-JWT-Extended unless
/// AUTHFN_REQUIRE_INTEROP=1 (as .ci/run sets).
@Suite(.enabled(if: Python.available || Python.required, "needs python3 with flask-jwt-extended"))
struct FlaskParityTests {
    struct Case {
        var name: String
        var method: String
        var path: String
        var headers: [String: String] = [:]
        var query: [String: String] = [:]
        /// A JSON body, sent as application/json.
        var json: JSONValue?
    }

    /// A Flask app with Flask-JWT-Extended configured by `config` (plus the secret and authfn's
    /// message key) and the seed app's protected routes; answers each case with [status, message].
    static let script = """
        import json, sys, flask
        from flask_jwt_extended import JWTManager, jwt_required, create_access_token, get_jwt_identity, set_access_cookies, unset_jwt_cookies
        config, cases = json.loads(sys.argv[1]), json.loads(sys.argv[2])
        app = flask.Flask("parity")
        app.config.update(config)
        app.config["JWT_ERROR_MESSAGE_KEY"] = "message"
        JWTManager(app)

        @app.get("/v1/user/user_info")
        @jwt_required()
        def user_info():
            return {"message": "welcome to your biodata page"}

        @app.post("/v1/user/refresh_token")
        @jwt_required(refresh=True)
        def refresh():
            token = create_access_token(identity=get_jwt_identity(), fresh=False)
            response = flask.jsonify(token=token)
            set_access_cookies(response, token)
            return response

        @app.post("/v1/user/signout_access")
        @jwt_required()
        def signout():
            response = flask.jsonify(message="Successfully logged out")
            unset_jwt_cookies(response)
            return response

        answers = []
        for case in cases:
            # The test client keeps its own cookie jar (a Cookie header would be replaced): fill it.
            client = app.test_client()
            for pair in case["headers"].pop("Cookie", "").split(";"):
                if "=" in pair:
                    name, value = pair.strip().split("=", 1)
                    client.set_cookie(name, value)
            kwargs = {"method": case["method"], "headers": case["headers"], "query_string": case["query"]}
            if case.get("json") is not None:
                kwargs["json"] = case["json"]
            response = client.open(case["path"], **kwargs)
            body = response.get_json(silent=True) or {}
            answers.append([case["name"], response.status_code, body.get("message")])
        print(json.dumps(answers))
        """

    /// Runs `cases` through `app` and through Flask-JWT-Extended with `config`, expecting the same
    /// status for each and, for every refusal, the same message.
    static func compare(_ app: App, config: JSONObject, _ cases: [Case]) async throws {
        var encoded: [JSONValue] = []
        for item in cases {
            var object: JSONObject = [
                "name": .string(item.name), "method": .string(item.method), "path": .string(item.path),
                "headers": .object(JSONObject(item.headers.mapValues(JSONValue.string))),
                "query": .object(JSONObject(item.query.mapValues(JSONValue.string))),
            ]
            if let json = item.json { object["json"] = json }
            encoded.append(.object(object))
        }
        let flask = try Python.run(
            script, arguments: [JSONValue.object(config).encodedString, JSONValue.array(encoded).encodedString])
        let answers = try #require(flask.arrayValue)
        #expect(answers.count == cases.count)
        for (item, answerValue) in zip(cases, answers) {
            let answer = answerValue.arrayValue ?? []
            var headers = Headers()
            for (name, value) in item.headers { headers[name] = value }
            if item.json != nil { headers["Content-Type"] = "application/json" }
            var query: [ByteKey: String] = [:]
            for (name, value) in item.query { query[ByteKey(name)] = value }
            let response = await app.handle(
                Request(
                    method: item.method, path: item.path, query: query, headers: headers,
                    body: item.json.map { .raw($0.encoded()) } ?? .none))
            let status = answer.count == 3 ? answer[1].integerValue : nil
            let message = answer.count == 3 ? answer[2] : .null
            #expect(Int64(response.status) == status, "\(item.name): authfn \(response.status), Flask-JWT-Extended \(status ?? -1)")
            if response.status != 200 {
                #expect(
                    (response.body["message"] ?? .null) == message,
                    "\(item.name): authfn \(response.body["message"] ?? .null), Flask-JWT-Extended \(message)")
            }
        }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
    static let secretConfig: JSONObject = ["JWT_SECRET_KEY": .string(String(decoding: testSecret, as: UTF8.self))]

    @Test func cookiesWithCSRF() async throws {
        try #require(Python.available, "python3 with flask-jwt-extended is required")
        var web = WebSettings()
        web.locations = [.cookies]
        let harness = await TestHarness(now: Self.now, web: web)
        await harness.register()
        let jar = CookieTests.cookieJar(await harness.app.login())
        let access = try #require(jar["access_token_cookie"]?.value)
        let refresh = try #require(jar["refresh_token_cookie"]?.value)
        let accessCSRF = try #require(jar["csrf_access_token"]?.value)
        let refreshCSRF = try #require(jar["csrf_refresh_token"]?.value)
        // A token minted where cookies are not a location has no csrf claim.
        let plain = try await harness.app.context.tokens.issue(subject: "1", kind: .access, fresh: true, now: harness.now, jti: "j1")

        var config = Self.secretConfig
        config["JWT_TOKEN_LOCATION"] = ["cookies"]
        try await Self.compare(
            harness.app, config: config,
            [
                Case(name: "no cookie", method: "GET", path: "/v1/user/user_info"),
                Case(
                    name: "access cookie", method: "GET", path: "/v1/user/user_info", headers: ["Cookie": "access_token_cookie=\(access)"]),
                Case(name: "garbage cookie", method: "GET", path: "/v1/user/user_info", headers: ["Cookie": "access_token_cookie=abc"]),
                Case(
                    name: "refresh token as access cookie", method: "GET", path: "/v1/user/user_info",
                    headers: ["Cookie": "access_token_cookie=\(refresh)"]),
                Case(
                    name: "POST without CSRF header", method: "POST", path: "/v1/user/signout_access",
                    headers: ["Cookie": "access_token_cookie=\(access)"]),
                Case(
                    name: "POST with another CSRF value", method: "POST", path: "/v1/user/signout_access",
                    headers: ["Cookie": "access_token_cookie=\(access)", "X-CSRF-TOKEN": refreshCSRF]),
                Case(
                    name: "token without csrf claim", method: "POST", path: "/v1/user/signout_access",
                    headers: ["Cookie": "access_token_cookie=\(plain)", "X-CSRF-TOKEN": accessCSRF]),
                Case(
                    name: "refresh with the access CSRF value", method: "POST", path: "/v1/user/refresh_token",
                    headers: ["Cookie": "refresh_token_cookie=\(refresh)", "X-CSRF-TOKEN": accessCSRF]),
                Case(
                    name: "refresh with its own CSRF value", method: "POST", path: "/v1/user/refresh_token",
                    headers: ["Cookie": "refresh_token_cookie=\(refresh)", "X-CSRF-TOKEN": refreshCSRF]),
                Case(
                    name: "header token ignored", method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]),
                Case(
                    name: "sign-out with the CSRF value", method: "POST", path: "/v1/user/signout_access",
                    headers: ["Cookie": "access_token_cookie=\(access)", "X-CSRF-TOKEN": accessCSRF]),
            ])
    }

    @Test func everyLocationAndTheCombinedMessages() async throws {
        try #require(Python.available, "python3 with flask-jwt-extended is required")
        var web = WebSettings()
        web.locations = [.headers, .cookies, .queryString, .json]
        let harness = await TestHarness(now: Self.now, web: web)
        let (access, refresh) = try await harness.loggedIn()
        var config = Self.secretConfig
        config["JWT_TOKEN_LOCATION"] = ["headers", "cookies", "query_string", "json"]
        try await Self.compare(
            harness.app, config: config,
            [
                Case(name: "nothing anywhere", method: "GET", path: "/v1/user/user_info"),
                Case(name: "empty JSON body", method: "POST", path: "/v1/user/refresh_token", json: [:]),
                Case(name: "Basic credentials", method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Basic eHl6"]),
                Case(name: "bad bearer", method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Bearer a b"]),
                Case(name: "query string", method: "GET", path: "/v1/user/user_info", query: ["jwt": access]),
                Case(name: "JSON body", method: "POST", path: "/v1/user/refresh_token", json: ["refresh_token": .string(refresh)]),
                Case(
                    name: "JSON body, wrong kind", method: "POST", path: "/v1/user/refresh_token", json: ["refresh_token": .string(access)]),
                Case(name: "header", method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Bearer \(access)"]),
            ])
    }

    @Test func customHeaderAndQueryPrefix() async throws {
        try #require(Python.available, "python3 with flask-jwt-extended is required")
        var web = WebSettings()
        web.locations = [.headers, .queryString]
        web.headerName = "X-Auth-Token"
        web.headerType = "JWT"
        web.queryStringName = "token"
        web.queryStringValuePrefix = "Bearer "
        let harness = await TestHarness(now: Self.now, web: web)
        let (access, _) = try await harness.loggedIn()
        var config = Self.secretConfig
        config["JWT_TOKEN_LOCATION"] = ["headers", "query_string"]
        config["JWT_HEADER_NAME"] = "X-Auth-Token"
        config["JWT_HEADER_TYPE"] = "JWT"
        config["JWT_QUERY_STRING_NAME"] = "token"
        config["JWT_QUERY_STRING_VALUE_PREFIX"] = "Bearer "
        try await Self.compare(
            harness.app, config: config,
            [
                Case(name: "nothing", method: "GET", path: "/v1/user/user_info"),
                Case(name: "custom header", method: "GET", path: "/v1/user/user_info", headers: ["X-Auth-Token": "JWT \(access)"]),
                Case(name: "wrong type", method: "GET", path: "/v1/user/user_info", headers: ["X-Auth-Token": "Bearer \(access)"]),
                Case(name: "query without prefix", method: "GET", path: "/v1/user/user_info", query: ["token": access]),
                Case(name: "query with prefix", method: "GET", path: "/v1/user/user_info", query: ["token": "Bearer \(access)"]),
            ])
    }

    @Test func audienceIssuerAndLeeway() async throws {
        try #require(Python.available, "python3 with flask-jwt-extended is required")
        var claims = ClaimSettings()
        claims.decodeAudience = ["api"]
        claims.decodeIssuer = "https://auth.example"
        claims.leeway = 30
        let now = Self.now
        let harness = await TestHarness(now: now, claims: claims)
        await harness.register()
        func mint(audience: [String]?, issuer: String?, issuedAt: Int64 = now) async throws -> String {
            var rules = ClaimSettings()
            rules.encodeAudience = audience
            let service = await TokenService(
                secret: testSecret, accessLifetime: 900, refreshLifetime: 3600, keys: KeySettings(issuer: issuer), claims: rules)
            return try await service.issue(subject: "1", kind: .access, fresh: false, now: issuedAt, jti: UUID().uuidString)
        }
        var config = Self.secretConfig
        config["JWT_DECODE_AUDIENCE"] = "api"
        config["JWT_DECODE_ISSUER"] = "https://auth.example"
        config["JWT_DECODE_LEEWAY"] = 30
        let cases = [
            ("right audience and issuer", try await mint(audience: ["api"], issuer: "https://auth.example")),
            ("one of two audiences", try await mint(audience: ["web", "api"], issuer: "https://auth.example")),
            ("other audience", try await mint(audience: ["web"], issuer: "https://auth.example")),
            ("no audience", try await mint(audience: nil, issuer: "https://auth.example")),
            ("other issuer", try await mint(audience: ["api"], issuer: "https://evil.example")),
            ("no issuer", try await mint(audience: ["api"], issuer: nil)),
            ("expired 20 s ago, within the leeway", try await mint(audience: ["api"], issuer: "https://auth.example", issuedAt: now - 920)),
            ("expired 60 s ago", try await mint(audience: ["api"], issuer: "https://auth.example", issuedAt: now - 960)),
            ("issued 20 s ahead, within the leeway", try await mint(audience: ["api"], issuer: "https://auth.example", issuedAt: now + 20)),
            ("issued 60 s ahead", try await mint(audience: ["api"], issuer: "https://auth.example", issuedAt: now + 60)),
        ].map { Case(name: $0.0, method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Bearer \($0.1)"]) }
        try await Self.compare(harness.app, config: config, cases)
    }
}
