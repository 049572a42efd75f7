import Foundation
import Testing

@testable import AuthFnCore

/// Live checks against the Python libraries the Flask app used (the committed vectors in
/// fixtures/vectors/ cover the same ground without Python), and against the JOSE libraries resource
/// servers verify with. Skipped when python3 lacks PyJWT, Flask-JWT-Extended, Werkzeug, joserfc or
/// cryptography (or socat is missing), unless AUTHFN_REQUIRE_INTEROP=1 (as .ci/run sets), where they fail.
@Suite(.enabled(if: Python.available || Python.required, "needs python3 with pyjwt, flask-jwt-extended, werkzeug, joserfc"))
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

extension InteropTests {
    /// `authfn --http` under socat on a free port of 127.0.0.1, one process per connection, as a user
    /// would serve it; stopped when `body` returns.
    static func withSocat<T>(_ environment: [String: String], _ body: (String) throws -> T) throws -> T {
        // A free port is only free until someone else (another suite's server) takes it: a socat that
        // could not listen is started again on another.
        for _ in 0..<5 {
            let port = try #require(
                try Python.run(
                    "import socket,json; s=socket.socket(); s.bind(('127.0.0.1',0)); print(json.dumps(s.getsockname()[1]))", arguments: []
                ).integerValue)
            let socat = Process()
            socat.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
            socat.arguments = ["TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "EXEC:\(try Executable.url.path) --http"]
            socat.environment = environment
            socat.standardError = FileHandle.nullDevice
            try socat.run()
            defer {
                // SIGKILL: socat inherits the test runner's signal mask, in which SIGTERM is blocked.
                kill(socat.processIdentifier, SIGKILL)
                socat.waitUntilExit()
            }
            let listening = try Python.run(
                """
                import json, socket, sys, time
                for _ in range(200):
                    try:
                        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
                        print("true"); break
                    except OSError: time.sleep(0.05)
                else: print("false")
                """, arguments: [String(port)])
            guard listening == true, socat.isRunning else { continue }
            return try body("http://127.0.0.1:\(port)")
        }
        throw Python.Failure(message: "socat did not listen on any of five ports")
    }

