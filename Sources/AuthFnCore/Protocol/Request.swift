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
    public var query: [String: String]
    public var headers: Headers
    public var body: Body

    public init(method: String, path: String, query: [String: String] = [:], headers: Headers = [:], body: Body = .none) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// HTTP header fields with case-insensitive names. The last value set for a name wins.
public struct Headers: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private var fields: [String: (name: String, value: String)] = [:]

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self[name] = value }
    }

    public subscript(name: String) -> String? {
        get { fields[name.lowercased()]?.value }
        set { fields[name.lowercased()] = newValue.map { (name, $0) } }
    }

    /// Name/value pairs as first spelled, sorted by lowercased name.
    public var all: [(name: String, value: String)] {
        fields.keys.sorted().compactMap { fields[$0] }
    }

    public static func == (lhs: Headers, rhs: Headers) -> Bool {
        lhs.fields.mapValues(\.value) == rhs.fields.mapValues(\.value)
    }
}
