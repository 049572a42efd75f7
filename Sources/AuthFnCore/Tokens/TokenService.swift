import JWTKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Issues and verifies tokens that Flask-JWT-Extended 4 and PyJWT 2 accept, and accepts theirs: HS256
/// with the secret, and ES256, EdDSA or RS256 with the key ring's keys (`KeyRing`) or a key configured
/// as `JWT_PRIVATE_KEY`.
///
/// Signing and signature checks are jwt-kit's. Before jwt-kit sees a token, authfn walks it the way
/// PyJWT does (segments, base64url, header JSON, `alg`), picks the one key the header's `kid` names and
/// requires the header's `alg` to be that key's (jwt-kit would fall back to a default key for an
/// unknown `kid` and does not compare `alg` with the key); after the signature it validates the claims
/// the way PyJWT does, so that clients get the same status and message the Flask app gave them.
public struct TokenService: Sendable {
    public static let algorithm = "HS256"

    /// The secret's HMAC-SHA256, as jwt-kit's algorithm: it signs and (comparing in constant time)
    /// verifies. `nil` only if jwt-kit lost the key it was just given.
    let secretAlgorithm: (any JWTAlgorithm)?
    public var accessLifetime: Int64
    public var refreshLifetime: Int64
    public var keys: KeySettings
    public var claims: ClaimSettings
    private let cache = KeyCache()

    public init(
        secret: [UInt8], accessLifetime: Int64, refreshLifetime: Int64, keys: KeySettings = KeySettings(),
        claims: ClaimSettings = ClaimSettings()
    ) async {
        // HMAC zero-pads keys shorter than its 64-byte block, so padding a short secret to 32 bytes
        // yields the same MACs as the secret itself (RFC 2104 §2) while satisfying jwt-kit's
        // minimum-length assertion. Only secrets allowed by AUTHFN_ALLOW_WEAK_SECRET are that short.
        let key = secret.count < 32 ? secret + [UInt8](repeating: 0, count: 32 - secret.count) : secret
        let collection = JWTKeyCollection()
        await collection.add(hmac: HMACKey(from: key), digestAlgorithm: .sha256)
        self.secretAlgorithm = try? await collection.getKey()
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
        self.keys = keys
        self.claims = claims
    }

    /// The rotation timings for these lifetimes: a retired key's tokens have all expired once the
    /// longer of the two lifetimes has passed.
    public var keyPolicy: KeyPolicy {
        KeyPolicy(jwksMaxAge: keys.jwksMaxAge, longestTokenLifetime: max(accessLifetime, refreshLifetime))
    }

    /// Signs a new token for `subject`, issued at `now`, with the signing key `ring` (and the
    /// configuration) name: `JWT_PRIVATE_KEY` if set, else the ring's current key, else the HS256
    /// secret. HS256, EdDSA and RS256 signing is deterministic: the same arguments give the same token
    /// bytes (rotation relies on that to answer a retried refresh identically; ES256 signatures are
    /// randomised, so there the retry gets the same claims under a new signature). A token of a
    /// session never outlives the session's horizon (`session.expiry`). `csrf` is the double-submit
    /// value of a token that travels in a cookie.
    public func issue(
        subject: String, kind: TokenKind, fresh: Bool, now: Int64, jti: String, session: SessionClaims? = nil,
        keys ring: KeyRing = .empty, csrf: String? = nil
    ) async throws -> String {
        let lifetime = kind == .access ? accessLifetime : refreshLifetime
        var exp = now + lifetime
        if let horizon = session?.expiry { exp = min(exp, horizon) }
        let claims = IssuedClaims(
            fresh: fresh, iat: now, jti: jti, type: kind, sub: subject, nbf: claims.encodeNotBefore ? now : nil, exp: exp,
            sid: session?.id, gen: session?.generation, sxp: session?.expiry, iss: keys.issuer, aud: claims.encodeAudience, csrf: csrf,
            identityClaim: claims.identityClaim)
        if let configured = keys.configured {
            let algorithm = try await cache.signer(configured.kid) { configured.privateKey }
            return try Self.sign(claims.json, with: algorithm, header: configured.algorithm.rawValue, kid: configured.kid)
        }
        if let current = ring.current {
            let algorithm = try await cache.signer(current.kid) { () throws(KeyError) in
                try current.privateSigningKey(sealing: keys.sealing)
            }
            return try Self.sign(claims.json, with: algorithm, header: current.alg, kid: current.kid)
        }
        guard ring.secret.state == .current, let secretAlgorithm else {
            throw StoreError.corrupt(path: "key ring", detail: "no key is current")
        }
        return try Self.sign(claims.json, with: secretAlgorithm, header: Self.algorithm, kid: nil)
    }

