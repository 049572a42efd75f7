import Crypto
import Logging
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// `struct stat` is declared by CoreFoundation's module as well as Glibc's; release builds attribute
// it to CoreFoundation, which is linked anyway (Foundation's Unicode tables).
#if canImport(CoreFoundation)
    import CoreFoundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The `Store` on a data directory: one JSON file per record, hashed index files, `flock` for
/// concurrency and a write-ahead journal for all-or-nothing batches.
///
///     authfn.json                   format marker: {"format":"authfn-data","version":2}
///     .lock                         flock(2) target; never renamed or removed
///     counters.json                 {"next_user_id": N, "password_methods": {"scrypt:131072:8:1": N, …}}
///     keys.json                     the key ring (`KeyRing`): signing keys and their states
///     users/<id>.json               one user record
///     index/email/<sha256>.json     {"email": canonical, "id": N}    (sha256 of the canonical email)
///     index/username/<sha256>.json  {"username": canonical, "id": N}
///     revoked/<sha256>.json         {"jti": …, "expires_at": …, "revoked_at": …}
///     throttle/<sha256>.json        recent failed logins of one key
///     expiry/<hour>/<sha256>        which records expire in that hour
///     journal.json                  only while a batch is being applied
///     tmp/                          temporary files; anything here outside a writer's lock is debris
///
/// Every lookup reads at most two small files, so cost does not grow with the number of users. Every
/// path is opened relative to the data directory's descriptor, component by component, never through
/// a symbolic link (`Directory`).
///
/// A commit, under the exclusive lock: write the batch's final file contents to `journal.json`
/// (temp file, fsync, rename, fsync directory — the commit point), then put each file in place the
/// same way, then remove the journal. A failure before the commit point removes the journal and
/// fails the commit: nothing of it ever takes effect. Once the journal is durable the batch *is*
/// committed: a failure while putting files in place (or a kill) leaves the journal, which the next
/// reader or writer replays before anything else, so `commit` reports success. Readers hold the
/// shared lock, so they never see a batch half-applied.
public final class FileStore: Store {
    public static let formatName = "authfn-data"
    /// 2: `counters.json` counts the password-hash methods in use (for login timing). A version-1
    /// directory is upgraded in place when first opened; authfn 1.0 refuses a version-2 one.
    public static let formatVersion = 2

    public let directory: String
    /// Where a failure after a commit point is reported: the change is committed and the next reader
    /// finishes it, so no request fails, but the operator should know the disk misbehaved.
    private let logger: Logger
    private let root: Directory
    private let lock: FileLock
    private let tempCounter = Atomic<Int>(0)
    /// The fixed subdirectories, opened once (they are never removed); expiry buckets come and go.
    private let opened = Mutex<[String: Directory]>([:])

    static let fixedDirectories = ["users", "index", "index/email", "index/username", "revoked", "throttle", "expiry", "tmp"]

