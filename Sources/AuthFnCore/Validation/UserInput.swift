#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Register and login input, validated the way the seed's webargs schemas did, with the seed's
/// stated password rule actually enforced. All failing fields are reported at once.
public struct Registration: Sendable, Equatable {
    public var username: String
    public var email: String
    public var password: String
}

public struct Credentials: Sendable, Equatable {
    public var email: String
    public var password: String
}

enum UserInput {
    static let missing = "Missing data for required field."
    static let null = "Field may not be null."
    static let notString = "Not a valid string."
    static let notEmail = "Not a valid email address."

    static let maximumUsernameLength = 80
    static let maximumEmailLength = 200

    static func registration(from body: JSONValue, policy: PasswordPolicy = .seed) throws(ValidationError) -> Registration {
        var errors = ValidationError()
        let fields = try object(body)
        let rawUsername = string(fields, "username", &errors)
        let email = string(fields, "email", &errors, typeError: notEmail)
        let password = string(fields, "password", &errors)

        var username: String?
        if let rawUsername {
            let problems = usernameProblems(rawUsername)
            for message in problems { errors.add("username", message) }
            if problems.isEmpty { username = rawUsername.trimming(Trim.whitespaceOrNewline) }
        }
        var validEmail: String?
        if let email {
            let problems = emailProblems(email)
            for message in problems { errors.add("email", message) }
            if problems.isEmpty { validEmail = email }
        }
        if let password {
            // Compared with the username and email only once those passed their own bounds.
            for message in policy.problems(password, username: username, email: validEmail) { errors.add("password", message) }
        }

        guard errors.isEmpty, let username, let email = validEmail, let password else { throw errors }
        return Registration(username: username, email: email, password: password)
    }

    static func credentials(from body: JSONValue) throws(ValidationError) -> Credentials {
        var errors = ValidationError()
        let fields = try object(body)
        let email = string(fields, "email", &errors, typeError: notEmail)
        let password = string(fields, "password", &errors)
        if let email { for message in emailProblems(email) { errors.add("email", message) } }
        guard errors.isEmpty, let email, let password else { throw errors }
        return Credentials(email: email, password: password)
    }

    /// `{"email"}`: a request for a mail (reset, verification).
    static func emailOnly(from body: JSONValue) throws(ValidationError) -> String {
        var errors = ValidationError()
        let fields = try object(body)
        let email = string(fields, "email", &errors, typeError: notEmail)
        if let email { for message in emailProblems(email) { errors.add("email", message) } }
        guard errors.isEmpty, let email else { throw errors }
        return email
    }

    /// `{"token"}` of a mailed link. Bounded before anything looks at it.
    static func tokenOnly(from body: JSONValue) throws(ValidationError) -> String {
        var errors = ValidationError()
        let token = string(try object(body), "token", &errors)
        if let token, token.utf8.count > 256 { errors.add("token", "Longer than maximum length 256.") }
        guard errors.isEmpty, let token else { throw errors }
        return token
    }

    /// `{"token", "new_password"}` confirming a reset (the policy is applied once the token is known good).
    static func resetConfirmation(from body: JSONValue) throws(ValidationError) -> (token: String, password: String) {
        var errors = ValidationError()
        let fields = try object(body)
        let token = string(fields, "token", &errors)
        let password = string(fields, "new_password", &errors)
        if let token, token.utf8.count > 256 { errors.add("token", "Longer than maximum length 256.") }
        guard errors.isEmpty, let token, let password else { throw errors }
        return (token, password)
    }

    /// `{"old_password", "new_password"}` for a password change; the new one must pass `policy`.
    static func passwordChange(from body: JSONValue, policy: PasswordPolicy, user: UserRecord) throws(ValidationError)
        -> (old: String, new: String)
    {
        var errors = ValidationError()
        let fields = try object(body)
        let old = string(fields, "old_password", &errors)
        let new = string(fields, "new_password", &errors)
        if let new {
            for message in policy.problems(new, username: user.username, email: user.email) {
                errors.add("new_password", message)
            }
            // Compared as bytes, as the KDF sees them: "Å" and "A\u{30A}" are different passwords.
            if let old, new.bytesEqual(old) { errors.add("new_password", "New password must differ from the old one.") }
        }
        guard errors.isEmpty, let old, let new else { throw errors }
        return (old, new)
    }

    private static func object(_ body: JSONValue) throws(ValidationError) -> JSONObject {
        guard case .object(let fields) = body else { throw ValidationError(["_schema": ["Invalid input type."]]) }
        return fields
    }

    /// A string field; a value of another type gets `typeError` (marshmallow's `Email` field reports
    /// its own "invalid" message for that, not `String`'s).
    private static func string(
        _ fields: JSONObject, _ name: String, _ errors: inout ValidationError, typeError: String = notString
    ) -> String? {
        switch fields[name] {
        case nil: errors.add(name, missing)
        case .null?: errors.add(name, null)
        case .string(let value)?: return value
        default: errors.add(name, typeError)
        }
        return nil
    }

