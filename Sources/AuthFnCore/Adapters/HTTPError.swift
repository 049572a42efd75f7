/// Transport-level refusals from the HTTP and CGI adapters, each with its proper status.
public enum HTTPError: Error, Equatable, Sendable {
    /// Request line or a header field is malformed (400).
    case badRequest(String)
    /// The header block is larger than the limit (431).
    case headersTooLarge(limit: Int)
    /// The declared body is larger than the limit (413).
    case bodyTooLarge(limit: Int)
    /// A body without a Content-Length (chunked, or bytes with no length) (411).
    case lengthRequired
    /// Not HTTP/1.0 or HTTP/1.1 (505).
    case versionNotSupported(String)
    /// The client stopped sending before the request was complete (408).
    case timeout(seconds: Int)

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .headersTooLarge: 431
        case .bodyTooLarge: 413
        case .lengthRequired: 411
        case .versionNotSupported: 505
        case .timeout: 408
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let detail): "Bad request: \(detail)"
        case .headersTooLarge(let limit): "Request header fields too large: the limit is \(limit) bytes."
        case .bodyTooLarge(let limit): "Request body too large: the limit is \(limit) bytes."
        case .lengthRequired: "Length required: send the body with a Content-Length header (chunked encoding is not supported)."
        case .versionNotSupported(let version): "HTTP version not supported: \(version); use HTTP/1.1."
        case .timeout(let seconds): "Request timeout: the request was not complete within \(seconds) second\(seconds == 1 ? "" : "s")."
        }
    }
}

/// Limits shared by the HTTP and CGI adapters.
public enum HTTPLimits {
    public static let headerBytes = 16 * 1024
    public static let bodyBytes = 64 * 1024
}

/// Reason phrases for the statuses authfn sends.
enum ReasonPhrase {
    static func of(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        case 507: "Insufficient Storage"
        default: "Status \(status)"
        }
    }
}
