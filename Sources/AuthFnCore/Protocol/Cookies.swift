/// Cookies both ways: reading one cookie from a request's `Cookie` header, and writing `Set-Cookie`
/// values the way Werkzeug's `dump_cookie` writes them (the attribute order Flask-JWT-Extended's
/// clients saw: `Domain`, `Expires`, `Max-Age`, `Secure`, `HttpOnly`, `Path`, `SameSite`).
public enum Cookies {
    /// The value of the first cookie called `name` in a `Cookie` header (`a=1; b=2`), quotes removed;
    /// `nil` when there is none. One pass over the bytes, no dictionary: a header of many hostile
    /// names costs linear time.
    public static func value(named name: String, in header: String?) -> String? {
        guard let header else { return nil }
        let wanted = Array(name.utf8)
        var bytes = Array(header.utf8)[...]
        while !bytes.isEmpty {
            let end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
            var pair = bytes[..<end]
            bytes = end < bytes.endIndex ? bytes[(end + 1)...] : []
            while let first = pair.first, first == 0x20 || first == 0x09 { pair = pair.dropFirst() }
            while let last = pair.last, last == 0x20 || last == 0x09 { pair = pair.dropLast() }
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            var key = pair[..<equals]
            while let last = key.last, last == 0x20 || last == 0x09 { key = key.dropLast() }
            guard key.elementsEqual(wanted) else { continue }
            var value = pair[(equals + 1)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            return String(decoding: value, as: UTF8.self)
        }
        return nil
    }

    /// One `Set-Cookie` value. `value` must be cookie-safe already (tokens and UUIDs are); `expires` is
    /// epoch seconds.
    static func setCookie(
        _ name: String, _ value: String, domain: String?, expires: Int64?, maxAge: Int64?, secure: Bool, httpOnly: Bool,
        path: String, sameSite: CookieSettings.SameSite?
    ) -> String {
        var parts = ["\(name)=\(value)"]
        if let domain { parts.append("Domain=\(domain)") }
        if let expires { parts.append("Expires=\(httpDate(expires))") }
        if let maxAge { parts.append("Max-Age=\(maxAge)") }
        if secure { parts.append("Secure") }
        if httpOnly { parts.append("HttpOnly") }
        parts.append("Path=\(path)")
        if let sameSite { parts.append("SameSite=\(sameSite.rawValue)") }
        return parts.joined(separator: "; ")
    }

    /// RFC 9110 §5.6.7's IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of epoch seconds.
    static func httpDate(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int((days % 7 + 7 + 4) % 7)  // 1970-01-01 was a Thursday.
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(names[weekday]), \(two(day)) \(months[Int(month - 1)]) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60)) GMT"
    }
}

extension WebSettings {
    /// The cookies a response carrying new tokens sets: each token in its `HttpOnly` cookie and, with
    /// CSRF protection, its `csrf` claim in a readable one. Nothing when cookies are not a location.
    func cookies(access: (token: String, csrf: String?)?, refresh: (token: String, csrf: String?)?, now: Int64) -> [String] {
        guard usesCookies else { return [] }
        let maxAge = cookies.sessionCookie ? nil : CookieSettings.persistentMaxAge
        let expires = maxAge.map { now + $0 }
        var lines: [String] = []
        func add(_ name: String, _ value: String, path: String, httpOnly: Bool) {
            lines.append(
                Cookies.setCookie(
                    name, value, domain: cookies.domain, expires: expires, maxAge: maxAge, secure: cookies.secure, httpOnly: httpOnly,
                    path: path, sameSite: cookies.sameSite))
        }
        if let access {
            add(cookies.accessName, access.token, path: cookies.accessPath, httpOnly: true)
            if csrf.protect, csrf.inCookies, let value = access.csrf {
                add(csrf.accessCookieName, value, path: csrf.accessCookiePath, httpOnly: false)
            }
        }
        if let refresh {
            add(cookies.refreshName, refresh.token, path: cookies.refreshPath, httpOnly: true)
            if csrf.protect, csrf.inCookies, let value = refresh.csrf {
                add(csrf.refreshCookieName, value, path: csrf.refreshCookiePath, httpOnly: false)
            }
        }
        return lines
    }

    /// The cookies a sign-out sets: all four emptied and expired (Flask-JWT-Extended's
    /// `unset_jwt_cookies`). Nothing when cookies are not a location.
    var unsetCookies: [String] {
        guard usesCookies else { return [] }
        var lines: [String] = []
        func add(_ name: String, path: String, httpOnly: Bool) {
            lines.append(
                Cookies.setCookie(
                    name, "", domain: cookies.domain, expires: 0, maxAge: nil, secure: cookies.secure, httpOnly: httpOnly, path: path,
                    sameSite: cookies.sameSite))
        }
        add(cookies.accessName, path: cookies.accessPath, httpOnly: true)
        if csrf.protect, csrf.inCookies { add(csrf.accessCookieName, path: csrf.accessCookiePath, httpOnly: false) }
        add(cookies.refreshName, path: cookies.refreshPath, httpOnly: true)
        if csrf.protect, csrf.inCookies { add(csrf.refreshCookieName, path: csrf.refreshCookiePath, httpOnly: false) }
        return lines
    }
}

extension WebSettings {
    /// A new double-submit value (a UUID, as Flask-JWT-Extended's), when tokens travel in cookies with
    /// CSRF protection; `nil` otherwise, and the token then carries no `csrf` claim.
    func newCSRFValue(_ random: any RandomSource) -> String? {
        usesCookies && csrf.protect ? random.uuidV4() : nil
    }

    /// The CSRF value of a rotated refresh token's successor: a function of its `jti` (itself random and
    /// secret), so that every retry within the reuse interval receives the identical successor.
    static func csrfValue(successorJTI jti: String) -> String {
        // The first 128 bits of the SHA-256, in hex.
        String(FileStore.digest("authfn csrf\u{0}" + jti).prefix(32))
    }
}
