#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The request body as JSON, whichever way the adapter delivered it.
enum RequestBody {
    /// No body (or an empty one) reads as `{}` (every required field then reports as missing, as
    /// webargs did); a raw body must be declared JSON by its Content-Type and must parse.
    static func json(_ request: Request) throws -> JSONValue {
        switch request.body {
        case .none: return .object([:])
        case .json(let value): return value
        case .raw(let bytes):
            let contentType = request.headers["Content-Type"]
            guard isJSON(contentType) else { throw BodyError.unsupportedMediaType(contentType) }
            // An empty body is no body (a POST without data); whitespace alone is not JSON.
            if bytes.isEmpty { return .object([:]) }
            do {
                return try JSONValue.parse(bytes)
            } catch {
                throw BodyError.invalidJSON(error.description)
            }
        }
    }

    /// `application/json` or any `…/…+json`, parameters ignored.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        // ASCII only: a media type is made of tokens.
        let bytes = contentType.utf8
        let essence = bytes.prefix { $0 != UInt8(ascii: ";") }
        let trimmed = essence.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
        let mediaType = String(decoding: trimmed, as: UTF8.self).asciiLowercased
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}
