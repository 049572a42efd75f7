import Crypto
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything authfn reads from its environment, validated once at start-up. Each variable is one
/// `Setting` in `settings`; this struct holds the values.
public struct Configuration: Sendable, Equatable {
    public enum Secret: Sendable, Equatable {
        /// `JWT_SECRET_KEY` (or `SECRET_KEY`), as UTF-8 bytes, the way Flask-JWT-Extended uses it.
        case configured([UInt8])
        /// None configured: use (creating on first use) `secret.key` in the data directory.
        case generated
    }

    public var jwtSecretKey: String?
    public var secretKey: String?
    public var allowWeakSecret = false
    public var accessLifetime: Int64 = 900
    public var refreshLifetime: Int64 = 2_592_000
    public var dataDirectory = "./data"
    public var passwordMethod = PasswordHasher.defaultMethod
    public var fixedNow: Int64?
    public var seed: UInt64?
    public var logLevel: Logger.Level = .info
    /// `AUTHFN_LOG_FILE`: append log lines here instead of stderr.
    public var logFile: String?
    public var account = AccountSettings()
    /// `AUTHFN_READ_TIMEOUT`: seconds an HTTP or CGI client has to send its whole request.
    public var readTimeout: Int64 = 10
    /// `AUTHFN_DATABASE_URL`: the PostgreSQL store instead of the data directory.
    public var databaseURL: DatabaseURL?
    /// `AUTHFN_DATABASE_TIMEOUT`: seconds for connecting and for each store call.
    public var databaseTimeout: Int64 = 5

    public static let minimumSecretBytes = 32

    public init() {}

    /// The signing secret in effect: `JWT_SECRET_KEY`, else `SECRET_KEY`, else the generated one.
    public var secret: Secret {
        (jwtSecretKey ?? secretKey).map { .configured(Array($0.utf8)) } ?? .generated
    }

    /// Every variable authfn reads, in the order the README lists them.
    public static let settings: [Setting] = [
        .text(
            "JWT_SECRET_KEY", \.jwtSecretKey, secret: true, default: "generated",
            "HS256 secret (its UTF-8 bytes, as Flask-JWT-Extended uses it). At least 32 bytes. Unset: a random one is kept in `secret.key` in the data directory"
        ),
        .text("SECRET_KEY", \.secretKey, secret: true, "used when `JWT_SECRET_KEY` is unset, as in the Flask app"),
        .flag(
            "AUTHFN_ALLOW_WEAK_SECRET", \.allowWeakSecret,
            "accept a configured secret shorter than 32 bytes (for carrying over an old app)"),
        .databaseURL(
            "AUTHFN_DATABASE_URL", \.databaseURL,
            "keep state in PostgreSQL instead of the data directory: `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…` ([PostgreSQL](#postgresql)); needs a build with `--traits PostgreSQL` and `JWT_SECRET_KEY`"
        ),
        .integer(
            "AUTHFN_DATABASE_TIMEOUT", \.databaseTimeout, in: 1...300,
            "seconds to connect to PostgreSQL and for each store call before answering 503"),
        .integer("JWT_ACCESS_TOKEN_EXPIRES", \.accessLifetime, in: 1...315_360_000, "access token lifetime, seconds"),
        .integer("JWT_REFRESH_TOKEN_EXPIRES", \.refreshLifetime, in: 1...315_360_000, "refresh token lifetime, seconds (30 days)"),
        .custom(
            "AUTHFN_DATA_DIR", \.dataDirectory, "the data directory (`--data-dir DIR` overrides it)", reason: "",
            read: { $0 }, show: { .string($0) }),
        .custom(
            "AUTHFN_PASSWORD_HASH", \.passwordMethod,
            "how new passwords are hashed, in Werkzeug's method syntax: `scrypt:N:r:p` or `pbkdf2:sha256:ITERATIONS` ([bounds](#password-hashes))",
            reason:
                "'%' is not a supported method; use scrypt:N:r:p (N a power of two up to 2^18, 128·N·r·p at most 256 MiB) or pbkdf2:sha256:ITERATIONS (at most 2,000,000)",
            read: PasswordHasher.parseMethod, show: { .string($0.description) }),
        .custom(
            "AUTHFN_NOW", \.fixedNow, default: "system clock",
            "fixes the clock (epoch seconds or ISO-8601), for tests and golden files only",
            reason: "'%' is neither epoch seconds nor an ISO-8601 date-time", read: { parseInstant($0).map { .some($0) } },
            show: { $0.map(JSONValue.int) ?? .null }),
        .custom(
            "AUTHFN_SEED", \.seed, default: "system CSPRNG",
            "makes `jti`s, salts and a generated secret reproducible (unsigned integer), for tests only",
            reason: "'%' is not an unsigned 64-bit integer", read: { UInt64($0).map { .some($0) } },
            show: { $0.map { JSONValue.string(String($0)) } ?? .null }),
        .flag(
            "JWT_REFRESH_TOKEN_ROTATION", \.account.refreshRotation,
            "spend each refresh token and return a successor ([rotation](#refresh-rotation))"),
        .integer(
            "JWT_REFRESH_REUSE_INTERVAL", \.account.refreshReuseInterval, in: 0...3600,
            "seconds in which a spent refresh token still gets its successor"),
        .integer(
            "AUTHFN_LOGIN_MAX_FAILURES", \.account.loginMaxFailures, in: 1...1000,
            "failed logins per account *from one client address* per window before 429 ([throttling](#throttling))"),
        .integer(
            "AUTHFN_LOGIN_ACCOUNT_MAX_FAILURES", \.account.loginAccountMaxFailures, in: 1...10_000,
            "failed logins per account from all addresses together per window before 429"),
        .integer("AUTHFN_LOGIN_WINDOW", \.account.loginWindow, in: 1...86_400, "the throttling window, seconds"),
        .flag(
            "AUTHFN_REQUIRE_ACTIVATION", \.account.requireActivation,
            "new accounts are inactive until `authfn users activate`"),
        .custom(
            "AUTHFN_PASSWORD_POLICY", \.account.passwordPolicy.kind, "`seed` or `nist` ([policy](#password-policy))",
            reason: "'%' is not a policy: use seed or nist", read: { PasswordPolicy.Kind(rawValue: $0.asciiLowercased) },
            show: { .string($0.rawValue) }),
        .integer(
            "AUTHFN_PASSWORD_MIN_LENGTH", \.account.passwordPolicy.minimumLength, in: 8...64, "minimum length under `nist`"),
        .integer(
            "AUTHFN_READ_TIMEOUT", \.readTimeout, in: 1...3600,
            "seconds an `--http` or CGI client has to send its whole request (then 408)"),
        .custom(
            "AUTHFN_LOG_LEVEL", \.logLevel, "`trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`",
            reason: "'%' is not a level: use trace, debug, info, notice, warning, error or critical",
            read: { Logger.Level(rawValue: $0.asciiLowercased) }, show: { .string($0.rawValue) }),
        .text(
            "AUTHFN_LOG_FILE", \.logFile, default: "stderr",
            "append log lines to this file (created 0600) instead of stderr; see [logs](#logs)"),
    ]

