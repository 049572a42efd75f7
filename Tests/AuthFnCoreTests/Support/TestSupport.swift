import Foundation
import Testing

@testable import AuthFnCore

/// The package root, found from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

let fixturesDirectory = packageRoot.appendingPathComponent("fixtures")

/// A secret long enough for HS256, shared by the unit tests.
let testSecret = Array("unit-test-secret-0123456789abcdef0123".utf8)

/// Cheap scrypt parameters: the format and code path of the real ones at a fraction of the cost.
let cheapHasher = PasswordHasher(method: .scrypt(n: 1024, r: 8, p: 1))

/// The seed tutorial's user.
let seedPassword = "445hD#@%yu78"

/// A handler wired to an in-memory store (or a given one), a fixed clock and a seeded random source.
struct TestHarness {
    let app: App
    let store: InMemoryStore
    let now: Int64

    init(
        now: Int64 = 1_767_225_600, seed: UInt64 = 7, settings: AccountSettings = AccountSettings(), web: WebSettings = WebSettings(),
        claims: ClaimSettings = ClaimSettings(), mail: MailSettings = MailSettings(), mailer: (any Mailer)? = nil
    ) async {
        store = InMemoryStore()
        self.now = now
        app = await Self.app(store: store, now: now, seed: seed, settings: settings, web: web, claims: claims, mail: mail, mailer: mailer)
    }

    static func app(
        store: any Store, now: Int64, seed: UInt64 = 7, settings: AccountSettings = AccountSettings(), refreshLifetime: Int64 = 2_592_000,
        web: WebSettings = WebSettings(), claims: ClaimSettings = ClaimSettings(), mail: MailSettings = MailSettings(),
        mailer: (any Mailer)? = nil
    ) async -> App {
        let tokens = await TokenService(secret: testSecret, accessLifetime: 900, refreshLifetime: refreshLifetime, claims: claims)
        return App(
            context: Context(
                store: store, time: .fixed(now), random: SeededRandomSource(seed: seed), hasher: cheapHasher,
                tokens: tokens, settings: settings, web: web, mail: mail, mailer: mailer))
    }

    /// The same store and keys seen at another instant.
    func at(_ time: Int64) -> App {
        var context = app.context
        context.time = .fixed(time)
        return App(context: context)
    }

    func send(_ method: String, _ path: String, body: JSONValue? = nil, bearer: String? = nil) async -> Response {
        await app.send(method, path, body: body, bearer: bearer)
    }

    @discardableResult
    func register(_ username: String = "oluchiy", _ email: String = "oluch@gmail.com", password: String = seedPassword)
        async -> Response
    {
        await send(
            "POST", "/v1/user/register/",
            body: ["username": .string(username), "email": .string(email), "password": .string(password)])
    }

    /// Registers the seed user and logs in; returns (access, refresh).
    func loggedIn() async throws -> (access: String, refresh: String) {
        await register()
        let response = await send("POST", "/v1/user/login/", body: ["email": "oluch@gmail.com", "password": .string(seedPassword)])
        let data = try #require(response.body["data"])
        return (try #require(data["access_token"]?.stringValue), try #require(data["refresh_token"]?.stringValue))
    }
}

/// Runs the built `authfn` executable with `input` on stdin.
struct ProcessResult {
    var status: Int32
    var stdout: [UInt8]
    var stderr: String
    var json: JSONValue? { try? JSONValue.parse(stdout) }
}

enum Executable {
    /// The `authfn` binary `swift test` built next to the test bundle.
    static var url: URL {
        get throws {
            var candidates: [URL] = []
            if let runner = CommandLine.arguments.first {
                candidates.append(URL(fileURLWithPath: runner).deletingLastPathComponent().appendingPathComponent("authfn"))
            }
            candidates.append(packageRoot.appendingPathComponent(".build/debug/authfn"))
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
            }
            return found
        }
    }

    static func run(
        _ input: [UInt8], environment: [String: String], arguments: [String] = [], directory: URL? = nil,
        closeStdout: Bool = false
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = try url
        process.arguments = arguments
        process.environment = environment
        // Never the package root: a developer's .env there must not leak into the tests.
        process.currentDirectoryURL = directory ?? FileManager.default.temporaryDirectory
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        if closeStdout { try stdout.fileHandleForReading.close() }
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errorData = LockedData()
        let errorReader = Thread { errorData.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let out = closeStdout ? Data() : stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorData.isSet { usleep(1000) }
        return ProcessResult(
            status: process.terminationStatus, stdout: Array(out), stderr: String(decoding: errorData.value, as: UTF8.self))
    }

    /// The environment every end-to-end run starts from: nothing inherited but PATH.
    static func environment(dataDirectory: URL, _ extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "AUTHFN_DATA_DIR": dataDirectory.path,
            "AUTHFN_PASSWORD_HASH": "scrypt:1024:8:1",
        ]
        environment.merge(extra) { _, new in new }
        return environment
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    func set(_ value: Data) { lock.withLock { data = value } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}

/// A fresh temporary directory, removed afterwards.
@discardableResult
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

func request(_ method: String, _ path: String, body: JSONValue? = nil, headers: [String: String] = [:]) -> [UInt8] {
    var envelope: JSONObject = ["method": .string(method), "path": .string(path)]
    if let body { envelope["body"] = body }
    if !headers.isEmpty { envelope["headers"] = .object(JSONObject(headers.mapValues(JSONValue.string))) }
    return JSONValue.object(envelope).encoded()
}

extension App {
    func send(_ method: String, _ path: String, body: JSONValue? = nil, bearer: String? = nil) async -> Response {
        var headers = Headers()
        if let bearer { headers["Authorization"] = "Bearer \(bearer)" }
        return await handle(Request(method: method, path: path, headers: headers, body: body.map { .json($0) } ?? .none))
    }

    func login(_ email: String = "oluch@gmail.com", _ password: String = seedPassword) async -> Response {
        await login(email, password: password)
    }

    func login(_ email: String = "oluch@gmail.com", password: String) async -> Response {
        await send("POST", "/v1/user/login", body: ["email": .string(email), "password": .string(password)])
    }

    /// A login from the client at `address` (as a launcher or API Gateway would report it).
    func login(_ email: String = "oluch@gmail.com", password: String = seedPassword, from address: String) async -> Response {
        var request = Request(
            method: "POST", path: "/v1/user/login", body: .json(["email": .string(email), "password": .string(password)]))
        request.clientAddress = address
        return await handle(request)
    }
}

extension Response {
    var accessToken: String? { body["data"]?["access_token"]?.stringValue }
    var refreshToken: String? { body["data"]?["refresh_token"]?.stringValue ?? body["refresh_token"]?.stringValue }
}
