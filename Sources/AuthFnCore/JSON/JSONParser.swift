/// A strict RFC 8259 parser over UTF-8 bytes.
///
/// Foundation's `JSONDecoder` is lenient (it accepts trailing commas, for one), and a gateway that
/// accepts what its clients' parsers reject invites parser-differential bugs, so authfn parses
/// requests itself, by these rules:
/// - exactly one JSON value, optionally surrounded by JSON whitespace; no BOM, no comments;
/// - strings must be valid UTF-8; `\\u` escapes must pair surrogates correctly; control
///   characters must be escaped;
/// - numbers follow the RFC grammar and must be finite as a `Double` (`1e999` is refused);
/// - nesting deeper than `JSONValue.maximumDepth` is refused before it can exhaust the stack;
/// - a key repeated in one object: the last occurrence wins, as in Python's `json` module.
struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws(JSONValue.ParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the JSON value") }
        return value
    }

    private func fail(_ message: String) -> JSONValue.ParseError {
        .invalid("\(message) at byte \(index)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    private mutating func parseValue() throws(JSONValue.ParseError) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of data") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: String) throws(JSONValue.ParseError) {
        let expected = Array(literal.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<(index + expected.count)]) == expected else {
            throw fail("invalid literal")
        }
        index += expected.count
    }

    private mutating func enter() throws(JSONValue.ParseError) {
        depth += 1
        guard depth <= JSONValue.maximumDepth else { throw .tooDeep }
        index += 1
    }

    private mutating func parseObject() throws(JSONValue.ParseError) -> JSONValue {
        try enter()
        // Members are collected first and hashed into a table of the right size once: growing the table
        // member by member rehashed every key at each doubling.
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(JSONObject())
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            members.append((key, try parseValue()))
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            index += 1
            depth -= 1
            return .object(JSONObject(members: members))
        }
    }

    private mutating func parseArray() throws(JSONValue.ParseError) -> JSONValue {
        try enter()
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            index += 1
            depth -= 1
            return .array(elements)
        }
    }

    /// An integer literal (no fraction, no exponent) that fits `Int64` stays exact; any other number
    /// is a `Double`.
    private mutating func parseNumber() throws(JSONValue.ParseError) -> JSONValue {
        let start = index
        func digit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard digit(index) else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if digit(index) { throw fail("leading zeros are not allowed") }
        } else {
            while digit(index) { index += 1 }
        }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard digit(index) else { throw fail("invalid number") }
            while digit(index) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digit(index) else { throw fail("invalid number") }
            while digit(index) { index += 1 }
        }
        if integral, let exact = Self.integer(bytes[(negative ? start + 1 : start)..<index], negative: negative) {
            return .integer(exact)
        }
        guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
            throw fail("number out of range")
        }
        return .number(value)
    }

    /// Decimal digits as an `Int64`, or `nil` when they do not fit.
    private static func integer(_ digits: ArraySlice<UInt8>, negative: Bool) -> Int64? {
        guard digits.count <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for byte in digits { magnitude = magnitude * 10 + UInt64(byte - UInt8(ascii: "0")) }
        if negative {
            if magnitude <= UInt64(Int64.max) { return -Int64(magnitude) }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// One pass over the bytes: runs without escapes are copied (or, for a string with no escape at
    /// all, not copied), escapes are decoded into the same buffer, and UTF-8 is validated once at the
    /// end. Escapes decode to complete, valid UTF-8 sequences, so validating the whole buffer is the
    /// same as validating every raw run on its own.
    private mutating func parseString() throws(JSONValue.ParseError) -> String {
        index += 1  // opening quote
        let start = index
        var decoded: [UInt8] = []
        var escaped = false
        var ascii = true
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let text: String?
                if escaped {
                    decoded.append(contentsOf: bytes[runStart..<index])
                    text = String(validating: decoded, as: UTF8.self)
                } else if ascii {
                    // ASCII is valid UTF-8: copied without the generic validator (most keys and values).
                    text = Self.asciiString(bytes[start..<index])
                } else {
                    text = String(validating: bytes[start..<index], as: UTF8.self)
                }
                guard let text else { throw .invalid("invalid UTF-8 in a string") }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                if !escaped {
                    escaped = true
                    decoded.reserveCapacity(index - start + 16)
                }
                switch index - runStart {
                case 0: break
                case 1: decoded.append(bytes[runStart])
                default: decoded.append(contentsOf: bytes[runStart..<index])
                }
                index += 1
                if index < bytes.count, let simple = Self.simpleEscape(bytes[index]) {
                    decoded.append(simple)
                    index += 1
                } else {
                    UTF8.encode(try parseEscape()) { decoded.append($0) }
                }
                runStart = index
            case 0..<0x20:
                throw fail("unescaped control character in a string")
            case 0x80...:
                ascii = false
                index += 1
            default:
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    private static func asciiString(_ bytes: ArraySlice<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count) { buffer in
            _ = buffer.initialize(from: bytes)
            return bytes.count
        }
    }

    /// The byte a one-character escape stands for (`\n` → 0x0A), `nil` for `\u` and invalid ones.
    private static func simpleEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "\""): UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): UInt8(ascii: "\\")
        case UInt8(ascii: "/"): UInt8(ascii: "/")
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    private mutating func parseEscape() throws(JSONValue.ParseError) -> Unicode.Scalar {
        guard index < bytes.count else { throw fail("unterminated escape") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{8}"
        case UInt8(ascii: "f"): return "\u{C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try parseHex4()
            if (0xD800...0xDBFF).contains(first) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw fail("unpaired surrogate")
                }
                index += 2
                let second = try parseHex4()
                guard (0xDC00...0xDFFF).contains(second) else { throw fail("unpaired surrogate") }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else { throw fail("invalid escape") }
                return scalar
            }
            guard let scalar = Unicode.Scalar(first) else { throw fail("unpaired surrogate") }
            return scalar
        default:
            throw fail("invalid escape")
        }
    }

    private mutating func parseHex4() throws(JSONValue.ParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | UInt32(nibble)
            index += 1
        }
        return value
    }
}
