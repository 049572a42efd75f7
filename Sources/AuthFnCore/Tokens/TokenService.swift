import JWTKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Issues and verifies HS256 tokens that Flask-JWT-Extended 4 and PyJWT 2 accept, and accepts theirs.
///
/// Signing and signature checks are jwt-kit's. Before jwt-kit sees a token, authfn walks it the way
/// PyJWT does (segments, base64url, header JSON, `alg`), and after the signature it validates the claims
/// the way PyJWT does, so that clients get the same status and message the Flask app gave them.
public struct TokenService: Sendable {
    public static let algorithm = "HS256"

    let keys: JWTKeyCollection
    public var accessLifetime: Int64
    public var refreshLifetime: Int64

    public init(secret: [UInt8], accessLifetime: Int64, refreshLifetime: Int64) async {
        // HMAC zero-pads keys shorter than its 64-byte block, so padding a short secret to 32 bytes
        // yields the same MACs as the secret itself (RFC 2104 §2) while satisfying jwt-kit's
        // minimum-length assertion. Only secrets allowed by AUTHFN_ALLOW_WEAK_SECRET are that short.
        let key = secret.count < 32 ? secret + [UInt8](repeating: 0, count: 32 - secret.count) : secret
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let keys = JWTKeyCollection(defaultJWTSerializer: DefaultJWTSerializer(jsonEncoder: encoder))
        await keys.add(
            hmac: HMACKey(from: key), digestAlgorithm: .sha256,
            serializer: DefaultJWTSerializer(jsonEncoder: encoder))
        self.keys = keys
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
    }

    /// Signs a new token for `subject`, issued at `now`. Signing is deterministic: the same arguments
    /// give the same token bytes (rotation relies on that to answer a retried refresh identically).
    /// A token of a session never outlives the session's horizon (`session.expiry`).
    public func issue(
        subject: String, kind: TokenKind, fresh: Bool, now: Int64, jti: String, session: SessionClaims? = nil
    ) async throws -> String {
        let lifetime = kind == .access ? accessLifetime : refreshLifetime
        var exp = now + lifetime
        if let horizon = session?.expiry { exp = min(exp, horizon) }
        let claims = IssuedClaims(
            fresh: fresh, iat: now, jti: jti, type: kind, sub: subject, nbf: now, exp: exp, sid: session?.id,
            gen: session?.generation, sxp: session?.expiry)
        // jwt-kit fills in {"alg":"HS256","typ":"JWT"}; sorted keys make it PyJWT's exact header bytes.
        return try await keys.sign(claims)
    }

    /// The horizon of a session whose refresh token is issued at `now`: its expiry plus the lifetime of
    /// an access token refreshed at its last moment.
    public func sessionHorizon(issuedAt now: Int64) -> Int64 { now + refreshLifetime + accessLifetime }

    /// Tokens longer than this are refused before any decoding work.
    public static let maximumTokenBytes = 8192

    /// Verifies `token` at time `now`, throwing the `TokenError` Flask-JWT-Extended would report.
    public func verify(_ token: String, now: Int64) async throws(TokenError) -> VerifiedToken {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maximumTokenBytes else { throw .malformed("Token is too large") }

        // PyJWT: rsplit on the last ".", then split the signing input on its first ".".
        guard let lastDot = bytes.lastIndex(of: UInt8(ascii: ".")),
            let firstDot = bytes[..<lastDot].firstIndex(of: UInt8(ascii: "."))
        else { throw .malformed("Not enough segments") }

        let headerBytes = try Self.decodeSegment(bytes[..<firstDot], name: "header")
        let header: JSONObject
        do {
            guard case .object(let object) = try JSONValue.parse(headerBytes) else {
                throw TokenError.malformed("Invalid header string: must be a json object")
            }
            header = object
        } catch let error as TokenError {
            throw error
        } catch {
            throw .malformed("Invalid header string: \(error)")
        }
        let payloadBytes = try Self.decodeSegment(bytes[(firstDot + 1)..<lastDot], name: "payload")
        _ = try Self.decodeSegment(bytes[(lastDot + 1)...], name: "crypto")

        if let kid = header["kid"], kid.stringValue == nil {
            throw .malformed("Key ID header parameter must be a string")
        }
        if let crit = header["crit"] {
            guard case .array(let names) = crit, !names.isEmpty else {
                throw .malformed("Invalid 'crit' header: must be a non-empty list")
            }
            for name in names {
                guard let name = name.stringValue else {
                    throw .malformed("Invalid 'crit' header: values must be strings")
                }
                throw .malformed("Unsupported critical extension: \(name)")
            }
        }
        guard let alg = header["alg"] else { throw .malformed("Algorithm not specified") }
        guard alg == .string(Self.algorithm) else { throw .algorithmNotAllowed }

        do {
            _ = try await keys.verify(bytes, as: SignatureOnly.self)
        } catch {
            throw .signatureVerificationFailed
        }

        let claims: JSONObject
        switch Result(catching: { () throws(JSONValue.ParseError) in try JSONValue.parse(payloadBytes) }) {
        case .success(.object(let object)): claims = object
        case .success: throw .malformed("Invalid payload string: must be a json object")
        case .failure(let error): throw .malformed("Invalid payload string: \(error)")
        }
        return try Self.validateClaims(claims, now: now)
    }

