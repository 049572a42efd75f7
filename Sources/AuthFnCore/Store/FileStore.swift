import Crypto
import Foundation
import Synchronization

/// The `Store` on a data directory: one JSON file per record, hashed index files, `flock` for
/// concurrency and a write-ahead journal for all-or-nothing batches.
///
///     authfn.json                   format marker: {"format":"authfn-data","version":1}
///     .lock                         flock(2) target; never renamed or removed
///     counters.json                 {"next_user_id": N}
///     users/<id>.json               one user record
///     index/email/<sha256>.json     {"email": canonical, "id": N}    (sha256 of the canonical email)
///     index/username/<sha256>.json  {"username": canonical, "id": N}
///     revoked/<sha256>.json         {"jti": …, "expires_at": …, "revoked_at": …}
///     journal.json                  only while a batch is being applied
///     tmp/                          temporary files; anything here outside a writer's lock is debris
///
/// Every lookup reads at most two small files, so cost does not grow with the number of users.
///
/// A commit, under the exclusive lock: write the batch's final file contents to `journal.json`
/// (temp file, fsync, rename, fsync directory — the commit point), then put each file in place the
/// same way, then remove the journal. A writer killed before the commit point leaves the old state;
/// one killed after it leaves a journal that the next reader or writer replays. Readers hold the
/// shared lock, so they never see a batch half-applied.
public final class FileStore: Store {
    public static let formatName = "authfn-data"
    public static let formatVersion = 1

    public let directory: String
    private let lock: FileLock
    private let tempCounter = Atomic<Int>(0)

    /// Opens (creating if needed) the data directory at `directory`.
    public init(directory: String) throws(StoreError) {
        self.directory = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        try POSIXFile.makeDirectory(self.directory)
        lock = try FileLock(path: self.directory + "/.lock")
        try checkFormat()
    }

    private func path(_ relative: String) -> String { directory + "/" + relative }

    private func checkFormat() throws(StoreError) {
        let markerPath = path("authfn.json")
        if let bytes = try POSIXFile.contents(markerPath) {
            try Self.validateMarker(bytes, path: markerPath)
            return
        }
        try lock.withLock(exclusive: true) { () throws(StoreError) in
            if let bytes = try POSIXFile.contents(markerPath) { return try Self.validateMarker(bytes, path: markerPath) }
            let marker: JSONValue = ["format": .string(Self.formatName), "version": .number(Double(Self.formatVersion))]
            try writeInPlace("authfn.json", marker.encoded() + [0x0A])
            try POSIXFile.syncDirectory(directory)
        }
    }

    private static func validateMarker(_ bytes: [UInt8], path: String) throws(StoreError) {
        guard let marker = try? JSONValue.parse(bytes), marker["format"] == .string(formatName),
            let version = marker["version"]?.integerValue
        else { throw .corrupt(path: path, detail: "not an authfn data-format marker") }
        guard version <= formatVersion else { throw .unsupportedFormat(path: path, found: String(version)) }
    }

    // MARK: Reads

    public func user(id: Int) throws(StoreError) -> UserRecord? {
        try read { () throws(StoreError) in try loadUser(id: id) }
    }

    public func user(canonicalEmail: String) throws(StoreError) -> UserRecord? {
        try read { () throws(StoreError) -> UserRecord? in
            guard let id = try indexEntry(kind: "email", key: canonicalEmail) else { return nil }
            return try loadUser(id: id)
        }
    }

    public func usernameExists(canonicalUsername: String) throws(StoreError) -> Bool {
        try read { () throws(StoreError) in try indexEntry(kind: "username", key: canonicalUsername) != nil }
    }

    public func isRevoked(jti: String) throws(StoreError) -> Bool {
        try read { () throws(StoreError) in POSIXFile.exists(path(Self.revocationPath(jti))) }
    }

