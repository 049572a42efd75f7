/// What a handler answers: an HTTP status, header fields and a JSON body.
public struct Response: Sendable, Equatable {
    public var status: Int
    public var headers: Headers
    public var body: JSONValue
    /// The user the request acted for, for the log line only; never sent to the client.
    public var subject: String?

    public init(status: Int, headers: Headers = [:], body: JSONValue) {
        self.status = status
        self.headers = headers
        self.headers["Content-Type"] = "application/json"
        self.body = body
    }

    /// `{"message": text}`, the error shape Flask-JWT-Extended and the seed app use.
    public static func message(_ status: Int, _ text: String, headers: Headers = [:]) -> Response {
        Response(status: status, headers: headers, body: ["message": .string(text)])
    }

    /// `{"status":"fail","data":{"msg": text}}`, the seed app's own failure shape.
    public static func fail(_ status: Int, _ text: String, headers: Headers = [:]) -> Response {
        Response(status: status, headers: headers, body: ["status": "fail", "data": ["msg": .string(text)]])
    }
}
