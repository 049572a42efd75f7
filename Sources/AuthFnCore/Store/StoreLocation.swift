import Logging

/// Where state lives: a data directory or a PostgreSQL database. `db copy --from/--to` take either
/// spelling (`postgres://…` / `postgresql://…` is a database, anything else a directory).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case directory(String)
    case database(DatabaseURL)

    /// Whether this build has the PostgreSQL store (`swift build --traits PostgreSQL`).
    public static var postgresAvailable: Bool {
        #if PostgreSQL
            true
        #else
            false
        #endif
    }

    public static func parse(_ text: String) -> Result<StoreLocation, DatabaseURLError> {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else { return .success(.directory(text)) }
        return DatabaseURL.parse(text).map(StoreLocation.database)
    }

    public var description: String {
        switch self {
        case .directory(let path): path
        case .database(let url): url.description
        }
    }

    /// Opens the store. A directory is created when missing only with `create`. A database is connected
    /// to lazily, on first use; `checkSchema: false` is for `db migrate`, which makes the schema.
    public func open(create: Bool, timeout: Int64, logger: Logger, checkSchema: Bool = true) throws(StoreError) -> any Store {
        switch self {
        case .directory(let path):
            return try FileStore(directory: path, create: create, logger: logger)
        case .database(let url):
            #if PostgreSQL
                return PostgresStore(url: url, timeout: .seconds(timeout), logger: logger, checkSchema: checkSchema)
            #else
                _ = url
                throw .unavailable(Self.notBuiltIn)
            #endif
        }
    }

    public static let notBuiltIn =
        "this authfn was built without PostgreSQL support; build it with `swift build -c release --traits PostgreSQL`"
}