    /// Reads the variables from `environment`, falling back to `dotEnv` (the text of a `.env` file)
    /// for any variable the environment does not set. An empty value is the same as an unset one.
    /// Every unusable variable is reported, not only the first.
    public static func load(environment: [String: String], dotEnv: String? = nil) throws(ConfigError) -> Configuration {
        var merged = dotEnv.map(parseDotEnv) ?? [:]
        merged.merge(environment) { _, real in real }
        var config = Configuration()
        var problems: [ConfigError.Problem] = []
        for setting in settings {
            guard let text = merged[setting.name], !text.isEmpty else { continue }
            if let reason = setting.parse(text, &config) { problems.append(.init(variable: setting.name, reason: reason)) }
        }
        if let (variable, text) = [("JWT_SECRET_KEY", config.jwtSecretKey), ("SECRET_KEY", config.secretKey)]
            .first(where: { $0.1 != nil }).map({ ($0.0, $0.1 ?? "") }),
            text.utf8.count < minimumSecretBytes, !config.allowWeakSecret
        {
            problems.append(
                .init(
                    variable: variable,
                    reason:
                        "the secret is \(text.utf8.count) bytes; HS256 needs at least \(minimumSecretBytes) (set AUTHFN_ALLOW_WEAK_SECRET=1 to accept it anyway)"
                ))
        }
        // libpq's fallback: a URL without a password takes PGPASSWORD's.
        if config.databaseURL?.password == nil, let password = merged["PGPASSWORD"], !password.isEmpty {
            config.databaseURL?.password = password
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        return config
    }

    /// The settings in effect, keyed by variable name, secrets redacted: what `authfn config` prints.
    public var effective: JSONValue {
        var object = JSONObject()
        for setting in Self.settings { object[setting.name] = setting.shown(in: self) }
        return .object(object)
    }

    /// The README's configuration table.
    public static var markdownTable: String {
        var lines = ["| variable | default | meaning |", "|---|---|---|"]
        for setting in settings {
            lines.append("| `\(setting.name)` | \(setting.defaultDescription) | \(setting.summary) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether clock or randomness is fixed: fine for tests, never for production.
    public var isDeterministic: Bool { fixedNow != nil || seed != nil }

    static func parseInstant(_ text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds }
        guard let date = try? Date(text, strategy: .iso8601) else { return nil }
        return Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// `KEY=VALUE` lines as python-dotenv reads them: `export ` prefixes, `#` comments, quoted values.
    public static func parseDotEnv(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimming(Trim.whitespace)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimming(Trim.whitespace) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimming(Trim.whitespace)
            var value = line[line.index(after: equals)...].trimming(Trim.whitespace)
            if let quote = value.first, quote == "\"" || quote == "'", value.count >= 2, value.last == quote {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.firstRange(of: " #") {
                value = value[..<hash.lowerBound].trimming(Trim.whitespace)
            }
            if !key.isEmpty { values[key] = value }
        }
        return values
    }
}

/// A configuration authfn cannot run with. The executable reports it and exits 78 (EX_CONFIG).
public enum ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Problem: Equatable, Sendable {
        public var variable: String
        public var reason: String
    }

    /// One or more variables are unusable; each is named with what is wrong with it.
    case invalid([Problem])
    case dataDirectory(String)

    public static func invalid(variable: String, reason: String) -> ConfigError { .invalid([Problem(variable: variable, reason: reason)]) }

    public var description: String {
        switch self {
        case .invalid(let problems): problems.map { "\($0.variable): \($0.reason)" }.joined(separator: "; ")
        case .dataDirectory(let detail): "data directory: \(detail)"
        }
    }
}
