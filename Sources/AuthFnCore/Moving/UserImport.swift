#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `authfn users import`: the Flask app's `user` rows, as `sqlite3 -json`, `mysql --json` or a CSV
/// export print them, into any store. Ids and Werkzeug hashes are kept as they are, so the app's users
/// log in with their passwords and the app's tokens (signed with the same secret) keep working.
public enum UserImport {
    /// One row of the input, before validation, with the line it starts on.
    public struct Row: Sendable, Equatable {
        public var line: Int
        public var fields: [String: JSONValue]
    }

    /// A row that was not imported, and why (shown to the operator with its line).
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable { case skipped, failed }
        public var line: Int
        public var kind: Kind
        public var reason: String
        public var description: String { "line \(line): \(kind.rawValue): \(reason)" }
    }

    public struct Summary: Sendable, Equatable {
        public var copied = 0
        public var skipped = 0
        public var failed = 0
        public var problems: [Problem] = []
        public init() {}
        public var json: JSONValue { ["copied": .int(copied), "skipped": .int(skipped), "failed": .int(failed)] }
    }

    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    // MARK: Reading rows

    /// The rows of `bytes`: a JSON array of objects, one JSON object per line, or CSV with a header
    /// line — told apart by the first character that is not white space.
    public static func rows(_ bytes: [UInt8]) throws(FormatError) -> [Row] {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }  // a byte-order mark
        guard let first = bytes[start...].firstIndex(where: { !isSpace($0) }) else { return [] }
        switch bytes[first] {
        case UInt8(ascii: "["): return try arrayRows(bytes, from: first)
        case UInt8(ascii: "{"): return try lineRows(bytes, from: start)
        default: return try csvRows(bytes, from: start)
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    /// A JSON array: each top-level element is cut out (strings and nesting followed byte by byte)
    /// and parsed on its own, so that a bad row is reported with its line and the rest still import.
    static func arrayRows(_ bytes: [UInt8], from open: Int) throws(FormatError) -> [Row] {
        var rows: [Row] = []
        var line = 1 + bytes[..<open].count(where: { $0 == 0x0A })
        var index = open + 1
        var depth = 0
        var inString = false
        var escaped = false
        var elementStart: Int?
        var elementLine = line
        var closed = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A { line += 1 }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x22 {
                    inString = false
                }
            } else if depth == 0 && (byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]")) {
                if let begin = elementStart {
                    rows.append(element(Array(bytes[begin..<index]), line: elementLine))
                    elementStart = nil
                } else if byte == UInt8(ascii: ",") || !rows.isEmpty {
                    throw FormatError(description: "line \(line): an empty element in the JSON array")
                }
                if byte == UInt8(ascii: "]") {
                    closed = true
                    index += 1
                    break
                }
            } else if !isSpace(byte) {
                if elementStart == nil {
                    elementStart = index
                    elementLine = line
                }
                switch byte {
                case 0x22: inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                default: break
                }
            }
            index += 1
        }
        guard closed else { throw FormatError(description: "the JSON array is not closed (the input is cut short?)") }
        guard bytes[index...].allSatisfy(isSpace) else { throw FormatError(description: "line \(line): text after the JSON array") }
        return rows
    }

    /// One JSON object per line (`mysql --json` without an array, or NDJSON); blank lines are skipped.
    static func lineRows(_ bytes: [UInt8], from start: Int) throws(FormatError) -> [Row] {
        var rows: [Row] = []
        var line = 0
        for text in bytes[start...].split(separator: 0x0A, omittingEmptySubsequences: false) {
            line += 1
            guard text.contains(where: { !isSpace($0) }) else { continue }
            rows.append(element(Array(text), line: line))
        }
        return rows
    }

    /// A row from one JSON element; a value that is not an object becomes a row whose only field is
    /// the reason, reported as failed.
    private static func element(_ bytes: [UInt8], line: Int) -> Row {
        guard let value = try? JSONValue.parse(bytes) else { return Row(line: line, fields: ["": "not valid JSON"]) }
        guard let object = value.objectValue else { return Row(line: line, fields: ["": "not a JSON object"]) }
        var fields: [String: JSONValue] = [:]
        for (key, value) in object { fields[key.asciiLowercased] = value }
        return Row(line: line, fields: fields)
    }

    /// RFC 4180 CSV: a header line of column names, `"` quoting (with `""` inside), fields that may
    /// span lines, CRLF or LF. Every value is text; `rows` leaves the typing to validation.
    static func csvRows(_ bytes: [UInt8], from start: Int) throws(FormatError) -> [Row] {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var fieldWasQuoted = false
        var line = 1
        var recordLine = 1
        var index = start
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
            fieldWasQuoted = false
        }
        while index < bytes.count {
            let byte = bytes[index]
            if quoted {
                if byte == 0x22 {
                    if index + 1 < bytes.count && bytes[index + 1] == 0x22 {
                        field.append(0x22)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                }
            } else if byte == 0x22 && field.isEmpty && !fieldWasQuoted {
                quoted = true
                fieldWasQuoted = true
            } else if byte == UInt8(ascii: ",") {
                endField()
            } else if byte == 0x0A || byte == 0x0D {
                if byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A { index += 1 }
                endField()
                if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
                fields = []
                line += 1
                recordLine = line
            } else {
                field.append(byte)
            }
            index += 1
        }
        guard !quoted else { throw FormatError(description: "line \(recordLine): a quoted CSV field is not closed") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted {
            endField()
            records.append((recordLine, fields))
        }
        guard let header = records.first else { return [] }
        let names = header.fields.map { $0.trimming(Trim.whitespace).asciiLowercased }
        guard names.contains("id") else { throw FormatError(description: "line \(header.line): the CSV header has no id column") }
        return records.dropFirst().map { record in
            guard record.fields.count == names.count else {
                return Row(line: record.line, fields: ["": .string("\(record.fields.count) fields where the header has \(names.count)")])
            }
            var values: [String: JSONValue] = [:]
            for (name, value) in zip(names, record.fields) { values[name] = .string(value) }
            return Row(line: record.line, fields: values)
        }
    }

    // MARK: Validation

    /// The user a row describes, or why it cannot be imported: the checks registration makes on
    /// usernames and emails, a Werkzeug hash authfn can verify, an id from 1 to 2^63 − 1.
    public static func user(from row: Row, now: Int64) -> Result<UserRecord, Problem> {
        func fail(_ reason: String) -> Result<UserRecord, Problem> { .failure(Problem(line: row.line, kind: .failed, reason: reason)) }
        if case .string(let reason)? = row.fields[""] { return fail(reason) }
        guard let id = integer(row.fields["id"]), id > 0 else { return fail("id must be a positive whole number") }
        guard case .string(let rawUsername)? = row.fields["username"] else { return fail("username is missing or not text") }
        let usernameProblems = UserInput.usernameProblems(rawUsername)
        guard usernameProblems.isEmpty else { return fail("username: " + usernameProblems.joined(separator: " ")) }
        guard case .string(let email)? = row.fields["email"] else { return fail("email is missing or not text") }
        let emailProblems = UserInput.emailProblems(email)
        guard emailProblems.isEmpty else { return fail("email: " + emailProblems.joined(separator: " ")) }
        guard case .string(let hash)? = row.fields["password"] else { return fail("password is missing or not text") }
        let parts = hash.split(separator: "$", maxSplits: 2, omittingEmptySubsequences: false)
        guard hash.utf8.count <= 1024, parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty,
            PasswordHasher.parseMethod(String(parts[0])) != nil
        else {
            return fail("password is not a Werkzeug hash authfn can verify (scrypt:N:r:p or pbkdf2:HASH:ITERATIONS within the bounds)")
        }
        var isActive = true
        if let value = row.fields["is_active"], value != .null {
            guard let active = boolean(value) else { return fail("is_active must be true/false or 1/0") }
            isActive = active
        }
        var createdAt = now
        if let value = row.fields["created_on"] ?? row.fields["created_at"], value != .null {
            guard let seconds = instant(value) else { return fail("created_on is not a date-time (YYYY-MM-DD HH:MM:SS) or epoch seconds") }
            createdAt = seconds
        }
        return .success(
            UserRecord(
                id: Int(id), username: rawUsername.trimming(Trim.whitespaceOrNewline), email: email, password: hash,
                isActive: isActive, createdAt: createdAt))
    }

    static func integer(_ value: JSONValue?) -> Int64? {
        switch value {
        case .integer(let number)?: number
        case .string(let text)?: Int64(text.trimming(Trim.whitespace))
        default: nil
        }
    }

    static func boolean(_ value: JSONValue) -> Bool? {
        switch value {
        case .bool(let flag): flag
        case .integer(let number) where number == 0 || number == 1: number == 1
        case .string(let text):
            switch text.trimming(Trim.whitespace).asciiLowercased {
            case "1", "true", "t", "yes": true
            case "0", "false", "f", "no": false
            default: nil
            }
        default: nil
        }
    }

    /// SQLite's and MySQL's `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC, as `func.now()` stores it), ISO-8601,
    /// or epoch seconds.
    static func instant(_ value: JSONValue) -> Int64? {
        switch value {
        case .integer(let seconds): return seconds
        case .number(let seconds) where seconds.isFinite && abs(seconds) < 1e15: return Int64(seconds.rounded(.down))
        case .string(let raw):
            let text = raw.trimming(Trim.whitespace)
            if let seconds = Int64(text) { return seconds }
            var iso = String(text.map { $0 == " " ? "T" : $0 })
            if let dot = iso.firstIndex(of: ".") {
                let digits = iso[iso.index(after: dot)...].prefix(while: \.isNumber)
                iso.removeSubrange(dot..<iso.index(dot, offsetBy: digits.count + 1))
            }
            let hasZone = iso.hasSuffix("Z") || iso.dropFirst(19).contains("+") || iso.dropFirst(19).contains("-")
            if iso.count == 10 { iso += "T00:00:00" }
            guard let date = try? Date(hasZone ? iso : iso + "Z", strategy: .iso8601) else { return nil }
            return Int64(date.timeIntervalSince1970.rounded(.down))
        default: return nil
        }
    }

    // MARK: Importing

    /// Imports `rows` into `store`, `batchSize` rows a commit; a batch with a clash is redone row by
    /// row, so each existing id, username or email is reported and skipped on its own. Every row is
    /// all-or-nothing; an interrupted import is rerun safely (what it already added is skipped).
    public static func run(
        _ rows: [Row], into store: any Store, now: Int64, batchSize: Int = 200, progress: (Int) -> Void = { _ in }
    ) throws(StoreError) -> Summary {
        var summary = Summary()
        var batch: [(line: Int, user: UserRecord)] = []
        func flush() throws(StoreError) {
            defer { batch = [] }
            guard !batch.isEmpty else { return }
            do throws(StoreError) {
                try store.commit(batch.map { .insertUser($0.user) })
                summary.copied += batch.count
                return
            } catch {
                guard case .conflict = error else { throw error }
            }
            for (line, user) in batch {
                do throws(StoreError) {
                    try store.commit([.insertUser(user)])
                    summary.copied += 1
                } catch {
                    guard case .conflict(let field) = error else { throw error }
                    let what =
                        switch field {
                        case .username: "the username is taken"
                        case .email: "the email is registered"
                        default: "id \(user.id) exists"
                        }
                    summary.skipped += 1
                    summary.problems.append(Problem(line: line, kind: .skipped, reason: what))
                }
            }
        }
        for (offset, row) in rows.enumerated() {
            switch user(from: row, now: now) {
            case .success(let user): batch.append((row.line, user))
            case .failure(let problem):
                summary.failed += 1
                summary.problems.append(problem)
            }
            if batch.count >= batchSize { try flush() }
            progress(offset + 1)
        }
        try flush()
        return summary
    }
}
