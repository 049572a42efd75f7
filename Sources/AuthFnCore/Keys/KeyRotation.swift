/// The timings key rotation enforces.
public struct KeyPolicy: Sendable, Equatable {
    /// `AUTHFN_JWKS_MAX_AGE`: how long a JWKS response may be cached, so how long a new key must
    /// be published before it may sign (caches that fetched the set just before it appeared must
    /// have fetched it again).
    public var jwksMaxAge: Int64
    /// The longest lifetime a token can have: a retired key's tokens have all expired this long after
    /// it stopped signing.
    public var longestTokenLifetime: Int64
    /// Clock skew allowed between the machine that signed and the ones that verify.
    public var leeway: Int64

    public static let defaultLeeway: Int64 = 60

    public init(jwksMaxAge: Int64 = 600, longestTokenLifetime: Int64, leeway: Int64 = Self.defaultLeeway) {
        self.jwksMaxAge = jwksMaxAge
        self.longestTokenLifetime = longestTokenLifetime
        self.leeway = leeway
    }
}

/// Why a key command refused (exit status 1, the ring unchanged).
public enum KeyRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case noSuchKey(String)
    case alreadyExists(String)
    case wrongState(kid: String, state: KeyRecord.State, action: String)
    /// The action is unsafe until `until` (epoch seconds); `--force` does it anyway.
    case tooEarly(kid: String, until: Int64, why: String)
    case secretCannot(String)

    public var description: String {
        switch self {
        case .noSuchKey(let kid): "no key '\(kid)' (authfn keys list shows them)"
        case .alreadyExists(let kid): "key \(kid) is already in the store"
        case .wrongState(let kid, let state, let action): "key \(kid) is \(state.rawValue): it cannot be \(action)"
        case .tooEarly(let kid, let until, let why):
            "key \(kid) \(why); that changes at \(until) (\(TimeSource.iso8601(until))); --force does it anyway"
        case .secretCannot(let what): "the HS256 secret cannot be \(what)"
        }
    }
}

/// The key lifecycle, as pure functions from a ring to the next one (version + 1). The store applies
/// the result as a compare-and-set on the version (`Change.replaceKeyRing`).
extension KeyRing {
    /// Adds a new standby key.
    public func adding(_ record: KeyRecord) throws(KeyRefusal) -> KeyRing {
        guard key(record.kid) == nil else { throw .alreadyExists(record.kid) }
        var next = self
        next.keys.append(record)
        next.version += 1
        return next
    }

    /// Makes `kid` the signing key; the key that signed until now becomes `previous`. A standby key must
    /// have been published for `jwksMaxAge`. The secret can come back from `previous` or `revoked` (a
    /// roll-back; it was never published, so there is nothing to wait for).
    public func activating(_ kid: String, now: Int64, policy: KeyPolicy, force: Bool) throws(KeyRefusal) -> KeyRing {
        var next = self
        let target: KeyRecord
        if kid == KeyRecord.secretID {
            target = secret
            guard target.state != .current else { throw .wrongState(kid: kid, state: target.state, action: "activated") }
        } else {
            guard let found = key(kid) else { throw .noSuchKey(kid) }
            target = found
            guard target.state == .standby else { throw .wrongState(kid: kid, state: target.state, action: "activated") }
            let ready = target.createdAt + policy.jwksMaxAge
            if now < ready, !force {
                throw .tooEarly(
                    kid: kid, until: ready, why: "has been published for less than AUTHFN_JWKS_MAX_AGE, so caches may not have it yet")
            }
        }
        // The one that signs now: the stored current key, or the secret.
        var retiring = current ?? secret
        retiring.state = .previous
        retiring.retiredAt = now
        retiring.notAfter = now + policy.longestTokenLifetime + policy.leeway
        next.put(retiring)
        var activated = target
        activated.state = .current
        activated.activatedAt = now
        activated.retiredAt = nil
        activated.notAfter = nil
        next.put(activated)
        next.version += 1
        return next
    }

    /// Stops `kid` verifying and takes it out of the JWKS. A previous key only once every token it
    /// signed has expired (its `not_after`, recomputed with today's lifetimes if they grew); a standby
    /// key at any time (it signed nothing); never the current key.
    public func revoking(_ kid: String, now: Int64, policy: KeyPolicy, force: Bool) throws(KeyRefusal) -> KeyRing {
        guard var record = kid == KeyRecord.secretID ? secret : key(kid) else { throw .noSuchKey(kid) }
        switch record.state {
        case .current:
            throw .wrongState(kid: kid, state: .current, action: "revoked (activate another key first)")
        case .revoked:
            throw .wrongState(kid: kid, state: .revoked, action: "revoked again")
        case .standby:
            break
        case .previous:
            let retired = record.retiredAt ?? now
            let notAfter = Swift.max(record.notAfter ?? .min, retired + policy.longestTokenLifetime + policy.leeway)
            record.notAfter = notAfter
            if now < notAfter, !force {
                throw .tooEarly(kid: kid, until: notAfter, why: "can still have signed unexpired tokens")
            }
        }
        record.state = .revoked
        record.revokedAt = now
        var next = self
        next.put(record)
        next.version += 1
        return next
    }

    /// Removes a revoked key for good.
    public func deleting(_ kid: String) throws(KeyRefusal) -> KeyRing {
        guard kid != KeyRecord.secretID else { throw .secretCannot("deleted: it is configuration (revoke turns it off)") }
        guard let record = key(kid) else { throw .noSuchKey(kid) }
        guard record.state == .revoked else { throw .wrongState(kid: kid, state: record.state, action: "deleted (revoke it first)") }
        var next = self
        next.keys.removeAll { $0.kid == kid }
        next.version += 1
        return next
    }

    /// Replaces the record with `record`'s kid, or appends it.
    mutating func put(_ record: KeyRecord) {
        if let index = keys.firstIndex(where: { $0.kid == record.kid }) {
            keys[index] = record
        } else {
            keys.append(record)
        }
    }
}
