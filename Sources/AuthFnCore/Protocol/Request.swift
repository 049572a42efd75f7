/// One HTTP request as the handler sees it, whatever adapter delivered it.
public struct Request: Sendable, Equatable {
    public enum Body: Sendable, Equatable {
        case none
        /// The body already is a JSON value (the envelope's `body` was not a string).
        case json(JSONValue)
        /// Raw bytes, to be interpreted according to `Content-Type`.
        case raw([UInt8])
    }

    public var method: String
    public var path: String
    /// Query parameters, keyed by their exact bytes.
    public var query: [ByteKey: String]
    public var headers: Headers
    public var body: Body
    /// The peer's address as the launcher or the gateway reports it (`REMOTE_ADDR`, `SOCAT_PEERADDR`,
    /// API Gateway's `sourceIp`, …), never a client-sent header. `nil` when the adapter knows none; the
    /// handler then uses the context's.
    public var clientAddress: String?

    public init(
        method: String, path: String, query: [ByteKey: String] = [:], headers: Headers = [:], body: Body = .none,
        clientAddress: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.clientAddress = clientAddress
    }
}

/// HTTP header fields with case-insensitive names (ASCII case only, as HTTP defines it; names are
/// hashed by their bytes, so a hostile name costs linear time). The last value set for a name wins.
public struct Headers: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private var fields: [ByteKey: (name: String, value: String)] = [:]

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self[name] = value }
    }

    public subscript(name: String) -> String? {
        get { fields[ByteKey(name.asciiLowercased)]?.value }
        set { fields[ByteKey(name.asciiLowercased)] = newValue.map { (name, $0) } }
    }

    /// Whether a field with this name (in any case) is present.
    public func contains(_ name: String) -> Bool { fields[ByteKey(name.asciiLowercased)] != nil }

    public init(minimumCapacity: Int) { fields = Dictionary(minimumCapacity: minimumCapacity) }

    /// Adds a field whose name (in any case) is not present yet; `false`, changing nothing that
    /// matters, when it is.
    mutating func addNew(_ name: String, _ value: String) -> Bool {
        fields.updateValue((name, value), forKey: ByteKey(name.asciiLowercased)) == nil
    }

    /// Name/value pairs as first spelled, sorted by lowercased name.
    public var all: [(name: String, value: String)] {
        fields.keys.sorted().compactMap { fields[$0] }
    }

    public static func == (lhs: Headers, rhs: Headers) -> Bool {
        lhs.fields.mapValues(\.value) == rhs.fields.mapValues(\.value)
    }
}

/// RFC 9110 §5.6.2 tokens: the syntax of request methods and header field names. ASCII only, so a
/// method such as `poſt` (whose Unicode uppercase is `POST`) is not a method.
enum HTTPToken {
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func isToken(_ bytes: some Collection<UInt8>) -> Bool { !bytes.isEmpty && bytes.allSatisfy(isTokenByte) }

    static func isToken(_ text: String) -> Bool { isToken(text.utf8) }
}
