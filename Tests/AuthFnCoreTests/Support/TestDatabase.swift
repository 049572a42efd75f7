import AuthFnCore
import Foundation
import Logging
import Testing

/// The throwaway PostgreSQL cluster `scripts/pg-cluster start` makes (and CI starts): its settings
/// come from the environment. Unset locally: the PostgreSQL tests are skipped with a notice; in CI
/// (`AUTHFN_REQUIRE_POSTGRES=1`) their absence is a failure.
enum TestDatabase {
    static let environment = ProcessInfo.processInfo.environment

    /// A PostgreSQL server to test against, and a build that has the store.
    static var isAvailable: Bool { StoreLocation.postgresAvailable && environment["AUTHFN_TEST_DATABASE_URL"] != nil && port != nil }
    static var isRequired: Bool { environment["AUTHFN_REQUIRE_POSTGRES"] == "1" }
    static let skipNotice: Comment =
        "PostgreSQL tests skipped: build with --traits PostgreSQL and set AUTHFN_TEST_DATABASE_URL (eval \"$(scripts/pg-cluster start DIR)\")"

    static var password: String { environment["AUTHFN_TEST_PG_PASSWORD"] ?? "" }
    static var port: String? { environment["AUTHFN_TEST_PG_PORT"] }
    static var bouncerPort: String? { environment["AUTHFN_TEST_PGBOUNCER_PORT"] }
    static var socketDirectory: String? { environment["AUTHFN_TEST_PG_SOCKET_DIR"] }

    enum Route: String, CaseIterable, Sendable {
        case tcp, pgbouncer, socket
    }

    /// The URL of database `name` reached by `route`.
    static func url(_ name: String, via route: Route) -> String {
        switch route {
        case .tcp: "postgres://authfn:\(password)@127.0.0.1:\(port ?? "5432")/\(name)?sslmode=disable"
        case .pgbouncer: "postgres://authfn:\(password)@127.0.0.1:\(bouncerPort ?? "6432")/\(name)?sslmode=disable"
        case .socket:
            "postgresql://authfn:\(password)@\((socketDirectory ?? "/var/run/postgresql").replacingOccurrences(of: "/", with: "%2F")):\(port ?? "5432")/\(name)"
        }
    }

    static func parsed(_ text: String) throws -> DatabaseURL { try DatabaseURL.parse(text).get() }

    /// A new, empty database owned by the test role; its name.
    static func create() throws -> String {
        let name = "authfn_t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try psql("CREATE DATABASE \(name) OWNER authfn")
        return name
    }

    static func drop(_ name: String) {
        try? psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs SQL as the cluster's superuser (psql, over TCP).
    @discardableResult
    static func psql(_ sql: String, database: String = "postgres", user: String = "postgres") throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = password
        let result = try shell(
            [
                "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port ?? "5432", "-U", user, "-d",
                database, "-c", sql,
            ], environment: environment)
        guard result.status == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "psql failed: " + result.stderr])
        }
        return String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A migrated store on a fresh database reached by `route`.
    static func store(_ name: String, via route: Route) throws -> any Store {
        let location = StoreLocation.database(try parsed(url(name, via: route)))
        let store = try location.open(create: false, timeout: 10, logger: Logger(label: "test"), checkSchema: false)
        #if PostgreSQL
            if let database = store as? PostgresStore { _ = try database.migrate() }
        #endif
        return store
    }
}

/// Runs a program found on PATH and collects its output.
func shell(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let problem = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: Array(data), stderr: String(decoding: problem, as: UTF8.self))
}
