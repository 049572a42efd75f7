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

    static func registration(from body: JSONValue, policy: PasswordPolicy = .seed) throws(ValidationError) -> Registration {
        var errors = ValidationError()
        let fields = try object(body)
        let username = string(fields, "username", &errors).map { $0.trimming(Trim.whitespaceOrNewline) }
        let email = string(fields, "email", &errors)
        let password = string(fields, "password", &errors)

        if let username {
            if !(1...80).contains(username.count) { errors.add("username", "Length must be between 1 and 80.") }
            if username.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                errors.add("username", "Username must not contain control characters.")
            }
        }
        if let email { for message in emailProblems(email) { errors.add("email", message) } }
        if let password {
            for message in policy.problems(password, username: username, email: email) { errors.add("password", message) }
        }

        guard errors.isEmpty, let username, let email, let password else { throw errors }
        return Registration(username: username, email: email, password: password)
    }

    static func credentials(from body: JSONValue) throws(ValidationError) -> Credentials {
        var errors = ValidationError()
        let fields = try object(body)
        let email = string(fields, "email", &errors)
        let password = string(fields, "password", &errors)
        if let email { for message in emailProblems(email) { errors.add("email", message) } }
        guard errors.isEmpty, let email, let password else { throw errors }
        return Credentials(email: email, password: password)
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
            if new == old { errors.add("new_password", "New password must differ from the old one.") }
        }
        guard errors.isEmpty, let old, let new else { throw errors }
        return (old, new)
    }

    private static func object(_ body: JSONValue) throws(ValidationError) -> [String: JSONValue] {
        guard case .object(let fields) = body else { throw ValidationError(["_schema": ["Invalid input type."]]) }
        return fields
    }

    private static func string(_ fields: [String: JSONValue], _ name: String, _ errors: inout ValidationError) -> String? {
        switch fields[name] {
        case nil: errors.add(name, missing)
        case .null?: errors.add(name, null)
        case .string(let value)?: return value
        default: errors.add(name, notString)
        }
        return nil
    }

    /// An address `local@domain`: a dot-atom local part (RFC 5322, as marshmallow accepts it) and a
    /// domain of at least two DNS labels whose last is not numeric. Letters beyond ASCII are allowed.
    static func emailProblems(_ email: String) -> [String] {
        if email.count > 200 { return ["Longer than maximum length 200."] }
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
