import Logging

/// Everything a handler may use besides the request. Tests build one with an `InMemoryStore`, a
/// fixed `TimeSource` and a seeded `RandomSource`; the executable builds one from the environment.
public struct Context: Sendable {
    public var store: any Store
    public var time: TimeSource
    public var random: any RandomSource
    public var hasher: PasswordHasher
    public var tokens: TokenService
    public var settings: AccountSettings
    /// Token locations, cookies, CSRF and CORS.
    public var web: WebSettings
    /// Password reset and address verification by mail.
    public var mail: MailSettings
    /// Delivers the mails (`CommandMailer` with `AUTHFN_MAIL_COMMAND`; a recorder in tests).
    public var mailer: (any Mailer)?
    public var logger: Logger
    /// The peer's address when the adapter knows it (REMOTE_ADDR, SOCAT_PEERADDR, …), for the log only.
    public var clientAddress: String?

    public init(
        store: any Store, time: TimeSource, random: any RandomSource, hasher: PasswordHasher, tokens: TokenService,
        settings: AccountSettings = AccountSettings(), web: WebSettings = WebSettings(), mail: MailSettings = MailSettings(),
        mailer: (any Mailer)? = nil, logger: Logger = Logger(label: "authfn", factory: { _ in SwiftLogNoOpLogHandler() }),
        clientAddress: String? = nil
    ) {
        self.settings = settings
        self.web = web
        self.mail = mail
        self.mailer = mailer
        self.clientAddress = clientAddress
        self.store = store
        self.time = time
        self.random = random
        self.hasher = hasher
        self.tokens = tokens
        self.logger = logger
    }
}

extension Context {
    /// Records are pruned a few at a time after each change, so the revocation store stays bounded
    /// without a scheduler (`authfn prune` does the rest on demand).
    static let opportunisticPruneLimit = 64

    /// Commits `changes`, then prunes a few expired records. A failed prune is logged, never surfaced:
    /// the change itself is already durable.
    @discardableResult
    func commit(_ changes: [Change]) throws(StoreError) -> [Int] {
        let ids = try store.commit(changes)
        do {
            try store.prune(now: time.now(), limit: Self.opportunisticPruneLimit)
        } catch {
            logger.warning("opportunistic prune failed", metadata: ["error": "\(error)"])
        }
        return ids
    }

    /// Read-modify-write of one account: `modify` is applied to the record as last read and committed
    /// as a compare-and-set (`Change.replaceUser`) with `changes`; when another request changed the
    /// account meanwhile, the record is read again and `modify` applied again, so no concurrent change is
    /// undone. `modify` may throw to give up (an account gone is `AuthError.unknownUser`). Returns the
    /// record written.
    @discardableResult
    func modifyUser(
        _ read: UserRecord, with changes: [Change] = [], _ modify: (inout UserRecord) throws -> Void
    ) throws -> UserRecord {
        var current = read
        for _ in 0..<16 {
            var updated = current
            try modify(&updated)
            switch Result(catching: { () throws(StoreError) in try commit(changes + [.replaceUser(expected: current, new: updated)]) }) {
            case .success: return updated
            case .failure(.conflict(.user)):
                guard let again = try store.user(id: read.id) else { throw AuthError.unknownUser }
                current = again
            case .failure(let error): throw error
            }
        }
        throw StoreError.corrupt(path: "users", detail: "could not update an account under contention")
    }
}
