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

    static func require(_ kind: TokenKind, _ request: Request, _ context: Context) async throws -> Principal {
        let raw = try bearerToken(from: request.headers["Authorization"])
        let keys = try context.store.keyRing()
        let token = try await context.tokens.verify(raw, now: context.time.now(), keys: keys)
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
    /// of which must use the `Bearer` scheme and carry exactly one token. Works on bytes, with Python's
    /// ASCII whitespace (`str.split()`'s, for the ASCII range); header values are ASCII in practice, and
    /// a Unicode property lookup per character was most of the cost of an authenticated request.
    static func bearerToken(from header: String?) throws(TokenError) -> String {
        // The header almost every client sends, `Bearer <token>` with a token of base64url and dots,
        // needs none of the splitting below.
        var text = header ?? ""
        let simple = text.withUTF8 { utf8 -> String? in
            guard utf8.count > 7, utf8.starts(with: "Bearer ".utf8), utf8[7...].allSatisfy(isTokenCharacter) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: utf8[7...]), as: UTF8.self)
        }
        if let simple { return simple }
        let bytes = Array(text.utf8)
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) || bytes[start] == UInt8(ascii: ",") { start += 1 }
        while end > start, isSpace(bytes[end - 1]) || bytes[end - 1] == UInt8(ascii: ",") { end -= 1 }
        guard start < end else { throw .missingAuthorizationHeader }
        var bearer: ArraySlice<UInt8>?
        var bearers = 0
        for credential in bytes[start..<end].split(separator: UInt8(ascii: ",")) {
            let words = credential.split(whereSeparator: isSpace)
            if let scheme = words.first, scheme.elementsEqual("Bearer".utf8) {
                bearers += 1
                bearer = credential
            }
        }
        guard bearers == 1, let bearer else { throw .missingBearer }
        let parts = bearer.split(whereSeparator: isSpace)
        guard parts.count == 2 else { throw .badAuthorizationHeader }
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
