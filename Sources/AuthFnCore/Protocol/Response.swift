/// What a handler answers: an HTTP status, header fields and a JSON body.
public struct Response: Sendable, Equatable {
    public var status: Int
    public var headers: Headers
    public var body: JSONValue
    /// `Set-Cookie` values, one header each (HTTP fields cannot fold them into one line).
    public var cookies: [String] = []
    /// Work done after the answer has been written (`App.perform`): mail, so that how long it takes
    /// cannot tell a client anything.
    public var deferred: [DeferredWork] = []
    /// The user the request acted for, for the log line only; never sent to the client.
    public var subject: String?

    public init(status: Int, headers: Headers = [:], body: JSONValue) {
        self.status = status
        self.headers = headers
        self.headers["Content-Type"] = "application/json"
        self.body = body
    }

    /// 304 Not Modified: the validators and caching headers, no content (and so no Content-Type).
    public static func notModified(headers: Headers) -> Response {
        var response = Response(status: 304, headers: headers, body: .null)
        response.headers["Content-Type"] = nil
        return response
    }

    /// Whether the status allows content (RFC 9110 §6.4.1): not 1xx, 204 or 304. Adapters send no body,
    /// and no Content-Length, for the others.
    public var hasContent: Bool { status >= 200 && status != 204 && status != 304 }

    /// Responses that carry tokens must not be stored by any cache (RFC 6749 §5.1).
    static let tokenHeaders: Headers = ["Cache-Control": "no-store", "Pragma": "no-cache"]

    /// `{"message": text}`, the error shape Flask-JWT-Extended and the seed app use.
    public static func message(_ status: Int, _ text: String, headers: Headers = [:]) -> Response {
        Response(status: status, headers: headers, body: ["message": .string(text)])
    }

    /// `{"status":"fail","data":{"msg": text}}`, the seed app's own failure shape.
    public static func fail(_ status: Int, _ text: String, headers: Headers = [:]) -> Response {
        Response(status: status, headers: headers, body: ["status": "fail", "data": ["msg": .string(text)]])
    }
}
