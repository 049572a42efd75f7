import Logging

/// Everything a handler may use besides the request. Tests build one with an `InMemoryStore`, a
/// fixed `TimeSource` and a seeded `RandomSource`; the executable builds one from the environment.
public struct Context: Sendable {
    public var store: any Store
    public var time: TimeSource
    public var random: any RandomSource
    public var hasher: PasswordHasher
    public var tokens: TokenService
    public var logger: Logger

    public init(
        store: any Store, time: TimeSource, random: any RandomSource, hasher: PasswordHasher, tokens: TokenService,
        logger: Logger = Logger(label: "authfn", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.store = store
        self.time = time
        self.random = random
        self.hasher = hasher
        self.tokens = tokens
        self.logger = logger
    }
}
