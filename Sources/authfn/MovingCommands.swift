import ArgumentParser
import AuthFnCore
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// `authfn db …`: the PostgreSQL schema, and copying state between any two stores.
struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Create or check the PostgreSQL schema; copy state between data directories and databases.",
        discussion: """
            migrate and check use AUTHFN_DATABASE_URL. A URL without a password takes it from PGPASSWORD. \
            Exit status: 0 done, 1 schema missing or outdated (check) or target not empty (copy), \
            64 no database configured, 69 database unreachable, 74 storage failure, 78 misconfigured.
            """,
        subcommands: [Migrate.self, Check.self, Copy.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade the schema (safe to run again, and from several hosts at once).")
        func run() async throws {
            let store = try Database.configuredStore(checkSchema: false)
            try Database.report {
                let migration = try Database.migrate(store)
                return ["schema_version": .int(migration.to), "from": .int(migration.from)]
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify that the schema is there and current.")
        func run() async throws {
            let store = try Database.configuredStore(checkSchema: false)
            try Database.report { ["schema_version": .int(try Database.check(store)), "ok": true] }
        }
    }

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy users (ids kept), sessions, revocations, throttles and the id counter into an empty store.",
            discussion: """
                DIR is a data directory (created when absent), URL a postgres:// database (migrated first). \
                An interrupted copy can be run again: it resumes. Ends with one JSON line: copied, skipped, failed.
                """)
        @Option(help: "The source: a data directory or a postgres:// URL.") var from: String
        @Option(help: "The target: an empty (or absent) data directory or an empty database.") var to: String

        func run() async throws {
            let config = try Database.settings()
            let source = try Database.location(from, "--from")
            let target = try Database.location(to, "--to")
            guard source != target else { throw ValidationError("--from and --to are the same store.") }
            try Database.requireSupport(for: [source, target])
            let progress = Progress(noun: "records copied")
            try Database.report {
                let from = try source.open(create: false, timeout: config.databaseTimeout, logger: Runtime.logger)
                let into = try target.open(create: true, timeout: config.databaseTimeout, logger: Runtime.logger, checkSchema: false)
                if case .database = target { _ = try Database.migrate(into) }
                let summary = try StoreCopy.run(from: from, to: into) { progress.update($0) }
                progress.finish()
                return summary.json
            }
        }
    }

    static func settings() throws -> Configuration {
        do {
            let config = try Configuration.load(environment: Runtime.environment, dotEnv: Runtime.dotEnv())
            Runtime.bootstrapLogging(environment: Runtime.environment, configuration: config)
            return config
        } catch {
            Runtime.logger.critical("configuration unusable: \(error)")
            throw ExitCode(78)
        }
    }

    static func configuredStore(checkSchema: Bool) throws -> any Store {
        let config = try settings()
        guard let url = config.databaseURL else {
            Runtime.logger.error("AUTHFN_DATABASE_URL is not set: db migrate and db check work on a PostgreSQL database")
            throw ExitCode(64)
        }
        return try open(.database(url), config: config, checkSchema: checkSchema)
    }

    /// A database in a build without the PostgreSQL store is a misconfiguration (78), as for requests.
    static func requireSupport(for locations: [StoreLocation]) throws {
        for location in locations {
            guard case .database = location, !StoreLocation.postgresAvailable else { continue }
            Runtime.logger.critical("configuration unusable: \(StoreLocation.notBuiltIn)")
            throw ExitCode(78)
        }
    }

    static func open(_ location: StoreLocation, config: Configuration, checkSchema: Bool) throws -> any Store {
        try requireSupport(for: [location])
        do {
            return try location.open(create: false, timeout: config.databaseTimeout, logger: Runtime.logger, checkSchema: checkSchema)
        } catch {
            throw exit(for: error)
        }
    }

    static func location(_ text: String, _ option: String) throws -> StoreLocation {
        switch StoreLocation.parse(text) {
        case .success(let location): return location
        case .failure(let error): throw ValidationError("\(option): not a usable PostgreSQL URL: \(error)")
        }
    }

    static func migrate(_ store: any Store) throws -> (from: Int, to: Int) {
        #if PostgreSQL
            guard let database = store as? PostgresStore else { return (PostgresSchema.version, PostgresSchema.version) }
            let migration = try database.migrate()
            if migration.from != migration.to {
                Runtime.logger.notice("database schema migrated from version \(migration.from) to \(migration.to)")
            }
            return (migration.from, migration.to)
        #else
            throw StoreError.unavailable(StoreLocation.notBuiltIn)
        #endif
    }

    static func check(_ store: any Store) throws -> Int {
        #if PostgreSQL
            guard let database = store as? PostgresStore else { return PostgresSchema.version }
            return try database.check()
        #else
            throw StoreError.unavailable(StoreLocation.notBuiltIn)
        #endif
    }

    /// Runs `body`, prints its JSON on one line, maps failures to exit statuses (and one log line).
    static func report(_ body: () throws -> JSONValue) throws {
        let value: JSONValue
        do {
            value = try body()
        } catch {
            throw exit(for: error)
        }
        guard StandardIO.write(value.encoded() + [0x0A]) else { throw ExitCode(74) }
    }

    static func exit(for error: any Error) -> any Error {
        switch error {
        case let error as ExitCode: return error
        case let error as StoreCopy.Failure:
            Runtime.logger.error("\(error)")
            return ExitCode(1)
        case StoreError.notMigrated(let why):
            Runtime.logger.error("\(why): run `authfn db migrate`")
            return ExitCode(1)
        case StoreError.noDataDirectory(let path):
            Runtime.logger.error("no data directory at \(path)")
            return ExitCode(1)
        case StoreError.unavailable(let why):
            Runtime.logger.error("database unavailable: \(why)")
            return ExitCode(69)
        case let error as StoreError:
            Runtime.logger.error("storage failure: \(error)")
            return ExitCode(74)
        default:
            Runtime.logger.error("failed: \(error)")
            return ExitCode(74)
        }
    }
}

