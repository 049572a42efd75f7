#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A small, strict HTTP/1.1 request parser and response writer for `authfn --http` (inetd, socat,
/// systemd `Accept=yes`): one request per connection, answered with `Connection: close`.
///
/// Strict where leniency invites request smuggling or header confusion: CRLF or LF line ends only,
/// no obsolete line folding, no whitespace before a header's colon, one Content-Length, no
/// Transfer-Encoding (411), Host required on HTTP/1.1.
public enum HTTP1 {
    /// A parsed request head; the body (`contentLength` bytes) follows at `bodyOffset`.
    public struct Head: Equatable, Sendable {
        public var method: String
        public var target: String
        public var version: String
        public var headers: Headers
        public var bodyOffset: Int
        public var contentLength: Int
    }

    /// The head, if `buffer` holds a complete one; `nil` if more bytes are needed.
    public static func parseHead(_ buffer: [UInt8]) throws(HTTPError) -> Head? {
        guard let end = headerEnd(buffer) else {
            if buffer.count > HTTPLimits.headerBytes { throw .headersTooLarge(limit: HTTPLimits.headerBytes) }
            return nil
        }
        guard end.headEnd <= HTTPLimits.headerBytes else { throw .headersTooLarge(limit: HTTPLimits.headerBytes) }
        var lines = buffer[..<end.headEnd].split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let requestLine = lines.first else { throw .badRequest("empty request") }

        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, HTTPToken.isToken(parts[0]) else {
            throw .badRequest("malformed request line")
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let target = String(decoding: parts[1], as: UTF8.self)
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version.hasPrefix("HTTP/"), version.count == 8, version.dropFirst(5).allSatisfy({ $0.isNumber || $0 == "." }) else {
            throw .badRequest("malformed HTTP version")
        }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw .versionNotSupported(version) }
        guard target.hasPrefix("/"), target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("the request target must be an origin-form path")
        }

        var headers = Headers()
        var contentLength: Int?
        for line in lines.dropFirst() {
            guard let first = line.first, first != 0x20, first != 0x09 else {
                throw .badRequest("obsolete header line folding")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                HTTPToken.isToken(line[..<colon])
            else { throw .badRequest("malformed header field") }
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let rawValue = line[(colon + 1)...]
            guard rawValue.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw .badRequest("control character in header \(name)")
            }
            let value = String(decoding: rawValue, as: UTF8.self).trimming { $0 == " " || $0 == "\t" }
            switch name.asciiLowercased {
            case "content-length":
                guard !value.isEmpty, value.utf8.count <= 18, value.allSatisfy(\.isASCIIDigit), let length = Int(value) else {
                    throw .badRequest("invalid Content-Length")
                }
                if let contentLength, contentLength != length { throw .badRequest("conflicting Content-Length headers") }
                contentLength = length
            case "transfer-encoding":
                throw .lengthRequired
            case "host":
                // RFC 9112 §3.2: a request with more than one Host field is answered 400.
                if headers.contains("Host") { throw .badRequest("more than one Host header") }
            case "authorization", "content-type":
                // Not lists (RFC 9110 §11.6.2, §8.3): two of them cannot be combined, and which one counts
                // would depend on who reads them.
                if headers.contains(name) { throw .badRequest("more than one \(name) header") }
            default:
                break
            }
            if let existing = headers[name] {
                // Cookie pairs are separated by "; " (RFC 6265 §5.4; HTTP/2 gateways split them into fields).
                headers[name] = existing + (name.asciiLowercased == "cookie" ? "; " : ", ") + value
            } else {
                headers[name] = value
            }
        }
        if version == "HTTP/1.1" && headers["Host"] == nil { throw .badRequest("missing Host header") }
        let length = contentLength ?? 0
        if length > HTTPLimits.bodyBytes { throw .bodyTooLarge(limit: HTTPLimits.bodyBytes) }
        // Bytes after the head with no length to say where they end: a body we cannot delimit.
        if contentLength == nil && buffer.count > end.bodyOffset { throw .lengthRequired }
        return Head(
            method: method, target: target, version: version, headers: headers, bodyOffset: end.bodyOffset,
            contentLength: length)
    }

    /// Where the head ends (index just past its last line) and the body starts.
    private static func headerEnd(_ buffer: [UInt8]) -> (headEnd: Int, bodyOffset: Int)? {
        var index = 0
        while let newline = buffer[index...].firstIndex(of: 0x0A) {
            let next = newline + 1
            if next < buffer.count, buffer[next] == 0x0A { return (next, next + 1) }
            if next + 1 < buffer.count, buffer[next] == 0x0D, buffer[next + 1] == 0x0A { return (next, next + 2) }
            index = next
            if index >= buffer.count { break }
        }
        return nil
    }

    /// The request a complete message describes.
    public static func request(_ head: Head, body: ArraySlice<UInt8>) -> Request {
        let (path, query) = Target.split(head.target)
        return Request(
            method: head.method, path: path, query: query, headers: head.headers,
            body: head.contentLength > 0 ? .raw(Array(body)) : .none)
    }

    /// A complete HTTP/1.1 response with `Content-Length` and `Connection: close`.
    public static func encode(_ response: Response, includeBody: Bool = true) -> [UInt8] {
        let body = response.hasContent ? response.body.encoded() : []
        var head = "HTTP/1.1 \(response.status) \(ReasonPhrase.of(response.status))\r\n"
        for (name, value) in response.headers.all where !["content-length", "connection"].contains(name.asciiLowercased) {
            head += "\(name): \(value)\r\n"
        }
        for cookie in response.cookies { head += "Set-Cookie: \(cookie)\r\n" }
        if response.hasContent { head += "Content-Length: \(body.count)\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + (includeBody ? body : [])
    }
}

