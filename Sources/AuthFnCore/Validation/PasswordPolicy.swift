/// The seed tutorial's stated password rule: 8–200 characters with at least one uppercase letter,
/// one lowercase letter, one digit and one symbol. Checked before any hashing, on the password exactly
/// as given (no trimming, no normalisation, no truncation).
public struct PasswordPolicy: Sendable {
    public var minimumLength: Int
    public var maximumLength: Int

    public static let seed = PasswordPolicy(minimumLength: 8, maximumLength: 200)

    /// One message per unmet requirement; empty when the password is acceptable.
    public func problems(_ password: String) -> [String] {
        let length = password.count
        if length > maximumLength {
            return ["Password must be at most \(maximumLength) characters long."]
        }
        var problems: [String] = []
        if length < minimumLength { problems.append("Password must be at least \(minimumLength) characters long.") }
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
        return problems
    }
}
