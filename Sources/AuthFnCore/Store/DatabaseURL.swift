/// `AUTHFN_DATABASE_URL`, read the way libpq reads a connection URI:
///
///     postgres[ql]://[user[:password]@][host][:port][/dbname][?param=value&…]
///
/// `host` may be a percent-encoded absolute path (`%2Frun%2Fpostgresql`) or given as `?host=/run/postgresql`:
/// a unix-socket directory, whose socket is `.s.PGSQL.<port>`. Parameters: `sslmode` (`disable`,
/// `allow`, `prefer` — the default, as libpq's —, `require`, `verify-ca`, `verify-full`), `sslrootcert`
/// (a PEM file, or `system`), `host`, `port`, `user`, `password`, `dbname`, `application_name`. Anything else is
/// refused rather than silently ignored.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file's full path (`<directory>/.s.PGSQL.<port>`).
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode = .prefer
    public var rootCertificate: String?
    public var applicationName: String?

    /// The URL for logs and `authfn config`: everything but the password.
    public var description: String {
        let credentials = user + (password == nil ? "" : ":***")
        let location =
            switch endpoint {
            case .tcp(let host, let port): (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
            case .unixSocket(let path): Self.percentEncoded(path)
            }
        return "postgres://\(credentials)@\(location)/\(database)?sslmode=\(tlsMode.rawValue)"
    }

    static let knownParameters: Set<String> = [
        "sslmode", "sslrootcert", "host", "port", "user", "password", "dbname", "application_name",
    ]

    /// Parses `text`; the error says what is wrong without repeating the text (which holds a password).
    public static func parse(_ text: String) -> Result<DatabaseURL, DatabaseURLError> {
        let rest: Substring
        if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else {
            return .failure(.init("must start with postgres:// or postgresql://"))
        }
        let (beforeQuery, query) = split(rest, at: "?")
        let (authority, path) = split(beforeQuery, at: "/")
        var userInfo: Substring?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
        }
        var user: String?
        var password: String?
        if let userInfo {
            let (name, secret) = split(userInfo, at: ":")
            guard let decodedName = decode(name) else { return .failure(.init("the user name is not valid percent-encoding")) }
            user = decodedName.isEmpty ? nil : decodedName
            if let secret {
                guard let decoded = decode(secret) else { return .failure(.init("the password is not valid percent-encoding")) }
                password = decoded
            }
        }
        var host: String?
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return .failure(.init("an IPv6 host needs its closing ]")) }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(.init("unexpected text after the IPv6 host")) }
                portText = after.dropFirst()
            }
        } else {
            let (name, port) = split(hostPort, at: ":")
            guard let decoded = decode(name) else { return .failure(.init("the host is not valid percent-encoding")) }
            host = decoded.isEmpty ? nil : decoded
            portText = port
        }
        var database = path.flatMap { decode($0) }
        if path != nil, database == nil { return .failure(.init("the database name is not valid percent-encoding")) }
        var tlsMode = TLSMode.prefer
        var rootCertificate: String?
        var applicationName: String?
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let (rawName, rawValue) = split(pair, at: "=")
            guard let name = decode(rawName), let value = decode(rawValue ?? "") else {
                return .failure(.init("a query parameter is not valid percent-encoding"))
            }
            guard knownParameters.contains(name) else {
                return .failure(
                    .init("unknown parameter '\(name.excerpt(limit: 40))' (known: \(knownParameters.sorted().joined(separator: ", ")))"))
            }
            switch name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    return .failure(
                        .init(
                            "sslmode '\(value.excerpt(limit: 20))' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
                        ))
                }
                tlsMode = mode
            case "sslrootcert": rootCertificate = value
            case "host": host = value
            case "port": portText = Substring(value)
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            default: applicationName = value
            }
        }
        var port = 5432
        if let portText, !portText.isEmpty {
            guard portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = Int(portText), (1...65535).contains(number) else {
                return .failure(.init("the port must be a number from 1 to 65535"))
            }
            port = number
        }
        guard let user, !user.isEmpty else { return .failure(.init("a user name is required (postgres://USER:PASSWORD@HOST/DB)")) }
        let name = database.flatMap { $0.isEmpty ? nil : $0 } ?? user
        // No host: the Debian libpq default, the unix socket in /var/run/postgresql.
        let hostName = host ?? "/var/run/postgresql"
        let endpoint: Endpoint
        if hostName.hasPrefix("/") {
            let isSocketFile = hostName.split(separator: "/").last?.hasPrefix(".s.PGSQL.") ?? false
            endpoint = .unixSocket(path: isSocketFile ? hostName : hostName + (hostName.hasSuffix("/") ? "" : "/") + ".s.PGSQL.\(port)")
        } else {
            endpoint = .tcp(host: hostName, port: port)
        }
        var url = DatabaseURL(endpoint: endpoint, user: user, password: password, database: name)
        url.tlsMode = tlsMode
        url.rootCertificate = rootCertificate
        url.applicationName = applicationName
        return .success(url)
    }

    private static func split(_ text: Substring, at separator: Character) -> (Substring, Substring?) {
        guard let index = text.firstIndex(of: separator) else { return (text, nil) }
        return (text[..<index], text[text.index(after: index)...])
    }

    /// RFC 3986 percent-decoding (and `+` left as it is, as libpq does); `nil` for a bad escape or
    /// bytes that are not UTF-8.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == 0x25 else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let isUnreserved =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D
                || byte == 0x2E
                || byte == 0x5F || byte == 0x7E
            if isUnreserved {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }
}

public struct DatabaseURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
