/// A JSON object's members, keyed by `ByteKey`: a member name is compared and hashed by its UTF-8
/// bytes, so hostile names cost linear time and no two distinct names are merged.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: JSONValue)

    private var storage: [ByteKey: JSONValue]

    public init() { storage = [:] }

    public init(_ members: [String: JSONValue]) {
        storage = Dictionary(uniqueKeysWithValues: members.map { (ByteKey($0.key), $0.value) })
    }

    /// Members in order; a name given twice keeps its last value, as in Python's `json`.
    init(members: [(key: String, value: JSONValue)]) {
        storage = Dictionary(minimumCapacity: members.count)
        for member in members { storage[ByteKey(member.key)] = member.value }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        storage = Dictionary(elements.map { (ByteKey($0.0), $0.1) }, uniquingKeysWith: { _, last in last })
    }

    public subscript(key: String) -> JSONValue? {
        get { storage[ByteKey(key)] }
        set { storage[ByteKey(key)] = newValue }
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    /// The member names in byte (code point) order.
    public var keys: [String] { storage.keys.sorted().map(\.string) }

    /// The members in byte (code point) order of their names: the order authfn writes them in.
    public var sorted: [Element] {
        storage.sorted { $0.key < $1.key }.map { (key: $0.key.string, value: $0.value) }
    }

    /// Members in no particular order.
    public func makeIterator() -> some IteratorProtocol<Element> {
        storage.lazy.map { (key: $0.key.string, value: $0.value) }.makeIterator()
    }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        var result = self
        result.storage = try storage.mapValues(transform)
        return result
    }

    public func filter(_ isIncluded: (Element) throws -> Bool) rethrows -> JSONObject {
        var result = JSONObject()
        result.storage = try storage.filter { try isIncluded((key: $0.key.string, value: $0.value)) }
        return result
    }

    /// The members as a `String`-keyed dictionary. For authfn's own, trusted objects only: building it
    /// hashes every name as a `String`.
    public var dictionary: [String: JSONValue] {
        Dictionary(storage.map { ($0.key.string, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}
