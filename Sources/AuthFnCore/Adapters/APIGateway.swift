#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// AWS API Gateway / Lambda proxy events (payload format 1.0 and 2.0) in, their response shape out.
enum APIGateway {
    static func decodeV1(_ event: JSONObject) throws(EnvelopeError) -> Request {
        guard let method = event["httpMethod"]?.stringValue, HTTPToken.isToken(method) else {
            throw .wrongType(field: "httpMethod", expected: "an HTTP method")
        }
        guard let path = event["path"]?.stringValue, path.utf8.first == UInt8(ascii: "/") else {
            throw .wrongType(field: "path", expected: "a string starting with \"/\"")
        }
        // API Gateway sends each header in both objects; `headers` holds the last value of each.
        var headers = Headers()
        for (name, values) in try strings(event["multiValueHeaders"], "multiValueHeaders", multi: true, headers: true) {
            headers[name] = values.joined(separator: name.asciiLowercased == "cookie" ? "; " : ", ")
        }
        for (name, values) in try strings(event["headers"], "headers", multi: false, headers: true) { headers[name] = values.first }
        var query: [ByteKey: String] = [:]
        for (name, values) in try strings(event["multiValueQueryStringParameters"], "multiValueQueryStringParameters", multi: true) {
            query[ByteKey(name)] = values.first
        }
        for (name, values) in try strings(event["queryStringParameters"], "queryStringParameters", multi: false) {
            query[ByteKey(name)] = values.first
        }
        return Request(
            method: method.asciiUppercased, path: path, query: query, headers: headers, body: try body(event),
            clientAddress: try sourceIP(event["requestContext"]?["identity"]?["sourceIp"], "requestContext.identity.sourceIp"))
    }

    static func decodeV2(_ event: JSONObject) throws(EnvelopeError) -> Request {
        guard let method = event["requestContext"]?["http"]?["method"]?.stringValue, HTTPToken.isToken(method) else {
            throw .wrongType(field: "requestContext.http.method", expected: "an HTTP method")
        }
        guard let path = event["rawPath"]?.stringValue, path.utf8.first == UInt8(ascii: "/") else {
            throw .wrongType(field: "rawPath", expected: "a string starting with \"/\"")
        }
        var headers = Headers()
        for (name, values) in try strings(event["headers"], "headers", multi: false, headers: true) { headers[name] = values.first }
        if let cookies = event["cookies"], cookies != .null {
            guard let list = cookies.arrayValue?.compactMap(\.stringValue), list.count == cookies.arrayValue?.count else {
                throw .wrongType(field: "cookies", expected: "an array of strings")
            }
            if !list.isEmpty { headers["Cookie"] = list.joined(separator: "; ") }
        }
        let rawQuery = event["rawQueryString"]?.stringValue ?? ""
        return Request(
            method: method.asciiUppercased, path: path, query: Target.query(rawQuery), headers: headers, body: try body(event),
            clientAddress: try sourceIP(event["requestContext"]?["http"]?["sourceIp"], "requestContext.http.sourceIp"))
    }

    /// The client address API Gateway saw (the TCP peer, or the first address of a trusted
    /// `X-Forwarded-For` chain as API Gateway itself computes it), used for throttling and the log.
    /// Anything that is not a short run of printable ASCII is ignored rather than trusted.
    private static func sourceIP(_ value: JSONValue?, _ field: String) throws(EnvelopeError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            guard !text.isEmpty, text.utf8.count <= 64, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
            return text
        default: throw .wrongType(field: field, expected: "a string")
        }
    }

    private static func body(_ event: JSONObject) throws(EnvelopeError) -> Request.Body {
        switch event["body"] {
        case nil, .null?: return .none
        case .string(let text)?:
            // An empty body is no body, as in the envelope.
            if text.isEmpty { return .none }
            guard event["isBase64Encoded"] == .bool(true) else { return .raw(Array(text.utf8)) }
            guard let data = Data(base64Encoded: text) else {
                throw .wrongType(field: "body", expected: "base64 text when isBase64Encoded is true")
            }
            return data.isEmpty ? .none : .raw(Array(data))
        default:
            throw .wrongType(field: "body", expected: "a string or null")
        }
    }

    /// An object of strings (or, with `multi`, of arrays of strings); `null` reads as empty. With
    /// `headers`, every name must be an HTTP token and no name may appear twice in different case.
    private static func strings(
        _ value: JSONValue?, _ field: String, multi: Bool, headers: Bool = false
    ) throws(EnvelopeError) -> [(String, [String])] {
        guard let value, value != .null else { return [] }
        guard let members = value.objectValue else {
            throw .wrongType(field: field, expected: multi ? "an object of string arrays" : "an object of strings")
        }
        var result: [(String, [String])] = []
        var seen = Headers(minimumCapacity: headers ? members.count : 0)
        for (name, member) in members {
            if headers { try seen.addReceived(name, "") }
            if multi {
                guard let items = member.arrayValue, case let texts = items.compactMap(\.stringValue), texts.count == items.count else {
                    throw .wrongType(field: "\(field).\(name.excerpt)", expected: "an array of strings")
                }
                result.append((name, texts))
            } else {
                guard let text = member.stringValue else { throw .wrongType(field: "\(field).\(name.excerpt)", expected: "a string") }
                result.append((name, [text]))
            }
        }
        return result
    }

    /// `{"statusCode", "headers", "body": "<JSON text>", "isBase64Encoded": false}`: both formats accept it.
    /// Cookies go where each format wants several `Set-Cookie` fields: v1's `multiValueHeaders`, v2's
    /// `cookies`.
    static func encode(_ response: Response, format: Envelope.Format = .apiGatewayV2) -> [UInt8] {
        var headers = JSONObject()
        for (name, value) in response.headers.all { headers[name] = .string(value) }
        var event: JSONObject = [
            "statusCode": .int(response.status),
            "headers": .object(headers),
            "body": .string(response.hasContent ? response.body.encodedString : ""),
            "isBase64Encoded": false,
        ]
        if !response.cookies.isEmpty {
            let cookies = JSONValue.array(response.cookies.map(JSONValue.string))
            if format == .apiGatewayV1 {
                event["multiValueHeaders"] = ["Set-Cookie": cookies]
            } else {
                event["cookies"] = cookies
            }
        }
        return JSONValue.object(event).encoded()
    }
}
