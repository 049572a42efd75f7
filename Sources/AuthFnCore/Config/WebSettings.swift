/// Where tokens travel and what a browser needs: Flask-JWT-Extended 4's token locations, cookie and
/// CSRF options (same names and defaults, except `JWT_COOKIE_SECURE`), and authfn's CORS settings.
public struct WebSettings: Sendable, Equatable {
    /// Flask-JWT-Extended's `JWT_TOKEN_LOCATION` values. Locations are tried in the configured order.
    public enum Location: String, Sendable, Equatable, CaseIterable {
        case headers
        case cookies
        case queryString = "query_string"
        case json
    }

    public var locations: [Location] = [.headers]
    public var headerName = "Authorization"
    public var headerType = "Bearer"
    public var queryStringName = "jwt"
    public var queryStringValuePrefix = ""
    public var jsonKey = "access_token"
    public var refreshJSONKey = "refresh_token"
    public var cookies = CookieSettings()
    public var csrf = CSRFSettings()
    public var cors = CORSSettings()

    public init() {}

    public var usesCookies: Bool { locations.contains(.cookies) }
}

/// The JWT cookies' names and attributes (`JWT_ACCESS_COOKIE_NAME`, `JWT_COOKIE_SECURE`, …).
public struct CookieSettings: Sendable, Equatable {
    public enum SameSite: String, Sendable, Equatable {
        case strict = "Strict"
        case lax = "Lax"
        case none = "None"
    }

    public var accessName = "access_token_cookie"
    public var refreshName = "refresh_token_cookie"
    public var accessPath = "/"
    public var refreshPath = "/"
    /// Secure by default, unlike Flask-JWT-Extended (whose default is false): a token cookie must not
    /// travel over plain HTTP. Browsers treat http://localhost and 127.0.0.1 as secure for this.
    public var secure = true
    /// Unset: no attribute, as Flask-JWT-Extended (browsers then apply `Lax`).
    public var sameSite: SameSite?
    public var domain: String?
    /// `JWT_SESSION_COOKIE`: cookies without `Max-Age`, gone when the browser closes. Off: they last a
    /// year (Flask-JWT-Extended's 31,540,000 seconds), however long the token inside does.
    public var sessionCookie = true

    public init() {}

    /// Flask-JWT-Extended's `cookie_max_age` when `JWT_SESSION_COOKIE` is off.
    public static let persistentMaxAge: Int64 = 31_540_000
}

/// Double-submit CSRF protection of cookie-authenticated requests.
public struct CSRFSettings: Sendable, Equatable {
    /// `JWT_COOKIE_CSRF_PROTECT`: tokens get a `csrf` claim, and cookie-authenticated requests whose
    /// method is in `methods` must repeat it in a header (or form field).
    public var protect = true
    public var methods: [String] = ["POST", "PUT", "PATCH", "DELETE"]
    public var accessHeaderName = "X-CSRF-TOKEN"
    public var refreshHeaderName = "X-CSRF-TOKEN"
    public var checkForm = false
    public var accessFieldName = "csrf_token"
    public var refreshFieldName = "csrf_token"
    /// `JWT_CSRF_IN_COOKIES`: set the readable `csrf_access_token`/`csrf_refresh_token` cookies.
    public var inCookies = true
    public var accessCookieName = "csrf_access_token"
    public var refreshCookieName = "csrf_refresh_token"
    public var accessCookiePath = "/"
    public var refreshCookiePath = "/"

    public init() {}
}

/// `AUTHFN_CORS_ORIGINS` and `AUTHFN_CORS_MAX_AGE`.
public struct CORSSettings: Sendable, Equatable {
    public enum Origins: Sendable, Equatable {
        /// `*`: any origin may read responses, without credentials (cookies).
        case any
        /// Exactly these origins (`https://app.example.com`, lowercased), with credentials.
        case listed([String])
    }

    /// `nil`: no CORS headers at all (the browser's same-origin policy applies).
    public var origins: Origins?
    public var maxAge: Int64 = 600

    public init() {}
}

// MARK: - Parsing the variables

extension WebSettings {
    static func parseLocations(_ text: String) -> [Location]? {
        var locations: [Location] = []
        for name in commaList(text) {
            guard let location = Location(rawValue: name) else { return nil }
            if !locations.contains(location) { locations.append(location) }
        }
        return locations.isEmpty ? nil : locations
    }

    /// Comma-separated items, each trimmed of ASCII spaces; empty items dropped.
    static func commaList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimming { $0 == " " || $0 == "\t" } }.filter { !$0.isEmpty }
    }

    /// An HTTP token: a header or cookie name.
    static func token(_ text: String) -> String? { HTTPToken.isToken(text) ? text : nil }

    /// A cookie `Path`: starts with `/`, printable ASCII without `;` (which would end the attribute).
    static func cookiePath(_ text: String) -> String? {
        guard text.utf8.first == UInt8(ascii: "/"), text.utf8.count <= 1024,
            text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: ",") })
        else { return nil }
        return text
    }

    /// A cookie `Domain`: letters, digits, `-` and `.`, a leading dot dropped (as Werkzeug does).
    static func cookieDomain(_ text: String) -> String?? {
        var domain = Substring(text)
        while domain.first == "." { domain = domain.dropFirst() }
        guard !domain.isEmpty, domain.utf8.count <= 253,
            domain.utf8.allSatisfy({
                ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
            })
        else { return nil }
        return .some(String(domain).asciiLowercased)
    }

    static func sameSite(_ text: String) -> CookieSettings.SameSite?? {
        switch text.asciiLowercased {
        case "strict": .some(.strict)
        case "lax": .some(.lax)
        case "none": .some(CookieSettings.SameSite.none)
        default: nil
        }
    }

    static func methods(_ text: String) -> [String]? {
        let methods = commaList(text).map(\.asciiUppercased)
        return methods.allSatisfy(HTTPToken.isToken) ? methods : nil
    }

    /// `*`, or comma-separated origins: `http(s)://host[:port]`, no path, query or trailing slash.
    static func corsOrigins(_ text: String) -> CORSSettings.Origins?? {
        let items = commaList(text)
        if items == ["*"] { return .some(.any) }
        var origins: [String] = []
        for item in items {
            let lowered = item.asciiLowercased
            let rest: Substring
            if lowered.hasPrefix("https://") {
                rest = lowered.dropFirst(8)
            } else if lowered.hasPrefix("http://") {
                rest = lowered.dropFirst(7)
            } else {
                return nil
            }
            guard !rest.isEmpty, rest.utf8.count <= 255,
                rest.utf8.allSatisfy({
                    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                        || [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]")].contains($0)
                })
            else { return nil }
            if !origins.contains(lowered) { origins.append(lowered) }
        }
        return origins.isEmpty ? nil : .some(.listed(origins))
    }

    /// Problems no single variable shows: settings that contradict each other.
    func problems() -> [ConfigError.Problem] {
        var problems: [ConfigError.Problem] = []
        if cookies.sameSite == CookieSettings.SameSite.none, !cookies.secure {
            problems.append(
                .init(
                    variable: "JWT_COOKIE_SAMESITE",
                    reason: "browsers refuse SameSite=None cookies without Secure: leave JWT_COOKIE_SECURE on"))
        }
        if usesCookies, cookies.accessName == cookies.refreshName {
            problems.append(.init(variable: "JWT_REFRESH_COOKIE_NAME", reason: "it must differ from JWT_ACCESS_COOKIE_NAME"))
        }
        return problems
    }
}
