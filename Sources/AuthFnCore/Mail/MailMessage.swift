#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One RFC 5322 message as a sendmail-compatible command reads it on stdin: LF line ends, UTF-8
/// headers where needed (RFC 6532), an RFC 2047 subject, `Date` and `Message-ID`, and a text/plain
/// body (with a text/html alternative when there is one), each part base64 so that no template line
/// can exceed SMTP's 998 octets or be taken for the end of the data.
public struct MailMessage: Sendable, Equatable {
    public var from: String
    public var to: String
    public var subject: String
    public var text: String
    public var html: String?
    /// Epoch seconds.
    public var date: Int64
    /// Without the angle brackets: `uuid@domain`.
    public var messageID: String
    /// The multipart boundary (random, so no body can contain it).
    public var boundary: String

    public var rendered: [UInt8] {
        var head = [
            "From: \(Self.oneLine(from))",
            "To: \(Self.oneLine(to))",
            "Subject: \(Self.encodedWord(Self.oneLine(subject)))",
            "Date: \(Self.date(date))",
            "Message-ID: <\(messageID)>",
            "MIME-Version: 1.0",
            "Auto-Submitted: auto-generated",
        ]
        var body: String
        if let html {
            head.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            body =
                "--\(boundary)\n" + Self.part("text/plain", text) + "--\(boundary)\n" + Self.part("text/html", html)
                + "--\(boundary)--\n"
        } else {
            head.append("Content-Type: text/plain; charset=utf-8")
            head.append("Content-Transfer-Encoding: base64")
            body = Self.base64Lines(text)
        }
        body = head.joined(separator: "\n") + "\n\n" + body
        return Array(body.utf8)
    }

    private static func part(_ type: String, _ content: String) -> String {
        "Content-Type: \(type); charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + base64Lines(content)
    }

    /// Base64 in lines of 76 characters (RFC 2045 §6.8).
    static func base64Lines(_ text: String) -> String {
        let encoded = Array(Data(text.utf8).base64EncodedString().utf8)
        var lines = ""
        var start = 0
        while start < encoded.count {
            let end = min(start + 76, encoded.count)
            lines += String(decoding: encoded[start..<end], as: UTF8.self) + "\n"
            start = end
        }
        return lines
    }

    /// A header value on one line: line breaks and other controls become spaces (no header injection).
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// ASCII as it is; anything else as RFC 2047 encoded words (`=?UTF-8?B?…?=`) of whole characters, at
    /// most 64 characters each, folded onto continuation lines (each line under 78).
    static func encodedWord(_ text: String) -> String {
        guard !text.utf8.contains(where: { $0 >= 0x80 }) else {
            var words: [String] = []
            var chunk: [UInt8] = []
            for character in text {
                let bytes = Array(character.utf8)
                // 39 bytes of UTF-8 are 52 base64 characters: with `=?UTF-8?B?`, `?=` and `Subject: `, 73.
                if chunk.count + bytes.count > 39, !chunk.isEmpty {
                    words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                    chunk = []
                }
                chunk += bytes
            }
            if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
            return words.joined(separator: "\n ")
        }
        return text
    }

    /// RFC 5322 §3.3: `Sun, 06 Dec 2026 13:00:00 +0000`.
    static func date(_ seconds: Int64) -> String {
        let http = Cookies.httpDate(seconds)
        return String(http.dropLast(3)) + "+0000"
    }
}

/// The built-in texts of the two mails, and the files in `AUTHFN_MAIL_TEMPLATES` that replace them.
/// Placeholders: `{link}`, `{username}`, `{email}`, `{minutes}` and `{hours}` (the link's lifetime).
public enum MailTemplates {
    public enum Kind: String, Sendable {
        case reset
        case verify
    }

    static func defaults(_ kind: Kind) -> (subject: String, text: String) {
        switch kind {
        case .reset:
            (
                "Reset your password",
                """
                Hello {username},

                Someone asked to reset the password of the account registered with {email}.
                To choose a new password, open this link within {minutes} minutes:

                {link}

                If it was not you, ignore this message: your password stays as it is.

                """
            )
        case .verify:
            (
                "Confirm your email address",
                """
                Hello {username},

                Confirm that {email} is your address by opening this link within {hours} hours:

                {link}

                If you did not create an account, ignore this message.

                """
            )
        }
    }

    /// The subject, text and (if the directory has one) HTML of a mail, placeholders filled in. A file
    /// that cannot be read leaves the built-in text in place (the caller logs it).
    static func render(
        _ kind: Kind, directory: String?, values: [String: String], read: (String) -> String? = readFile
    ) -> (subject: String, text: String, html: String?) {
        let builtIn = defaults(kind)
        let subject = directory.flatMap { read("\($0)/\(kind.rawValue).subject") } ?? builtIn.subject
        let text = directory.flatMap { read("\($0)/\(kind.rawValue).txt") } ?? builtIn.text
        let html = directory.flatMap { read("\($0)/\(kind.rawValue).html") }
        let escaped = values.mapValues(htmlEscaped)
        return (
            fill(subject.split(whereSeparator: \.isNewline).first.map(String.init) ?? "", values), fill(text, values),
            html.map { fill($0, escaped) }
        )
    }

    /// `{name}` replaced by `values[name]`, in one pass; unknown names are left as they are.
    static func fill(_ template: String, _ values: [String: String]) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.prefix(32).firstIndex(of: "}"), let value = values[String(after[..<close])] {
                output += value
                rest = after[after.index(after: close)...]
            } else {
                output += "{"
                rest = after
            }
        }
        return output + rest
    }

    static func htmlEscaped(_ text: String) -> String {
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// A template file's text (at most 64 KiB, UTF-8).
    static func readFile(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 65_536 else { return nil }
        return String(validating: data, as: UTF8.self)
    }
}
