#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The one-shot stdin/stdout protocol: one JSON request envelope in, one JSON response envelope out.
public enum Envelope {
    /// Requests larger than this are answered 413 without being parsed.
    public static let maximumRequestBytes = 1 << 20

    /// The shapes a request can arrive in on stdin; the response goes back in the same one.
    public enum Format: Sendable, Equatable {
        /// authfn's own envelope.
        case envelope
        /// An AWS API Gateway REST API (v1) / Lambda proxy event.
        case apiGatewayV1
        /// An AWS API Gateway HTTP API (v2) event.
        case apiGatewayV2
    }

    /// Decodes a request envelope, or explains in a 400/413 `EnvelopeError` why it is not one.
    public static func decodeRequest(_ bytes: [UInt8]) throws(EnvelopeError) -> Request {
        try decode(bytes).request
    }

    /// Decodes an envelope or an API Gateway event, telling which it was.
    public static func decode(_ bytes: [UInt8]) throws(EnvelopeError) -> (request: Request, format: Format) {
        let (result, format) = parse(bytes)
        return (try result.get(), format)
    }

    /// Like `decode`, but a malformed API Gateway event still reports its format, so the refusal
    /// goes back in the shape the gateway expects.
    public static func parse(_ bytes: [UInt8]) -> (request: Result<Request, EnvelopeError>, format: Format) {
        guard bytes.count <= maximumRequestBytes else { return (.failure(.tooLarge(limit: maximumRequestBytes)), .envelope) }
        let document: JSONValue
        do throws(JSONValue.ParseError) {
            document = try JSONValue.parse(bytes)
        } catch {
            return (.failure(.invalidJSON(error.description)), .envelope)
        }
        guard case .object(let fields) = document else { return (.failure(.notAnObject), .envelope) }
        if fields["httpMethod"] != nil {
            return (Result { () throws(EnvelopeError) in try APIGateway.decodeV1(fields) }, .apiGatewayV1)
        }
        if fields["version"] == "2.0", fields["rawPath"] != nil {
            return (Result { () throws(EnvelopeError) in try APIGateway.decodeV2(fields) }, .apiGatewayV2)
        }
        return (Result { () throws(EnvelopeError) in try decodeEnvelope(fields) }, .envelope)
    }

    private static func decodeEnvelope(_ fields: JSONObject) throws(EnvelopeError) -> Request {
        guard let methodValue = fields["method"] else { throw .missingField("method") }
        guard case .string(let method) = methodValue, !method.isEmpty,
            method.utf8.allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") })
        else {
            throw .wrongType(field: "method", expected: "a non-empty string of ASCII letters, such as \"POST\"")
        }
        guard let pathValue = fields["path"] else { throw .missingField("path") }
        guard case .string(var path) = pathValue, path.utf8.first == UInt8(ascii: "/") else {
            throw .wrongType(field: "path", expected: "a string starting with \"/\"")
        }

        var query: [ByteKey: String] = [:]
        switch fields["query"] {
        case nil, .null?: break
        case .object(let members)?:
            for (key, value) in members {
                guard case .string(let text) = value else {
                    throw .wrongType(field: "query.\(key.excerpt)", expected: "a string")
                }
                query[ByteKey(key)] = text
            }
        default: throw .wrongType(field: "query", expected: "an object of strings")
        }
        let pathBytes = Array(path.utf8)
        if let mark = pathBytes.firstIndex(of: UInt8(ascii: "?")) {
            for pair in pathBytes[(mark + 1)...].split(separator: UInt8(ascii: "&")) {
                let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                let key = ByteKey(String(decoding: parts[0], as: UTF8.self))
                if query[key] == nil { query[key] = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : "" }
            }
            path = String(decoding: pathBytes[..<mark], as: UTF8.self)
        }

        let headers: Headers
        switch fields["headers"] {
        case nil, .null?: headers = Headers()
        case .object(let members)?: headers = try Self.headers(members)
        default: throw .wrongType(field: "headers", expected: "an object of strings")
        }

        let body: Request.Body
        switch (fields["body"], fields["body_base64"]) {
        case (let value?, let encoded?) where value != .null && encoded != .null:
            throw .conflictingBodies
        case (_, .string(let encoded)?):
            guard let data = Data(base64Encoded: encoded) else {
                throw .wrongType(field: "body_base64", expected: "standard base64 text")
            }
            body = data.isEmpty ? .none : .raw(Array(data))
        case (_, let encoded?) where encoded != .null:
            throw .wrongType(field: "body_base64", expected: "a string")
        // An empty raw body is no body, whatever the Content-Type says.
        case (.string(let text)?, _): body = text.isEmpty ? .none : .raw(Array(text.utf8))
        case (nil, _), (.null?, _): body = .none
        case (let value?, _): body = .json(value)
        }

        return Request(method: method.asciiUppercased, path: path, query: query, headers: headers, body: body)
    }

    /// Header fields from an object of strings: each name an HTTP token, no name given twice in
    /// different case (`Authorization` and `authorization` would otherwise leave it to key order
    /// which one counts).
    static func headers(_ members: JSONObject) throws(EnvelopeError) -> Headers {
        var headers = Headers(minimumCapacity: members.count)
        // In no particular order: no name may be given twice, so none can take precedence.
        for (name, value) in members {
            // The name is checked first (a name that is not a token is not quoted in a message whole).
            try headers.addReceived(name, value.stringValue ?? "")
            guard value.stringValue != nil else { throw .wrongType(field: "headers.\(name)", expected: "a string") }
        }
        return headers
    }

    /// The response in `format`: one line of compact JSON with sorted keys, newline-terminated.
    public static func encodeResponse(_ response: Response, format: Format) -> [UInt8] {
        switch format {
        case .envelope: encodeResponse(response)
        case .apiGatewayV1, .apiGatewayV2: APIGateway.encode(response, format: format) + [UInt8(ascii: "\n")]
        }
    }

    /// The response envelope: one line of compact JSON with sorted keys, newline-terminated.
    public static func encodeResponse(_ response: Response) -> [UInt8] {
        var headers = JSONObject()
        for (name, value) in response.headers.all { headers[name] = .string(value) }
        var envelope: JSONObject = [
            "status": .int(response.status),
            "headers": .object(headers),
            "body": response.body,
        ]
        // `Set-Cookie` fields, one string each (the list API Gateway v2 uses); absent when none.
        if !response.cookies.isEmpty { envelope["cookies"] = .array(response.cookies.map(JSONValue.string)) }
        return JSONValue.object(envelope).encoded() + [UInt8(ascii: "\n")]
    }
}

/// Why a request envelope was refused. Each case becomes a 400 (or 413) response.
public enum EnvelopeError: Error, Equatable, Sendable {
    case tooLarge(limit: Int)
    case invalidJSON(String)
    case notAnObject
    case missingField(String)
    case wrongType(field: String, expected: String)
    case conflictingBodies
    /// A header name that is not an HTTP token.
    case invalidHeaderName(String)
    /// Two header names that differ only in case.
    case duplicateHeader(String)
}

extension Headers {
    /// Adds a field as an envelope or an event gives it: the name must be an HTTP token, and not one
    /// already present in another case.
    mutating func addReceived(_ name: String, _ value: String) throws(EnvelopeError) {
        guard HTTPToken.isToken(name) else { throw .invalidHeaderName(name.excerpt) }
        guard addNew(name, value) else { throw .duplicateHeader(name.asciiLowercased) }
    }
}
