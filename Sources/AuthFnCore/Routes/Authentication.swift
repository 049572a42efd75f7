#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Bearer-token checks in Flask-JWT-Extended 4's order (header, token, type), then the account and
/// revocation checks: the user must exist and be active, and neither the token, its session nor a
/// sign-out-everywhere cut-off may have revoked it.
enum Authentication {
    struct Principal {
        var token: VerifiedToken
        var user: UserRecord
        /// The keys the token was verified with, read once per request: a refresh signs with them too.
        var keys: KeyRing
    }

    /// A token as the request presented it, and the CSRF value sent with it (cookies only).
    struct Presented: Equatable {
        var token: String
        var csrf: String?
        var location: WebSettings.Location
    }

    static func require(_ kind: TokenKind, _ request: Request, _ context: Context) async throws -> Principal {
        let presented = try locate(kind, in: request, context.web)
        let keys = try context.store.keyRing()
        let token = try await context.tokens.verify(presented.token, now: context.time.now(), keys: keys)
        if let csrf = presented.csrf {
            // Flask-JWT-Extended checks the double submit right after decoding, before the token's type.
            guard let claim = token.claims["csrf"]?.stringValue else { throw TokenError.missingClaim("csrf") }
            guard constantTimeEquals(Array(claim.utf8), Array(csrf.utf8)) else {
                throw TokenError.csrf("CSRF double submit tokens do not match")
            }
        }
        switch (kind, token.kind) {
        case (.access, .refresh): throw TokenError.refreshTokenNotAllowed
        case (.refresh, .access): throw TokenError.refreshTokenRequired
        default: break
        }
        let store = context.store
        let revocationKeys = [token.jti.map { RevocationRecord.key(.token, $0) }, token.sid.map { RevocationRecord.key(.session, $0) }]
        if try !store.revocations(revocationKeys.compactMap { $0 }).isEmpty { throw TokenError.revoked }
        guard let id = Int(token.subject), id > 0, let user = try store.user(id: id), user.isActive else {
            throw AuthError.unknownUser
        }
        if isCutOff(token, by: user) { throw TokenError.revoked }
        return Principal(token: token, user: user, keys: keys)
    }

    /// Flask-JWT-Extended's `_decode_jwt_from_request`: the configured locations in order; the first
    /// that holds a token is used (a bad token there is refused, not skipped). Only "no token here"
    /// moves on to the next location; with several locations, the messages are combined as FJE does.
    static func locate(_ kind: TokenKind, in request: Request, _ web: WebSettings) throws(TokenError) -> Presented {
        var missing: [String] = []
        for location in web.locations {
            do throws(TokenError) {
                switch location {
                case .headers:
                    let token = try headerToken(request.headers[web.headerName], name: web.headerName, type: web.headerType)
                    return Presented(token: token, csrf: nil, location: .headers)
                case .cookies: return try cookieToken(kind, request, web)
                case .queryString: return try queryToken(request, web)
                case .json: return try jsonToken(kind, request, web)
                }
            } catch .noAuthorization(let message) {
                missing.append(message)
            }
        }
        guard web.locations.count > 1, let last = web.locations.last else {
            throw .noAuthorization(missing.first ?? "Missing JWT")
        }
        let first = web.locations.dropLast().map(\.rawValue).joined(separator: ", ")
        throw .noAuthorization("Missing JWT in \(first) or \(last.rawValue) (\(missing.joined(separator: "; ")))")
    }

    /// `_decode_jwt_from_cookies`: the token's cookie and, for a method that needs it, the CSRF value
    /// from its header (or form field).
    private static func cookieToken(_ kind: TokenKind, _ request: Request, _ web: WebSettings) throws(TokenError) -> Presented {
        let refresh = kind == .refresh
        let name = refresh ? web.cookies.refreshName : web.cookies.accessName
        guard let token = Cookies.value(named: name, in: request.headers["Cookie"]), !token.isEmpty else {
            throw .noAuthorization("Missing cookie \"\(name)\"")
        }
        guard web.csrf.protect, web.csrf.methods.contains(request.method) else {
            return Presented(token: token, csrf: nil, location: .cookies)
        }
        var csrf = request.headers[refresh ? web.csrf.refreshHeaderName : web.csrf.accessHeaderName]
        if csrf?.isEmpty != false, web.csrf.checkForm {
            csrf = formField(refresh ? web.csrf.refreshFieldName : web.csrf.accessFieldName, of: request)
        }
        guard let csrf, !csrf.isEmpty else { throw .csrf("Missing CSRF token") }
        return Presented(token: token, csrf: csrf, location: .cookies)
    }

    /// `_decode_jwt_from_query_string` (its "paramater" spelling included: clients match on it).
    private static func queryToken(_ request: Request, _ web: WebSettings) throws(TokenError) -> Presented {
        let name = web.queryStringName
        guard let value = request.query[ByteKey(name)], !value.isEmpty else {
            throw .noAuthorization("Missing '\(name)' query paramater")
        }
        let prefix = web.queryStringValuePrefix
        guard value.utf8.starts(with: prefix.utf8) else {
            throw .invalidQueryParameter(
                "Invalid value for query parameter '\(name)'. Expected the value to start with '\(prefix)'")
        }
        return Presented(token: String(decoding: value.utf8.dropFirst(prefix.utf8.count), as: UTF8.self), csrf: nil, location: .queryString)
    }