    /// Opens the data directory at `directory`: creating it (mode 0700) if it is missing and `create`
    /// is set, refusing it (`StoreError.noDataDirectory`) if not. A directory, or a subdirectory, that is
    /// a symbolic link or that group or others may write is refused (`StoreError.unsafe`).
    public init(
        directory: String, create: Bool = true,
        logger: Logger = Logger(label: "authfn", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(StoreError) {
        self.directory = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        self.logger = logger
        if !create {
            var info = Glibc.stat()
            if lstat(self.directory + "/authfn.json", &info) != 0 { throw .noDataDirectory(path: self.directory) }
        }
        root = try Directory.openRoot(self.directory, create: create)
        lock = try FileLock(in: root, name: ".lock", shownAs: self.directory + "/.lock")
        for name in Self.fixedDirectories {
            if let existing = try root.subdirectory(name, create: false, root: self.directory) {
                opened.withLock { $0[name] = existing }
            }
        }
        try checkFormat()
    }

    // MARK: Paths

    /// The directory part and file name of a path relative to the data directory.
    private static func split(_ relative: String) -> (directory: String, name: String) {
        let bytes = relative.utf8
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return ("", relative) }
        return (String(Substring(bytes[..<slash])), String(Substring(bytes[bytes.index(after: slash)...])))
    }

    /// The directory `relative` (relative to the data directory), created if `create`; `nil` if missing.
    private func directory(_ relative: String, create: Bool) throws(StoreError) -> Directory? {
        if relative.isEmpty { return root }
        if let cached = opened.withLock({ $0[relative] }) { return cached }
        guard let found = try root.subdirectory(relative, create: create, root: directory) else { return nil }
        if Self.fixedDirectories.contains(relative) { opened.withLock { $0[relative] = found } }
        return found
    }

    private func contents(_ relative: String) throws(StoreError) -> [UInt8]? {
        let (dir, name) = Self.split(relative)
        return try directory(dir, create: false)?.contents(name)
    }

    /// Whether `relative` is a record file authfn writes: a journal naming anything else is corrupt,
    /// and prune only ever removes records.
    static func isRecordPath(_ relative: String) -> Bool {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        func isDigest(_ text: Substring, suffix: String) -> Bool {
            guard text.hasSuffix(suffix) else { return false }
            let hex = text.dropLast(suffix.count)
            return hex.utf8.count == 64 && hex.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        }
        func isNumber(_ text: Substring) -> Bool {
            !text.isEmpty && text.utf8.count <= 20 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        switch parts.count {
        case 1: return parts[0] == "counters.json" || parts[0] == Self.keyRingPath
        case 2:
            switch parts[0] {
            case "users": return parts[1].hasSuffix(".json") && isNumber(parts[1].dropLast(5))
            case "revoked", "throttle": return isDigest(parts[1], suffix: ".json")
            default: return false
            }
        case 3:
            if parts[0] == "index" { return (parts[1] == "email" || parts[1] == "username") && isDigest(parts[2], suffix: ".json") }
            return parts[0] == "expiry" && isNumber(parts[1]) && isDigest(parts[2], suffix: "")
        default: return false
        }
    }

    private func checkFormat() throws(StoreError) {
        let markerPath = directory + "/authfn.json"
        if let bytes = try root.contents("authfn.json"), try Self.markerVersion(bytes, path: markerPath) == Self.formatVersion {
            return
        }
        try lock.withLock(exclusive: true) { () throws(StoreError) in
            let existing = try root.contents("authfn.json")
            if let existing, try Self.markerVersion(existing, path: markerPath) == Self.formatVersion { return }
            try recover()
            if existing != nil { try upgradeFromVersion1() }
            let marker: JSONValue = ["format": .string(Self.formatName), "version": .int(Self.formatVersion)]
            try writeInPlace("authfn.json", marker.encoded() + [0x0A])
            try root.sync()
        }
    }

    private static func markerVersion(_ bytes: [UInt8], path: String) throws(StoreError) -> Int64 {
        guard let marker = try? JSONValue.parse(bytes), marker["format"] == .string(formatName),
            let version = marker["version"]?.integerValue
        else { throw .corrupt(path: path, detail: "not an authfn data-format marker") }
        guard version <= formatVersion else { throw .unsupportedFormat(path: path, found: String(version)) }
        return version
    }

    /// Version 1 → 2: count the password methods of the stored users once (under the exclusive lock;
    /// a kill before the new marker is written just means counting again).
    private func upgradeFromVersion1() throws(StoreError) {
        var counters = try loadCounters()
        counters.methods = [:]
        for user in try scanUsers() { counters.methods[user.passwordMethod, default: 0] += 1 }
        try writeInPlace("counters.json", counters.encoded())
        try root.sync()
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
        try read { () throws(StoreError) in try scanUsers() }
    }

    private func scanUsers() throws(StoreError) -> [UserRecord] {
        var users: [UserRecord] = []
        for name in try directory("users", create: false)?.list() ?? [] {
            guard name.hasSuffix(".json"), let id = Int(name.dropLast(5)), let user = try loadUser(id: id) else { continue }
            users.append(user)
        }
        return users.sorted { $0.id < $1.id }
    }

    public func revocation(_ key: String) throws(StoreError) -> RevocationRecord? {
        try read { () throws(StoreError) in try load(RevocationRecord.self, Self.revocationPath(key)) }
    }

    public func revocations(_ keys: [String]) throws(StoreError) -> [RevocationRecord] {
        try read { () throws(StoreError) in
            var found: [RevocationRecord] = []
            for key in keys { if let record = try load(RevocationRecord.self, Self.revocationPath(key)) { found.append(record) } }
            return found
        }
    }

    public func throttle(_ key: String) throws(StoreError) -> ThrottleRecord? {
        try read { () throws(StoreError) in try load(ThrottleRecord.self, Self.throttlePath(key)) }
    }

    public func passwordMethods() throws(StoreError) -> [String: Int] {
        try read { () throws(StoreError) in try loadCounters().methods }
    }

    public func allRevocations() throws(StoreError) -> [RevocationRecord] {
        try read { () throws(StoreError) in try scan(RevocationRecord.self, in: "revoked") }
    }

    public func allThrottles() throws(StoreError) -> [ThrottleRecord] {
        try read { () throws(StoreError) in try scan(ThrottleRecord.self, in: "throttle") }
    }

    public func nextUserID() throws(StoreError) -> Int {
        try read { () throws(StoreError) in try loadCounters().nextUserID }
    }

    public func keyRing() throws(StoreError) -> KeyRing {
        try read { () throws(StoreError) in
            try root.contents(Self.keyRingPath).map { bytes throws(StoreError) in
                try KeyRing.decode(bytes, path: Self.keyRingPath)
            } ?? .empty
        }
    }

    static let keyRingPath = "keys.json"

    private func scan<T: StoredRecord>(_ type: T.Type, in directory: String) throws(StoreError) -> [T] {
        var records: [T] = []
        for name in try self.directory(directory, create: false)?.list() ?? [] where name.hasSuffix(".json") {
            if let record = try load(type, directory + "/" + name) { records.append(record) }
        }
        return records
    }

    /// Runs `body` under the shared lock, first replaying a journal a killed writer left behind.
    private func read<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        while true {
            let result = try lock.withLock(exclusive: false) { () throws(StoreError) -> T? in
                root.exists("journal.json") ? nil : try body()
            }
            if let result { return result }
            try lock.withLock(exclusive: true) { () throws(StoreError) in try recover() }
        }
    }

    private func loadUser(id: Int) throws(StoreError) -> UserRecord? { try load(UserRecord.self, Self.userPath(id)) }

    private func load<T: StoredRecord>(_ type: T.Type, _ relative: String) throws(StoreError) -> T? {
        guard let bytes = try contents(relative) else { return nil }
        return try T.decode(bytes, path: relative)
    }

    private func indexEntry(kind: String, key: String) throws(StoreError) -> Int? {
        let relative = Self.indexPath(kind: kind, key: key)
        guard let bytes = try contents(relative) else { return nil }
        return try Self.parseIndexEntry(bytes, kind: kind, key: key, path: relative)
    }

    fileprivate static func parseIndexEntry(_ bytes: [UInt8], kind: String, key: String, path: String) throws(StoreError) -> Int? {
        guard let entry = try? JSONValue.parse(bytes), let id = entry["id"]?.integerValue else {
            throw .corrupt(path: path, detail: "not an index entry")
        }
        // The file name is a hash; the entry repeats the key so a collision can never alias two keys.
        return entry[kind] == .string(key) ? Int(id) : nil
    }

    static func digest(_ key: String) -> String {
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(key.utf8)) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func indexPath(kind: String, key: String) -> String { "index/\(kind)/\(digest(key)).json" }
    static func revocationPath(_ key: String) -> String { "revoked/\(digest(key)).json" }
    static func throttlePath(_ key: String) -> String { "throttle/\(digest(key)).json" }
    static func userPath(_ id: Int) -> String { "users/\(id).json" }

    /// Expiry markers group prunable records by the hour they expire in, so pruning reads only the
    /// hours that are over instead of every record.
    static let bucketSeconds: Int64 = 3600

    static func expiryMarkerPath(for relative: String, expiresAt: Int64) -> String {
        let bucket = max(0, expiresAt) / bucketSeconds
        return "expiry/\(bucket)/\(digest(relative))"
    }

    /// `counters.json`: the next user id and how many stored hashes use each password method.
    fileprivate struct Counters {
        var nextUserID = 1
        var methods: [String: Int] = [:]

        func encoded() -> [UInt8] {
            var methods = JSONObject()
            for (method, count) in self.methods where count > 0 { methods[method] = .int(count) }
            return (["next_user_id": .int(nextUserID), "password_methods": .object(methods)] as JSONValue).encoded()
        }
    }

    fileprivate func loadCounters() throws(StoreError) -> Counters {
        var counters = Counters()
        guard let bytes = try root.contents("counters.json") else { return counters }
        guard let document = try? JSONValue.parse(bytes), let next = document["next_user_id"]?.integerValue, next > 0 else {
            throw .corrupt(path: "counters.json", detail: "not a counters file")
        }
        counters.nextUserID = Int(next)
        for (method, count) in document["password_methods"]?.objectValue ?? [:] {
            if let count = count.integerValue, count > 0 { counters.methods[method] = Int(count) }
        }
        return counters
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
            // Every directory the batch writes into opens (or is made) before the commit point, so that a
            // planted link or a permission problem fails the commit instead of a later replay.
            for write in batch.writes where write.bytes != nil { _ = try directory(Self.split(write.path).directory, create: true) }

            let journal: JSONValue = .object([
                "writes": .array(
                    batch.writes.map { write in
                        guard let bytes = write.bytes else { return ["path": .string(write.path), "delete": true] }
                        return ["path": .string(write.path), "content": .string(String(decoding: bytes, as: UTF8.self))]
                    })
            ])
            try writeInPlace("journal.json", journal.encoded())
            do throws(StoreError) {
                try root.sync()  // the commit point
            } catch {
                // Not known to be durable: take it back, so that a batch answered with a failure can
                // never be replayed later.
                try? root.remove("journal.json")
                try? root.sync()
                throw error
            }
            // Committed. Should putting the files in place fail, the journal stays and the next reader
            // or writer replays it before it reads anything.
            do throws(StoreError) {
                try apply(batch.writes)
            } catch {
                logger.warning(
                    "storage failure after a commit: the change is kept in the journal and finished by the next request",
                    metadata: ["error": "\(error)"])
            }
            return ids
        }
    }

