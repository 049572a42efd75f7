#if PostgreSQL
    import Logging
    import PostgresNIO
    import Synchronization

    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Musl)
        import Musl
    #endif

    /// The `Store` on a PostgreSQL database (or CockroachDB or YugabyteDB, which speak its protocol).
    ///
    /// One connection per process, opened on first use and never pooled: an invocation handles one
    /// request. Every statement is an unnamed extended-protocol statement, so PgBouncer in transaction
    /// mode and RDS Proxy work. Each `commit` is one transaction under the server's default isolation
    /// (READ COMMITTED on PostgreSQL, SERIALIZABLE on CockroachDB), and every precondition in it is a
    /// write whose row count is checked — an `INSERT … ON CONFLICT DO NOTHING RETURNING`, or an
    /// `UPDATE`/`DELETE … WHERE <expected values>` — never a read followed by a write, so two
    /// concurrent batches cannot both pass one. A zero rolls the batch back with `StoreError.conflict`.
    /// A serialization failure or deadlock (SQLSTATE 40001, 40P01) reruns the whole batch, at most
    /// `maximumAttempts` times, with jittered exponential backoff.
    ///
    /// Every call is bounded by `timeout` (connect, authenticate and every statement together); a
    /// server that is down, refuses the credentials or does not answer in time is
    /// `StoreError.unavailable`, which the handlers answer with a 503. Nothing logged or thrown
    /// carries the password.
    public final class PostgresStore: Store {
        public let url: DatabaseURL
        public let timeout: Duration
        public static let maximumAttempts = 6
        private let logger: Logger
        private let connection = Mutex<PostgresConnection?>(nil)
        /// How many batches were rerun after a serialization failure (tests check the path runs).
        private let retryCount = Atomic<Int>(0)
        /// Checked once per connection: the schema's version, before the first query relies on it.
        private let checkSchema: Bool

        /// Connects lazily. With `checkSchema` (the default), the first use verifies the schema version
        /// (`StoreError.notMigrated`, or `.unsupportedFormat` for a newer one); `db migrate` opts out.
        public init(url: DatabaseURL, timeout: Duration = .seconds(5), logger: Logger, checkSchema: Bool = true) {
            self.url = url
            self.timeout = timeout
            self.logger = logger
            self.checkSchema = checkSchema
        }

        deinit {
            connection.withLock { $0.map(Self.dispose) }
        }

        /// Closes `connection` without waiting for the server to hang up; the connection is kept
        /// alive until its channel has closed (postgres-nio requires that).
        static func dispose(_ connection: PostgresConnection) {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }

        /// Batches rerun after a serialization failure or deadlock since this store was opened.
        public var retries: Int { retryCount.load(ordering: .relaxed) }

        /// Closes the connection without waiting for the server to hang up.
        public func close() {
            connection.withLock { current in
                current.map(Self.dispose)
                current = nil
            }
        }

        // MARK: Reads

        static let userColumns =
            """
            id, username, email, password, is_active, created_at, cutoff_generation, tokens_valid_after, cutoff_exempt_sid, \
            reset_token, verify_token, email_unverified
            """

        public func user(id: Int) throws(StoreError) -> UserRecord? {
            try first("SELECT \(Self.userColumns) FROM authfn_users WHERE id = $1", Int64(id), Self.decodeUser)
        }

        public func user(canonicalEmail: String) throws(StoreError) -> UserRecord? {
            try first(
                "SELECT \(Self.userColumns) FROM authfn_users WHERE email_key = $1", FileStore.digest(canonicalEmail), Self.decodeUser)
        }

        /// The first row `sql` returns with `$1` bound to `value`, decoded.
        private func first<T: Sendable>(
            _ sql: String, _ value: some PostgresDynamicTypeEncodable, _ decode: (PostgresRow) throws(Failure) -> T
        ) throws(StoreError) -> T? {
            try session { session throws(Failure) in
                try session.run(PostgresQuery(unsafeSQL: sql, binds: Self.binds(value))).first.map { row throws(Failure) in try decode(row)
                }
            }
        }

        public func usernameExists(canonicalUsername: String) throws(StoreError) -> Bool {
            try session { session throws(Failure) in
                try !session.run("SELECT 1 FROM authfn_users WHERE username_key = \(FileStore.digest(canonicalUsername))").isEmpty
            }
        }

        public func allUsers() throws(StoreError) -> [UserRecord] {
            try session { session throws(Failure) in
                var users: [UserRecord] = []
                for row in try session.run(PostgresQuery(unsafeSQL: "SELECT \(Self.userColumns) FROM authfn_users ORDER BY id")) {
                    users.append(try Self.decodeUser(row))
                }
                return users
            }
        }

        static let revocationColumns = "kind, id, expires_at, revoked_at, child_jti, child_iat"

        public func revocation(_ key: String) throws(StoreError) -> RevocationRecord? {
            try first(
                "SELECT \(Self.revocationColumns) FROM authfn_revocations WHERE key_digest = $1 AND kind <> 'pending'",
                FileStore.digest(key),
                Self.decodeRevocation)
        }

        /// One query for all of `keys` (a round trip saved on every authenticated request).
        public func revocations(_ keys: [String]) throws(StoreError) -> [RevocationRecord] {
            guard !keys.isEmpty else { return [] }
            let digests = keys.map(FileStore.digest)
            return try session { session throws(Failure) in
                var records: [RevocationRecord] = []
                for row in try session.run(
                    "SELECT \(unescaped: Self.revocationColumns) FROM authfn_revocations WHERE key_digest = ANY(\(digests)) AND kind <> 'pending'"
                ) {
                    records.append(try Self.decodeRevocation(row))
                }
                return records
            }
        }

        public func allRevocations() throws(StoreError) -> [RevocationRecord] {
            try session { session throws(Failure) in
                var records: [RevocationRecord] = []
                for row in try session.run(
                    PostgresQuery(unsafeSQL: "SELECT \(Self.revocationColumns) FROM authfn_revocations WHERE kind <> 'pending'"))
                {
                    records.append(try Self.decodeRevocation(row))
                }
                return records
            }
        }

        public func throttle(_ key: String) throws(StoreError) -> ThrottleRecord? {
            try first(
                "SELECT key, failures, expires_at FROM authfn_throttles WHERE key_digest = $1", FileStore.digest(key), Self.decodeThrottle)
        }

        public func allThrottles() throws(StoreError) -> [ThrottleRecord] {
            try session { session throws(Failure) in
                var records: [ThrottleRecord] = []
                for row in try session.run("SELECT key, failures, expires_at FROM authfn_throttles") {
                    records.append(try Self.decodeThrottle(row))
                }
                return records
            }
        }

        public func passwordMethods() throws(StoreError) -> [String: Int] {
            try session { session throws(Failure) in
                var methods: [String: Int] = [:]
                for row in try session.run("SELECT method, users FROM authfn_password_methods WHERE users > 0") {
                    let (method, users) = try Self.decode(row, as: (String, Int64).self)
                    methods[method] = Int(users)
                }
                return methods
            }
        }

        public func keyRing() throws(StoreError) -> KeyRing {
            try first("SELECT ring FROM authfn_key_ring WHERE id = $1", Int64(1)) { row throws(Failure) in
                let text = try Self.decodeOne(row, as: String.self)
                do throws(StoreError) {
                    return try KeyRing.decode(Array(text.utf8), path: "authfn_key_ring")
                } catch {
                    throw .store(error)
                }
            } ?? .empty
        }

        public func nextUserID() throws(StoreError) -> Int {
            try session { session throws(Failure) in try session.nextUserID() }
        }

        public func isEmpty() throws(StoreError) -> Bool {
            try session { session throws(Failure) in
                let probes = [
                    "SELECT 1 FROM authfn_users LIMIT 1", "SELECT 1 FROM authfn_revocations LIMIT 1",
                    "SELECT 1 FROM authfn_throttles LIMIT 1",
                ]
                for probe in probes where try !session.run(PostgresQuery(unsafeSQL: probe)).isEmpty { return false }
                return try session.nextUserID() == 1
            }
        }

        // MARK: Writes

        @discardableResult
        public func commit(_ changes: [Change]) throws(StoreError) -> [Int] {
            try transaction { session throws(Failure) in
                var batch = Batch(session: session)
                return try batch.apply(changes)
            }
        }

        @discardableResult
        public func prune(now: Int64, limit: Int?) throws(StoreError) -> Int {
            try transaction { session throws(Failure) in
                var removed = 0
                for table in ["authfn_revocations", "authfn_throttles"] {
                    let remaining = Int64(limit.map { max(0, $0 - removed) } ?? Int.max)
                    guard remaining > 0 else { break }
                    let result = try session.run(
                        PostgresQuery(
                            unsafeSQL: """
                                DELETE FROM \(table) WHERE key_digest IN \
                                (SELECT key_digest FROM \(table) WHERE expires_at <= $1 LIMIT $2)
                                """, binds: Self.binds(now, remaining)))
                    removed += result.metadata.rows ?? 0
                }
                return removed
            }
        }

        // MARK: Schema

        /// What `db migrate` did: the version found and the version left.
        public struct Migration: Sendable, Equatable {
            public var from: Int
            public var to: Int
        }

        /// Creates or upgrades the schema. Concurrent migrations queue on the version row's lock, so
        /// each step runs once; every statement is idempotent besides, so a migration killed half-way
        /// is finished by the next.
        public func migrate() throws(StoreError) -> Migration {
            try session(checkingSchema: false) { session throws(Failure) in
                for statement in PostgresSchema.bootstrap {
                    do throws(Failure) {
                        try session.run(PostgresQuery(unsafeSQL: statement))
                    } catch {
                        // Two first migrations racing to create the table: one wins, the other finds it.
                        guard case .duplicate = error else { throw error }
                    }
                }
                try session.run("BEGIN")
                do throws(Failure) {
                    guard let row = try session.run("SELECT version FROM authfn_schema WHERE id = 1 FOR UPDATE").first else {
                        throw .store(.notMigrated("the authfn_schema table has no version row"))
                    }
                    let found = Int(try Self.decodeOne(row, as: Int64.self))
                    guard found <= PostgresSchema.version else {
                        throw .store(.unsupportedFormat(path: "the database", found: "schema version \(found)"))
                    }
                    for version in (found + 1)..<(PostgresSchema.version + 1) {
                        for statement in PostgresSchema.steps[version - 1] { try session.run(PostgresQuery(unsafeSQL: statement)) }
                        try session.run("UPDATE authfn_schema SET version = \(Int64(version)) WHERE id = 1")
                    }
                    try session.run("COMMIT")
                    return Migration(from: found, to: PostgresSchema.version)
                } catch {
                    session.rollback()
                    throw error
                }
            }
        }

        /// Verifies the schema: the version, every table, the id counter. Throws what a request would meet.
        public func check() throws(StoreError) -> Int {
            try session(checkingSchema: false) { session throws(Failure) in
                try session.verifySchema()
                for table in PostgresSchema.tables { try session.run(PostgresQuery(unsafeSQL: "SELECT 1 FROM \(table) LIMIT 1")) }
                _ = try session.nextUserID()
                return PostgresSchema.version
            }
        }

        // MARK: Sessions

        /// Why a statement failed, as the store's callers need it: rerun the batch, or give up.
        enum Failure: Error {
            case store(StoreError)
            case retry(String)
            /// A unique violation outside `ON CONFLICT` (only the schema bootstrap expects one).
            case duplicate(String)

            var storeError: StoreError {
                switch self {
                case .store(let error): error
                case .retry(let why): .database("gave up after \(PostgresStore.maximumAttempts) attempts: \(why)")
                case .duplicate(let why): .database(why)
                }
            }
        }

        private struct TimedOut: Error {}

        /// One call's use of the connection, with the call's deadline.
        struct Session {
            let store: PostgresStore
            let connection: PostgresConnection
            let deadline: NIODeadline

            @discardableResult
            func run(_ query: PostgresQuery) throws(Failure) -> PostgresQueryResult {
                try store.wait(connection.query(query, logger: store.logger), deadline: deadline, connection: connection)
            }

            func rollback() {
                _ = try? run("ROLLBACK")
            }

            func nextUserID() throws(Failure) -> Int {
                guard let row = try run("SELECT value FROM authfn_counters WHERE name = 'next_user_id'").first else {
                    throw .store(.notMigrated("the id counter is missing"))
                }
                return Int(try PostgresStore.decodeOne(row, as: Int64.self))
            }

            func verifySchema() throws(Failure) {
                let found: Int
                do throws(Failure) {
                    guard let row = try run("SELECT version FROM authfn_schema WHERE id = 1").first else {
                        throw .store(.notMigrated("the database has no authfn schema version"))
                    }
                    found = Int(try PostgresStore.decodeOne(row, as: Int64.self))
                } catch {
                    if case .store(.notMigrated) = error { throw .store(.notMigrated("the database has no authfn schema")) }
                    throw error
                }
                guard found <= PostgresSchema.version else {
                    throw .store(.unsupportedFormat(path: "the database", found: "schema version \(found)"))
                }
                guard found == PostgresSchema.version else {
                    throw .store(
                        .notMigrated("the database has authfn schema version \(found); this authfn needs \(PostgresSchema.version)"))
                }
            }
        }

        private func session<T: Sendable>(checkingSchema: Bool? = nil, _ body: (Session) throws(Failure) -> T) throws(StoreError) -> T {
            let deadline =
                NIODeadline.now()
                + .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            do throws(Failure) {
                return try connection.withLock { (current: inout PostgresConnection?) throws(Failure) -> T in
                    let connection: PostgresConnection
                    if let open = current, !open.isClosed {
                        connection = open
                    } else {
                        let started = ContinuousClock.now
                        connection = try connect(deadline: deadline)
                        current = connection
                        let connected = ContinuousClock.now
                        if checkingSchema ?? checkSchema {
                            do throws(Failure) {
                                try Session(store: self, connection: connection, deadline: deadline).verifySchema()
                                logger.debug(
                                    "database connected",
                                    metadata: [
                                        "connect_ms": "\(Self.milliseconds(connected - started))",
                                        "schema_check_ms": "\(Self.milliseconds(ContinuousClock.now - connected))",
                                    ])
                            } catch {
                                current = nil
                                Self.dispose(connection)
                                throw error
                            }
                        }
                    }
                    return try body(Session(store: self, connection: connection, deadline: deadline))
                }
            } catch {
                throw error.storeError
            }
        }

        /// Runs `body` inside BEGIN … COMMIT, rolling back on any failure and rerunning it on a
        /// serialization failure or deadlock.
        private func transaction<T: Sendable>(_ body: (Session) throws(Failure) -> T) throws(StoreError) -> T {
            var lastReason = ""
            for attempt in 0..<Self.maximumAttempts {
                if attempt > 0 {
                    retryCount.add(1, ordering: .relaxed)
                    // 2, 4, 8, … ms, each with up to as much again of jitter, so two retrying
                    // instances drift apart.
                    let base = 1_000 << attempt
                    usleep(UInt32(base + Int.random(in: 0..<base)))
                }
                let outcome = try session { session throws(Failure) -> Result<T, Failure> in
                    do throws(Failure) {
                        try session.run("BEGIN")
                        let value = try body(session)
                        try session.run("COMMIT")
                        return .success(value)
                    } catch {
                        // A dead connection has no transaction left to roll back.
                        if case .store(.unavailable) = error {} else { session.rollback() }
                        if case .retry = error { return .failure(error) }
                        throw error
                    }
                }
                switch outcome {
                case .success(let value): return value
                case .failure(.retry(let reason)): lastReason = reason
                case .failure(let error): throw error.storeError
                }
            }
            logger.error("database transaction kept failing to serialize", metadata: ["attempts": "\(Self.maximumAttempts)"])
            throw .database("gave up after \(Self.maximumAttempts) attempts: \(lastReason)")
        }

        private func connect(deadline: NIODeadline) throws(Failure) -> PostgresConnection {
            var configuration: PostgresConnection.Configuration
            switch url.endpoint {
            case .tcp(let host, let port):
                configuration = .init(
                    host: host, port: port, username: url.user, password: url.password, database: url.database, tls: try tls())
            case .unixSocket(let path):
                configuration = .init(unixSocketPath: path, username: url.user, password: url.password, database: url.database)
            }
            configuration.options.connectTimeout = .nanoseconds(max(1, (deadline - .now()).nanoseconds))
            // RDS Proxy sends no BackendKeyData; authfn never cancels a query, so it does not need it.
            configuration.options.requireBackendKeyData = false
            if let name = url.applicationName { configuration.options.additionalStartupParameters = [("application_name", name)] }
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let future = PostgresConnection.connect(on: loop, configuration: configuration, id: 1, logger: logger)
            return try wait(future, deadline: deadline, connection: nil)
        }

        private func tls() throws(Failure) -> PostgresConnection.Configuration.TLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            switch url.tlsMode {
            case .disable: return .disable
            case .allow, .prefer, .require:
                // libpq: `require` verifies the chain only when a root certificate is given.
                configuration.certificateVerification = url.rootCertificate == nil ? .none : .noHostnameVerification
            case .verifyCA: configuration.certificateVerification = .noHostnameVerification
            case .verifyFull: configuration.certificateVerification = .fullVerification
            }
            if let root = url.rootCertificate, root != "system" { configuration.trustRoots = .file(root) }
            do {
                let context = try NIOSSLContext(configuration: configuration)
                return url.tlsMode == .allow || url.tlsMode == .prefer ? .prefer(context) : .require(context)
            } catch {
                throw .store(.unavailable("TLS set-up failed (sslrootcert unreadable?): \(error)"))
            }
        }

        /// Waits for `future` until `deadline`; on a timeout, the connection is closed (its state is
        /// unknown) and the next call opens a new one.
        fileprivate func wait<T: Sendable>(_ future: EventLoopFuture<T>, deadline: NIODeadline, connection: PostgresConnection?)
            throws(Failure) -> T
        {
            let promise = future.eventLoop.makePromise(of: T.self)
            future.cascade(to: promise)
            let timer = future.eventLoop.scheduleTask(deadline: deadline) { promise.fail(TimedOut()) }
            do {
                let value = try promise.futureResult.wait()
                timer.cancel()
                return value
            } catch {
                timer.cancel()
                let failure = classify(error)
                if case .store(.unavailable) = failure, let connection { Self.dispose(connection) }
                throw failure
            }
        }

        private func classify(_ error: any Error) -> Failure {
            if error is TimedOut {
                return .store(.unavailable("no answer within \(timeout.components.seconds) s (AUTHFN_DATABASE_TIMEOUT)"))
            }
            guard let error = error as? PSQLError else { return .store(.unavailable("\(url): \(error)")) }
            guard error.code == .server else {
                let underlying = error.underlying.map { ": \($0)" } ?? ""
                return .store(.unavailable("\(url): \(error.code)\(underlying)"))
            }
            let state = error.serverInfo?[.sqlState] ?? "?????"
            let message = (error.serverInfo?[.message] ?? "").excerpt(limit: 200)
            let what = "\(message) (SQLSTATE \(state))"
            switch state {
            case "40001", "40P01": return .retry(what)
            // 42710: two concurrent `CREATE TABLE IF NOT EXISTS` can both pass the check and clash on the row type.
            case "23505", "42P07", "42710": return .duplicate(what)
            case "42P01", "42703": return .store(.notMigrated("the database has no authfn schema, or an incomplete one: \(what)"))
            case "3D000", "53300", "57P01", "57P02", "57P03": return .store(.unavailable("\(url): \(what)"))
            default:
                if state.hasPrefix("28") || state.hasPrefix("08") { return .store(.unavailable("\(url): \(what)")) }
                return .store(.database(what))
            }
        }

        static func milliseconds(_ duration: Duration) -> Double {
            let (seconds, attoseconds) = duration.components
            return ((Double(seconds) * 1_000 + Double(attoseconds) / 1e15) * 10).rounded() / 10
        }

        // MARK: Rows

        static func binds(_ values: any PostgresDynamicTypeEncodable...) -> PostgresBindings {
            var bindings = PostgresBindings(capacity: values.count)
            for value in values { bindings.append(value) }
            return bindings
        }

        static func decode<each Column: PostgresDecodable>(_ row: PostgresRow, as type: (repeat each Column).Type) throws(Failure)
            -> (repeat each Column)
        {
            do {
                return try row.decode(type)
            } catch {
                throw .store(.database("a row did not decode: \(error)"))
            }
        }

        static func decodeOne<Column: PostgresDecodable>(_ row: PostgresRow, as type: Column.Type) throws(Failure) -> Column {
            do {
                return try row.decode(type)
            } catch {
                throw .store(.database("a row did not decode: \(error)"))
            }
        }

        static func decodeUser(_ row: PostgresRow) throws(Failure) -> UserRecord {
            let (id, username, email, password, isActive, createdAt, generation, validAfter, exempt, reset, verify, unverified) =
                try decode(row, as: (Int64, String, String, String, Bool, Int64, Int64, Int64?, String?, String?, String?, Bool).self)
            return UserRecord(
                id: Int(id), username: username, email: email, password: password, isActive: isActive, createdAt: createdAt,
                cutoffGeneration: generation, tokensValidAfter: validAfter, cutoffExemptSession: exempt,
                resetToken: reset.flatMap(AccountToken.init(columnText:)), verifyToken: verify.flatMap(AccountToken.init(columnText:)),
                emailUnverified: unverified)
        }

        static func decodeRevocation(_ row: PostgresRow) throws(Failure) -> RevocationRecord {
            let (kind, id, expiresAt, revokedAt, childJTI, childIAT) = try decode(
                row, as: (String, String, Int64?, Int64, String?, Int64?).self)
            guard let kind = RevocationRecord.Kind(rawValue: kind) else { throw .store(.database("unknown revocation kind")) }
            let child = childJTI.map { RevocationRecord.Child(jti: unescaped($0), issuedAt: childIAT ?? 0) }
            return RevocationRecord(kind: kind, id: unescaped(id), expiresAt: expiresAt, revokedAt: revokedAt, child: child)
        }

        static func decodeThrottle(_ row: PostgresRow) throws(Failure) -> ThrottleRecord {
            let (key, failures, expiresAt) = try decode(row, as: (String, String, Int64).self)
            let times = failures.split(separator: ",").compactMap { Int64($0) }
            return ThrottleRecord(key: unescaped(key), failures: times, expiresAt: expiresAt)
        }

        /// PostgreSQL text cannot hold U+0000, which throttle keys use as a separator: `%` and NUL are
        /// written as `%25` and `%00` in the text columns that hold keys and token ids.
        static func escaped(_ text: String) -> String {
            guard text.utf8.contains(where: { $0 == 0 || $0 == 0x25 }) else { return text }
            var result = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\u{0}": result += "%00"
                case "%": result += "%25"
                default: result.unicodeScalars.append(scalar)
                }
            }
            return result
        }

        static func unescaped(_ text: String) -> String {
            guard text.utf8.contains(0x25) else { return text }
            return text.replacing("%00", with: "\u{0}").replacing("%25", with: "%")
        }

        static func encodeFailures(_ failures: [Int64]) -> String { failures.map(String.init).joined(separator: ",") }
    }

    /// One `commit`'s changes turned into statements inside the open transaction.
    private struct Batch {
        typealias Failure = PostgresStore.Failure
        let session: PostgresStore.Session
        var methodDeltas: [String: Int64] = [:]
        /// Revocation keys held by a `.requireNoRevocation` placeholder row, removed before COMMIT.
        var placeholders: [String] = []

        init(session: PostgresStore.Session) { self.session = session }

        mutating func apply(_ changes: [Change]) throws(Failure) -> [Int] {
            var ids: [Int] = []
            for change in changes {
                switch change {
                case .createUser(var user):
                    user.id = try claimID()
                    try insert(user)
                    ids.append(user.id)
                case .insertUser(let user):
                    guard user.id > 0 else { throw .store(.conflict(.user)) }
                    try insert(user)
                    try session.run(
                        "UPDATE authfn_counters SET value = GREATEST(value, \(Int64(user.id == Int.max ? user.id : user.id + 1))) WHERE name = 'next_user_id'"
                    )
                case .advanceUserIDs(let id):
                    try session.run("UPDATE authfn_counters SET value = GREATEST(value, \(Int64(id))) WHERE name = 'next_user_id'")
                case .replaceUser(let expected, let user):
                    // The whole row, locked, must still be what the caller read.
                    guard expected.id == user.id,
                        let row = try session.run(
                            PostgresQuery(
                                unsafeSQL: "SELECT \(PostgresStore.userColumns) FROM authfn_users WHERE id = $1 FOR UPDATE",
                                binds: PostgresStore.binds(Int64(user.id)))
                        ).first,
                        try PostgresStore.decodeUser(row) == expected
                    else { throw .store(.conflict(.user)) }
                    _ = try apply([.updateUser(user)])
                case .updateUser(let user):
                    // The locking read pins the row; the UPDATE's own row count is the precondition.
                    guard
                        let row = try session.run(
                            """
                            SELECT password_method FROM authfn_users WHERE id = \(Int64(user.id)) \
                            AND username_key = \(FileStore.digest(UserRecord.canonicalUsername(user.username))) \
                            AND email_key = \(FileStore.digest(UserRecord.canonicalEmail(user.email))) FOR UPDATE
                            """
                        ).first
                    else { throw .store(.conflict(.user)) }
                    let old = try PostgresStore.decodeOne(row, as: String.self)
                    let updated = try session.run(
                        """
                        UPDATE authfn_users SET username = \(user.username), email = \(user.email), password = \(user.password), \
                        password_method = \(user.passwordMethod), is_active = \(user.isActive), created_at = \(user.createdAt), \
                        cutoff_generation = \(user.cutoffGeneration), tokens_valid_after = \(user.tokensValidAfter), \
                        cutoff_exempt_sid = \(user.cutoffExemptSession), reset_token = \(user.resetToken?.columnText), \
                        verify_token = \(user.verifyToken?.columnText), email_unverified = \(user.emailUnverified) \
                        WHERE id = \(Int64(user.id))
                        """)
                    guard updated.metadata.rows == 1 else { throw .store(.conflict(.user)) }
                    methodDeltas[old, default: 0] -= 1
                    methodDeltas[user.passwordMethod, default: 0] += 1
                case .deleteUser(let id):
                    guard let row = try session.run("DELETE FROM authfn_users WHERE id = \(Int64(id)) RETURNING password_method").first
                    else { throw .store(.conflict(.user)) }
                    methodDeltas[try PostgresStore.decodeOne(row, as: String.self), default: 0] -= 1
                case .revoke(let record):
                    try session.run(
                        """
                        INSERT INTO authfn_revocations (key_digest, kind, id, expires_at, revoked_at, child_jti, child_iat) \
                        VALUES (\(FileStore.digest(record.key)), \(record.kind.rawValue), \(PostgresStore.escaped(record.id)), \
                        \(record.expiresAt), \(record.revokedAt), \(record.child.map { PostgresStore.escaped($0.jti) }), \
                        \(record.child?.issuedAt)) \
                        ON CONFLICT (key_digest) DO UPDATE SET kind = EXCLUDED.kind, id = EXCLUDED.id, \
                        expires_at = EXCLUDED.expires_at, revoked_at = EXCLUDED.revoked_at, child_jti = EXCLUDED.child_jti, \
                        child_iat = EXCLUDED.child_iat
                        """)
                case .requireNoRevocation(let key):
                    // A placeholder row takes the key's unique-index slot for the rest of the transaction:
                    // a concurrent batch inserting the same key waits for this one and then sees it.
                    let digest = FileStore.digest(key)
                    let inserted = try session.run(
                        """
                        INSERT INTO authfn_revocations (key_digest, kind, id, expires_at, revoked_at) \
                        VALUES (\(digest), 'pending', '', 0, 0) ON CONFLICT DO NOTHING RETURNING 1
                        """)
                    guard inserted.count == 1 else { throw .store(.conflict(.revocation)) }
                    placeholders.append(digest)
                case .replaceThrottle(let key, let expected, let new):
                    try replaceThrottle(key: key, expected: expected, new: new)
                case .clearThrottle(let key):
                    try session.run("DELETE FROM authfn_throttles WHERE key_digest = \(FileStore.digest(key))")
                case .replaceKeyRing(let expected, let new):
                    let ring = String(decoding: new.encoded(), as: UTF8.self)
                    let updated = try session.run(
                        "UPDATE authfn_key_ring SET version = \(new.version), ring = \(ring) WHERE id = 1 AND version = \(expected)")
                    guard updated.metadata.rows == 1 else { throw .store(.conflict(.keyRing)) }
                }
            }
            for digest in placeholders {
                try session.run("DELETE FROM authfn_revocations WHERE key_digest = \(digest) AND kind = 'pending'")
            }
            // In a fixed order, so two batches never wait on each other's rows crosswise.
            for (method, delta) in methodDeltas.sorted(by: { $0.key < $1.key }) where delta != 0 {
                try session.run(
                    """
                    INSERT INTO authfn_password_methods (method, users) VALUES (\(method), \(delta)) \
                    ON CONFLICT (method) DO UPDATE SET users = authfn_password_methods.users + EXCLUDED.users
                    """)
            }
            return ids
        }

        /// Takes the next id from the counter row (locked until the transaction ends).
        private func claimID() throws(Failure) -> Int {
            guard
                let row = try session.run(
                    "UPDATE authfn_counters SET value = value + 1 WHERE name = 'next_user_id' AND value < \(Int64.max) RETURNING value - 1"
                ).first
            else {
                _ = try session.nextUserID()  // a missing row says so; a full one is:
                throw .store(.exhausted("user ids"))
            }
            return Int(try PostgresStore.decodeOne(row, as: Int64.self))
        }

        /// Inserts `user` under its id; on a clash, finds out which key clashed.
        private mutating func insert(_ user: UserRecord) throws(Failure) {
            let usernameKey = FileStore.digest(UserRecord.canonicalUsername(user.username))
            let emailKey = FileStore.digest(UserRecord.canonicalEmail(user.email))
            let inserted = try session.run(
                """
                INSERT INTO authfn_users (id, username_key, email_key, username, email, password, password_method, \
                is_active, created_at, cutoff_generation, tokens_valid_after, cutoff_exempt_sid, reset_token, verify_token, \
                email_unverified) \
                VALUES (\(Int64(user.id)), \(usernameKey), \(emailKey), \(user.username), \(user.email), \(user.password), \
                \(user.passwordMethod), \(user.isActive), \(user.createdAt), \(user.cutoffGeneration), \
                \(user.tokensValidAfter), \(user.cutoffExemptSession), \(user.resetToken?.columnText), \
                \(user.verifyToken?.columnText), \(user.emailUnverified)) ON CONFLICT DO NOTHING RETURNING id
                """)
            guard inserted.count == 1 else {
                if try !session.run("SELECT 1 FROM authfn_users WHERE username_key = \(usernameKey)").isEmpty {
                    throw .store(.conflict(.username))
                }
                if try !session.run("SELECT 1 FROM authfn_users WHERE email_key = \(emailKey)").isEmpty {
                    throw .store(.conflict(.email))
                }
                throw .store(.conflict(.user))
            }
            methodDeltas[user.passwordMethod, default: 0] += 1
        }

        private func replaceThrottle(key: String, expected: ThrottleRecord?, new: ThrottleRecord?) throws(Failure) {
            let digest = FileStore.digest(key)
            let changed: Bool
            switch (expected, new) {
            case (nil, let new):
                // Absent expected: the INSERT is the check (a placeholder when nothing is to be stored).
                let record = new ?? ThrottleRecord(key: key, failures: [], expiresAt: 0)
                changed =
                    try session.run(
                        """
                        INSERT INTO authfn_throttles (key_digest, key, failures, expires_at) VALUES (\(digest), \(PostgresStore.escaped(key)), \
                        \(PostgresStore.encodeFailures(record.failures)), \(record.expiresAt)) ON CONFLICT DO NOTHING RETURNING 1
                        """
                    ).count == 1
                if changed, new == nil { try session.run("DELETE FROM authfn_throttles WHERE key_digest = \(digest)") }
            case (let expected?, let new?):
                changed =
                    try session.run(
                        """
                        UPDATE authfn_throttles SET failures = \(PostgresStore.encodeFailures(new.failures)), \
                        expires_at = \(new.expiresAt) WHERE key_digest = \(digest) AND key = \(PostgresStore.escaped(key)) \
                        AND failures = \(PostgresStore.encodeFailures(expected.failures)) AND expires_at = \(expected.expiresAt)
                        """
                    ).metadata.rows == 1
            case (let expected?, nil):
                changed =
                    try session.run(
                        """
                        DELETE FROM authfn_throttles WHERE key_digest = \(digest) AND key = \(PostgresStore.escaped(key)) \
                        AND failures = \(PostgresStore.encodeFailures(expected.failures)) AND expires_at = \(expected.expiresAt)
                        """
                    ).metadata.rows == 1
            }
            guard changed else { throw .store(.conflict(.throttle)) }
        }
    }
#endif
