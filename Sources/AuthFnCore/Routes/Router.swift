/// A route: method, path, and the plain function that answers it.
public struct Route: Sendable {
    public typealias Handler = @Sendable (Request, Context) async throws -> Response

    public var method: String
    public var path: String
    public var handler: Handler
}

/// The route table and the lookup that turns a method and path into a handler, a 404 or a 405.
public enum Router {
    public static let routes: [Route] = [
        Route(method: "GET", path: "/", handler: UserRoutes.home),
        Route(method: "GET", path: "/openapi.json", handler: OpenAPIDocument.serve),
        Route(method: "GET", path: "/.well-known/jwks.json", handler: KeyRoutes.jwks),
        Route(method: "GET", path: "/.well-known/openid-configuration", handler: KeyRoutes.openIDConfiguration),
        Route(method: "POST", path: "/v1/user/register", handler: UserRoutes.register),
        Route(method: "POST", path: "/v1/user/login", handler: UserRoutes.login),
        Route(method: "GET", path: "/v1/user/user_info", handler: UserRoutes.userInfo),
        Route(method: "POST", path: "/v1/user/refresh_token", handler: SessionRoutes.refresh),
        Route(method: "POST", path: "/v1/user/signout_access", handler: SessionRoutes.signoutAccess),
        Route(method: "POST", path: "/v1/user/signout_refresh", handler: SessionRoutes.signoutRefresh),
        Route(method: "POST", path: "/v1/user/signout_all", handler: SessionRoutes.signoutAll),
        Route(method: "POST", path: "/v1/user/change_password", handler: PasswordRoutes.changePassword),
        Route(method: "POST", path: "/v1/user/password_reset", handler: RecoveryRoutes.requestReset),
        Route(method: "POST", path: "/v1/user/password_reset/confirm", handler: RecoveryRoutes.confirmReset),
        Route(method: "POST", path: "/v1/user/verify_email", handler: RecoveryRoutes.verifyEmail),
        Route(method: "POST", path: "/v1/user/verify_email/resend", handler: RecoveryRoutes.resendVerification),
    ]

    /// Paths match with or without a trailing slash, as the Flask app's did. HEAD is answered like GET
    /// (the HTTP adapter leaves the body out); OPTIONS, as Flask answers it, with 200 and `Allow`.
    public static func route(method: String, path: String) throws(RoutingError) -> Route {
        let wanted = normalize(path)
        let allowed = try allowedMethods(path: wanted)
        let candidates = routes.filter { $0.path.bytesEqual(wanted) }
        if method == "OPTIONS" {
            let header = allowed.joined(separator: ", ")
            return Route(method: "OPTIONS", path: wanted) { _, _ in Response(status: 200, headers: ["Allow": header], body: [:]) }
        }
        let effective = method == "HEAD" ? "GET" : method
        guard let route = candidates.first(where: { $0.method == effective }) else {
            throw .methodNotAllowed(allowed: allowed)
        }
        return route
    }

    /// The methods a path answers (`OPTIONS` included), sorted; 404 for a path with no route.
    static func allowedMethods(path: String) throws(RoutingError) -> [String] {
        let wanted = normalize(path)
        let candidates = routes.filter { $0.path.bytesEqual(wanted) }
        guard !candidates.isEmpty else { throw .notFound }
        return (candidates.flatMap { $0.method == "GET" ? ["GET", "HEAD"] : [$0.method] } + ["OPTIONS"]).sorted()
    }

    /// The path without trailing slashes (`/` stays `/`), by bytes: linear whatever the path holds.
    static func normalize(_ path: String) -> String {
        guard path.utf8.last == UInt8(ascii: "/"), path.utf8.count > 1 else { return path }
        let bytes = Array(path.utf8)
        var end = bytes.count
        while end > 1, bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
