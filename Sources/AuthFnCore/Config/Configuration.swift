import Crypto
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything authfn reads from its environment, validated once at start-up.
public struct Configuration: Sendable, Equatable {
    public enum Secret: Sendable, Equatable {
        /// `JWT_SECRET_KEY` (or `SECRET_KEY`), as UTF-8 bytes, the way Flask-JWT-Extended uses it.
        case configured([UInt8])
        /// None configured: use (creating on first use) `secret.key` in the data directory.
        case generated
    }

    public var secret: Secret = .generated
    public var accessLifetime: Int64 = 900
    public var refreshLifetime: Int64 = 2_592_000
    public var dataDirectory = "./data"
    public var passwordMethod = PasswordHasher.defaultMethod
    public var fixedNow: Int64?
    public var seed: UInt64?
    public var logLevel: Logger.Level = .info
    public var account = AccountSettings()
    /// `AUTHFN_READ_TIMEOUT`: seconds an HTTP or CGI client has to send its whole request.
    public var readTimeout: Int64 = 10

    public static let minimumSecretBytes = 32

    public init() {}

    /// Reads the variables from `environment`, falling back to `dotEnv` (the text of a `.env` file)
    /// for any variable the environment does not set.
    public static func load(environment: [String: String], dotEnv: String? = nil) throws(ConfigError) -> Configuration {
        var merged = dotEnv.map(parseDotEnv) ?? [:]
        merged.merge(environment) { _, real in real }
        var config = Configuration()

        if let secret = merged["JWT_SECRET_KEY"] ?? merged["SECRET_KEY"], !secret.isEmpty {
            let bytes = Array(secret.utf8)
            if bytes.count < minimumSecretBytes && merged["AUTHFN_ALLOW_WEAK_SECRET"] != "1" {
                throw .invalid(
                    variable: merged["JWT_SECRET_KEY"] != nil ? "JWT_SECRET_KEY" : "SECRET_KEY",
                    reason:
                        "the secret is \(bytes.count) bytes; HS256 needs at least \(minimumSecretBytes) (set AUTHFN_ALLOW_WEAK_SECRET=1 to accept it anyway)"
                )
            }
            config.secret = .configured(bytes)
        }
        if let value = merged["JWT_ACCESS_TOKEN_EXPIRES"] {
            config.accessLifetime = try lifetime(value, variable: "JWT_ACCESS_TOKEN_EXPIRES")
        }
        if let value = merged["JWT_REFRESH_TOKEN_EXPIRES"] {
            config.refreshLifetime = try lifetime(value, variable: "JWT_REFRESH_TOKEN_EXPIRES")
        }
        if let value = merged["AUTHFN_DATA_DIR"] {
            guard !value.isEmpty else { throw .invalid(variable: "AUTHFN_DATA_DIR", reason: "must not be empty") }
            config.dataDirectory = value
        }
        if let value = merged["AUTHFN_PASSWORD_HASH"] {
            guard let method = PasswordHasher.parseMethod(value) else {
                throw .invalid(
                    variable: "AUTHFN_PASSWORD_HASH",
                    reason:
                        "'\(value)' is not a supported method; use scrypt:N:r:p (N a power of two up to 2^20) or pbkdf2:sha256:ITERATIONS")
            }
            config.passwordMethod = method
        }
        if let value = merged["AUTHFN_NOW"] {
            guard let now = parseInstant(value) else {
                throw .invalid(variable: "AUTHFN_NOW", reason: "'\(value)' is neither epoch seconds nor an ISO-8601 date-time")
            }
            config.fixedNow = now
        }
        if let value = merged["AUTHFN_SEED"] {
            guard let seed = UInt64(value) else {
                throw .invalid(variable: "AUTHFN_SEED", reason: "must be an unsigned 64-bit integer")
            }
            config.seed = seed
        }
        if let value = merged["JWT_REFRESH_TOKEN_ROTATION"] {
            config.account.refreshRotation = try flag(value, variable: "JWT_REFRESH_TOKEN_ROTATION")
        }
        if let value = merged["JWT_REFRESH_REUSE_INTERVAL"] {
            config.account.refreshReuseInterval = try seconds(value, variable: "JWT_REFRESH_REUSE_INTERVAL", range: 0...3600)
        }
        if let value = merged["AUTHFN_LOGIN_MAX_FAILURES"] {
            config.account.loginMaxFailures = Int(try seconds(value, variable: "AUTHFN_LOGIN_MAX_FAILURES", range: 1...1000))
        }
        if let value = merged["AUTHFN_LOGIN_WINDOW"] {
            config.account.loginWindow = try seconds(value, variable: "AUTHFN_LOGIN_WINDOW", range: 1...86_400)
        }
        if let value = merged["AUTHFN_REQUIRE_ACTIVATION"] {
            config.account.requireActivation = try flag(value, variable: "AUTHFN_REQUIRE_ACTIVATION")
        }
        if let value = merged["AUTHFN_PASSWORD_POLICY"] {
            guard let kind = PasswordPolicy.Kind(rawValue: value.lowercased()) else {
                throw .invalid(variable: "AUTHFN_PASSWORD_POLICY", reason: "use seed or nist")
            }
            config.account.passwordPolicy.kind = kind
        }
        if let value = merged["AUTHFN_PASSWORD_MIN_LENGTH"] {
            config.account.passwordPolicy.minimumLength = Int(
                try seconds(value, variable: "AUTHFN_PASSWORD_MIN_LENGTH", range: 8...64))
        }
        if let value = merged["AUTHFN_READ_TIMEOUT"] {
            config.readTimeout = try seconds(value, variable: "AUTHFN_READ_TIMEOUT", range: 1...3600)
        }
        if let value = merged["AUTHFN_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw .invalid(variable: "AUTHFN_LOG_LEVEL", reason: "use trace, debug, info, notice, warning, error or critical")
            }
            config.logLevel = level
        }
        return config
    }

    /// Whether clock or randomness is fixed: fine for tests, never for production.
    public var isDeterministic: Bool { fixedNow != nil || seed != nil }

    private static func lifetime(_ text: String, variable: String) throws(ConfigError) -> Int64 {
        guard let seconds = Int64(text), (1...315_360_000).contains(seconds) else {
            throw .invalid(variable: variable, reason: "'\(text)' is not a whole number of seconds between 1 and 315360000")
        }
        return seconds
    }

    private static func seconds(_ text: String, variable: String, range: ClosedRange<Int64>) throws(ConfigError) -> Int64 {
        guard let value = Int64(text), range.contains(value) else {
            throw .invalid(variable: variable, reason: "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    private static func flag(_ text: String, variable: String) throws(ConfigError) -> Bool {
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off", "": return false
        default: throw .invalid(variable: variable, reason: "'\(text)' is not true/false (or 1/0)")
        }
    }

    static func parseInstant(_ text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds }
        guard let date = try? Date(text, strategy: .iso8601) else { return nil }
        return Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// `KEY=VALUE` lines as python-dotenv reads them: `export ` prefixes, `#` comments, quoted values.
    static func parseDotEnv(_ text: String) -> [String: String] {
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
    case invalid(variable: String, reason: String)
    case dataDirectory(String)

    public var description: String {
        switch self {
        case .invalid(let variable, let reason): "\(variable): \(reason)"
        case .dataDirectory(let detail): "data directory: \(detail)"
        }
    }
}
