/// CGI (RFC 3875) and OpenFaaS classic watchdog requests, read from the environment.
public enum CGI {
    public enum Flavor: Sendable, Equatable {
        /// `GATEWAY_INTERFACE`, `REQUEST_METHOD`, `PATH_INFO`, `HTTP_*`; answered with a `Status:` header.
        case cgi
        /// OpenFaaS classic: `Http_Method`, `Http_Path`, `Http_*`; the watchdog sends stdout as a 200 body.
        case openFaaS
    }

    /// Which flavour the environment describes, if any.
    public static func flavor(_ environment: [String: String]) -> Flavor? {
        if environment["GATEWAY_INTERFACE"] != nil { return .cgi }
        if environment["Http_Method"] != nil { return .openFaaS }
        return nil
    }

    /// The request head the environment describes, and how many body bytes to read from stdin
    /// (`nil`: read to end of input, as the OpenFaaS watchdog closes it).
    public static func head(_ environment: [String: String], flavor: Flavor) throws(HTTPError) -> (Request, Int?) {
        var headers = Headers()
        let method: String
        let path: String
        let query: [ByteKey: String]
        var length: Int?
        switch flavor {
        case .cgi:
            method = environment["REQUEST_METHOD"] ?? ""
            path = environment["PATH_INFO"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
            query = Target.query(environment["QUERY_STRING"] ?? "")
            for (name, value) in environment where name.hasPrefix("HTTP_") {
                headers[headerName(name.dropFirst(5))] = value
            }
            if let type = environment["CONTENT_TYPE"], !type.isEmpty { headers["Content-Type"] = type }
            if let text = environment["CONTENT_LENGTH"], !text.isEmpty {
                guard text.allSatisfy(\.isASCIIDigit), text.count <= 18, let value = Int(text) else {
                    throw .badRequest("invalid CONTENT_LENGTH")
                }
                length = value
            } else {
                length = 0
            }
        case .openFaaS:
            method = environment["Http_Method"] ?? ""
            path = environment["Http_Path"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
            query = Target.query(environment["Http_Query"] ?? "")
            for (name, value) in environment where name.hasPrefix("Http_") {
                let field = name.dropFirst(5)
                if ["Method", "Path", "Query", "ContentLength", "Transfer_Encoding"].contains(String(field)) { continue }
                headers[headerName(field)] = value
            }
        }
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("missing or malformed request method")
        }
        guard path.hasPrefix("/") else { throw .badRequest("the path must start with /") }
        if let length, length > HTTPLimits.bodyBytes { throw .bodyTooLarge(limit: HTTPLimits.bodyBytes) }
        return (Request(method: method.asciiUppercased, path: path, query: query, headers: headers), length)
    }

    /// `HTTP_X_REQUEST_ID` → `X-Request-Id`.
    static func headerName(_ variable: Substring) -> String {
        variable.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: "-")
    }

    /// The CGI response: a `Status:` header, the other headers, a blank line, the body.
    public static func encode(_ response: Response, flavor: Flavor) -> [UInt8] {
        let body = response.hasContent ? response.body.encoded() : []
        guard flavor == .cgi else { return body }
        var head = "Status: \(response.status) \(ReasonPhrase.of(response.status))\r\n"
        for (name, value) in response.headers.all where name.asciiLowercased != "content-length" {
            head += "\(name): \(value)\r\n"
        }
        for cookie in response.cookies { head += "Set-Cookie: \(cookie)\r\n" }
        if response.hasContent { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }
}