    /// PyJWT 2's claim checks in its order (iat, nbf, exp, sub, jti), then Flask-JWT-Extended's.
    static func validateClaims(_ claims: JSONObject, now: Int64) throws(TokenError) -> VerifiedToken {
        if let iat = claims["iat"] {
            guard let value = pythonInt(iat) else { throw .malformed("Issued At claim (iat) must be an integer.") }
            if value > now { throw .notYetValid(claim: "iat") }
        }
        if let nbf = claims["nbf"] {
            guard let value = pythonInt(nbf) else { throw .malformed("Not Before claim (nbf) must be an integer.") }
            if value > now { throw .notYetValid(claim: "nbf") }
        }
        var expiresAt: Int64?
        var issuedAt: Int64?
        if let iat = claims["iat"] { issuedAt = pythonInt(iat) }
        if let exp = claims["exp"] {
            guard let value = pythonInt(exp) else {
                throw .malformed("Expiration Time claim (exp) must be an integer.")
            }
            if value <= now { throw .expired }
            expiresAt = value
        }
        // `aud` and `iss` are not checked: Flask-JWT-Extended verifies them only when an audience or
        // issuer is configured, and authfn has none to check against.
        if let sub = claims["sub"], sub.stringValue == nil { throw .malformed("Subject must be a string") }
        if let jti = claims["jti"], jti.stringValue == nil { throw .malformed("JWT ID must be a string") }
        guard let subject = claims["sub"]?.stringValue else { throw .missingClaim("sub") }

        let kind: TokenKind = claims["type"]?.stringValue == TokenKind.refresh.rawValue ? .refresh : .access
        return VerifiedToken(
            subject: subject, kind: kind, fresh: claims["fresh"] == .bool(true), jti: claims["jti"]?.stringValue,
            expiresAt: expiresAt, issuedAt: issuedAt, sid: claims["sid"]?.stringValue, claims: claims)
    }

    /// Python's `int(x)` as PyJWT applies it to time claims: numbers truncate, booleans are 0/1,
    /// strings must spell an integer; anything else is refused.
    static func pythonInt(_ value: JSONValue) -> Int64? {
        switch value {
        case .integer(let number): return number
        case .number(let number):
            guard number.isFinite, abs(number) < 9.2e18 else { return nil }
            return Int64(number.rounded(.towardZero))
        case .bool(let flag): return flag ? 1 : 0
        case .string(let text): return Int64(text.trimming(Trim.whitespace))
        default: return nil
        }
    }

    /// Each segment must be canonical unpadded base64url (RFC 7515 §2): the URL-safe alphabet, no `=`,
    /// no impossible length, and zero bits after the last byte. PyJWT accepts padding and ignores the
    /// spare bits, so one signature has several spellings that all verify; authfn accepts exactly one.
    /// Refusals use PyJWT's words for a bad segment ("Invalid header padding", …).
    static func decodeSegment(_ segment: ArraySlice<UInt8>, name: String) throws(TokenError) -> [UInt8] {
        guard segment.count % 4 != 1 else { throw .malformed("Invalid \(name) padding") }
        var output: [UInt8] = []
        output.reserveCapacity(segment.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in segment {
            guard let value = base64URLValue(byte) else { throw .malformed("Invalid \(name) padding") }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // 2 or 4 bits left over: they must be zero, or another spelling of these bytes would verify too.
        guard accumulator == 0 else { throw .malformed("Invalid \(name) padding") }
        return output
    }

    private static func base64URLValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