    /// A batch being built under the exclusive lock: the files it will write (or delete), read back by
    /// later changes in the same batch before they touch the disk.
    private struct Batch {
        let store: FileStore
        var writes: [(path: String, bytes: [UInt8]?)] = []
        var pending: [String: [UInt8]?] = [:]
        var counters: Counters?
        var countersChanged = false

        init(store: FileStore) { self.store = store }

        func contents(_ relative: String) throws(StoreError) -> [UInt8]? {
            if let staged = pending[relative] { return staged }
            return try store.contents(relative)
        }

        mutating func put(_ relative: String, _ bytes: [UInt8]?) {
            writes.append((relative, bytes))
            pending[relative] = .some(bytes)
        }

        func index(_ kind: String, _ key: String) throws(StoreError) -> Int? {
            let relative = FileStore.indexPath(kind: kind, key: key)
            guard let bytes = try contents(relative) else { return nil }
            return try FileStore.parseIndexEntry(bytes, kind: kind, key: key, path: relative)
        }

        func user(_ id: Int) throws(StoreError) -> UserRecord? {
            let relative = FileStore.userPath(id)
            return try contents(relative).map { bytes throws(StoreError) in try UserRecord.decode(bytes, path: relative) }
        }

        mutating func loadedCounters() throws(StoreError) -> Counters {
            if let counters { return counters }
            let loaded = try store.loadCounters()
            counters = loaded
            return loaded
        }

