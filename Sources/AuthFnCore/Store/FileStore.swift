import Crypto
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

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

    fileprivate func path(_ relative: String) -> String { directory + "/" + relative }

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

    public func allUsers() throws(StoreError) -> [UserRecord] {
        try read { () throws(StoreError) -> [UserRecord] in
            var users: [UserRecord] = []
            for name in try POSIXFile.list(path("users")) {
                guard name.hasSuffix(".json"), let id = Int(name.dropLast(5)), let user = try loadUser(id: id) else { continue }
                users.append(user)
            }
            return users.sorted { $0.id < $1.id }
        }
    }

    public func revocation(_ key: String) throws(StoreError) -> RevocationRecord? {
        try read { () throws(StoreError) in try load(RevocationRecord.self, Self.revocationPath(key)) }
    }

    public func throttle(_ key: String) throws(StoreError) -> ThrottleRecord? {
        try read { () throws(StoreError) in try load(ThrottleRecord.self, Self.throttlePath(key)) }
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

    private func loadUser(id: Int) throws(StoreError) -> UserRecord? { try load(UserRecord.self, "users/\(id).json") }

    private func load<T: Decodable>(_ type: T.Type, _ relative: String) throws(StoreError) -> T? {
        guard let bytes = try POSIXFile.contents(path(relative)) else { return nil }
        return try Self.decode(type, bytes, path: relative)
    }

    fileprivate static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], path: String) throws(StoreError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .corrupt(path: path, detail: "not a \(type) record")
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
    static func revocationPath(_ key: String) -> String { "revoked/\(digest(key)).json" }
    static func throttlePath(_ key: String) -> String { "throttle/\(digest(key)).json" }
    static func userPath(_ id: Int) -> String { "users/\(id).json" }

    /// Expiry markers group prunable records by the hour they expire in, so pruning reads only the
    /// hours that are over instead of every record.
    static let bucketSeconds: Int64 = 3600

    static func expiryMarkerPath(for relative: String, expiresAt: Int64) -> String {
        let bucket = expiresAt / bucketSeconds
        return "expiry/\(bucket)/\(digest(relative))"
    }

    // MARK: Writes

    @discardableResult
    public func commit(_ changes: [Change]) throws(StoreError) -> [Int] {
        try lock.withLock(exclusive: true) { () throws(StoreError) -> [Int] in
            try recover()
            var batch = Batch(store: self)
            var ids: [Int] = []
            for change in changes { if let id = try batch.apply(change) { ids.append(id) } }
            try batch.finish()
            guard !batch.writes.isEmpty else { return ids }

            let journal: JSONValue = .object([
                "writes": .array(
                    batch.writes.map { write in
                        guard let bytes = write.bytes else { return ["path": .string(write.path), "delete": true] }
                        return ["path": .string(write.path), "content": .string(String(decoding: bytes, as: UTF8.self))]
                    })
            ])
            try writeInPlace("journal.json", journal.encoded())
            try POSIXFile.syncDirectory(directory)  // the commit point
            try apply(batch.writes)
            return ids
        }
    }

    /// A batch being built under the exclusive lock: the files it will write (or delete), read back by
    /// later changes in the same batch before they touch the disk.
    private struct Batch {
        let store: FileStore
        var writes: [(path: String, bytes: [UInt8]?)] = []
        var pending: [String: [UInt8]?] = [:]
        var nextID: Int?
        var startID: Int?

        init(store: FileStore) { self.store = store }

        func contents(_ relative: String) throws(StoreError) -> [UInt8]? {
            if let staged = pending[relative] { return staged }
            return try POSIXFile.contents(store.path(relative))
        }

        mutating func put(_ relative: String, _ bytes: [UInt8]?) {
            writes.append((relative, bytes))
            pending[relative] = .some(bytes)
        }

        func index(_ kind: String, _ key: String) throws(StoreError) -> Int? {
            let relative = FileStore.indexPath(kind: kind, key: key)
            guard let bytes = try contents(relative) else { return nil }
            guard let entry = try? JSONValue.parse(bytes), let id = entry["id"]?.integerValue else {
                throw .corrupt(path: relative, detail: "not an index entry")
            }
            return entry[kind] == .string(key) ? Int(id) : nil
        }

        func user(_ id: Int) throws(StoreError) -> UserRecord? {
            let relative = FileStore.userPath(id)
            return try contents(relative).map { bytes throws(StoreError) in try FileStore.decode(UserRecord.self, bytes, path: relative) }
        }

        /// Stages `change`; returns the id a `.createUser` was given.
        mutating func apply(_ change: Change) throws(StoreError) -> Int? {
            switch change {
            case .createUser(var user):
                let usernameKey = UserRecord.canonicalUsername(user.username)
                let emailKey = UserRecord.canonicalEmail(user.email)
                if try index("username", usernameKey) != nil { throw .conflict(.username) }
                if try index("email", emailKey) != nil { throw .conflict(.email) }
                if nextID == nil {
                    nextID = try store.loadNextID()
                    startID = nextID
                }
                var id = nextID ?? 1
                while try contents(FileStore.userPath(id)) != nil { id += 1 }
                user.id = id
                nextID = id + 1
                put(FileStore.userPath(id), try FileStore.encode(user))
                put(
                    FileStore.indexPath(kind: "username", key: usernameKey),
                    (["username": .string(usernameKey), "id": .number(Double(id))] as JSONValue).encoded())
                put(
                    FileStore.indexPath(kind: "email", key: emailKey),
                    (["email": .string(emailKey), "id": .number(Double(id))] as JSONValue).encoded())
                return id
            case .updateUser(let user):
                guard let old = try self.user(user.id), InMemoryStore.sameKeys(old, user) else { throw .conflict(.user) }
                put(FileStore.userPath(user.id), try FileStore.encode(user))
            case .deleteUser(let id):
                guard let old = try user(id) else { throw .conflict(.user) }
                put(FileStore.userPath(id), nil)
                put(FileStore.indexPath(kind: "username", key: UserRecord.canonicalUsername(old.username)), nil)
                put(FileStore.indexPath(kind: "email", key: UserRecord.canonicalEmail(old.email)), nil)
            case .revoke(let record):
                let relative = FileStore.revocationPath(record.key)
                put(relative, try FileStore.encode(record))
                if let expiresAt = record.expiresAt { mark(relative, expiresAt: expiresAt) }
            case .requireNoRevocation(let key):
                if try contents(FileStore.revocationPath(key)) != nil { throw .conflict(.revocation) }
            case .replaceThrottle(let key, let expected, let new):
                let relative = FileStore.throttlePath(key)
                let current = try contents(relative).map { bytes throws(StoreError) in
                    try FileStore.decode(ThrottleRecord.self, bytes, path: relative)
                }
                guard current == expected else { throw .conflict(.throttle) }
                put(relative, try new.map { record throws(StoreError) in try FileStore.encode(record) })
                if let new { mark(relative, expiresAt: new.expiresAt) }
            case .clearThrottle(let key):
                let relative = FileStore.throttlePath(key)
                if try contents(relative) != nil { put(relative, nil) }
            }
            return nil
        }

        private mutating func mark(_ relative: String, expiresAt: Int64) {
            put(FileStore.expiryMarkerPath(for: relative, expiresAt: expiresAt), Array(relative.utf8))
        }

        mutating func finish() throws(StoreError) {
            if let nextID, nextID != startID {
                put("counters.json", (["next_user_id": .number(Double(nextID))] as JSONValue).encoded())
            }
        }
    }

    @discardableResult
    public func prune(now: Int64, limit: Int?) throws(StoreError) -> Int {
        try lock.withLock(exclusive: true) { () throws(StoreError) -> Int in
            try recover()
            var removed = 0
            var touched: Set<String> = []
            let buckets = try POSIXFile.list(path("expiry")).compactMap { Int64($0) }.sorted()
            // A bounded (opportunistic) prune looks at whole hours that are over; a full one also at the
            // current hour, record by record, so that it removes exactly what has expired.
            let lastBucket = limit == nil ? now / Self.bucketSeconds : now / Self.bucketSeconds - 1
            for bucket in buckets where bucket <= lastBucket {
                let bucketPath = "expiry/\(bucket)"
                // A bounded prune reads only as many markers as it may act on: an hour with 100,000
                // expired records costs each request 64 of them, not a scan of the whole hour.
                for marker in try POSIXFile.list(path(bucketPath), limit: limit.map { max(0, $0 - removed) }) {
                    let markerPath = bucketPath + "/" + marker
                    if let target = try POSIXFile.contents(path(markerPath)).map({ String(decoding: $0, as: UTF8.self) }),
                        target.hasPrefix("revoked/") || target.hasPrefix("throttle/"), !target.contains(".."),
                        let bytes = try POSIXFile.contents(path(target))
                    {
                        let record = try? JSONValue.parse(bytes)
                        if let expiresAt = record?["expires_at"]?.integerValue, expiresAt > now {
                            let moved = Self.expiryMarkerPath(for: target, expiresAt: expiresAt)
                            if moved == markerPath { continue }  // not expired yet, and filed right
                            // Extended since this marker was written (a throttle record): file it again.
                            try makeParents(String(moved[..<(moved.lastIndex(of: "/") ?? moved.endIndex)]))
                            try writeInPlace(moved, Array(target.utf8))
                        } else {
                            try POSIXFile.remove(path(target))
                            touched.insert(String(target.prefix { $0 != "/" }))
                            removed += 1
                        }
                    }
                    try POSIXFile.remove(path(markerPath))
                    touched.insert(bucketPath)
                }
                if try POSIXFile.list(path(bucketPath), limit: 1).isEmpty { rmdir(path(bucketPath)) }
                if let limit, removed >= limit { break }
            }
            for relative in touched.sorted() where POSIXFile.exists(path(relative)) {
                try POSIXFile.syncDirectory(path(relative))
            }
            if !touched.isEmpty { try POSIXFile.syncDirectory(path("expiry")) }
            return removed
        }
    }

    /// Puts each file in place, makes the directories durable, then drops the journal.
    private func apply(_ writes: [(path: String, bytes: [UInt8]?)]) throws(StoreError) {
        var directories: Set<String> = []
        for write in writes {
            let parent = String(write.path[..<(write.path.lastIndex(of: "/") ?? write.path.startIndex)])
            if let bytes = write.bytes {
                if !parent.isEmpty { try makeParents(parent) }
                try writeInPlace(write.path, bytes)
            } else {
                try POSIXFile.remove(path(write.path))
            }
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
        var writes: [(path: String, bytes: [UInt8]?)] = []
        for entry in entries {
            guard let relative = entry["path"]?.stringValue, !relative.hasPrefix("/"), !relative.contains("..") else {
                throw .corrupt(path: journalPath, detail: "bad journal entry")
            }
            if entry["delete"] == .bool(true) {
                writes.append((relative, nil))
            } else if let content = entry["content"]?.stringValue {
                writes.append((relative, Array(content.utf8)))
            } else {
                throw .corrupt(path: journalPath, detail: "bad journal entry")
            }
        }
        try apply(writes)
    }

    /// The counter of user ids. A batch still skips an id whose file exists (a counter restored from an
    /// old backup, say) rather than overwrite a user.
    fileprivate func loadNextID() throws(StoreError) -> Int {
        let file = path("counters.json")
        var next = 1
        if let bytes = try POSIXFile.contents(file) {
            guard let counters = try? JSONValue.parse(bytes), let value = counters["next_user_id"]?.integerValue, value > 0
            else { throw .corrupt(path: file, detail: "not a counters file") }
            next = Int(value)
        }
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

    fileprivate static func encode(_ value: some Encodable) throws(StoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .corrupt(path: "(encoding)", detail: "\(error)")
        }
    }
}
