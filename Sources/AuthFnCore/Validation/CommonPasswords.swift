#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Passwords too common to accept, compared as Django's `CommonPasswordValidator` does:
/// lowercased, surrounding whitespace removed.
enum CommonPasswords {
    /// Built on first use only: the routes that never check a new password never pay for it.
    static let entries: Set<Substring> = Set(list.split(separator: "\n"))

    static func contains(_ password: String) -> Bool {
        entries.contains(Substring(password.trimming(Trim.whitespaceOrNewline).lowercased()))
    }

    static var count: Int { entries.count }
}
