/// A record the data directory keeps as JSON, decoded with authfn's own parser. Foundation's
/// `JSONDecoder` was a sixth of a warm user_info (a revocation lookup and a user record per request);
/// these decoders read a parsed object field by field, the way the synthesised `Decodable` did:
/// unknown fields ignored, optional fields absent or `null`, wrong types refused.
protocol StoredRecord {
    init(stored: RecordFields) throws(RecordFields.Mismatch)
}

extension StoredRecord {
    /// `bytes` as this record; `StoreError.corrupt` naming `path` when they are not one.
    static func decode(_ bytes: some Collection<UInt8>, path: String) throws(StoreError) -> Self {
        guard case .object(let object)? = try? JSONValue.parse(bytes), let record = try? Self(stored: RecordFields(object)) else {
            throw .corrupt(path: path, detail: "not a \(Self.self) record")
        }
        return record
    }
}

/// One stored object's fields, read by name and type.
struct RecordFields {
    struct Mismatch: Error {}

    let object: JSONObject

    init(_ object: JSONObject) { self.object = object }

    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(Mismatch) -> String {
        guard let value = try optionalString(key) else { throw Mismatch() }
        return value
    }

    func optionalString(_ key: String) throws(Mismatch) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let text) = value else { throw Mismatch() }
        return text
    }

    func int64(_ key: String) throws(Mismatch) -> Int64 {
        guard let value = try optionalInt64(key) else { throw Mismatch() }
        return value
    }

    func optionalInt64(_ key: String) throws(Mismatch) -> Int64? {
        guard let value = present(key) else { return nil }
        guard let number = value.integerValue else { throw Mismatch() }
        return number
    }

    func int(_ key: String) throws(Mismatch) -> Int {
        guard let value = Int(exactly: try int64(key)) else { throw Mismatch() }
        return value
    }

    func bool(_ key: String) throws(Mismatch) -> Bool {
        guard case .bool(let flag)? = present(key) else { throw Mismatch() }
        return flag
    }

    func optionalBool(_ key: String) throws(Mismatch) -> Bool? {
        guard let value = present(key) else { return nil }
        guard case .bool(let flag) = value else { throw Mismatch() }
        return flag
    }

    func optionalObject(_ key: String) throws(Mismatch) -> RecordFields? {
        guard let value = present(key) else { return nil }
        guard case .object(let members) = value else { throw Mismatch() }
        return RecordFields(members)
    }

    func int64Array(_ key: String) throws(Mismatch) -> [Int64] {
        guard case .array(let values)? = present(key) else { throw Mismatch() }
        var numbers: [Int64] = []
        numbers.reserveCapacity(values.count)
        for value in values {
            guard let number = value.integerValue else { throw Mismatch() }
            numbers.append(number)
        }
        return numbers
    }

    func array(_ key: String) throws(Mismatch) -> [RecordFields] {
        guard case .array(let values)? = present(key) else { throw Mismatch() }
        var objects: [RecordFields] = []
        for value in values {
            guard case .object(let members) = value else { throw Mismatch() }
            objects.append(RecordFields(members))
        }
        return objects
    }

    /// A string that must be one of `type`'s raw values.
    func optionalEnum<T: RawRepresentable<String>>(_ key: String, _ type: T.Type) throws(Mismatch) -> T? {
        guard let text = try optionalString(key) else { return nil }
        guard let value = T(rawValue: text) else { throw Mismatch() }
        return value
    }
}

extension UserRecord: StoredRecord {
    init(stored fields: RecordFields) throws(RecordFields.Mismatch) {
        self.init(
            id: try fields.int("id"), username: try fields.string("username"), email: try fields.string("email"),
            password: try fields.string("password"), isActive: try fields.bool("is_active"), createdAt: try fields.int64("created_at"),
            // Absent from records written by authfn 1.0.
            cutoffGeneration: try fields.optionalInt64("cutoff_generation") ?? 0,
            tokensValidAfter: try fields.optionalInt64("tokens_valid_after"),
            cutoffExemptSession: try fields.optionalString("cutoff_exempt_sid"),
            // Absent from records written before authfn 1.2 (and from accounts without pending links).
            resetToken: try fields.optionalObject("reset_token").map { fields throws(RecordFields.Mismatch) in
                try AccountToken(stored: fields)
            },
            verifyToken: try fields.optionalObject("verify_token").map { fields throws(RecordFields.Mismatch) in
                try AccountToken(stored: fields)
            },
            emailUnverified: try fields.optionalBool("email_unverified") ?? false)
    }
}

extension AccountToken {
    init(stored fields: RecordFields) throws(RecordFields.Mismatch) {
        self.init(digest: try fields.string("digest"), expiresAt: try fields.int64("expires_at"))
    }
}

extension RevocationRecord: StoredRecord {
    init(stored fields: RecordFields) throws(RecordFields.Mismatch) {
        let child = try fields.optionalObject("child").map { child throws(RecordFields.Mismatch) in
            Child(jti: try child.string("jti"), issuedAt: try child.int64("iat"))
        }
        self.init(
            kind: try fields.optionalEnum("kind", Kind.self) ?? .token, id: try fields.string("jti"),
            expiresAt: try fields.optionalInt64("expires_at"), revokedAt: try fields.int64("revoked_at"), child: child)
    }
}

extension ThrottleRecord: StoredRecord {
    init(stored fields: RecordFields) throws(RecordFields.Mismatch) {
        self.init(key: try fields.string("key"), failures: try fields.int64Array("failures"), expiresAt: try fields.int64("expires_at"))
    }
}

extension KeyRing: StoredRecord {
    init(stored fields: RecordFields) throws(RecordFields.Mismatch) {
        var keys: [KeyRecord] = []
        for key in try fields.array("keys") {
            guard let state = try key.optionalEnum("state", KeyRecord.State.self) else { throw RecordFields.Mismatch() }
            keys.append(
                KeyRecord(
                    kid: try key.string("kid"), alg: try key.string("alg"), state: state, createdAt: try key.int64("created_at"),
                    activatedAt: try key.optionalInt64("activated_at"), retiredAt: try key.optionalInt64("retired_at"),
                    revokedAt: try key.optionalInt64("revoked_at"), notAfter: try key.optionalInt64("not_after"),
                    publicKey: try key.optionalString("public_key"), privateKey: try key.optionalString("private_key")))
        }
        self.init(version: try fields.int64("version"), keys: keys)
    }
}
