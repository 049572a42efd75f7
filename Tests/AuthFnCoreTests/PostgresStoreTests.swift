import AuthFnCore
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("PostgreSQL availability")
struct PostgresAvailabilityTests {
    @Test("CI runs the PostgreSQL tests: the trait is built in and a cluster is configured")
    func requiredInCI() {
        guard TestDatabase.isRequired else { return }
        #expect(StoreLocation.postgresAvailable, "AUTHFN_REQUIRE_POSTGRES=1 but this build has no PostgreSQL trait")
        #expect(TestDatabase.isAvailable, "AUTHFN_REQUIRE_POSTGRES=1 but AUTHFN_TEST_DATABASE_URL and friends are unset")
    }

    @Test(
        "a build without the trait refuses a database: requests and db commands exit 78 and say how to build",
        .enabled(if: !StoreLocation.postgresAvailable))
    func withoutTheTrait() throws {
        try withTemporaryDirectoryBlocking { directory in
            let environment = Executable.environment(
                dataDirectory: directory.appendingPathComponent("data"),
                ["AUTHFN_DATABASE_URL": "postgres://a:pw@127.0.0.1:1/d", "JWT_SECRET_KEY": "trait-secret-0123456789abcdef0123456789"])
            let answer = try Executable.run(request("GET", "/"), environment: environment, directory: directory)
            #expect(answer.status == 78 && answer.stderr.contains("--traits PostgreSQL"), "\(answer.stderr)")
            for arguments in [
                ["db", "migrate"], ["db", "check"], ["db", "copy", "--from", "postgres://a@h/d", "--to", directory.path + "/copy"],
            ] {
                let result = try Executable.run([], environment: environment, arguments: arguments, directory: directory)
                #expect(result.status == 78 && result.stderr.contains("--traits PostgreSQL"), "\(arguments): \(result.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data").path))
        }
    }

    @Test("URLs: libpq's forms, and no password in any description or error")
    func urls() throws {
        let url = try TestDatabase.parsed("postgresql://app:s%40cret@db.example:6543/auth?sslmode=verify-full&sslrootcert=/ca.pem")
        #expect(url.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(url.user == "app" && url.password == "s@cret" && url.database == "auth")
        #expect(url.tlsMode == .verifyFull && url.rootCertificate == "/ca.pem")
        #expect(!url.description.contains("s@cret") && !url.description.contains("cret"))
        #expect(
            try TestDatabase.parsed("postgres://app@%2Frun%2Fpostgresql/auth").endpoint
                == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(try TestDatabase.parsed("postgres://app@/auth?host=/tmp/s&port=7000").endpoint == .unixSocket(path: "/tmp/s/.s.PGSQL.7000"))
        #expect(try TestDatabase.parsed("postgres://app@[::1]:7000").endpoint == .tcp(host: "::1", port: 7000))
        #expect(try TestDatabase.parsed("postgres://app@h/").database == "app")
        #expect(try TestDatabase.parsed("postgres://app@h/d").tlsMode == .prefer)
        for bad in [
            "mysql://a@h/d", "postgres://h/d", "postgres://a:%zz@h/d", "postgres://a@h:99999/d", "postgres://a@h/d?sslmode=maybe",
            "postgres://a@h/d?foo=1",
        ] {
            guard case .failure(let error) = DatabaseURL.parse(bad) else {
                Issue.record("\(bad) was accepted")
                continue
            }
            #expect(!error.description.contains("%zz"))
        }
        // The configuration refuses a bad URL naming the problem, not the text; shows a good one redacted.
        let refused = #expect(throws: ConfigError.self) {
            try Configuration.load(environment: ["AUTHFN_DATABASE_URL": "postgres://a:hunter2@h:0/d"])
        }
        #expect(refused.map { !"\($0)".contains("hunter2") } == true)
        let config = try Configuration.load(environment: ["AUTHFN_DATABASE_URL": "postgres://a@h/d", "PGPASSWORD": "from-env"])
        #expect(config.databaseURL?.password == "from-env")
        #expect(config.effective["AUTHFN_DATABASE_URL"] == "postgres://a:***@h:5432/d?sslmode=prefer")
    }
}

@Suite("PostgreSQL store", .enabled(if: TestDatabase.isAvailable, TestDatabase.skipNotice))
struct PostgresStoreTests {
    #if PostgreSQL
        static let logger = Logger(label: "test")

        static func store(_ name: String, route: TestDatabase.Route = .tcp, timeout: Int64 = 10, checkSchema: Bool = true) throws
            -> PostgresStore
        {
            PostgresStore(
                url: try TestDatabase.parsed(TestDatabase.url(name, via: route)), timeout: .seconds(timeout), logger: logger,
                checkSchema: checkSchema)
        }

