import Foundation
import Testing

@testable import AuthFnCore

/// Live checks against the Python libraries the Flask app used (the committed vectors in
/// fixtures/vectors/ cover the same ground without Python). Skipped when python3 lacks PyJWT,
/// Flask-JWT-Extended or Werkzeug, unless AUTHFN_REQUIRE_INTEROP=1 (as .ci/run sets), where they fail.
@Suite(.enabled(if: Python.available || Python.required, "needs python3 with pyjwt, flask-jwt-extended, werkzeug"))
struct InteropTests {
    static let secret = "interop-live-secret-0123456789abcdef0123"

    @Test func pythonAcceptsWhatAuthfnIssuesAndViceVersa() async throws {
        try #require(Python.available, "python3 with pyjwt, flask-jwt-extended and werkzeug is required")
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir, ["JWT_SECRET_KEY": Self.secret])
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            let login = try #require(try Executable.run(EndToEndTests.loginSeed, environment: env).json)
            let access = try #require(login["body"]?["data"]?["access_token"]?.stringValue)
            let refresh = try #require(login["body"]?["data"]?["refresh_token"]?.stringValue)
            let hash = try #require(try FileStore(directory: dir.path).user(id: 1)?.password)

            let script = """
                import json, sys, flask, jwt
                from flask_jwt_extended import JWTManager, decode_token, create_access_token
                from werkzeug.security import check_password_hash
                secret, access, refresh, pwhash, password = sys.argv[1:6]
                app = flask.Flask("interop"); app.config["JWT_SECRET_KEY"] = secret; JWTManager(app)
                with app.app_context():
                    a = decode_token(access); r = decode_token(refresh)
                    minted = create_access_token(identity="1", fresh=True)
                print(json.dumps({"pyjwt_sub": jwt.decode(access, secret, algorithms=["HS256"])["sub"],
                    "access": [a["type"], a["fresh"], a["sub"]], "refresh": [r["type"], r["fresh"], r["sub"]],
                    "werkzeug": check_password_hash(pwhash, password), "werkzeug_wrong": check_password_hash(pwhash, password + "x"),
                    "minted": minted}))
                """
            let output = try Python.run(script, arguments: [Self.secret, access, refresh, hash, seedPassword])
            #expect(output["pyjwt_sub"] == "1")
            #expect(output["access"] == ["access", true, "1"])
            #expect(output["refresh"] == ["refresh", false, "1"])
            #expect(output["werkzeug"] == true && output["werkzeug_wrong"] == false)

            let minted = try #require(output["minted"]?.stringValue)
            let info = try Executable.run(
                request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(minted)"]), environment: env)
            #expect(info.json?["status"] == 200)
        }
    }
}

enum Python {
    static let required = ProcessInfo.processInfo.environment["AUTHFN_REQUIRE_INTEROP"] == "1"

    static let available: Bool = (try? run("import jwt, flask_jwt_extended, werkzeug; print('{}')", arguments: [])) != nil

    static func run(_ script: String, arguments: [String]) throws -> JSONValue {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-W", "ignore", "-c", script] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return try JSONValue.parse(Array(data))
    }
}