        mutating func count(_ method: String, _ delta: Int) throws(StoreError) {
            var current = try loadedCounters()
            current.methods[method, default: 0] += delta
            if current.methods[method, default: 0] <= 0 { current.methods[method] = nil }
            counters = current
            countersChanged = true
        }

        /// Stages `change`; returns the id a `.createUser` was given.
        mutating func apply(_ change: Change) throws(StoreError) -> Int? {
            switch change {
            case .createUser(var user):
                let usernameKey = UserRecord.canonicalUsername(user.username)
                let emailKey = UserRecord.canonicalEmail(user.email)
                if try index("username", usernameKey) != nil { throw .conflict(.username) }
                if try index("email", emailKey) != nil { throw .conflict(.email) }
                var current = try loadedCounters()
                var id = current.nextUserID
                while try contents(FileStore.userPath(id)) != nil {
                    guard id < Int.max else { throw StoreError.exhausted("user ids") }
                    id += 1
                }
                guard id < Int.max else { throw StoreError.exhausted("user ids") }
                user.id = id
                current.nextUserID = id + 1
                counters = current
                countersChanged = true
                try add(user, usernameKey: usernameKey, emailKey: emailKey)
                return id
            case .insertUser(let user):
                let usernameKey = UserRecord.canonicalUsername(user.username)
                let emailKey = UserRecord.canonicalEmail(user.email)
                guard user.id > 0, try contents(FileStore.userPath(user.id)) == nil else { throw .conflict(.user) }
                if try index("username", usernameKey) != nil { throw .conflict(.username) }
                if try index("email", emailKey) != nil { throw .conflict(.email) }
                var current = try loadedCounters()
                if user.id >= current.nextUserID { current.nextUserID = user.id == Int.max ? Int.max : user.id + 1 }
                counters = current
                countersChanged = true
                try add(user, usernameKey: usernameKey, emailKey: emailKey)
            case .advanceUserIDs(let id):
                var current = try loadedCounters()
                if id > current.nextUserID {
                    current.nextUserID = id
                    counters = current
                    countersChanged = true
                }
            case .updateUser(let user), .replaceUser(_, let user):
                guard let old = try self.user(user.id), InMemoryStore.sameKeys(old, user) else { throw .conflict(.user) }
                if case .replaceUser(let expected, _) = change, old != expected || expected.id != user.id { throw .conflict(.user) }
                if old.passwordMethod != user.passwordMethod {
                    try count(old.passwordMethod, -1)
                    try count(user.passwordMethod, 1)
                }
                put(FileStore.userPath(user.id), try FileStore.encode(user))
            case .deleteUser(let id):
                guard let old = try user(id) else { throw .conflict(.user) }
                try count(old.passwordMethod, -1)
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
                    try ThrottleRecord.decode(bytes, path: relative)
                }
                guard current == expected else { throw .conflict(.throttle) }
                put(relative, try new.map { record throws(StoreError) in try FileStore.encode(record) })
                if let new { mark(relative, expiresAt: new.expiresAt) }
            case .clearThrottle(let key):
                let relative = FileStore.throttlePath(key)
                if try contents(relative) != nil { put(relative, nil) }
            case .replaceKeyRing(let expected, let new):
                let relative = FileStore.keyRingPath
                let current = try contents(relative).map { bytes throws(StoreError) in try KeyRing.decode(bytes, path: relative) }
                guard (current ?? .empty).version == expected else { throw .conflict(.keyRing) }
                put(relative, new.encoded())
            }
            return nil
        }

