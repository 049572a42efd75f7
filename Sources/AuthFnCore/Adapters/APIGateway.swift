#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// AWS API Gateway / Lambda proxy events (payload format 1.0 and 2.0) in, their response shape out.
enum APIGateway {
    static func decodeV1(_ event: [String: JSONValue]) throws(EnvelopeError) -> Request {
        guard let method = event["httpMethod"]?.stringValue, !method.isEmpty else {
            throw .wrongType(field: "httpMethod", expected: "a non-empty string")
        }
        guard let path = event["path"]?.stringValue, path.hasPrefix("/") else {
            throw .wrongType(field: "path", expected: "a string starting with \"/\"")
        }
        var headers = Headers()
        for (name, values) in try strings(event["multiValueHeaders"], "multiValueHeaders", multi: true) {
            headers[name] = values.joined(separator: ", ")
        }
        for (name, values) in try strings(event["headers"], "headers", multi: false) { headers[name] = values.first }
        var query: [String: String] = [:]
        for (name, values) in try strings(event["multiValueQueryStringParameters"], "multiValueQueryStringParameters", multi: true) {
            query[name] = values.first
        }
        for (name, values) in try strings(event["queryStringParameters"], "queryStringParameters", multi: false) {
            query[name] = values.first
        }
        return Request(method: method.uppercased(), path: path, query: query, headers: headers, body: try body(event))
    }

    static func decodeV2(_ event: [String: JSONValue]) throws(EnvelopeError) -> Request {
        guard let method = event["requestContext"]?["http"]?["method"]?.stringValue, !method.isEmpty else {
            throw .wrongType(field: "requestContext.http.method", expected: "a non-empty string")
        }
        guard let path = event["rawPath"]?.stringValue, path.hasPrefix("/") else {
            throw .wrongType(field: "rawPath", expected: "a string starting with \"/\"")
        }
        var headers = Headers()
        for (name, values) in try strings(event["headers"], "headers", multi: false) { headers[name] = values.first }
        if let cookies = event["cookies"], cookies != .null {
            guard let list = cookies.arrayValue?.compactMap(\.stringValue), list.count == cookies.arrayValue?.count else {
                throw .wrongType(field: "cookies", expected: "an array of strings")
            }
            if !list.isEmpty { headers["Cookie"] = list.joined(separator: "; ") }
        }
        let rawQuery = event["rawQueryString"]?.stringValue ?? ""
        return Request(method: method.uppercased(), path: path, query: Target.query(rawQuery), headers: headers, body: try body(event))
    }

    private static func body(_ event: [String: JSONValue]) throws(EnvelopeError) -> Request.Body {
        switch event["body"] {
        case nil, .null?: return .none
        case .string(let text)?:
            guard event["isBase64Encoded"] == .bool(true) else { return .raw(Array(text.utf8)) }
            guard let data = Data(base64Encoded: text) else {
                throw .wrongType(field: "body", expected: "base64 text when isBase64Encoded is true")
            }
            return .raw(Array(data))
        default:
            throw .wrongType(field: "body", expected: "a string or null")
        }
    }

    /// An object of strings (or, with `multi`, of arrays of strings); `null` reads as empty.
    private static func strings(_ value: JSONValue?, _ field: String, multi: Bool) throws(EnvelopeError) -> [(String, [String])] {
        guard let value, value != .null else { return [] }
        guard let members = value.objectValue else {
            throw .wrongType(field: field, expected: multi ? "an object of string arrays" : "an object of strings")
        }
        var result: [(String, [String])] = []
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            if multi {
                guard let items = member.arrayValue, case let texts = items.compactMap(\.stringValue), texts.count == items.count else {
                    throw .wrongType(field: "\(field).\(name)", expected: "an array of strings")
                }
                result.append((name, texts))
            } else {
                guard let text = member.stringValue else { throw .wrongType(field: "\(field).\(name)", expected: "a string") }
                result.append((name, [text]))
            }
        }
        return result
    }

    /// `{"statusCode", "headers", "body": "<JSON text>", "isBase64Encoded": false}`: both formats accept it.
    static func encode(_ response: Response) -> [UInt8] {
        var headers: [String: JSONValue] = [:]
        for (name, value) in response.headers.all { headers[name] = .string(value) }
        let event: JSONValue = [
            "statusCode": .number(Double(response.status)),
            "headers": .object(headers),
            "body": .string(response.body.encodedString),
            "isBase64Encoded": false,
        ]
        return event.encoded()
    }
}