extension Users {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import the Flask app's users (sqlite3 -json, mysql --json, one JSON object per line, or CSV).",
            discussion: """
                Rows need id, username, email and password (the Werkzeug hash, kept as it is); is_active and \
                created_on are read when present. Ids are kept and the id counter moves past them. A row whose \
                id, username or email exists is skipped; a row that fails validation is reported with its line. \
                Exit status: 0 every row imported, 3 some rows skipped or refused (counts in the summary), \
                65 the input is not in a known format, 66 the file cannot be read, 69 database unreachable, \
                74 storage failure, 78 misconfigured.
                """)
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The export file, or - for stdin.") var file: String

        func run() async throws {
            let bytes: [UInt8]
            if file == "-" {
                bytes = StandardIO.read(limit: Int.max)
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    Runtime.bootstrapLogging(environment: Runtime.environment, configuration: nil)
                    Runtime.logger.error("cannot read \(file)")
                    throw ExitCode(66)
                }
                bytes = Array(data)
            }
            let rows: [UserImport.Row]
            do {
                rows = try UserImport.rows(bytes)
            } catch {
                Runtime.bootstrapLogging(environment: Runtime.environment, configuration: nil)
                Runtime.logger.error("\(file): \(error)")
                throw ExitCode(65)
            }
            let progress = Progress(noun: "rows read")
            var summary = UserImport.Summary()
            // Moving in may be the first thing done with a data directory: it is created if absent.
            try await Runtime.admin(options, create: true) { admin in
                summary = try UserImport.run(rows, into: admin.context.store, now: admin.context.time.now()) { progress.update($0) }
                progress.finish()
                for problem in summary.problems { Runtime.logger.warning("\(file) \(problem)") }
                return [summary.json]
            }
            if summary.skipped + summary.failed > 0 { throw ExitCode(3) }
        }
    }
}

/// Progress on stderr: a live counter on a terminal, otherwise a line every five seconds.
final class Progress: @unchecked Sendable {
    private let noun: String
    private let isTerminal = isatty(2) == 1
    private var lastLine = ContinuousClock.now
    private var last = 0

    init(noun: String) { self.noun = noun }

    func update(_ count: Int) {
        last = count
        if isTerminal {
            StandardIO.writeError("\r\(count) \(noun)")
        } else if ContinuousClock.now - lastLine >= .seconds(5) {
            lastLine = .now
            StandardIO.writeError("\(count) \(noun)\n")
        }
    }

    func finish() {
        if isTerminal && last > 0 { StandardIO.writeError("\n") }
    }
}
