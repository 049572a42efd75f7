/// One environment variable authfn reads, declared once: its name, how its text becomes a value of
/// `Configuration`, how the value in effect is shown, and a line of documentation. Loading, the error
/// messages, `authfn config` and the README's configuration table are all made from these
/// declarations (`Configuration.settings`), so they cannot drift apart.
public struct Setting: Sendable {
    public let name: String
    /// One line for the README's table (Markdown).
    public let summary: String
    /// Shown as `"<redacted>"` by `authfn config`, never as its value.
    public let isSecret: Bool
    /// The README's "default" cell when the default value alone would not say it ("system clock").
    let defaultText: String?
    /// Parses `text` into `config`; returns why it cannot, or `nil`.
    let parse: @Sendable (String, inout Configuration) -> String?
    /// The value in effect, as `authfn config` prints it (`null` when unset).
    let value: @Sendable (Configuration) -> JSONValue

    /// The README's default cell: the override, or the default value in code font, or "unset".
    public var defaultDescription: String {
        if let defaultText { return defaultText }
        switch value(Configuration()) {
        case .null: return "unset"
        case .string(let text): return "`\(text)`"
        case let other: return "`\(other.encodedString)`"
        }
    }

    /// What `authfn config` shows for this setting in `config`.
    public func shown(in config: Configuration) -> JSONValue {
        let current = value(config)
        return isSecret && current != .null ? "<redacted>" : current
    }
}

extension Setting {
    /// A setting whose text `read` turns into a value (or `nil`: the text is refused with `reason`).
    static func custom<Value>(
        _ name: String, _ path: any WritableKeyPath<Configuration, Value> & Sendable, secret: Bool = false,
        default defaultText: String? = nil, _ summary: String, reason: String,
        read: @escaping @Sendable (String) -> Value?, show: @escaping @Sendable (Value) -> JSONValue
    ) -> Setting {
        Setting(
            name: name, summary: summary, isSecret: secret, defaultText: defaultText,
            parse: { text, config in
                guard let value = read(text) else { return reason.replacingPlaceholder(with: text) }
                config[keyPath: path] = value
                return nil
            },
            value: { config in show(config[keyPath: path]) })
    }

    /// `AUTHFN_DATABASE_URL`: parsed as libpq would; a refusal names the problem, never the text
    /// (which holds a password), and `authfn config` shows it without the password.
    static func databaseURL(_ name: String, _ path: any WritableKeyPath<Configuration, DatabaseURL?> & Sendable, _ summary: String)
        -> Setting
    {
        Setting(
            name: name, summary: summary, isSecret: false, defaultText: "unset: the data directory",
            parse: { text, config in
                switch DatabaseURL.parse(text) {
                case .success(let url):
                    config[keyPath: path] = url
                    return nil
                case .failure(let error): return "not a usable PostgreSQL URL: \(error)"
                }
            },
            value: { config in config[keyPath: path].map { .string($0.description) } ?? .null })
    }

    /// A whole number in `range`.
    static func integer<Value: FixedWidthInteger & Sendable>(
        _ name: String, _ path: any WritableKeyPath<Configuration, Value> & Sendable, in range: ClosedRange<Value>,
        _ summary: String
    ) -> Setting {
        custom(
            name, path, "\(summary) (\(range.lowerBound)–\(range.upperBound))",
            reason: "'%' is not a whole number from \(range.lowerBound) to \(range.upperBound)",
            read: { text in Value(text).flatMap { range.contains($0) ? $0 : nil } }, show: { .int($0) })
    }

    /// A boolean, spelled as `Setting.boolean(_:)` accepts.
    static func flag(_ name: String, _ path: any WritableKeyPath<Configuration, Bool> & Sendable, _ summary: String) -> Setting {
        custom(
            name, path, summary, reason: "'%' is not a boolean: use 1/0, true/false, yes/no or on/off",
            read: boolean, show: { .bool($0) })
    }

    /// Free text (a path, a secret), kept as given.
    static func text(
        _ name: String, _ path: any WritableKeyPath<Configuration, String?> & Sendable, secret: Bool = false,
        default defaultText: String? = nil, _ summary: String
    ) -> Setting {
        custom(
            name, path, secret: secret, default: defaultText, summary, reason: "", read: { $0 },
            show: { $0.map(JSONValue.string) ?? .null })
    }

    /// The one boolean syntax of every variable: `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`, in any
    /// case. Anything else is refused (never silently read as false).
    public static func boolean(_ text: String) -> Bool? {
        switch text.asciiLowercased {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off": false
        default: nil
        }
    }
}

extension String {
    /// `%` replaced by `text` (for error messages that quote what was given).
    fileprivate func replacingPlaceholder(with text: String) -> String {
        split(separator: "%", omittingEmptySubsequences: false).joined(separator: text.excerpt)
    }
}