        @Test("SERIALIZABLE, as CockroachDB runs by default: concurrent compare-and-set still counts exactly")
        func serializable() async throws {
            let name = try TestDatabase.create()
            defer { TestDatabase.drop(name) }
            _ = try Self.store(name, checkSchema: false).migrate()
            try TestDatabase.psql("ALTER DATABASE \(name) SET default_transaction_isolation TO 'serializable'")
            let handles = try (0..<4).map { _ in try Self.store(name) }
            try await StoreConformanceTests.increment(handles, times: 10, key: "counter")
            #expect(try handles[0].throttle("counter")?.failures.count == 40)
        }

        @Test("a serialization failure forced by a conflicting transaction: the batch is rerun and succeeds")
        func forcedSerializationFailure() throws {
            let name = try TestDatabase.create()
            defer { TestDatabase.drop(name) }
            let store = try Self.store(name, checkSchema: false)
            _ = try store.migrate()
            let record = ThrottleRecord(key: "k", failures: [1], expiresAt: 10)
            try store.commit([.replaceThrottle(key: "k", expected: nil, new: record)])
            try TestDatabase.psql("CREATE TABLE gate (open INT)", database: name, user: "authfn")
            try TestDatabase.psql("ALTER DATABASE \(name) SET default_transaction_isolation TO 'serializable'")
            let contender = try Self.store(name)
            // Step by step, each step waited for in the server's own views, never by the clock: another
            // session updates the row (to the same values) and holds it until the gate opens…
            let holderDone = LockedData(), contenderDone = LockedData()
            Thread {
                _ = try? TestDatabase.psql(
                    """
                    BEGIN ISOLATION LEVEL READ COMMITTED; UPDATE authfn_throttles SET expires_at = expires_at; \
                    DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM gate) LOOP PERFORM pg_sleep(0.02); END LOOP; END $$; COMMIT;
                    """, database: name, user: "authfn")
                holderDone.set(Data([1]))
            }.start()
            try Self.waitFor(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.datname = '\(name)' AND l.locktype = 'transactionid'"
            )
            // …the store's batch waits for that row…
            let failure = LockedData()
            Thread {
                do {
                    try contender.commit([
                        .replaceThrottle(key: "k", expected: record, new: ThrottleRecord(key: "k", failures: [1, 2], expiresAt: 11))
                    ])
                } catch {
                    failure.set(Data("\(error)".utf8))
                }
                contenderDone.set(Data([1]))
            }.start()
            try Self.waitFor("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(name)' AND wait_event_type = 'Lock'")
            // …and once the holder commits, fails to serialize (40001) and is rerun, successfully.
            try TestDatabase.psql("INSERT INTO gate VALUES (1)", database: name, user: "authfn")
            while !(holderDone.isSet && contenderDone.isSet) { usleep(10_000) }
            #expect(!failure.isSet, "\(String(decoding: failure.value, as: UTF8.self))")
            #expect(contender.retries >= 1)
            #expect(try store.throttle("k")?.failures == [1, 2])
        }

        /// Polls `query` (a count) until it is at least one, for up to 60 s.
        static func waitFor(_ query: String) throws {
            for _ in 0..<3_000 {
                if let count = Int(try TestDatabase.psql(query)), count >= 1 { return }
                usleep(20_000)
            }
            Issue.record("never true: \(query)")
        }