    /// 1–80 characters once trimmed, each a visible, assigned one.
    ///
    /// Checked in order of cost, so that no input makes the expensive steps slow: the size in bytes
    /// first (`TextBounds`), then the run length of combining marks, and only then characters are
    /// counted and the name is normalised (NFKC and case folding, for the uniqueness key).
    static func usernameProblems(_ raw: String) -> [String] {
        let length = "Length must be between 1 and \(maximumUsernameLength)."
        guard TextBounds.fits(raw, characters: maximumUsernameLength) else { return [length] }
        guard TextBounds.isStreamSafe(raw) else { return [TextBounds.combiningMessage("Username")] }
        let username = raw.trimming(Trim.whitespaceOrNewline)
        var problems: [String] = []
        if !(1...maximumUsernameLength).contains(username.count) { problems.append(length) }
        if username.unicodeScalars.contains(where: isRefusedInUsername) {
            problems.append("Username must not contain control, invisible, bidirectional-control or unassigned characters.")
        }
        return problems
    }

    /// Characters that make a name look like another or hide part of it: controls (Cc), format
    /// characters (Cf: ZERO WIDTH JOINER and NON-JOINER, soft hyphen, word joiner, BOM, the bidi
    /// embeddings, overrides and isolates), anything Unicode marks Default_Ignorable (ZERO WIDTH SPACE,
    /// COMBINING GRAPHEME JOINER, variation selectors, Hangul fillers), bidi controls, line and
    /// paragraph separators, private-use, surrogate and unassigned code points. RFC 8265's
    /// IdentifierClass refuses all of these too; spaces, punctuation and symbols stay allowed, as the
    /// seed app allowed them, and NFKC plus case folding make the uniqueness key.
    static func isRefusedInUsername(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate, .lineSeparator, .paragraphSeparator: return true
        default: return properties.isDefaultIgnorableCodePoint || properties.isBidiControl
        }
    }

    /// An address `local@domain`: a dot-atom local part (RFC 5322, as marshmallow accepts it) and a
    /// domain of at least two DNS labels whose last is not numeric. Letters beyond ASCII are allowed.
    static func emailProblems(_ email: String) -> [String] {
        let tooLong = "Longer than maximum length \(maximumEmailLength)."
        guard TextBounds.fits(email, characters: maximumEmailLength) else { return [tooLong] }
        guard TextBounds.isStreamSafe(email) else { return [notEmail] }
        if email.count > maximumEmailLength { return [tooLong] }
        guard let at = email.lastIndex(of: "@") else { return [notEmail] }
        let local = email[..<at]
        let domain = email[email.index(after: at)...]
        let atomExtras = Set("!#$%&'*+/=?^_`{|}~-")
        let localOK =
            (1...64).contains(local.utf8.count)
            && local.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
                !atom.isEmpty && atom.allSatisfy { $0.isLetter || $0.isNumber || atomExtras.contains($0) }
            }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let domainOK =
            labels.count >= 2 && domain.utf8.count <= 253
            && labels.allSatisfy { label in
                (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }
            }
            && labels.last.map { $0.count >= 2 && !$0.allSatisfy(\.isNumber) } == true
        return localOK && domainOK ? [] : [notEmail]
    }
}

/// Bounds checked before any Unicode work on a client's text: grapheme counting, normalisation and
/// case mapping can cost more than linear time on hostile input (a 20,000-mark username took 2.3 s to
/// normalise), so text must first be small in bytes and free of long runs of combining marks.
public enum TextBounds {
    /// At most this many UTF-8 bytes per character a field allows. No real character of a name or a
    /// password needs more than a few; the bound only has to make later work proportional to the limit.
    public static let bytesPerCharacter = 8

    /// UAX #15's stream-safe limit: at most this many consecutive non-starters (combining marks).
    public static let maximumCombiningRun = 30

    /// Whether `text` can be at most `characters` characters long without counting them.
    static func fits(_ text: String, characters: Int) -> Bool {
        text.utf8.count <= characters * bytesPerCharacter
    }

    /// No more than `maximumCombiningRun` consecutive scalars with a non-zero canonical combining class.
    static func isStreamSafe(_ text: String) -> Bool {
        var run = 0
        for scalar in text.unicodeScalars {
            if scalar.properties.canonicalCombiningClass == .notReordered {
                run = 0
            } else {
                run += 1
                if run > maximumCombiningRun { return false }
            }
        }
        return true
    }

    static func combiningMessage(_ field: String) -> String {
        "\(field) must not contain more than \(maximumCombiningRun) combining marks in a row."
    }
}
