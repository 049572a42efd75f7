/// Account recovery by mail: `AUTHFN_MAIL_COMMAND`, `AUTHFN_MAIL_FROM`, `AUTHFN_MAIL_TEMPLATES`,
/// `AUTHFN_MAIL_TIMEOUT`, `AUTHFN_RESET_URL`, `AUTHFN_RESET_TOKEN_EXPIRES`, `AUTHFN_VERIFY_EMAIL`,
/// `AUTHFN_VERIFY_URL` and `AUTHFN_VERIFY_TOKEN_EXPIRES`.
public struct MailSettings: Sendable, Equatable {
    /// The sendmail-compatible command (argv, no shell) that receives each message on stdin.
    public var command: [String]?
    public var from: String?
    /// A directory whose `reset.subject`, `reset.txt`, `reset.html`, `verify.subject`, `verify.txt`
    /// and `verify.html` replace the built-in texts.
    public var templates: String?
    /// Seconds the command may take before it is killed (and the failure logged).
    public var timeout: Int64 = 10
    /// The reset link, with `{token}` where the token goes.
    public var resetURL: String?
    public var resetExpires: Int64 = 3600
    /// Register creates inactive accounts and mails a verification link.
    public var verifyEmail = false
    public var verifyURL: String?
    public var verifyExpires: Int64 = 86_400

    public init() {}

    /// Whether password reset mails can be sent.
    public var canReset: Bool { command != nil && from != nil && resetURL != nil }
    /// Whether verification mails can be sent.
    public var canVerify: Bool { command != nil && from != nil && verifyURL != nil }

    /// A link template: an http(s) URL (no spaces or controls) containing `{token}`.
    static func linkTemplate(_ text: String) -> String?? {
        guard text.hasPrefix("https://") || text.hasPrefix("http://"), text.contains("{token}"), text.utf8.count <= 2048,
            text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return .some(text)
    }

    /// A bare address (`authfn@example.com`) or a display name with one (`Example <no-reply@example.com>`):
    /// one line, no controls, an `@`.
    static func fromAddress(_ text: String) -> String?? {
        guard text.contains("@"), text.utf8.count <= 320, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        return .some(text)
    }

    /// The problems of a combination of settings.
    func problems() -> [ConfigError.Problem] {
        var problems: [ConfigError.Problem] = []
        if verifyEmail {
            for (variable, missing) in [
                ("AUTHFN_MAIL_COMMAND", command == nil), ("AUTHFN_MAIL_FROM", from == nil), ("AUTHFN_VERIFY_URL", verifyURL == nil),
            ] where missing {
                problems.append(.init(variable: variable, reason: "AUTHFN_VERIFY_EMAIL needs it to mail verification links"))
            }
        }
        if resetURL != nil {
            for (variable, missing) in [("AUTHFN_MAIL_COMMAND", command == nil), ("AUTHFN_MAIL_FROM", from == nil)] where missing {
                problems.append(.init(variable: variable, reason: "AUTHFN_RESET_URL needs it to mail reset links"))
            }
        }
        return problems
    }
}

/// `AUTHFN_MAIL_COMMAND` split into words as a POSIX shell would split a simple command — blanks
/// separate words, single quotes keep everything, double quotes keep all but `\"` and `\\`, a
/// backslash escapes the next character — without a shell: no variables, globs or redirections.
enum ShellWords {
    static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = text.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            switch scalar {
            case " ", "\t", "\n":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" {
                        closed = true
                        break
                    }
                    current.unicodeScalars.append(next)
                }
                guard closed else { return nil }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { return nil }
                        if escaped != "\"" && escaped != "\\" && escaped != "$" && escaped != "`" { current.unicodeScalars.append("\\") }
                        current.unicodeScalars.append(escaped)
                    } else {
                        current.unicodeScalars.append(next)
                    }
                }
                guard closed else { return nil }
            case "\\":
                guard let escaped = iterator.next() else { return nil }
                inWord = true
                current.unicodeScalars.append(escaped)
            default:
                inWord = true
                current.unicodeScalars.append(scalar)
            }
        }
        if inWord { words.append(current) }
        return words.isEmpty ? nil : words
    }
}
