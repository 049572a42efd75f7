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
    public func issue(
        subject: String, kind: TokenKind, fresh: Bool, now: Int64, jti: String, sid: String? = nil
    ) async throws -> String {
        let lifetime = kind == .access ? accessLifetime : refreshLifetime
        let claims = IssuedClaims(
            fresh: fresh, iat: now, jti: jti, type: kind, sub: subject, nbf: now, exp: now + lifetime, sid: sid)
        // jwt-kit fills in {"alg":"HS256","typ":"JWT"}; sorted keys make it PyJWT's exact header bytes.
        return try await keys.sign(claims)
    }

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
        let header: [String: JSONValue]
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

        let claims: [String: JSONValue]
        switch Result(catching: { () throws(JSONValue.ParseError) in try JSONValue.parse(payloadBytes) }) {
        case .success(.object(let object)): claims = object
        case .success: throw .malformed("Invalid payload string: must be a json object")
        case .failure(let error): throw .malformed("Invalid payload string: \(error)")
        }
        return try Self.validateClaims(claims, now: now)
    }

    /// PyJWT 2's claim checks in its order (iat, nbf, exp, sub, jti), then Flask-JWT-Extended's.
    static func validateClaims(_ claims: [String: JSONValue], now: Int64) throws(TokenError) -> VerifiedToken {
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
        if let aud = claims["aud"], aud != .null, aud != .string(""), aud != .array([]) {
            throw .malformed("Invalid audience")
        }
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
        case .number(let number):
            guard number.isFinite, abs(number) < 9.2e18 else { return nil }
            return Int64(number.rounded(.towardZero))
        case .bool(let flag): return flag ? 1 : 0
        case .string(let text): return Int64(text.trimming(Trim.whitespace))
        default: return nil
        }
    }

    private static let base64URLAlphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// PyJWT's segment decoding: up to two trailing "=", URL-safe alphabet only, no impossible lengths.
    static func decodeSegment(_ segment: ArraySlice<UInt8>, name: String) throws(TokenError) -> [UInt8] {
        var stripped = segment
        var padding = 0
        while stripped.last == UInt8(ascii: "=") {
            stripped.removeLast()
            padding += 1
        }
        guard padding <= 2, padding == 0 || segment.count % 4 == 0, stripped.count % 4 != 1,
            stripped.allSatisfy({ base64URLAlphabet.contains($0) })
        else { throw .malformed("Invalid \(name) padding") }
        var standard = stripped.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "-"): UInt8(ascii: "+")
            case UInt8(ascii: "_"): UInt8(ascii: "/")
            default: byte
            }
        }
        while standard.count % 4 != 0 { standard.append(UInt8(ascii: "=")) }
        guard let data = Data(base64Encoded: Data(standard)) else { throw .malformed("Invalid \(name) padding") }
        return Array(data)
    }
}
