#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A minimal HTTP/1.1 client for the Lambda Runtime API: plain HTTP on loopback, one connection kept
/// alive across invocations (as Lambda's own runtimes do), `Content-Length` or chunked bodies. Nothing
/// here is meant for the open internet: no TLS, no redirects, no proxies.
public final class RuntimeAPIClient {
    public struct Response: Sendable, Equatable {
        public var status: Int
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: [UInt8]
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case address(String)
        case connect(String)
        case closed
        case malformed(String)

        public var description: String {
            switch self {
            case .address(let why): "AWS_LAMBDA_RUNTIME_API: \(why)"
            case .connect(let why): "cannot connect to the Runtime API: \(why)"
            case .closed: "the Runtime API closed the connection"
            case .malformed(let why): "the Runtime API answered something that is not HTTP/1.1: \(why)"
            }
        }
    }

    /// Events are at most 6 MB (Lambda's limit for synchronous invocations); anything bigger is refused.
    static let maximumBodyBytes = 8 << 20
    static let maximumHeadBytes = 64 << 10

    private let host: String
    private let port: String
    private var socket: FileDescriptor?
    private var input: InputBuffer?

    /// `address` is `AWS_LAMBDA_RUNTIME_API`: `host:port`.
    public init(address: String) throws(Failure) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]), colon > address.startIndex
        else { throw .address("'\(address.excerpt)' is not host:port") }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.port = String(port)
    }

    deinit { disconnect() }

    /// Sends one request and reads the whole response. A connection the server closed while idle is
    /// opened again, and the request sent once more, but only if nothing of the answer arrived.
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(Failure) -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        let message = Array(head.utf8) + body
        for attempt in 0..<2 {
            let (socket, input) = try connection()
            if socket.write(message), let response = try readResponse(input, head: method == "HEAD") {
                if response.headers["connection"]?.asciiLowercased == "close" { disconnect() }
                return response
            }
            disconnect()
            if attempt == 1 { break }
        }
        throw .closed
    }

    private func connection() throws(Failure) -> (FileDescriptor, InputBuffer) {
        if let socket, let input { return (socket, input) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, port, &hints, &found)
        guard resolved == 0, let first = found else {
            throw .connect("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(found) }
        var reason = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            defer { candidate = address.pointee.ai_next }
            let descriptor = Glibc.socket(
                address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.ai_protocol)
            guard descriptor >= 0 else {
                reason = String(cString: strerror(errno))
                continue
            }
            if Glibc.connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                var on: Int32 = 1
                setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                let socket = FileDescriptor(descriptor)
                let input = InputBuffer(socket, timeout: nil)
                (self.socket, self.input) = (socket, input)
                return (socket, input)
            }
            reason = String(cString: strerror(errno))
            close(descriptor)
        }
        throw .connect("\(host):\(port): \(reason)")
    }

    private func disconnect() {
        if let socket { close(socket.descriptor) }
        socket = nil
        input = nil
    }

    /// The response on `input`, or `nil` when the connection ended before any of it arrived.
    private func readResponse(_ input: InputBuffer, head: Bool) throws(Failure) -> Response? {
        // No deadline: `next` is a long poll that may last for as long as the function is idle.
        func fill() throws(Failure) -> Bool {
            do { return try input.fill() } catch { throw .closed }
        }
        var headEnd: Int?
        while headEnd == nil {
            if let end = Self.headEnd(input.buffer) {
                headEnd = end
            } else {
                guard input.count <= Self.maximumHeadBytes else { throw .malformed("a head over 64 KiB") }
                guard try fill() else {
                    if input.count == 0 { return nil }
                    throw .closed
                }
            }
        }
        guard let headEnd else { return nil }
        let headBytes = input.take(headEnd - input.buffer.startIndex).dropLast(4)
        // Lines split as bytes: the head is ASCII, and String's Character view would cost a grapheme
        // walk over every byte.
        var lines = headBytes.split(separator: 0x0A).map { $0.last == 0x0D ? $0.dropLast() : $0 }
        guard !lines.isEmpty else { throw .malformed("no status line") }
        let statusParts = lines.removeFirst().split(separator: UInt8(ascii: " "), maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].starts(with: "HTTP/1.".utf8),
            let status = Int(String(decoding: statusParts[1], as: UTF8.self)), (100...599).contains(status)
        else { throw .malformed("bad status line") }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed("a header line without a colon") }
            let name = String(decoding: line[..<colon].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
            var value = line[(colon + 1)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
            headers[name] = String(decoding: value, as: UTF8.self)
        }
        var body: [UInt8] = []
        if head || status == 204 || status == 304 || status < 200 {
        } else if headers["transfer-encoding"]?.asciiLowercased.contains("chunked") == true {
            body = try readChunked(input, fill: fill)
        } else if let text = headers["content-length"] {
            guard let length = Int(text), length >= 0, length <= Self.maximumBodyBytes else {
                throw .malformed("Content-Length \(text.excerpt)")
            }
            while input.count < length {
                guard try fill() else { throw .closed }
            }
            body = input.take(length)
        } else {
            // Delimited by the end of the connection.
            while input.count <= Self.maximumBodyBytes, try fill() {}
            body = input.take(input.count)
            disconnect()
        }
        return Response(status: status, headers: headers, body: body)
    }

    private func readChunked(_ input: InputBuffer, fill: () throws(Failure) -> Bool) throws(Failure) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            guard let line = try readLine(input, fill: fill) else { throw .closed }
            let sizeText = String(decoding: line.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self).trimming(Trim.whitespace)
            guard let size = Int(sizeText, radix: 16), size >= 0, body.count + size <= Self.maximumBodyBytes else {
                throw .malformed("chunk size \(sizeText.excerpt)")
            }
            if size == 0 {
                // Trailers, up to the empty line.
                while let trailer = try readLine(input, fill: fill), !trailer.isEmpty {}
                return body
            }
            while input.count < size + 2 {
                guard try fill() else { throw .closed }
            }
            body += input.take(size)
            guard input.take(2) == [0x0D, 0x0A] else { throw .malformed("a chunk not followed by CRLF") }
        }
    }

    private func readLine(_ input: InputBuffer, fill: () throws(Failure) -> Bool) throws(Failure) -> [UInt8]? {
        while true {
            if let newline = input.buffer.firstIndex(of: 0x0A) {
                var line = input.take(newline + 1 - input.buffer.startIndex)
                line.removeLast()
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            guard input.count <= Self.maximumHeadBytes else { throw .malformed("a line over 64 KiB") }
            guard try fill() else { return nil }
        }
    }

    /// The index just past the blank line ending the head, if it is in `bytes`.
    private static func headEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 3 < bytes.endIndex {
            if bytes[index] == 0x0D, bytes[index + 1] == 0x0A, bytes[index + 2] == 0x0D, bytes[index + 3] == 0x0A { return index + 4 }
            index += 1
        }
        return nil
    }
}