    /// Runs `body` under the shared lock, first replaying a journal a killed writer left behind.
    private func read<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        while true {
            let result = try lock.withLock(exclusive: false) { () throws(StoreError) -> T? in
                POSIXFile.exists(path("journal.json")) ? nil : try body()
            }
            if let result { return result }
            try lock.withLock(exclusive: true) { () throws(StoreError) in try recover() }
        }
    }

    private func loadUser(id: Int) throws(StoreError) -> UserRecord? {
        let file = path("users/\(id).json")
        guard let bytes = try POSIXFile.contents(file) else { return nil }
        do {
            return try JSONDecoder().decode(UserRecord.self, from: Data(bytes))
        } catch {
            throw .corrupt(path: file, detail: "not a user record")
        }
    }

    private func indexEntry(kind: String, key: String) throws(StoreError) -> Int? {
        let file = path(Self.indexPath(kind: kind, key: key))
        guard let bytes = try POSIXFile.contents(file) else { return nil }
        guard let entry = try? JSONValue.parse(bytes), let id = entry["id"]?.integerValue else {
            throw .corrupt(path: file, detail: "not an index entry")
        }
        // The file name is a hash; the entry repeats the key so a collision can never alias two keys.
        return entry[kind] == .string(key) ? Int(id) : nil
    }

    static func digest(_ key: String) -> String {
        SHA256.hash(data: Array(key.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    static func indexPath(kind: String, key: String) -> String { "index/\(kind)/\(digest(key)).json" }
    static func revocationPath(_ jti: String) -> String { "revoked/\(digest(jti)).json" }

    // MARK: Writes

    @discardableResult
    public func commit(_ changes: [Change]) throws(StoreError) -> [Int] {
        try lock.withLock(exclusive: true) { () throws(StoreError) -> [Int] in
            try recover()
            var writes: [(path: String, bytes: [UInt8])] = []
            var claimed: Set<String> = []
            var ids: [Int] = []
            var nextID = try loadNextID()
            let startID = nextID
            for change in changes {
                switch change {
                case .createUser(var user):
                    let usernameKey = UserRecord.canonicalUsername(user.username)
                    let emailKey = UserRecord.canonicalEmail(user.email)
                    if try indexEntry(kind: "username", key: usernameKey) != nil
                        || !claimed.insert("u:" + usernameKey).inserted
                    {
                        throw .conflict(.username)
                    }
                    if try indexEntry(kind: "email", key: emailKey) != nil || !claimed.insert("e:" + emailKey).inserted {
                        throw .conflict(.email)
                    }
                    user.id = nextID
                    nextID += 1
                    ids.append(user.id)
                    writes.append(("users/\(user.id).json", try Self.encode(user)))
                    writes.append(
                        (
                            Self.indexPath(kind: "username", key: usernameKey),
                            (["username": .string(usernameKey), "id": .number(Double(user.id))] as JSONValue).encoded()
                        ))
                    writes.append(
                        (
                            Self.indexPath(kind: "email", key: emailKey),
                            (["email": .string(emailKey), "id": .number(Double(user.id))] as JSONValue).encoded()
                        ))
                case .revoke(let record):
                    writes.append((Self.revocationPath(record.jti), try Self.encode(record)))
                }
            }
            if nextID != startID {
                writes.append(("counters.json", (["next_user_id": .number(Double(nextID))] as JSONValue).encoded()))
            }
            guard !writes.isEmpty else { return ids }

            let journal: JSONValue = .object([
                "writes": .array(
                    writes.map { .object(["path": .string($0.path), "content": .string(String(decoding: $0.bytes, as: UTF8.self))]) })
            ])
            try writeInPlace("journal.json", journal.encoded())
            try POSIXFile.syncDirectory(directory)  // the commit point
            try apply(writes)
            return ids
        }
    }

    /// Puts each file in place, makes the directories durable, then drops the journal.
    private func apply(_ writes: [(path: String, bytes: [UInt8])]) throws(StoreError) {
        var directories: Set<String> = []
        for write in writes {
            let parent = String(write.path[..<(write.path.lastIndex(of: "/") ?? write.path.startIndex)])
            if !parent.isEmpty { try makeParents(parent) }
            try writeInPlace(write.path, write.bytes)
            directories.insert(parent)
        }
        for relative in directories.sorted() {
            try POSIXFile.syncDirectory(relative.isEmpty ? directory : path(relative))
        }
        try POSIXFile.remove(path("journal.json"))
        try POSIXFile.syncDirectory(directory)
    }

    /// Under the exclusive lock: finish a batch a killed writer committed, and clear its temp files.
    private func recover() throws(StoreError) {
        for name in try POSIXFile.list(path("tmp")) { try POSIXFile.remove(path("tmp/" + name)) }
        let journalPath = path("journal.json")
        guard let bytes = try POSIXFile.contents(journalPath) else { return }
        guard let journal = try? JSONValue.parse(bytes), case .array(let entries)? = journal["writes"] else {
            // Unreachable by construction: the journal only ever appears whole, by rename.
            throw .corrupt(path: journalPath, detail: "unreadable journal")
        }
        var writes: [(path: String, bytes: [UInt8])] = []
        for entry in entries {
            guard let relative = entry["path"]?.stringValue, let content = entry["content"]?.stringValue,
                !relative.hasPrefix("/"), !relative.contains("..")
            else { throw .corrupt(path: journalPath, detail: "bad journal entry") }
            writes.append((relative, Array(content.utf8)))
        }
        try apply(writes)
    }

    /// The next free user id. The counter is authoritative, but an id whose file exists (a counter
    /// restored from an old backup, say) is skipped rather than overwritten.
    private func loadNextID() throws(StoreError) -> Int {
        let file = path("counters.json")
        var next = 1
        if let bytes = try POSIXFile.contents(file) {
            guard let counters = try? JSONValue.parse(bytes), let value = counters["next_user_id"]?.integerValue, value > 0
            else { throw .corrupt(path: file, detail: "not a counters file") }
            next = Int(value)
        }
        while POSIXFile.exists(path("users/\(next).json")) { next += 1 }
        return next
    }

    private func makeParents(_ relative: String) throws(StoreError) {
        var current = directory
        for component in relative.split(separator: "/") {
            current += "/" + component
            try POSIXFile.makeDirectory(current)
        }
    }

    /// Atomically replaces `relative` with `bytes`: a synced temp file in `tmp/`, renamed over it.
    /// The caller makes the target directory durable. Must run under the exclusive lock.
    func writeInPlace(_ relative: String, _ bytes: [UInt8]) throws(StoreError) {
        try POSIXFile.makeDirectory(path("tmp"))
        let serial = tempCounter.add(1, ordering: .relaxed).newValue
        let temp = path("tmp/\(getpid())-\(serial)")
        try POSIXFile.createSynced(temp, bytes)
        do {
            try POSIXFile.move(temp, path(relative))
        } catch {
            try? POSIXFile.remove(temp)
            throw error
        }
    }

    /// Creates `relative` with `bytes` unless it exists, under the exclusive lock; returns what is there.
    public func createIfAbsent(_ relative: String, _ make: () -> [UInt8]) throws(StoreError) -> [UInt8] {
        if let existing = try POSIXFile.contents(path(relative)) { return existing }
        return try lock.withLock(exclusive: true) { () throws(StoreError) -> [UInt8] in
            if let existing = try POSIXFile.contents(path(relative)) { return existing }
            let bytes = make()
            try writeInPlace(relative, bytes)
            try POSIXFile.syncDirectory(directory)
            return bytes
        }
    }

    private static func encode(_ value: some Encodable) throws(StoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .corrupt(path: "(encoding)", detail: "\(error)")
        }
    }
}
