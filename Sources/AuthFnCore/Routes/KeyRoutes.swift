import Crypto

/// The published keys: the JWKS (RFC 7517) and the OpenID discovery document that points at it.
enum KeyRoutes {
    /// `GET /.well-known/jwks.json`: every standby, current and previous key (and `JWT_PRIVATE_KEY`'s
    /// public half), public parameters only. Cacheable for `AUTHFN_JWKS_MAX_AGE` by anyone, readable
    /// from any origin.
    static func jwks(_ request: Request, _ context: Context) async throws -> Response {
        let set = try KeyPublication.jwks(ring: context.store.keyRing(), configured: context.tokens.keys.configured)
        return published(set, request, context)
    }

    /// `GET /.well-known/openid-configuration`, when `JWT_ENCODE_ISSUER` and `AUTHFN_PUBLIC_URL` are set
    /// (404 otherwise): what a resource server such as API Gateway's JWT authorizer reads to find the
    /// JWKS for tokens whose `iss` is the issuer.
    static func openIDConfiguration(_ request: Request, _ context: Context) async throws -> Response {
        let settings = context.tokens.keys
        guard let issuer = settings.issuer, let base = settings.publicURL else { throw RoutingError.notFound }
        let algorithms = try KeyPublication.algorithms(ring: context.store.keyRing(), configured: settings.configured)
        let document: JSONValue = [
            "issuer": .string(issuer),
            "jwks_uri": .string(base + "/.well-known/jwks.json"),
            "id_token_signing_alg_values_supported": .array(algorithms.map(JSONValue.string)),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        ]
        return published(document, request, context)
    }

    /// A public, cacheable document: `Cache-Control`, a strong `ETag` (its SHA-256, 128 bits), 304 when
    /// `If-None-Match` names it, and `Access-Control-Allow-Origin: *` (public keys are no secret, and a
    /// browser on any origin may verify with them).
    static func published(_ body: JSONValue, _ request: Request, _ context: Context) -> Response {
        let tag = "\"" + Base64URL.encode(SHA256.hash(data: body.encoded()).prefix(16)) + "\""
        let headers: Headers = [
            "Cache-Control": "public, max-age=\(context.tokens.keys.jwksMaxAge)", "ETag": tag, "Access-Control-Allow-Origin": "*",
        ]
        if let condition = request.headers["If-None-Match"], Self.matches(condition, tag) { return .notModified(headers: headers) }
        return Response(status: 200, headers: headers, body: body)
    }

    /// RFC 9110 §13.1.2: `*`, or a comma-separated list of entity tags compared weakly (`W/` ignored).
    /// Linear in the header's length.
    static func matches(_ condition: String, _ tag: String) -> Bool {
        condition.utf8.split(separator: UInt8(ascii: ",")).contains { item in
            var bytes = item.drop { $0 == 0x20 || $0 == 0x09 }
            while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
            if bytes.elementsEqual("*".utf8) { return true }
            if bytes.starts(with: "W/".utf8) { bytes = bytes.dropFirst(2) }
            return bytes.elementsEqual(tag.utf8)
        }
    }
}

/// The public side of the keys, as the routes and `authfn keys jwks` print it.
public enum KeyPublication {
    /// `{"keys": [...]}`: the configured key first, then the ring's published keys in the order they
    /// were added. A stored key whose public key cannot be read is a corrupt store (500), not a
    /// shorter set.
    public static func jwks(ring: KeyRing, configured: ConfiguredKey?) throws -> JSONValue {
        var keys: [JSONValue] = []
        var seen: Set<String> = []
        if let configured {
            keys.append(.object(configured.privateKey.publicKey.jwk(kid: configured.kid)))
            seen.insert(configured.kid)
        }
        for record in ring.published where seen.insert(record.kid).inserted {
            do {
                keys.append(.object(try record.publicSigningKey().jwk(kid: record.kid)))
            } catch {
                throw StoreError.corrupt(path: "key ring", detail: error.description)
            }
        }
        return ["keys": .array(keys)]
    }

    /// The algorithms of the published keys, each once, sorted.
    public static func algorithms(ring: KeyRing, configured: ConfiguredKey?) throws -> [String] {
        Set(ring.published.map(\.alg) + (configured.map { [$0.algorithm.rawValue] } ?? [])).sorted()
    }
}