/// Splitting a request target into a percent-decoded path and query parameters.
enum Target {
    static func split(_ target: String) -> (path: String, query: [ByteKey: String]) {
        let bytes = Array(target.utf8)
        let mark = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        let rawPath = bytes[..<mark]
        let path = percentDecoded(rawPath, plusIsSpace: false, keepSlashEscaped: true) ?? String(decoding: rawPath, as: UTF8.self)
        return (path, mark < bytes.endIndex ? query(bytes[(mark + 1)...]) : [:])
    }

    static func query(_ text: String) -> [ByteKey: String] { query(Array(text.utf8)[...]) }

    /// `a=1&b=2` with `+` as space and percent-decoding; the first occurrence of a key wins.
    static func query(_ bytes: ArraySlice<UInt8>) -> [ByteKey: String] {
        var result: [ByteKey: String] = [:]
        for pair in bytes.split(separator: UInt8(ascii: "&")) {
            let kv = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = ByteKey(percentDecoded(kv[0], plusIsSpace: true) ?? String(decoding: kv[0], as: UTF8.self))
            let value = kv.count > 1 ? (percentDecoded(kv[1], plusIsSpace: true) ?? String(decoding: kv[1], as: UTF8.self)) : ""
            if result[key] == nil { result[key] = value }
        }
        return result
    }

    /// Percent-decodes `bytes` (`nil` for a bad escape or invalid UTF-8). With `keepSlashEscaped`, an
    /// escaped `/` (`%2F`, `%2f`) stays escaped: it is a character of a path segment, not a separator,
    /// so `/v1%2Fuser%2Flogin` must not route to `/v1/user/login`.
    static func percentDecoded(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool, keepSlashEscaped: Bool = false) -> String? {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    return nil
                }
                let value = high << 4 | low
                if keepSlashEscaped && value == UInt8(ascii: "/") {
                    decoded.append(contentsOf: bytes[index...(index + 2)])
                } else {
                    decoded.append(value)
                }
                index += 3
            } else {
                decoded.append(plusIsSpace && byte == UInt8(ascii: "+") ? 0x20 : byte)
                index += 1
            }
        }
        return String(validating: decoded, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
