/// The character classes authfn trims, defined as Foundation's `CharacterSet` defines them, so the
/// core needs FoundationEssentials only (no CoreFoundation, no ICU on the start-up path).
/// `TrimmingTests` checks every Unicode scalar against Foundation's sets.
enum Trim {
    /// `CharacterSet.whitespaces`: tab, the space separators (Unicode category Zs) and, as
    /// CoreFoundation has it, U+200B ZERO WIDTH SPACE.
    static func whitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar == "\u{200B}" || scalar.properties.generalCategory == .spaceSeparator
    }

    /// `CharacterSet.whitespacesAndNewlines`: Unicode's White_Space property, plus U+200B as above.
    static func whitespaceOrNewline(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\u{200B}" || scalar.properties.isWhitespace
    }
}

extension StringProtocol {
    /// Foundation's `trimmingCharacters(in:)`: drops the scalars matching `trim` from both ends.
    func trimming(_ trim: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !trim($0) }), let last = scalars.lastIndex(where: { !trim($0) }) else {
            return ""
        }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

extension String {
    /// At most 64 Unicode scalars of this string with control characters replaced by `?`, for quoting
    /// client input in an error message or a log line: bounded work, no forged lines.
    var excerpt: String { excerpt(limit: 64) }

    func excerpt(limit: Int) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in unicodeScalars.prefix(limit) {
            scalars.append(scalar.properties.generalCategory == .control ? "?" : scalar)
        }
        return String(scalars)
    }
}