        @Test("migrations: concurrent ones all succeed once; a newer schema is refused; unmigrated is named")
        func migrations() async throws {
            let name = try TestDatabase.create()
            defer { TestDatabase.drop(name) }
            #expect(throws: StoreError.notMigrated("the database has no authfn schema")) { try Self.store(name).user(id: 1) }
            let results = try await withThrowingTaskGroup(of: PostgresStore.Migration.self) { group in
                for _ in 0..<5 { group.addTask { try Self.store(name, checkSchema: false).migrate() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0.from == 0 }.count == 1)
            #expect(results.allSatisfy { $0.to == PostgresSchema.version })
            #expect(try Self.store(name).check() == PostgresSchema.version)
            try TestDatabase.psql("UPDATE authfn_schema SET version = 99", database: name)
            #expect(throws: StoreError.unsupportedFormat(path: "the database", found: "schema version 99")) {
                try Self.store(name).user(id: 1)
            }
            #expect(throws: StoreError.unsupportedFormat(path: "the database", found: "schema version 99")) {
                try Self.store(name, checkSchema: false).migrate()
            }
        }

        /// What schema 3 added (the columns for mailed links), as SQL that takes it away again.
        static let dropVersion3 =
            "ALTER TABLE authfn_users DROP COLUMN reset_token, DROP COLUMN verify_token, DROP COLUMN email_unverified"

        @Test(
            "an older database (1: before the key ring; 2: before mailed links) is named unmigrated and upgrades in place, its data kept",
            arguments: [1, 2])
        func upgradeFromOlderVersions(_ version: Int) throws {
            let name = try TestDatabase.create()
            defer { TestDatabase.drop(name) }
            let store = try Self.store(name, checkSchema: false)
            _ = try store.migrate()
            try Self.store(name).commit([.createUser(user("alice"))])
            let downgrade =
                (version == 1 ? "DROP TABLE authfn_key_ring; " : "") + Self.dropVersion3 + "; UPDATE authfn_schema SET version = \(version)"
            _ = try TestDatabase.psql(downgrade, database: name)
            #expect(throws: StoreError.notMigrated("the database has authfn schema version \(version); this authfn needs 3")) {
                try Self.store(name).keyRing()
            }
            let migration = try Self.store(name, checkSchema: false).migrate()
            #expect(migration.from == version && migration.to == 3)
            #expect(try Self.store(name).keyRing() == .empty)
            var alice = try #require(try Self.store(name).user(id: 1))
            #expect(alice.username == "alice" && alice.resetToken == nil && !alice.emailUnverified)
            alice.resetToken = AccountToken(digest: "ab", expiresAt: 9)
            try Self.store(name).commit([.updateUser(alice)])
            #expect(try Self.store(name).user(id: 1) == alice)
        }

        @Test("unreachable, wrong password, silent server: unavailable (503), without the password")
        func unavailable() throws {
            // A port nothing listens on.
            let closed = try TestDatabase.parsed("postgres://authfn:pw-closed@127.0.0.1:1/authfn?sslmode=disable")
            #expect(throws: StoreError.self) { try PostgresStore(url: closed, timeout: .seconds(5), logger: Self.logger).user(id: 1) }
            do {
                _ = try PostgresStore(url: closed, timeout: .seconds(5), logger: Self.logger).user(id: 1)
            } catch {
                guard case .unavailable(let why) = error else { throw error }
                #expect(!why.contains("pw-closed"))
            }
            // Wrong password.
            let wrong = try TestDatabase.parsed(
                "postgres://authfn:not-the-password@127.0.0.1:\(TestDatabase.port ?? "")/authfn?sslmode=disable")
            do {
                _ = try PostgresStore(url: wrong, timeout: .seconds(5), logger: Self.logger).user(id: 1)
                Issue.record("a wrong password was accepted")
            } catch {
                guard case .unavailable(let why) = error else { throw error }
                #expect(why.contains("28P01") && !why.contains("not-the-password"))
            }
            // A server that accepts the connection and never answers: the timeout.
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(listener) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
            listen(listener, 8)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
            let port = Int(UInt16(bigEndian: address.sin_port))
            let silent = try TestDatabase.parsed("postgres://authfn:pw@127.0.0.1:\(port)/authfn?sslmode=disable")
            let started = ContinuousClock.now
            #expect(throws: StoreError.unavailable("no answer within 1 s (AUTHFN_DATABASE_TIMEOUT)")) {
                try PostgresStore(url: silent, timeout: .seconds(1), logger: Self.logger).user(id: 1)
            }
            #expect(ContinuousClock.now - started < .seconds(10))
        }

        @Test(
            "TLS: require and verify-full (against sslrootcert) connect; verify-full against another root is refused",
            .enabled(if: TestDatabase.environment["AUTHFN_TEST_PG_CA"] != nil))
        func tls() throws {
            let name = try TestDatabase.create()
            defer { TestDatabase.drop(name) }
            _ = try TestDatabase.store(name, via: .tcp)
            let base = "postgres://authfn:\(TestDatabase.password)@127.0.0.1:\(TestDatabase.port ?? "")/\(name)"
            let ca = TestDatabase.environment["AUTHFN_TEST_PG_CA"] ?? ""
            for query in [
                "sslmode=require", "sslmode=verify-full&sslrootcert=\(ca)", "sslmode=verify-ca&sslrootcert=\(ca)", "sslmode=prefer",
            ] {
                let store = PostgresStore(url: try TestDatabase.parsed(base + "?" + query), timeout: .seconds(10), logger: Self.logger)
                #expect(try store.commit([.createUser(user("tls\(query.count)"))]).count == 1, "\(query)")
            }
            // A root that did not sign the server's certificate.
            let other = FileManager.default.temporaryDirectory.appendingPathComponent("authfn-other-ca-\(UUID().uuidString).pem").path
            defer { try? FileManager.default.removeItem(atPath: other) }
            #expect(
                try shell([
                    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout",
                    "/dev/null", "-out", other,
                ]).status == 0)
            let refused = PostgresStore(
                url: try TestDatabase.parsed(base + "?sslmode=verify-full&sslrootcert=\(other)"), timeout: .seconds(10), logger: Self.logger
            )
            #expect {
                try refused.user(id: 1)
            } throws: { error in
                guard case .unavailable(let why) = error as? StoreError else { return false }
                return !why.contains(TestDatabase.password)
            }
        }

        @Test("a unix-socket URL reaches the same server", .enabled(if: TestDatabase.socketDirectory != nil))
        func unixSocket() throws {
            let name = try TestDatabase.create()
            defer { TestDatabase.drop(name) }
            let store = try TestDatabase.store(name, via: .socket)
            #expect(try store.commit([.createUser(user("sock"))]) == [1])
            #expect(try Self.store(name).user(id: 1)?.username == "sock")
        }
    #endif
}
