// A libFuzzer target over the parsers and the pure handler: envelope and API Gateway events, raw
// HTTP/1.1, and bearer tokens, each into an App with an in-memory store. Build and run with
// scripts/fuzz (which passes -sanitize=fuzzer,address and -DFUZZING); a 500 or a crash is a finding.
import AuthFnCore
import Foundation

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer's driver.
    @_cdecl("authfn_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments, fuzzOne)
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        let bytes = Array(UnsafeBufferPointer(start: data, count: size))
        guard let mode = bytes.first else { return 0 }
        let input = Array(bytes.dropFirst())
        let status = FuzzHarness.run(mode: mode % 3, input: input)
        // 505 (HTTP version) is a verdict on the input; a 500 means a bug.
        if status == 500 { fatalError("status 500 for mode \(mode % 3), input \(input.count) bytes") }
        return 0
    }
#else
    @main
    struct FuzzStub {
        static func main() {
            print("authfn-fuzz is a libFuzzer target: build and run it with scripts/fuzz.")
        }
    }
#endif

enum FuzzHarness {
    /// One app for the whole run: a seeded store with a user, so token paths reach the store too.
    static let app: App = blocking {
        let tokens = await TokenService(
            secret: Array("fuzz-secret-0123456789abcdef0123456789".utf8), accessLifetime: 900, refreshLifetime: 3600)
        let store = InMemoryStore()
        _ = try? store.commit([
            .createUser(UserRecord(id: 0, username: "fuzz", email: "fuzz@example.com", password: "scrypt:1024:8:1$salt$00", createdAt: 0))
        ])
        // A current ES256 key and a previous EdDSA one (the secret previous too), so that tokens with a
        // `kid` reach the key lookup, the alg binding and both signature checks.
        let random = SeededRandomSource(seed: 2)
        if let ed = try? KeyRecord.make(PrivateSigningKey.generate(.eddsa, random: random), now: 0, sealing: nil, random: random),
            let es = try? KeyRecord.make(PrivateSigningKey.generate(.es256, random: random), now: 0, sealing: nil, random: random),
            let ring = try? KeyRing.empty.adding(ed).adding(es)
                .activating(ed.kid, now: 1000, policy: tokens.keyPolicy, force: true)
                .activating(es.kid, now: 2000, policy: tokens.keyPolicy, force: true)
        {
            _ = try? store.commit([.replaceKeyRing(expected: 0, new: ring)])
        }
        // Every token location (cookies with CSRF, the query string, JSON bodies) and CORS, so that
        // hostile Cookie, Origin and CSRF headers reach their parsers.
        var web = WebSettings()
        web.locations = [.headers, .cookies, .queryString, .json]
        web.cors.origins = .listed(["https://app.example.com"])
        // Mail configured, so the reset and verification routes parse their bodies and tokens (the
        // fuzzer runs the handler only: no deferred work, no mail).
        var mail = MailSettings()
        mail.command = ["true"]
        mail.from = "fuzz@example.com"
        mail.resetURL = "https://app.example.com/reset#token={token}"
        mail.verifyURL = "https://app.example.com/verify#token={token}"
        return App(
            context: Context(
                store: store, time: .fixed(1_767_225_600), random: SeededRandomSource(seed: 1),
                hasher: PasswordHasher(method: .scrypt(n: 1024, r: 8, p: 1)), tokens: tokens, web: web, mail: mail))
    }

    static func run(mode: UInt8, input: [UInt8]) -> Int {
        let app = Self.app  // initialised here, on the calling thread, never inside a task
        return blocking {
            switch mode {
            case 0:
                return await app.reply(envelope: input).response.status
            case 1:
                do {
                    guard let head = try HTTP1.parseHead(input) else { return 0 }
                    let end = min(input.count, head.bodyOffset + head.contentLength)
                    return await app.handle(HTTP1.request(head, body: input[min(head.bodyOffset, end)..<end])).status
                } catch {
                    return app.refuse(error).status
                }
            default:
                let token = String(decoding: input, as: UTF8.self)
                return await app.handle(
                    Request(method: "GET", path: "/v1/user/user_info", headers: ["Authorization": "Bearer \(token)"])
                ).status
            }
        }
    }

    /// Runs async work to completion from libFuzzer's synchronous callback.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.value = await body()
            done.signal()
        }
        done.wait()
        guard let value = box.value else { fatalError("unreachable: the task always sets a value") }
        return value
    }

    final class Box<T>: @unchecked Sendable {
        var value: T?
    }
}
