import Logging

/// The operator's key commands (`authfn keys …`): the lifecycle of `KeyRotation.swift` applied to the
/// store's key ring, each change one compare-and-set, so that concurrent operators (on one machine or
/// across a fleet sharing a database) never both win.
public struct KeyAdmin: Sendable {
    public var context: Context

    public init(context: Context) { self.context = context }

    /// The most PEM text `keys import` reads.
    public static let maximumPEMBytes = 64 * 1024

    /// A new standby key of `algorithm`.
    public func create(_ algorithm: KeyAlgorithm, rsaBits: Int = 2048) throws -> KeyRecord {
        try add(try PrivateSigningKey.generate(algorithm, random: context.random, rsaBits: rsaBits))
    }

    /// `pem`, a private key of `algorithm`, as a new standby key.
    public func importKey(pem: String, algorithm: KeyAlgorithm) throws -> KeyRecord {
        guard pem.utf8.count <= Self.maximumPEMBytes else { throw KeyError("the PEM is longer than \(Self.maximumPEMBytes) bytes") }
        return try add(try PrivateSigningKey(pem: pem, algorithm: algorithm))
    }

    private func add(_ key: PrivateSigningKey) throws -> KeyRecord {
        let record = try KeyRecord.make(key, now: context.time.now(), sealing: context.tokens.keys.sealing, random: context.random)
        try change { ring throws(KeyRefusal) in try ring.adding(record) }
        return record
    }

    /// Every key, the HS256 secret first, never key material; the key from `JWT_PRIVATE_KEY`, if any,
    /// last, marked by its `source`.
    public func list() throws -> [JSONValue] {
        var lines = try context.store.keyRing().listing.map(\.listing)
        if let configured = context.tokens.keys.configured {
            lines.append([
                "kid": .string(configured.kid), "alg": .string(configured.algorithm.rawValue), "state": "current",
                "source": "JWT_PRIVATE_KEY",
            ])
        }
        return lines
    }

    /// Makes `kid` the signing key; returns the records that changed (the new current key first).
    public func activate(_ kid: String, force: Bool) throws -> [KeyRecord] {
        let now = context.time.now()
        let (before, after) = try change { ring throws(KeyRefusal) in
            try ring.activating(kid, now: now, policy: context.tokens.keyPolicy, force: force)
        }
        let changed = Self.changed(before, after)
        return changed.filter { $0.state == .current } + changed.filter { $0.state != .current }
    }

    /// Stops `kid` verifying and takes it out of the JWKS.
    public func revoke(_ kid: String, force: Bool) throws -> KeyRecord {
        let now = context.time.now()
        let (_, after) = try change { ring throws(KeyRefusal) in
            try ring.revoking(kid, now: now, policy: context.tokens.keyPolicy, force: force)
        }
        return kid == KeyRecord.secretID ? after.secret : try after.key(kid).orThrow(KeyRefusal.noSuchKey(kid))
    }

    /// Removes a revoked key.
    public func delete(_ kid: String) throws -> KeyRecord {
        var removed: KeyRecord?
        try change { ring throws(KeyRefusal) in
            removed = ring.key(kid)
            return try ring.deleting(kid)
        }
        return try removed.orThrow(KeyRefusal.noSuchKey(kid))
    }

    /// The JWKS the route serves.
    public func jwks() throws -> JSONValue {
        try KeyPublication.jwks(ring: context.store.keyRing(), configured: context.tokens.keys.configured)
    }

    /// Reads the ring, computes the next one, and stores it if no one else changed the ring meanwhile;
    /// otherwise reads it again and recomputes (the refusals are checked against the newest ring).
    @discardableResult
    private func change(_ next: (KeyRing) throws(KeyRefusal) -> KeyRing) throws -> (KeyRing, KeyRing) {
        for _ in 0..<8 {
            let ring = try context.store.keyRing()
            let updated = try next(ring)
            do throws(StoreError) {
                try context.store.commit([.replaceKeyRing(expected: ring.version, new: updated)])
                context.logger.notice("key ring changed", metadata: ["version": "\(updated.version)"])
                return (ring, updated)
            } catch .conflict(.keyRing) {
                continue
            }
        }
        throw StoreError.conflict(.keyRing)
    }

    private static func changed(_ before: KeyRing, _ after: KeyRing) -> [KeyRecord] {
        after.listing.filter { record in before.listing.first { $0.kid == record.kid } != record }
    }
}

extension Optional {
    /// The value, or `error` thrown.
    func orThrow(_ error: some Error) throws -> Wrapped {
        guard let self else { throw error }
        return self
    }
}