    /// `_decode_jwt_from_json`: a JSON body's `access_token` (or `refresh_token`) member.
    private static func jsonToken(_ kind: TokenKind, _ request: Request, _ web: WebSettings) throws(TokenError) -> Presented {
        let key = kind == .refresh ? web.refreshJSONKey : web.jsonKey
        let document: JSONValue?
        switch request.body {
        case .json(let value): document = value
        case .raw(let bytes) where RequestBody.isJSON(request.headers["Content-Type"]): document = try? JSONValue.parse(bytes)
        case .none where RequestBody.isJSON(request.headers["Content-Type"]): document = nil
        default: throw .noAuthorization("Invalid content-type. Must be application/json.")
        }
        // Python's truthiness: a missing, null, empty or zero member is no token.
        switch document?.objectValue?[key] {
        case nil, .null?, .string("")?, .bool(false)?, .integer(0)?, .array([])?:
            throw .noAuthorization("Missing \"\(key)\" key in json data.")
        case .number(let number)? where number == 0: throw .noAuthorization("Missing \"\(key)\" key in json data.")
        case .object(let members)? where members.isEmpty: throw .noAuthorization("Missing \"\(key)\" key in json data.")
        case .string(let token)?: return Presented(token: token, csrf: nil, location: .json)
        default: throw .malformed("Invalid token type. Token must be a <class 'bytes'>")
        }
    }

    /// A field of an `application/x-www-form-urlencoded` body (`JWT_CSRF_CHECK_FORM`).
    private static func formField(_ name: String, of request: Request) -> String? {
        guard case .raw(let bytes) = request.body, let type = request.headers["Content-Type"],
            type.asciiLowercased.utf8.starts(with: "application/x-www-form-urlencoded".utf8)
        else { return nil }
        return Target.query(bytes[...])[ByteKey(name)]
    }

    /// A sign-out everywhere, password change or deactivation ends every session that began before it
    /// (the session's `gen` is lower than the user's), except the session that changed the password.
    /// Tokens without `gen` (Flask-era, authfn 1.0) fall back to time: issued at or before the last
    /// cut-off (inclusive: with whole-second `iat`s, a token from that same second may predate it).
    static func isCutOff(_ token: VerifiedToken, by user: UserRecord) -> Bool {
        if let sid = token.sid, sid == user.cutoffExemptSession { return false }
        if let generation = token.session?.generation { return generation < user.cutoffGeneration }
        guard let cutoff = user.tokensValidAfter else { return false }
        return (token.issuedAt ?? .min) <= cutoff
    }

    /// Flask-JWT-Extended's `_decode_jwt_from_headers`: comma-separated credentials, exactly one
    /// of which must use the configured scheme (`Bearer`) and carry exactly one token. Works on bytes,
    /// with Python's ASCII whitespace (`str.split()`'s, for the ASCII range); header values are ASCII in
    /// practice, and a Unicode property lookup per character was most of the cost of an authenticated
    /// request.
    static func headerToken(_ header: String?, name: String = "Authorization", type: String = "Bearer") throws(TokenError) -> String {
        // The header almost every client sends, `Bearer <token>` with a token of base64url and dots,
        // needs none of the splitting below.
        var text = header ?? ""
        let prefix = type + " "
        let simple = text.withUTF8 { utf8 -> String? in
            let skip = prefix.utf8.count
            guard utf8.count > skip, utf8.starts(with: prefix.utf8), utf8[skip...].allSatisfy(isTokenCharacter) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: utf8[skip...]), as: UTF8.self)
        }
        if let simple { return simple }
        let bytes = Array(text.utf8)
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) || bytes[start] == UInt8(ascii: ",") { start += 1 }
        while end > start, isSpace(bytes[end - 1]) || bytes[end - 1] == UInt8(ascii: ",") { end -= 1 }
        guard start < end else { throw .noAuthorization("Missing \(name) Header") }
        var bearer: ArraySlice<UInt8>?
        var bearers = 0
        for credential in bytes[start..<end].split(separator: UInt8(ascii: ",")) {
            let words = credential.split(whereSeparator: isSpace)
            if let scheme = words.first, scheme.elementsEqual(type.utf8) {
                bearers += 1
                bearer = credential
            }
        }
        guard bearers == 1, let bearer else {
            throw .noAuthorization("Missing '\(type)' type in '\(name)' header. Expected '\(name): \(type) <JWT>'")
        }
        let parts = bearer.split(whereSeparator: isSpace)
        guard parts.count == 2 else { throw .badAuthorizationHeader("Bad \(name) header. Expected '\(name): \(type) <JWT>'") }
        return String(decoding: parts[1], as: UTF8.self)
    }

    /// What a JWT is made of: base64url and the dots between its segments.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default: false
        }
    }

    /// Python's whitespace in the ASCII range: tab, line feed, vertical tab, form feed, carriage
    /// return, the four separators U+001C–U+001F, and space.
    private static func isSpace(_ byte: UInt8) -> Bool {
        (0x09...0x0D).contains(byte) || (0x1C...0x20).contains(byte)
    }
}
