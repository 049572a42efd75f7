/// Cross-origin access for pages on other origins (`AUTHFN_CORS_ORIGINS`): preflight answers, and the
/// headers on every actual response (errors included, so a page can read a 401). A listed origin gets
/// its own origin back with credentials (cookies); `*` lets any origin read responses without them; an
/// unlisted origin gets nothing, so the browser keeps the response from the page. The JWKS is public
/// whatever the setting: it always answers `Access-Control-Allow-Origin: *`.
enum CORS {
    static let jwksPath = "/.well-known/jwks.json"

    /// Whether `request` is a CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    static func isPreflight(_ request: Request) -> Bool {
        request.method == "OPTIONS" && request.headers["Origin"] != nil && request.headers["Access-Control-Request-Method"] != nil
    }

    /// The answer to a preflight for a route that exists: 204 with what the browser asks about, or
    /// `nil` (answer it as a plain `OPTIONS`) when the origin may not call authfn.
    static func preflight(_ request: Request, allowed methods: [String], _ web: WebSettings) -> Response? {
        guard var headers = originHeaders(request, web, path: Router.normalize(request.path)) else { return nil }
        headers["Access-Control-Allow-Methods"] = methods.joined(separator: ", ")
        headers["Access-Control-Allow-Headers"] = allowedHeaders(web).joined(separator: ", ")
        headers["Access-Control-Max-Age"] = String(web.cors.maxAge)
        var response = Response(status: 204, headers: headers, body: .null)
        response.headers["Content-Type"] = nil
        return response
    }

    /// Adds the CORS headers an actual response to `request` carries.
    static func decorate(_ response: inout Response, for request: Request, _ web: WebSettings) {
        // The JWKS route sets its own `*`.
        guard !response.headers.contains("Access-Control-Allow-Origin") else { return }
        guard let headers = originHeaders(request, web, path: Router.normalize(request.path)) else {
            // A response that depends on the origin says so, so that no cache hands it to another.
            if case .listed? = web.cors.origins { response.headers["Vary"] = "Origin" }
            return
        }
        for (name, value) in headers.all { response.headers[name] = value }
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, WWW-Authenticate"
    }

    /// `Access-Control-Allow-Origin` (and `-Allow-Credentials`, `Vary`) for the request's origin, or
    /// `nil` when it gets none.
    private static func originHeaders(_ request: Request, _ web: WebSettings, path: String) -> Headers? {
        guard let origin = request.headers["Origin"] else { return nil }
        if path.bytesEqual(jwksPath) { return ["Access-Control-Allow-Origin": "*"] }
        switch web.cors.origins {
        case nil: return nil
        case .any?: return ["Access-Control-Allow-Origin": "*"]
        case .listed(let origins)?:
            // Compared as bytes: `String` equality normalises, which costs quadratic time on a hostile
            // run of combining marks.
            let lowered = origin.asciiLowercased
            guard origins.contains(where: { $0.bytesEqual(lowered) }) else { return nil }
            return ["Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"]
        }
    }

    /// The request headers a page may send: JSON bodies, the token header and the CSRF headers.
    static func allowedHeaders(_ web: WebSettings) -> [String] {
        var names: [String] = []
        for name in [
            "Content-Type", "Authorization", "X-CSRF-TOKEN", web.headerName, web.csrf.accessHeaderName, web.csrf.refreshHeaderName,
        ]
        where !names.contains(where: { $0.asciiLowercased == name.asciiLowercased }) {
            names.append(name)
        }
        return names
    }
}