        /// Stages a new user's record, its two index entries and its password method's count.
        private mutating func add(_ user: UserRecord, usernameKey: String, emailKey: String) throws(StoreError) {
            try count(user.passwordMethod, 1)
            put(FileStore.userPath(user.id), try FileStore.encode(user))
            put(
                FileStore.indexPath(kind: "username", key: usernameKey),
                (["username": .string(usernameKey), "id": .int(user.id)] as JSONValue).encoded())
            put(
                FileStore.indexPath(kind: "email", key: emailKey),
                (["email": .string(emailKey), "id": .int(user.id)] as JSONValue).encoded())
        }

        private mutating func mark(_ relative: String, expiresAt: Int64) {
            put(FileStore.expiryMarkerPath(for: relative, expiresAt: expiresAt), Array(relative.utf8))
        }

        mutating func finish() throws(StoreError) {
            if countersChanged, let counters { put("counters.json", counters.encoded()) }
        }
    }

    @discardableResult
    public func prune(now: Int64, limit: Int?) throws(StoreError) -> Int {
        try lock.withLock(exclusive: true) { () throws(StoreError) -> Int in
            try recover()
            guard let expiry = try directory("expiry", create: false) else { return 0 }
            var removed = 0
            var touched: [String: Directory] = [:]
            var bucketsRemoved = false
            let buckets = try expiry.list().compactMap { Int64($0) }.sorted()
            // A bounded (opportunistic) prune looks at whole hours that are over; a full one also at the
            // current hour, record by record, so that it removes exactly what has expired.
            let lastBucket = limit == nil ? now / Self.bucketSeconds : now / Self.bucketSeconds - 1
            for bucket in buckets where bucket <= lastBucket {
                let bucketPath = "expiry/\(bucket)"
                guard let markers = try directory(bucketPath, create: false) else { continue }
                // A bounded prune reads only as many markers as it may act on: an hour with 100,000
                // expired records costs each request 64 of them, not a scan of the whole hour.
                for marker in try markers.list(limit: limit.map { max(0, $0 - removed) }) {
                    if let target = try markers.contents(marker).map({ String(decoding: $0, as: UTF8.self) }),
                        Self.isRecordPath(target), target.hasPrefix("revoked/") || target.hasPrefix("throttle/"),
                        let bytes = try contents(target)
                    {
                        let record = try? JSONValue.parse(bytes)
                        if let expiresAt = record?["expires_at"]?.integerValue, expiresAt > now {
                            let moved = Self.expiryMarkerPath(for: target, expiresAt: expiresAt)
                            if moved == bucketPath + "/" + marker { continue }  // not expired yet, and filed right
                            // Extended since this marker was written (a throttle record): file it again.
                            try writeInPlace(moved, Array(target.utf8))
                            let movedDirectory = Self.split(moved).directory
                            touched[movedDirectory] = try directory(movedDirectory, create: false)
                        } else {
                            let (dir, name) = Self.split(target)
                            if let parent = try directory(dir, create: false) {
                                try parent.remove(name)
                                touched[dir] = parent
                            }
                            removed += 1
                        }
                    }
                    try markers.remove(marker)
                    touched[bucketPath] = markers
                }
                if try markers.list(limit: 1).isEmpty {
                    expiry.removeDirectoryIfEmpty(String(bucket))
                    touched[bucketPath] = nil
                    bucketsRemoved = true
                }
                if let limit, removed >= limit { break }
            }
            for (_, directory) in touched.sorted(by: { $0.key < $1.key }) { try directory.sync() }
            if !touched.isEmpty || bucketsRemoved { try expiry.sync() }
            return removed
        }
    }

    /// Puts each file in place, makes the directories durable, then drops the journal.
    private func apply(_ writes: [(path: String, bytes: [UInt8]?)]) throws(StoreError) {
        var directories: [String: Directory] = [:]
        for write in writes {
            let (dir, name) = Self.split(write.path)
            if let bytes = write.bytes {
                try writeInPlace(write.path, bytes)
                directories[dir] = try directory(dir, create: true)
            } else if let parent = try directory(dir, create: false) {
                try parent.remove(name)
                directories[dir] = parent
            }
        }
        for (_, directory) in directories.sorted(by: { $0.key < $1.key }) { try directory.sync() }
        try root.remove("journal.json")
        try root.sync()
    }

    /// Under the exclusive lock: finish a batch a killed writer committed, and clear its temp files.
    private func recover() throws(StoreError) {
        if let tmp = try directory("tmp", create: false) {
            for name in try tmp.list() { try tmp.remove(name) }
        }
        guard let bytes = try root.contents("journal.json") else { return }
        guard let journal = try? JSONValue.parse(bytes), case .array(let entries)? = journal["writes"] else {
            // Unreachable by construction: the journal only ever appears whole, by rename.
            throw .corrupt(path: "journal.json", detail: "unreadable journal")
        }
        var writes: [(path: String, bytes: [UInt8]?)] = []
        for entry in entries {
            // Only the record files authfn itself writes: a journal naming anything else was not
            // written by authfn, and nothing of it is applied.
            guard let relative = entry["path"]?.stringValue, Self.isRecordPath(relative) else {
                throw .corrupt(path: "journal.json", detail: "a journal entry names a file authfn does not write")
            }
            if entry["delete"] == .bool(true) {
                writes.append((relative, nil))
            } else if let content = entry["content"]?.stringValue {
                writes.append((relative, Array(content.utf8)))
            } else {
                throw .corrupt(path: "journal.json", detail: "bad journal entry")
            }
        }
        try apply(writes)
    }

    /// Atomically replaces `relative` with `bytes`: a synced temp file in `tmp/`, renamed over it
    /// (creating the target's directory if needed). The caller makes the target directory durable.
    /// Must run under the exclusive lock.
    func writeInPlace(_ relative: String, _ bytes: [UInt8]) throws(StoreError) {
        guard let tmp = try directory("tmp", create: true) else { throw .io(operation: "mkdir", path: "tmp", errno: ENOENT) }
        let (dir, name) = Self.split(relative)
        guard let target = try directory(dir, create: true) else { throw .io(operation: "mkdir", path: dir, errno: ENOENT) }
        let serial = tempCounter.add(1, ordering: .relaxed).newValue
        let temp = "\(getpid())-\(serial)"
        try tmp.createSynced(temp, bytes)
        do {
            try tmp.move(temp, to: target, name)
        } catch {
            try? tmp.remove(temp)
            throw error
        }
    }

    /// Creates `name` (in the data directory itself) with `bytes` unless it exists, under the exclusive
    /// lock; returns what is there.
    public func createIfAbsent(_ name: String, _ make: () -> [UInt8]) throws(StoreError) -> [UInt8] {
        if let existing = try root.contents(name) { return existing }
        return try lock.withLock(exclusive: true) { () throws(StoreError) -> [UInt8] in
            if let existing = try root.contents(name) { return existing }
            let bytes = make()
            try writeInPlace(name, bytes)
            try root.sync()
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