    /// PyJWT's `PyJWKClient` and joserfc fetch the JWKS from authfn served by socat and verify a token of
    /// each algorithm; Flask-JWT-Extended with `JWT_ALGORITHM=ES256` and `JWT_PUBLIC_KEY` accepts the ES256
    /// one as a resource server; and authfn accepts a token PyJWT signed with a key imported into it.
    @Test func resourceServersVerifyAuthfnsKeysAndAuthfnVerifiesPyJWTs() async throws {
        try #require(Python.available, "python3 with pyjwt, flask-jwt-extended, werkzeug, joserfc and socat are required")
        try await withTemporaryDirectory { dir in
            let env = Executable.environment(dataDirectory: dir, ["JWT_SECRET_KEY": Self.secret, "AUTHFN_LOG_LEVEL": "error"])
            _ = try Executable.run(EndToEndTests.registerSeed, environment: env)
            var tokens: JSONObject = [:]
            for algorithm in KeyAlgorithm.allCases {
                let created = try Executable.run([], environment: env, arguments: ["keys", "create", "--alg", algorithm.rawValue])
                let kid = try #require(created.json?["kid"]?.stringValue)
                #expect(try Executable.run([], environment: env, arguments: ["keys", "activate", "--force", kid]).status == 0)
                let login = try #require(try Executable.run(EndToEndTests.loginSeed, environment: env).json)
                tokens[algorithm.rawValue] = try #require(login["body"]?["data"]?["access_token"])
            }
            let pemFile = dir.appendingPathComponent("pyjwt-key.pem").path
            let script = """
                import json, sys, time, urllib.request, warnings, jwt, flask
                from cryptography.hazmat.primitives import serialization
                from flask_jwt_extended import JWTManager, jwt_required, get_jwt_identity
                from joserfc import jwt as jose_jwt
                from joserfc.jwk import KeySet, ECKey
                warnings.simplefilter("ignore")
                base, tokens, pem_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
                out = {}
                client = jwt.PyJWKClient(base + "/.well-known/jwks.json")
                for alg, token in tokens.items():
                    key = client.get_signing_key_from_jwt(token)
                    claims = jwt.decode(token, key.key, algorithms=[alg])
                    out["pyjwt_" + alg] = [claims["sub"], claims["type"], key.key_id == jwt.get_unverified_header(token)["kid"]]
                jwks = json.load(urllib.request.urlopen(base + "/.well-known/jwks.json"))
                keys = KeySet.import_key_set(jwks)
                for alg, token in tokens.items():
                    verified = jose_jwt.decode(token, keys, algorithms=[alg])
                    out["joserfc_" + alg] = [verified.claims["sub"], verified.header["alg"]]
                    try:
                        jose_jwt.decode(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), keys, algorithms=[alg])
                        out["joserfc_tampered_" + alg] = "accepted"
                    except Exception:
                        out["joserfc_tampered_" + alg] = "refused"
                es256 = next(k for k in jwks["keys"] if k["alg"] == "ES256")
                public_pem = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(es256)).public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                app = flask.Flask("resource-server")
                app.config.update(JWT_ALGORITHM="ES256", JWT_PUBLIC_KEY=public_pem, JWT_PRIVATE_KEY="unused")
                JWTManager(app)
                @app.get("/protected")
                @jwt_required()
                def protected():
                    return {"sub": get_jwt_identity()}
                client = app.test_client()
                ok = client.get("/protected", headers={"Authorization": "Bearer " + tokens["ES256"]})
                other = client.get("/protected", headers={"Authorization": "Bearer " + tokens["EdDSA"]})
                out["flask"] = [ok.status_code, ok.get_json(), other.status_code]
                # The README's resource server that follows rotations: decode_key_loader over PyJWKClient.
                rotating = flask.Flask("rotating-resource-server")
                rotating.config["JWT_DECODE_ALGORITHMS"] = ["ES256", "EdDSA", "RS256"]
                manager = JWTManager(rotating)
                jwks_client = jwt.PyJWKClient(base + "/.well-known/jwks.json", lifespan=600)
                @manager.decode_key_loader
                def key_for(header, payload):
                    return jwks_client.get_signing_key(header["kid"]).key
                @rotating.get("/protected")
                @jwt_required()
                def rotating_protected():
                    return {"sub": get_jwt_identity()}
                out["flask_rotating"] = [rotating.test_client().get(
                    "/protected", headers={"Authorization": "Bearer " + token}).status_code for token in tokens.values()]
                key = ECKey.generate_key("P-256")
                open(pem_path, "wb").write(key.as_pem(private=True))
                now = int(time.time())
                claims = {"sub": "1", "type": "access", "fresh": False, "jti": "pyjwt-1", "iat": now, "nbf": now, "exp": now + 600}
                out["kid"] = key.thumbprint()
                out["pyjwt_token"] = jwt.encode(claims, key.as_pem(private=True), algorithm="ES256", headers={"kid": key.thumbprint()})
                print(json.dumps(out))
                """
            let output = try Self.withSocat(env) { base in
                try Python.run(script, arguments: [base, JSONValue.object(tokens).encodedString, pemFile])
            }
            for algorithm in KeyAlgorithm.allCases.map(\.rawValue) {
                #expect(output["pyjwt_" + algorithm] == ["1", "access", true], "\(algorithm)")
                #expect(output["joserfc_" + algorithm] == ["1", .string(algorithm)], "\(algorithm)")
                #expect(output["joserfc_tampered_" + algorithm] == "refused", "\(algorithm)")
            }
            #expect(output["flask"] == [200, ["sub": "1"], 422])
            #expect(output["flask_rotating"] == [200, 200, 200])

            // The key PyJWT signed with, imported: its kid is the thumbprint joserfc computed.
            let imported = try Executable.run([], environment: env, arguments: ["keys", "import", "--alg", "ES256", pemFile])
            let kid = try #require(imported.json?["kid"])
            #expect(kid == output["kid"])
            let token = try #require(output["pyjwt_token"]?.stringValue)
            let info = {
                try Executable.run(request("GET", "/v1/user/user_info", headers: ["Authorization": "Bearer \(token)"]), environment: env)
            }
            // Standby: published, but it has signed nothing authfn accepts yet.
            #expect(try info().json?["status"] == 422)
            _ = try Executable.run([], environment: env, arguments: ["keys", "activate", "--force", try #require(kid.stringValue)])
            #expect(try info().json?["status"] == 200)
        }
    }
}

enum Python {
    static let required = ProcessInfo.processInfo.environment["AUTHFN_REQUIRE_INTEROP"] == "1"

    static let available: Bool =
        (try? run("import jwt, flask_jwt_extended, werkzeug, joserfc, cryptography; print('{}')", arguments: [])) != nil
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/socat")

    static func run(_ script: String, arguments: [String]) throws -> JSONValue {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-W", "ignore", "-c", script] + arguments
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let errors = LockedData()
        let reader = Thread { errors.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errors.isSet { usleep(1000) }
        guard process.terminationStatus == 0 else {
            // The traceback's end says what went wrong.
            throw Failure(message: String(decoding: errors.value.suffix(2000), as: UTF8.self))
        }
        return try JSONValue.parse(Array(data))
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { "python3 failed: \(message)" }
    }
}
