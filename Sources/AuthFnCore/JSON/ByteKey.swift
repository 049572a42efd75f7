#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A dictionary key compared, hashed and ordered by its UTF-8 bytes.
///
/// `String`'s own `==`, `<` and `hash(into:)` work on Unicode canonical equivalence: every non-ASCII
/// key is normalised first, at a cost that grows faster than linearly for long runs of combining marks
/// (an 80 KB key took seconds), and `"é"` and `"e\u{301}"` are one key. JSON object members, header
/// names and query parameters come from clients, so authfn keys them by bytes instead: linear to hash,
/// and the same members Python's `json` and JavaScript see (they compare code points too). Byte order
/// is code-point order, which is how Python's `sort_keys` orders output.
public struct ByteKey: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { self.string = value }

    public var description: String { string }

    public static func == (lhs: ByteKey, rhs: ByteKey) -> Bool {
        lhs.string.utf8.count == rhs.string.utf8.count && compare(lhs, rhs) == 0
    }

    public func hash(into hasher: inout Hasher) {
        var string = string
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public static func < (lhs: ByteKey, rhs: ByteKey) -> Bool { compare(lhs, rhs) < 0 }

    /// `memcmp` order, shorter first on a common prefix.
    private static func compare(_ lhs: ByteKey, _ rhs: ByteKey) -> Int {
        var a = lhs.string, b = rhs.string
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                if common > 0, let xBase = x.baseAddress, let yBase = y.baseAddress {
                    let order = memcmp(xBase, yBase, common)
                    if order != 0 { return Int(order) }
                }
                return x.count - y.count
            }
        }
    }
}

extension String {
    /// This string with ASCII letters lowercased and every other byte as it is: HTTP's case-insensitive
    /// comparison of tokens (header names, schemes), linear and free of Unicode case mapping (which
    /// would make `ſ` an `s` and `K` a `k`).
    var asciiLowercased: String {
        if !utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { return self }
        return String(decoding: utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// This string with ASCII letters uppercased and every other byte as it is.
    var asciiUppercased: String {
        if !utf8.contains(where: { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) { return self }
        return String(decoding: utf8.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") ? $0 & ~0x20 : $0 }, as: UTF8.self)
    }

    /// Byte-for-byte equality, for comparing client input with fixed ASCII strings without
    /// normalising the input first.
    func bytesEqual(_ other: String) -> Bool { ByteKey(self) == ByteKey(other) }
}
