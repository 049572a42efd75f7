import Foundation
import Testing

@testable import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// authfn as a Lambda custom runtime, against a fake Runtime API: in process (`LambdaRuntime.run`),
/// and as the built binary started the way Lambda starts `bootstrap`.
@Suite struct LambdaRuntimeTests {
    /// An API Gateway HTTP API (payload 2.0) event.
    static func v2(_ method: String, _ path: String, body: String? = nil, bearer: String? = nil) -> [UInt8] {
        var headers: JSONObject = ["content-type": "application/json"]
        if let bearer { headers["authorization"] = .string("Bearer \(bearer)") }
        var event: JSONObject = [
            "version": "2.0", "routeKey": "$default", "rawPath": .string(path), "rawQueryString": "", "headers": .object(headers),
            "requestContext": [
                "http": ["method": .string(method), "path": .string(path), "sourceIp": "203.0.113.7"], "stage": "$default",
            ],
            "isBase64Encoded": false,
        ]
        if let body { event["body"] = .string(body) }
        return JSONValue.object(event).encoded()
    }

    static let register = v2(
        "POST", "/v1/user/register", body: #"{"username":"oluchiy","email":"oluch@gmail.com","password":"445hD#@%yu78"}"#)
    static let login = v2("POST", "/v1/user/login", body: #"{"email":"oluch@gmail.com","password":"445hD#@%yu78"}"#)

    /// The access token in a recorded login answer (an API Gateway response whose body is JSON text).
    static func accessToken(_ record: FakeRuntimeAPI.Record?) -> String? {
        guard let text = record?.json?["body"]?.stringValue, let body = try? JSONValue.parse(Array(text.utf8)) else { return nil }
        return body["data"]?["access_token"]?.stringValue
    }

    static let warm = 300

    /// register, login, user_info with the login's token, `warm` more user_infos, then the events that
    /// are not requests: garbage, an S3 notification, a broken API Gateway event, and an envelope.
    static let script: FakeRuntimeAPI.Script = { answered in
        switch answered.count {
        case 0: return register
        case 1: return login
        case 2...(2 + warm): return accessToken(answered[1]).map { v2("GET", "/v1/user/user_info", bearer: $0) }
        case 3 + warm: return Array("this is not JSON".utf8)
        case 4 + warm: return Array(#"{"Records":[{"eventSource":"aws:s3"}]}"#.utf8)
        case 5 + warm: return Array(#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"G ET"}}}"#.utf8)
        case 6 + warm: return Array(#"{"method":"GET","path":"/"}"#.utf8)
        default: return nil
        }
    }

    static let events = 7 + warm

    static func check(_ records: [FakeRuntimeAPI.Record]) {
        #expect(records.count == events)
        guard records.count == events else { return }
        #expect(records.map(\.requestID).allSatisfy { $0 != nil })
        #expect(Set(records.compactMap(\.requestID)).count == events)
        #expect(records[0].json?["statusCode"] == 201)
        #expect(records[1].json?["statusCode"] == 200)
        #expect(records[2...(2 + warm)].allSatisfy { $0.kind == .response && $0.json?["statusCode"] == 200 })
        for index in [3 + warm, 4 + warm] {
            #expect(records[index].kind == .error)
            #expect(records[index].json?["errorType"] == "InvalidEvent")
            #expect(records[index].json?["errorMessage"]?.stringValue?.isEmpty == false)
            #expect(records[index].headers["lambda-runtime-function-error-type"] == "InvalidEvent")
        }
        #expect(records[5 + warm].kind == .response && records[5 + warm].json?["statusCode"] == 400)
        #expect(records[6 + warm].kind == .response && records[6 + warm].json?["status"] == 200)
    }

    @Test func inProcessEveryEventIsAnsweredOnOneConnection() async throws {
        let api = try FakeRuntimeAPI(script: Self.script)
        defer { api.stop() }
        let harness = await TestHarness()
        let runtime = LambdaRuntime(client: try RuntimeAPIClient(address: api.address), logger: harness.app.context.logger)
        try await runtime.run(harness.app, limit: Self.events)
        Self.check(api.records)
        #expect(api.connections == 1)
        #expect(harness.store.userCount == 1)
    }

    @Test func theBinaryIsTheBootstrapAndKeepsPolling() async throws {
        try await withTemporaryDirectory { dir in
            let api = try FakeRuntimeAPI(script: Self.script)
            defer { api.stop() }
            let log = dir.appendingPathComponent("authfn.log")
            let process = Process()
            process.executableURL = try Executable.url
            process.arguments = []  // as Lambda starts bootstrap
            process.environment = Executable.environment(
                dataDirectory: dir.appendingPathComponent("data"),
                [
                    "AWS_LAMBDA_RUNTIME_API": api.address, "JWT_SECRET_KEY": String(decoding: testSecret, as: UTF8.self),
                    "AUTHFN_LOG_FILE": log.path,
                ])
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            // Every event answered, and the next poll is held open by a live process.
            #expect(api.wait(seconds: 120) { records, held in records.count == Self.events && held == 1 })
            #expect(process.isRunning)
            Self.check(api.records)
            #expect(api.connections == 1)
            // Log lines carry the invocation's request id and trace id.
            let lines = try String(contentsOf: log, encoding: .utf8)
            let userInfoID = try #require(api.records[2].requestID)
            #expect(lines.contains("aws_request_id=\(userInfoID)"))
            #expect(lines.contains("trace_id=Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"))
            #expect(!lines.contains("Bearer"))
        }
    }

    @Test func aMisconfigurationIsReportedToInitError() async throws {
        try await withTemporaryDirectory { dir in
            let api = try FakeRuntimeAPI { _ in Self.register }
            defer { api.stop() }
            let result = try Executable.run(
                [],
                environment: Executable.environment(
                    dataDirectory: dir, ["AWS_LAMBDA_RUNTIME_API": api.address, "JWT_SECRET_KEY": "too-short"]))
            #expect(result.status == 78)
            let records = api.records
            #expect(records.map(\.kind) == [.initError])
            #expect(records.first?.json?["errorType"] == "Runtime.ConfigurationError")
            #expect(records.first?.json?["errorMessage"]?.stringValue?.contains("JWT_SECRET_KEY") == true)
            #expect(records.first?.json?["errorMessage"]?.stringValue?.contains("too-short") == false)
        }
    }

    @Test func anUnreachableRuntimeAPIEndsTheProcess() async throws {
        try await withTemporaryDirectory { dir in
            let result = try Executable.run(
                [], environment: Executable.environment(dataDirectory: dir, ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1"]),
                arguments: ["--lambda"])
            #expect(result.status == 69)
            #expect(result.stderr.contains("Runtime API"))
            let bad = try Executable.run(
                [], environment: Executable.environment(dataDirectory: dir, ["AWS_LAMBDA_RUNTIME_API": "nonsense"]))
            #expect(bad.status == 78)
        }
    }

    @Test(
        "classification",
        arguments: [
            ("", false), ("null", false), ("[1,2]", false), (#"{"Records":[]}"#, false), (#"{"method":"GET","path":"/"}"#, true),
            (#"{"httpMethod":"GET","path":"/","headers":{}}"#, true), (#"{"version":"2.0","rawPath":"/"}"#, true),
        ])
    func classification(_ event: String, _ isHTTP: Bool) {
        #expect((LambdaRuntime.classify(Envelope.parse(Array(event.utf8))) == .http) == isHTTP)
    }

    @Test func requestIDsThatCannotBePathsAreRefused() {
        #expect(LambdaRuntime.isSafeID("8476a536-e9f4-11e8-9739-2dfe598c3fcd"))
        #expect(!LambdaRuntime.isSafeID("../../init/error"))
        #expect(!LambdaRuntime.isSafeID("a b"))
        #expect(!LambdaRuntime.isSafeID(""))
    }
}
