/// `authfn db copy`: everything in one store into another — users with their ids, revocations and
/// session horizons, throttle records, the signing keys (sealed ones stay sealed), the id counter — between any two of the data directory and
/// PostgreSQL.
///
/// The target must be empty, or hold only what an interrupted copy from the same source put there
/// (users identical to the source's under the same ids): then the copy resumes. Users go over in
/// batches, each one commit, so the target is consistent after a kill at any point; revocations and
/// throttles are rewritten whole (each write replaces), and the id counter is moved last.
public enum StoreCopy {
    public struct Summary: Sendable, Equatable {
        public var users = 0
        public var revocations = 0
        public var throttles = 0
        /// Signing keys (the key ring's records, the HS256 secret's state included).
        public var keys = 0
        /// Users an earlier, interrupted run had copied already.
        public var skipped = 0
        public var nextUserID = 1
        public var json: JSONValue {
            [
                "copied": .int(users + revocations + throttles), "skipped": .int(skipped), "failed": 0,
                "users": .int(users), "revocations": .int(revocations), "throttles": .int(throttles),
                "keys": .int(keys), "next_user_id": .int(nextUserID),
            ]
        }
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The target holds data that did not come from this source.
        case targetNotEmpty(String)
        public var description: String {
            switch self {
            case .targetNotEmpty(let why): "the target is not empty (\(why)); copy into an empty directory or database"
            }
        }
    }

    /// `progress` is called with the number of records written so far.
    public static func run(
        from source: any Store, to target: any Store, batchSize: Int = 200, progress: (Int) -> Void = { _ in }
    ) throws -> Summary {
        var summary = Summary()
        let users = try source.allUsers()
        var present: Set<Int> = []
        if try !target.isEmpty() {
            let byID = Dictionary(users.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for user in try target.allUsers() {
                guard byID[user.id] == user else {
                    throw Failure.targetNotEmpty("user \(user.id) is not the source's user \(user.id)")
                }
                present.insert(user.id)
            }
            if present.isEmpty, try !target.allRevocations().isEmpty || !target.allThrottles().isEmpty {
                throw Failure.targetNotEmpty("it has revocations or throttle records but no user")
            }
        }
        // Keys are checked before anything is written: a target with keys of its own is not ours to fill.
        let ring = try source.keyRing()
        let targetRing = try target.keyRing()
        if !targetRing.keys.isEmpty, targetRing != ring {
            throw Failure.targetNotEmpty("it has signing keys of its own")
        }
        var written = 0
        var batch: [Change] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            try target.commit(batch)
            written += batch.count
            batch = []
            progress(written)
        }
        for user in users {
            if present.contains(user.id) {
                summary.skipped += 1
                continue
            }
            batch.append(.insertUser(user))
            summary.users += 1
            if batch.count >= batchSize { try flush() }
        }
        for record in try source.allRevocations() {
            batch.append(.revoke(record))
            summary.revocations += 1
            if batch.count >= batchSize { try flush() }
        }
        for record in try source.allThrottles() {
            // Whatever an interrupted run left under the key is replaced.
            batch.append(.clearThrottle(key: record.key))
            batch.append(.replaceThrottle(key: record.key, expected: nil, new: record))
            summary.throttles += 1
            if batch.count >= batchSize { try flush() }
        }
        if !ring.keys.isEmpty, targetRing != ring {
            batch.append(.replaceKeyRing(expected: targetRing.version, new: ring))
        }
        summary.keys = ring.keys.count
        summary.nextUserID = try source.nextUserID()
        batch.append(.advanceUserIDs(to: summary.nextUserID))
        try flush()
        return summary
    }
}