    /// A compact JWS: the header (`{"alg":…,"kid":…,"typ":"JWT"}`, sorted keys, as PyJWT writes it) and
    /// the claims serialised by authfn's own JSON writer (compact, sorted keys: PyJWT's bytes too), and
    /// jwt-kit's algorithm signing the two.
    static func sign(_ claims: JSONValue, with algorithm: any JWTAlgorithm, header alg: String, kid: String?) throws -> String {
        var header: JSONObject = ["alg": .string(alg), "typ": "JWT"]
        if let kid { header["kid"] = .string(kid) }
        let input = Base64URL.encode(JSONValue.object(header).encoded()) + "." + Base64URL.encode(claims.encoded())
        return input + "." + Base64URL.encode(try algorithm.sign(Array(input.utf8)))
    }

    /// The horizon of a session whose refresh token is issued at `now`: its expiry plus the lifetime of
    /// an access token refreshed at its last moment.
    public func sessionHorizon(issuedAt now: Int64) -> Int64 { now + refreshLifetime + accessLifetime }

    /// Tokens longer than this are refused before any decoding work.
    public static let maximumTokenBytes = 8192

    /// Verifies `token` at time `now` against the keys `ring` (and the configuration) accept, throwing
    /// the `TokenError` Flask-JWT-Extended would report. A key the store holds but cannot be read
    /// throws `StoreError.corrupt` (a 500), never a token error.
    public func verify(_ token: String, now: Int64, keys ring: KeyRing = .empty) async throws -> VerifiedToken {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maximumTokenBytes else { throw TokenError.malformed("Token is too large") }

        // PyJWT: rsplit on the last ".", then split the signing input on its first ".".
        guard let lastDot = bytes.lastIndex(of: UInt8(ascii: ".")),
            let firstDot = bytes[..<lastDot].firstIndex(of: UInt8(ascii: "."))
        else { throw TokenError.malformed("Not enough segments") }

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
            throw TokenError.malformed("Invalid header string: \(error)")
        }
        let payloadBytes = try Self.decodeSegment(bytes[(firstDot + 1)..<lastDot], name: "payload")
        let signature = try Self.decodeSegment(bytes[(lastDot + 1)...], name: "crypto")

        if let kid = header["kid"], kid.stringValue == nil {
            throw TokenError.malformed("Key ID header parameter must be a string")
        }
        if let crit = header["crit"] {
            guard case .array(let names) = crit, !names.isEmpty else {
                throw TokenError.malformed("Invalid 'crit' header: must be a non-empty list")
            }
            for name in names {
                guard let name = name.stringValue else {
                    throw TokenError.malformed("Invalid 'crit' header: values must be strings")
                }
                throw TokenError.malformed("Unsupported critical extension: \(name)")
            }
        }
        guard let alg = header["alg"] else { throw TokenError.malformed("Algorithm not specified") }
        guard let algorithm = alg.stringValue else { throw TokenError.algorithmNotAllowed }
        let verifier = try await verifier(algorithm: algorithm, kid: header["kid"]?.stringValue, ring: ring)
        // jwt-kit's algorithm checks the signature over the signing input (HMAC compared in constant
        // time); the header and payload are authfn's to parse, once.
        guard (try? verifier.verify(signature, signs: bytes[..<lastDot])) == true else {
            throw TokenError.signatureVerificationFailed
        }

