@testable import AuthFnCore

extension JSONValue {
    /// Two-space indented JSON with sorted keys, for golden files a person reads in a diff.
    func pretty(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .array(let values) where !values.isEmpty:
            return "[\n" + values.map { inner + $0.pretty(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let members) where !members.isEmpty:
            return "{\n"
                + members.keys.sorted().map { key in
                    inner + JSONValue.string(key).encodedString + ": " + (members[key] ?? .null).pretty(indent: inner)
                }.joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return encodedString
        }
    }
}
