/// Which passwords are acceptable for new accounts, password changes and `users set-password`.
///
/// - `seed` (default): the tutorial's stated rule, 8–200 characters with at least one uppercase letter,
///   one lowercase letter, one digit and one symbol.
/// - `nist`: NIST SP 800-63B — a minimum length (8 unless configured higher), at most 200 characters,
///   no composition rules.
///
/// Both refuse passwords on the common-password list and passwords equal to the username or email.
/// The password is checked exactly as given: no trimming, no normalisation, no truncation.
public struct PasswordPolicy: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case seed, nist
    }

    public var kind: Kind
    public var minimumLength: Int
    public var maximumLength = 200

    public init(kind: Kind = .seed, minimumLength: Int = 8) {
        self.kind = kind
        self.minimumLength = minimumLength
    }

    public static let seed = PasswordPolicy()

    /// Whether `password` is small enough in bytes to be counted, compared or hashed at all: a
    /// longer one can be neither acceptable nor stored, so logins refuse it without running the KDF.
    public func mayCheck(_ password: String) -> Bool {
        TextBounds.fits(password, characters: maximumLength)
    }

    /// One message per unmet requirement; empty when the password is acceptable.
    public func problems(_ password: String, username: String? = nil, email: String? = nil) -> [String] {
        guard mayCheck(password) else { return ["Password must be at most \(maximumLength) characters long."] }
        guard TextBounds.isStreamSafe(password) else { return [TextBounds.combiningMessage("Password")] }
        let length = password.count
        if length > maximumLength {
            return ["Password must be at most \(maximumLength) characters long."]
        }
        var problems: [String] = []
        if length < minimumLength { problems.append("Password must be at least \(minimumLength) characters long.") }
        if kind == .seed {
            let scalars = password.unicodeScalars
            if !scalars.contains(where: { $0.properties.isUppercase }) {
                problems.append("Password must contain at least one uppercase letter.")
            }
            if !scalars.contains(where: { $0.properties.isLowercase }) {
                problems.append("Password must contain at least one lowercase letter.")
            }
            if !scalars.contains(where: { $0.properties.numericType == .decimal }) {
                problems.append("Password must contain at least one digit.")
            }
            if !password.contains(where: { !$0.isLetter && !$0.isNumber && !$0.isWhitespace }) {
                problems.append("Password must contain at least one symbol.")
            }
        }
        if CommonPasswords.contains(password) { problems.append("Password is too common.") }
        let folded = password.lowercased()
        if let username, folded == username.lowercased() {
            problems.append("Password must not be the same as the username.")
        }
        if let email, folded == email.lowercased() {
            problems.append("Password must not be the same as the email address.")
        }
        return problems
    }
}
