import Foundation
import Testing

@testable import AuthFnCore

/// authfn trims with its own scalar predicates so the core needs only FoundationEssentials; they must
/// match Foundation's sets exactly, scalar by scalar.
@Suite struct TrimmingTests {
    @Test(
        "the predicates are Foundation's character sets",
        arguments: [
            ("whitespaces", CharacterSet.whitespaces, Trim.whitespace as @Sendable (Unicode.Scalar) -> Bool),
            ("whitespacesAndNewlines", CharacterSet.whitespacesAndNewlines, Trim.whitespaceOrNewline),
        ])
    func matchesFoundation(_ name: String, _ set: CharacterSet, _ predicate: @Sendable (Unicode.Scalar) -> Bool) {
        var mismatches: [String] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if set.contains(scalar) != predicate(scalar) { mismatches.append(String(value, radix: 16)) }
        }
        #expect(mismatches.isEmpty, "\(name): U+\(mismatches.prefix(10).joined(separator: ", U+"))")
    }

    @Test(
        "trims like trimmingCharacters(in:)",
        arguments: ["", " ", "  a b  ", "\t\u{00A0}x\u{3000}", "\u{200B}y\u{200B}", "\n a \r\n", "é\u{0301} ", " \u{2028}z\u{2029} ", "a"])
    func trimsLikeFoundation(_ text: String) {
        #expect(text.trimming(Trim.whitespace) == text.trimmingCharacters(in: .whitespaces))
        #expect(text.trimming(Trim.whitespaceOrNewline) == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(Substring(text).trimming(Trim.whitespace) == text.trimmingCharacters(in: .whitespaces))
    }
}
