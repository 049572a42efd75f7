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
    /// `JWT_ALGORITHM`: `HS256`, or the algorithm of `JWT_PRIVATE_KEY`.
    public var jwtAlgorithm = TokenService.algorithm
    /// `JWT_PRIVATE_KEY` / `JWT_PUBLIC_KEY`: PEM text of a key managed outside authfn.
    public var jwtPrivateKey: String?
    public var jwtPublicKey: String?
    /// `JWT_DECODE_ALGORITHMS`: the only `alg`s accepted, when set.
    public var decodeAlgorithms: [String]?
    /// `AUTHFN_KEY_ENCRYPTION_KEY`: seals private keys at rest.
    public var keyEncryptionKey: String?
    /// `AUTHFN_JWKS_MAX_AGE`: seconds a JWKS may be cached, and so how long a new key waits before it signs.
    public var jwksMaxAge: Int64 = 600
    /// `JWT_ENCODE_ISSUER`: the `iss` claim of issued tokens.
    public var encodeIssuer: String?
    /// `AUTHFN_PUBLIC_URL`: the base URL clients reach authfn at (no trailing slash).
    public var publicURL: String?
    /// `JWT_PRIVATE_KEY` parsed (and checked against `JWT_PUBLIC_KEY`) by `load`.
    public var configuredKey: ConfiguredKey?
    /// Audience, issuer check, leeway, identity claim, `nbf`.
    public var claims = ClaimSettings()
    /// Token locations, cookies, CSRF and CORS.
    public var web = WebSettings()
    /// Password reset and address verification by mail.
    public var mail = MailSettings()

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
        .custom(
            "JWT_ALGORITHM", \.jwtAlgorithm,
            "`HS256` (the secret signs), or `ES256`, `EdDSA` or `RS256` to sign with `JWT_PRIVATE_KEY`; keys kept in the store are managed with `authfn keys` instead ([keys](#signing-keys-and-the-jwks))",
            reason: "'%' is not supported: use HS256, \(KeyAlgorithm.names)",
            read: { $0 == TokenService.algorithm || KeyAlgorithm(rawValue: $0) != nil ? $0 : nil }, show: { .string($0) }),
        .text(
            "JWT_PRIVATE_KEY", \.jwtPrivateKey, secret: true,
            "PEM private key (PKCS#8, SEC 1 or PKCS#1; `\\n` escapes accepted) that signs every token, with `JWT_ALGORITHM`, published in the JWKS under its thumbprint"
        ),
        .text(
            "JWT_PUBLIC_KEY", \.jwtPublicKey,
            "PEM public key of `JWT_PRIVATE_KEY` (optional: derived from it; refused if it is not its public half)"),
        .custom(
            "JWT_DECODE_ALGORITHMS", \.decodeAlgorithms, default: "every key's own",
            "comma-separated `alg`s accepted in tokens; any other is refused before a key is looked at",
            reason: "'%' is not a comma-separated list of HS256, \(KeyAlgorithm.names)", read: parseAlgorithms,
            show: { $0.map { .array($0.map(JSONValue.string)) } ?? .null }),
        .text(
            "AUTHFN_KEY_ENCRYPTION_KEY", \.keyEncryptionKey, secret: true,
            "seals private keys created or imported while it is set (AES-256-GCM, key by HKDF-SHA256 of this text; at least 32 bytes, e.g. `openssl rand -hex 32`); needed to sign with them afterwards"
        ),
        .integer(
            "AUTHFN_JWKS_MAX_AGE", \.jwksMaxAge, in: 0...604_800,
            "seconds the JWKS may be cached (`Cache-Control: max-age`); `keys activate` waits this long after a key's creation"),
        .text("JWT_ENCODE_ISSUER", \.encodeIssuer, "`iss` claim written into every token (and the discovery document's `issuer`)"),
        .custom(
            "AUTHFN_PUBLIC_URL", \.publicURL,
            "base URL clients reach authfn at (`https://auth.example.com`): with `JWT_ENCODE_ISSUER`, serves `/.well-known/openid-configuration`",
            reason: "'%' is not an http:// or https:// URL", read: parsePublicURL, show: { $0.map(JSONValue.string) ?? .null }),
        .custom(
            "JWT_ENCODE_AUDIENCE", \.claims.encodeAudience,
            "`aud` claim written into every token (comma-separated for several audiences)", reason: "'%' names no audience",
            read: ClaimSettings.audiences, show: { $0.map { .array($0.map(JSONValue.string)) } ?? .null }),
        .custom(
            "JWT_DECODE_AUDIENCE", \.claims.decodeAudience, default: "unset: `aud` not checked",
            "comma-separated audiences a token's `aud` must name one of (422 `Audience doesn't match`)", reason: "'%' names no audience",
            read: ClaimSettings.audiences, show: { $0.map { .array($0.map(JSONValue.string)) } ?? .null }),
        .text(
            "JWT_DECODE_ISSUER", \.claims.decodeIssuer, default: "unset: `iss` not checked",
            "the `iss` a token must carry (422 `Invalid issuer`)"),
        .integer(
            "JWT_DECODE_LEEWAY", \.claims.leeway, in: 0...86_400, "seconds of clock skew allowed when checking `exp`, `nbf` and `iat`"),
        .custom(
            "JWT_IDENTITY_CLAIM", \.claims.identityClaim, "the claim that holds the user id",
            reason: "'%' cannot be the identity claim: use printable ASCII other than authfn's own claims",
            read: ClaimSettings.identityClaim, show: { .string($0) }),
        .flag("JWT_ENCODE_NBF", \.claims.encodeNotBefore, "write the `nbf` claim"),
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
        .custom(
            "AUTHFN_MAIL_COMMAND", \.mail.command, default: "unset: no mail",
            "sendmail-compatible command that gets each message on stdin, split into words like a shell's but run without one: `/usr/sbin/sendmail -t -i`, `msmtp -t` ([mail](#password-reset-and-email-verification))",
            reason: "'%' is not a command (an unclosed quote?)", read: { ShellWords.split($0).map { .some($0) } },
            show: { $0.map { .array($0.map(JSONValue.string)) } ?? .null }),
        .custom(
            "AUTHFN_MAIL_FROM", \.mail.from, "the mails' `From`: `authfn@example.com` or `Example <no-reply@example.com>`",
            reason: "'%' is not an address on one line", read: MailSettings.fromAddress, show: { $0.map(JSONValue.string) ?? .null }),
        .text(
            "AUTHFN_MAIL_TEMPLATES", \.mail.templates, default: "built-in texts",
            "directory whose `reset.subject`, `reset.txt`, `reset.html`, `verify.subject`, `verify.txt`, `verify.html` replace the built-in texts"
        ),
        .integer(
            "AUTHFN_MAIL_TIMEOUT", \.mail.timeout, in: 1...300,
            "seconds the mail command may take before it is killed (and the failure logged)"),
        .custom(
            "AUTHFN_RESET_URL", \.mail.resetURL, default: "unset: no password reset",
            "the reset link, `{token}` where the token goes: `https://app.example.com/reset#token={token}`",
            reason: "'%' is not an http(s) URL containing {token}", read: MailSettings.linkTemplate,
            show: { $0.map(JSONValue.string) ?? .null }),
        .integer("AUTHFN_RESET_TOKEN_EXPIRES", \.mail.resetExpires, in: 60...604_800, "seconds a reset link works"),
        .flag(
            "AUTHFN_VERIFY_EMAIL", \.mail.verifyEmail,
            "new accounts stay inactive until the link mailed to their address is opened (needs the mail variables and `AUTHFN_VERIFY_URL`)"
        ),
        .custom(
            "AUTHFN_VERIFY_URL", \.mail.verifyURL, "the verification link, with `{token}`",
            reason: "'%' is not an http(s) URL containing {token}", read: MailSettings.linkTemplate,
            show: { $0.map(JSONValue.string) ?? .null }),
        .integer("AUTHFN_VERIFY_TOKEN_EXPIRES", \.mail.verifyExpires, in: 60...2_592_000, "seconds a verification link works"),
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
        .custom(
            "JWT_TOKEN_LOCATION", \.web.locations,
            "where requests carry tokens, tried in this order: comma-separated `headers`, `cookies`, `query_string`, `json` ([browsers](#using-authfn-from-a-browser))",
            reason: "'%' is not a comma-separated list of headers, cookies, query_string, json", read: WebSettings.parseLocations,
            show: { .array($0.map { .string($0.rawValue) }) }),
        .custom(
            "JWT_HEADER_NAME", \.web.headerName, "the header that carries the token", reason: "'%' is not a header name",
            read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_HEADER_TYPE", \.web.headerType,
            "the scheme before the token in that header (an empty one, for a bare token, cannot be set: an empty variable is an unset one)",
            reason: "'%' is not a scheme name",
            read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_QUERY_STRING_NAME", \.web.queryStringName, "the query parameter that carries the token (`query_string`)",
            reason: "", read: { $0 }, show: { .string($0) }),
        .custom(
            "JWT_QUERY_STRING_VALUE_PREFIX", \.web.queryStringValuePrefix, default: "none",
            "a prefix the query parameter's value must start with", reason: "", read: { $0 }, show: { .string($0) }),
        .custom(
            "JWT_JSON_KEY", \.web.jsonKey, "the body member that carries an access token (`json`)", reason: "", read: { $0 },
            show: { .string($0) }),
        .custom(
            "JWT_REFRESH_JSON_KEY", \.web.refreshJSONKey, "the body member that carries a refresh token (`json`)", reason: "",
            read: { $0 }, show: { .string($0) }),
        .custom(
            "JWT_ACCESS_COOKIE_NAME", \.web.cookies.accessName, "the access token's cookie", reason: "'%' is not a cookie name",
            read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_REFRESH_COOKIE_NAME", \.web.cookies.refreshName, "the refresh token's cookie", reason: "'%' is not a cookie name",
            read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_ACCESS_COOKIE_PATH", \.web.cookies.accessPath, "`Path` of the access token's cookie",
            reason: "'%' is not a cookie path (it starts with /, printable ASCII without ; or ,)", read: WebSettings.cookiePath,
            show: { .string($0) }),
        .custom(
            "JWT_REFRESH_COOKIE_PATH", \.web.cookies.refreshPath, "`Path` of the refresh token's cookie",
            reason: "'%' is not a cookie path (it starts with /, printable ASCII without ; or ,)", read: WebSettings.cookiePath,
            show: { .string($0) }),
        .flag(
            "JWT_COOKIE_SECURE", \.web.cookies.secure,
            "cookies carry `Secure` (**on by default**, unlike Flask-JWT-Extended: browsers treat http://localhost as secure)"),
        .custom(
            "JWT_COOKIE_SAMESITE", \.web.cookies.sameSite, default: "unset: no attribute",
            "`Strict`, `Lax` or `None` (`None` needs `JWT_COOKIE_SECURE`)", reason: "'%' is not Strict, Lax or None",
            read: WebSettings.sameSite, show: { $0.map { .string($0.rawValue) } ?? .null }),
        .custom(
            "JWT_COOKIE_DOMAIN", \.web.cookies.domain, default: "unset: the host only", "`Domain` of every cookie",
            reason: "'%' is not a domain name", read: WebSettings.cookieDomain, show: { $0.map(JSONValue.string) ?? .null }),
        .flag(
            "JWT_SESSION_COOKIE", \.web.cookies.sessionCookie,
            "cookies end with the browser session; off: they carry `Max-Age` of a year (`Expires` too)"),
        .flag(
            "JWT_COOKIE_CSRF_PROTECT", \.web.csrf.protect,
            "cookie-authenticated requests with a method in `JWT_CSRF_METHODS` must send the token's `csrf` claim in a header"),
        .custom(
            "JWT_CSRF_METHODS", \.web.csrf.methods, "comma-separated methods that need the CSRF header",
            reason: "'%' is not a comma-separated list of methods", read: WebSettings.methods, show: { .array($0.map(JSONValue.string)) }),
        .custom(
            "JWT_ACCESS_CSRF_HEADER_NAME", \.web.csrf.accessHeaderName, "the CSRF header with an access cookie",
            reason: "'%' is not a header name", read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_REFRESH_CSRF_HEADER_NAME", \.web.csrf.refreshHeaderName, "the CSRF header with a refresh cookie",
            reason: "'%' is not a header name", read: WebSettings.token, show: { .string($0) }),
        .flag(
            "JWT_CSRF_CHECK_FORM", \.web.csrf.checkForm,
            "also accept the CSRF value from a form field of an `application/x-www-form-urlencoded` body"),
        .custom(
            "JWT_ACCESS_CSRF_FIELD_NAME", \.web.csrf.accessFieldName, "that form field, with an access cookie", reason: "",
            read: { $0 }, show: { .string($0) }),
        .custom(
            "JWT_REFRESH_CSRF_FIELD_NAME", \.web.csrf.refreshFieldName, "that form field, with a refresh cookie", reason: "",
            read: { $0 }, show: { .string($0) }),
        .flag(
            "JWT_CSRF_IN_COOKIES", \.web.csrf.inCookies, "also set the script-readable cookies holding the CSRF values"),
        .custom(
            "JWT_ACCESS_CSRF_COOKIE_NAME", \.web.csrf.accessCookieName, "the readable CSRF cookie of the access token",
            reason: "'%' is not a cookie name", read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_REFRESH_CSRF_COOKIE_NAME", \.web.csrf.refreshCookieName, "the readable CSRF cookie of the refresh token",
            reason: "'%' is not a cookie name", read: WebSettings.token, show: { .string($0) }),
        .custom(
            "JWT_ACCESS_CSRF_COOKIE_PATH", \.web.csrf.accessCookiePath, "`Path` of that cookie",
            reason: "'%' is not a cookie path (it starts with /, printable ASCII without ; or ,)", read: WebSettings.cookiePath,
            show: { .string($0) }),
        .custom(
            "JWT_REFRESH_CSRF_COOKIE_PATH", \.web.csrf.refreshCookiePath, "`Path` of that cookie",
            reason: "'%' is not a cookie path (it starts with /, printable ASCII without ; or ,)", read: WebSettings.cookiePath,
            show: { .string($0) }),
        .custom(
            "AUTHFN_CORS_ORIGINS", \.web.cors.origins, default: "unset: no CORS headers",
            "origins (`https://app.example.com`, comma-separated) whose pages may call authfn with cookies, or `*` for any origin without them",
            reason: "'%' is not * or a comma-separated list of http(s)://host[:port] origins", read: WebSettings.corsOrigins,
            show: { origins in
                switch origins {
                case nil: .null
                case .any?: "*"
                case .listed(let list)?: .array(list.map(JSONValue.string))
                }
            }),
        .integer("AUTHFN_CORS_MAX_AGE", \.web.cors.maxAge, in: 0...86_400, "seconds a browser may cache a preflight answer"),
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
        problems += config.loadKeys()
        problems += config.web.problems()
        problems += config.mail.problems()
        // libpq's fallback: a URL without a password takes PGPASSWORD's.
        if config.databaseURL?.password == nil, let password = merged["PGPASSWORD"], !password.isEmpty {
            config.databaseURL?.password = password
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        return config
    }

    /// Parses and cross-checks the key variables, filling in `configuredKey`; returns what is wrong.
    mutating func loadKeys() -> [ConfigError.Problem] {
        var problems: [ConfigError.Problem] = []
        func problem(_ variable: String, _ reason: String) { problems.append(.init(variable: variable, reason: reason)) }
        if let text = keyEncryptionKey, text.utf8.count < KeySealing.minimumBytes {
            problem("AUTHFN_KEY_ENCRYPTION_KEY", "it is \(text.utf8.count) bytes; at least \(KeySealing.minimumBytes) are required")
        }
        let algorithm = KeyAlgorithm(rawValue: jwtAlgorithm)
        guard let privatePEM = jwtPrivateKey.map(Self.unescapedPEM) else {
            if algorithm != nil {
                problem(
                    "JWT_ALGORITHM",
                    "\(jwtAlgorithm) signs with JWT_PRIVATE_KEY, which is not set (keys kept in the store need no variable: see `authfn keys`)"
                )
            }
            if jwtPublicKey != nil {
                problem("JWT_PUBLIC_KEY", "authfn signs tokens, so it needs JWT_PRIVATE_KEY (and JWT_ALGORITHM) as well")
            }
            return problems
        }
        guard let algorithm else {
            problem("JWT_PRIVATE_KEY", "set JWT_ALGORITHM to the key's algorithm (\(KeyAlgorithm.names)) to sign with it")
            return problems
        }
        let key: PrivateSigningKey
        do {
            key = try PrivateSigningKey(pem: privatePEM, algorithm: algorithm)
        } catch {
            problem("JWT_PRIVATE_KEY", error.description)
            return problems
        }
        if let publicPEM = jwtPublicKey.map(Self.unescapedPEM) {
            do {
                let publicKey = try PublicSigningKey(pem: publicPEM, algorithm: algorithm)
                if publicKey.thumbprint != key.publicKey.thumbprint {
                    problem("JWT_PUBLIC_KEY", "it is not the public half of JWT_PRIVATE_KEY")
                }
            } catch {
                problem("JWT_PUBLIC_KEY", error.description)
            }
        }
        configuredKey = ConfiguredKey(privateKey: key)
        return problems
    }

    /// A PEM given in one line, with `\n` for its line breaks (as many secret stores hold it).
    static func unescapedPEM(_ text: String) -> String {
        text.contains("\n") ? text : text.replacing("\\n", with: "\n")
    }

    static func parseAlgorithms(_ text: String) -> [String]?? {
        let names = text.split(separator: ",").map { $0.trimming(Trim.whitespace) }
        guard !names.isEmpty, names.allSatisfy({ $0 == TokenService.algorithm || KeyAlgorithm(rawValue: $0) != nil }) else { return nil }
        return .some(names)
    }

    /// An http(s) URL without query, fragment, spaces or non-ASCII, its trailing slashes dropped.
    static func parsePublicURL(_ text: String) -> String?? {
        let scheme = text.hasPrefix("https://") ? 8 : text.hasPrefix("http://") ? 7 : 0
        guard scheme > 0, text.utf8.count < 2048,
            !text.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
        else { return nil }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url.utf8.count > scheme ? .some(url) : nil
    }

    /// What the token service needs of the key variables.
    public var keySettings: KeySettings {
        KeySettings(
            configured: configuredKey, decodeAlgorithms: decodeAlgorithms.map(Set.init),
            sealing: keyEncryptionKey.flatMap { KeySealing(secret: Array($0.utf8)) }, jwksMaxAge: jwksMaxAge, issuer: encodeIssuer,
            publicURL: publicURL)
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