        let claims: JSONObject
        switch Result(catching: { () throws(JSONValue.ParseError) in try JSONValue.parse(payloadBytes) }) {
        case .success(.object(let object)): claims = object
        case .success: throw TokenError.malformed("Invalid payload string: must be a json object")
        case .failure(let error): throw TokenError.malformed("Invalid payload string: \(error)")
        }
        return try Self.validateClaims(claims, now: now, rules: self.claims)
    }

    /// The one key that may verify a token whose header says `algorithm` and `kid`.
    ///
    /// With a `kid`: the configured key or a ring key that verifies (current or previous) with that
    /// thumbprint, and the header's `alg` must be that key's — anything else (an HS256 header naming
    /// an EC key, `none`, a standby, revoked or unknown key) is refused. Without one: HS256 is the
    /// secret's while it verifies (tokens from before the ring, and from Flask), and an asymmetric `alg`
    /// is the configured key's (tokens Flask-JWT-Extended signed with the same `JWT_PRIVATE_KEY`).
    func verifier(algorithm: String, kid: String?, ring: KeyRing) async throws -> any JWTAlgorithm {
        if let allowed = keys.decodeAlgorithms, !allowed.contains(algorithm) { throw TokenError.algorithmNotAllowed }
        let configured = keys.configured
        if let kid {
            if let configured, configured.kid == kid {
                guard algorithm == configured.algorithm.rawValue else { throw TokenError.algorithmNotAllowed }
                return try await cache.verifier(kid) { configured.privateKey.publicKey }
            }
            guard !kid.isEmpty, kid != KeyRecord.secretID, let record = ring.key(kid), record.verifies else {
                throw TokenError.unknownKey
            }
            guard algorithm == record.alg else { throw TokenError.algorithmNotAllowed }
            do {
                return try await cache.verifier(kid) { () throws(KeyError) in try record.publicSigningKey() }
            } catch {
                throw StoreError.corrupt(path: "key ring", detail: error.description)
            }
        }
        if algorithm == Self.algorithm {
            guard ring.secretVerifies, let secretAlgorithm else { throw TokenError.unknownKey }
            return secretAlgorithm
        }
        if let configured, algorithm == configured.algorithm.rawValue {
            return try await cache.verifier(configured.kid) { configured.privateKey.publicKey }
        }
        throw TokenError.algorithmNotAllowed
    }

    /// PyJWT 2's claim checks in its order (iat, nbf, exp with the leeway, then iss and aud when
    /// configured, sub, jti), then Flask-JWT-Extended's (the identity claim must be present).
    static func validateClaims(_ claims: JSONObject, now: Int64, rules: ClaimSettings = ClaimSettings()) throws(TokenError)
        -> VerifiedToken
    {
        let leeway = rules.leeway
        var issuedAt: Int64?
        if let iat = claims["iat"] {
            guard let value = pythonInt(iat) else { throw .malformed("Issued At claim (iat) must be an integer.") }
            if value > now.addingReportingOverflow(leeway).partialValue { throw .notYetValid(claim: "iat") }
            issuedAt = value
        }
        if let nbf = claims["nbf"] {
            guard let value = pythonInt(nbf) else { throw .malformed("Not Before claim (nbf) must be an integer.") }
            if value > now.addingReportingOverflow(leeway).partialValue { throw .notYetValid(claim: "nbf") }
        }
        var expiresAt: Int64?
        if let exp = claims["exp"] {
            guard let value = pythonInt(exp) else {
                throw .malformed("Expiration Time claim (exp) must be an integer.")
            }
            if value <= now.subtractingReportingOverflow(leeway).partialValue { throw .expired }
            expiresAt = value
        }
        // `iss` and `aud` are checked only when configured, as Flask-JWT-Extended does.
        if let issuer = rules.decodeIssuer {
            guard let iss = claims["iss"] else { throw .malformed("Token is missing the \"iss\" claim") }
            guard let text = iss.stringValue else { throw .malformed("Payload Issuer (iss) must be a string") }
            guard text.bytesEqual(issuer) else { throw .malformed("Invalid issuer") }
        }
        if let audiences = rules.decodeAudience {
            let named: [String]
            switch claims["aud"] {
            case nil, .null?, .string("")?, .array([])?: throw .malformed("Token is missing the \"aud\" claim")
            case .string(let one)?: named = [one]
            case .array(let items)?:
                let texts = items.compactMap(\.stringValue)
                guard texts.count == items.count else { throw .malformed("Invalid claim format in token") }
                named = texts
            default: throw .malformed("Invalid claim format in token")
            }
            guard audiences.contains(where: { audience in named.contains { $0.bytesEqual(audience) } }) else {
                throw .malformed("Audience doesn't match")
            }
        }
        if let sub = claims["sub"], sub.stringValue == nil { throw .malformed("Subject must be a string") }
        if let jti = claims["jti"], jti.stringValue == nil { throw .malformed("JWT ID must be a string") }
        let subject: String
        switch claims[rules.identityClaim] {
        case .string(let text)?: subject = text
        // A custom identity claim may hold the id as a number, as Flask apps often wrote it.
        case .integer(let number)? where rules.identityClaim != "sub": subject = String(number)
        case nil: throw .missingClaim(rules.identityClaim)
        default: throw .malformed("Subject must be a string")
        }

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
        var valid = true
        let output = [UInt8](unsafeUninitializedCapacity: segment.count * 3 / 4) { buffer, initialized in
            var at = 0
            var accumulator: UInt32 = 0
            var bits: UInt32 = 0
            for byte in segment {
                let value = base64URLValues[Int(byte)]
                guard value < 64 else {
                    valid = false
                    break
                }
                accumulator = accumulator << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    buffer[at] = UInt8(truncatingIfNeeded: accumulator >> bits)
                    at += 1
                    accumulator &= (1 << bits) - 1
                }
            }
            // 2 or 4 bits left over: they must be zero, or another spelling of these bytes would verify too.
            if accumulator != 0 { valid = false }
            initialized = at
        }
        guard valid else { throw .malformed("Invalid \(name) padding") }
        return output
    }

    /// Each byte's base64url value, or 64 for a byte outside the alphabet.
    private static let base64URLValues: [UInt8] = (0...255).map { base64URLValue(UInt8($0)) ?? 64 }

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
