import Foundation
import Testing

@testable import AuthFnCore

/// A real browser: headless Chromium loads docs/browser-example.html from one origin (Python's static
/// file server on 127.0.0.1) and the page calls authfn (`--http` under socat, another origin) with
/// `fetch(…, {credentials: "include"})`: register (a JSON POST, so a preflight), login, user_info by
/// cookie, a POST without `X-CSRF-TOKEN` refused, with it accepted, sign-out, then refused. The page
/// writes its results into the DOM, read here from `--dump-dom`. Skipped without chromium unless
/// AUTHFN_REQUIRE_BROWSER=1 (as .ci/run sets).
@Suite(.enabled(if: Browser.available || Browser.required, "needs chromium, socat and python3"))
struct BrowserEndToEndTests {
    @Test func aPageOnAnotherOriginSignsInWithCookies() async throws {
        try #require(Browser.available, "chromium, socat and python3 are required")
        try await withTemporaryDirectory { dir in
            try await Browser.withStaticServer(directory: packageRoot.appendingPathComponent("docs")) { pageOrigin in
                let env = Executable.environment(
                    dataDirectory: dir,
                    [
                        "JWT_SECRET_KEY": "browser-test-secret-0123456789abcdef0123", "AUTHFN_LOG_LEVEL": "error",
                        "JWT_TOKEN_LOCATION": "cookies", "AUTHFN_CORS_ORIGINS": pageOrigin,
                    ])
                let results = try InteropTests.withSocat(env) { api in
                    try Browser.dumpResults(url: "\(pageOrigin)/browser-example.html?api=\(api)")
                }
                #expect(results["error"] == nil, "the page failed: \(results)")
                #expect(results["register"]?["status"] == 201)
                #expect(results["login"]?["status"] == 200)
                #expect(results["tokenCookieReadable"] == false, "the token cookies are HttpOnly")
                #expect(results["csrfCookieReadable"] == true)
                #expect(results["userInfo"] == ["status": 200, "message": "welcome to your biodata page"])
                #expect(results["postWithoutCSRF"] == ["status": 401, "message": "Missing CSRF token"])
                #expect(results["postWithCSRF"]?["status"] == 200)
                #expect(results["userInfoAfterRefresh"]?["status"] == 200)
                #expect(results["signout"] == ["status": 200, "message": "Successfully logged out"])
                #expect(results["cookiesAfterSignout"] == "")
                #expect(results["userInfoAfterSignout"] == ["status": 401, "message": "Missing cookie \"access_token_cookie\""])
                // Without the page's origin listed, the browser keeps every answer from the page.
                let refused = try InteropTests.withSocat(
                    env.merging(["AUTHFN_CORS_ORIGINS": "https://elsewhere.example"]) { $1 }
                ) { api in
                    try Browser.dumpResults(url: "\(pageOrigin)/browser-example.html?api=\(api)")
                }
                #expect(refused["error"]?.stringValue?.contains("Failed to fetch") == true, "\(refused)")
            }
        }
    }
}

enum Browser {
    static let required = ProcessInfo.processInfo.environment["AUTHFN_REQUIRE_BROWSER"] == "1"
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let available =
        chromium != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/socat")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/env")

    /// `python3 -m http.server` serving `directory` on a free port of 127.0.0.1; `body` gets its origin.
    static func withStaticServer<T>(directory: URL, _ body: (String) async throws -> T) async throws -> T {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Port 0: the kernel picks; the server prints the one it got.
        server.arguments = [
            "python3", "-u", "-c",
            """
            import functools, http.server, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
            handler.log_message = lambda *args: None
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """,
            directory.path,
        ]
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // SIGKILL: the test runner's children inherit a signal mask in which SIGTERM is blocked.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw Python.Failure(message: "the static file server did not start") }
            line.append(chunk)
        }
        let port = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return try await body("http://127.0.0.1:\(port)")
    }

    /// Loads `url` in headless Chromium until the page is idle (virtual time waits for its fetches), and
    /// returns the JSON the page wrote into `#results`.
    static func dumpResults(url: String) throws -> JSONValue {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium ?? "/usr/bin/chromium")
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
            "--virtual-time-budget=30000", "--dump-dom", url,
        ]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watchdog = DispatchWorkItem { kill(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        let dom = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        watchdog.cancel()
        guard let start = dom.range(of: "<pre id=\"results\" data-done=\"true\">"),
            let end = dom[start.upperBound...].range(of: "</pre>")
        else { throw Python.Failure(message: "the page did not finish: \(dom.suffix(1500))") }
        let text = String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        return try JSONValue.parse(Array(text.utf8))
    }
}
