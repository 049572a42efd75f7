import Testing

@testable import AuthFnCore

/// The key lifecycle as pure functions: every transition, and every refusal with the ring unchanged.
@Suite struct KeyRingTests {
    static let policy = KeyPolicy(jwksMaxAge: 600, longestTokenLifetime: 2_592_000)
    static let t0: Int64 = 1_767_225_600

    static func record(_ kid: String, _ state: KeyRecord.State = .standby, alg: String = "ES256", created: Int64 = t0) -> KeyRecord {
        KeyRecord(kid: kid, alg: alg, state: state, createdAt: created, publicKey: "pem", privateKey: "pem")
    }

    /// A ring with standby keys `a` and `b`, created at t0.
    static func ring() throws -> KeyRing {
        try KeyRing.empty.adding(record("a")).adding(record("b"))
    }

    @Test func anEmptyRingSignsWithTheSecretAndPublishesNothing() {
        let ring = KeyRing.empty
        #expect(ring.current == nil)
        #expect(ring.secret.state == .current && ring.secretVerifies)
        #expect(ring.published.isEmpty)
        #expect(ring.listing.map(\.kid) == [KeyRecord.secretID])
    }

    @Test func createdKeysAreStandbyPublishedAndVerifyNothing() throws {
        let ring = try Self.ring()
        #expect(ring.version == 2)
        #expect(ring.published.map(\.kid) == ["a", "b"])
        #expect(ring.keys.allSatisfy { $0.state == .standby && !$0.verifies })
        #expect(throws: KeyRefusal.alreadyExists("a")) { try ring.adding(Self.record("a")) }
    }

    @Test func activationWaitsForTheJWKSCacheUnlessForced() throws {
        let ring = try Self.ring()
        let early = Self.t0 + 599
        #expect(
            throws: KeyRefusal.tooEarly(
                kid: "a", until: Self.t0 + 600, why: "has been published for less than AUTHFN_JWKS_MAX_AGE, so caches may not have it yet")
        ) {
            try ring.activating("a", now: early, policy: Self.policy, force: false)
        }
        let forced = try ring.activating("a", now: early, policy: Self.policy, force: true)
        #expect(forced.current?.kid == "a")
        let onTime = try ring.activating("a", now: Self.t0 + 600, policy: Self.policy, force: false)
        #expect(onTime.current?.kid == "a")
        #expect(onTime.current?.activatedAt == Self.t0 + 600)
        #expect(onTime.version == ring.version + 1)
    }

    @Test func activationRetiresTheSigningKeyWithItsNotAfter() throws {
        let now = Self.t0 + 1000
        let first = try Self.ring().activating("a", now: now, policy: Self.policy, force: false)
        // The secret signed until now: it is previous, verifying until every token it signed expired.
        #expect(first.secret.state == .previous && first.secretVerifies)
        #expect(first.secret.retiredAt == now)
        #expect(first.secret.notAfter == now + 2_592_000 + KeyPolicy.defaultLeeway)
        let second = try first.activating("b", now: now + 10, policy: Self.policy, force: false)
        #expect(second.current?.kid == "b")
        let a = try #require(second.key("a"))
        #expect(a.state == .previous && a.verifies && a.isPublished)
        #expect(a.notAfter == now + 10 + 2_592_000 + KeyPolicy.defaultLeeway)
        #expect(second.keys.filter { $0.state == .current }.count == 1)
    }

    @Test(
        "activation refusals",
        arguments: [
            ("missing", KeyRefusal.noSuchKey("missing")),
            ("a", KeyRefusal.wrongState(kid: "a", state: .current, action: "activated")),
            ("old", KeyRefusal.wrongState(kid: "old", state: .previous, action: "activated")),
            ("gone", KeyRefusal.wrongState(kid: "gone", state: .revoked, action: "activated")),
        ])
    func activationRefusals(kid: String, refusal: KeyRefusal) throws {
        var ring = try Self.ring().activating("a", now: Self.t0 + 600, policy: Self.policy, force: false)
        ring.put(Self.record("old", .previous))
        ring.put(Self.record("gone", .revoked))
        #expect(throws: refusal) { try ring.activating(kid, now: Self.t0 + 700, policy: Self.policy, force: true) }
    }

    @Test func theSecretCanBeActivatedAgainButNotWhileItSigns() throws {
        #expect(throws: KeyRefusal.wrongState(kid: "secret", state: .current, action: "activated")) {
            try KeyRing.empty.activating("secret", now: Self.t0, policy: Self.policy, force: false)
        }
        let rotated = try Self.ring().activating("a", now: Self.t0 + 600, policy: Self.policy, force: false)
        let back = try rotated.activating("secret", now: Self.t0 + 700, policy: Self.policy, force: false)
        #expect(back.current == nil)
        #expect(back.secret.state == .current)
        #expect(back.key("a")?.state == .previous)
    }

    @Test func revocationWaitsForNotAfterUnlessForced() throws {
        let retired = Self.t0 + 600
        let ring = try Self.ring().activating("a", now: retired, policy: Self.policy, force: false)
            .activating("b", now: retired, policy: Self.policy, force: false)
        let notAfter = retired + 2_592_000 + KeyPolicy.defaultLeeway
        #expect(throws: KeyRefusal.tooEarly(kid: "a", until: notAfter, why: "can still have signed unexpired tokens")) {
            try ring.revoking("a", now: notAfter - 1, policy: Self.policy, force: false)
        }
        let revoked = try ring.revoking("a", now: notAfter, policy: Self.policy, force: false)
        let a = try #require(revoked.key("a"))
        #expect(a.state == .revoked && !a.verifies && !a.isPublished)
        #expect(a.revokedAt == notAfter)
        #expect(revoked.published.map(\.kid) == ["b"])
        #expect(try ring.revoking("a", now: retired + 1, policy: Self.policy, force: true).key("a")?.state == .revoked)
    }

    @Test func lifetimesThatGrewPushNotAfterBack() throws {
        let retired = Self.t0 + 600
        let ring = try Self.ring().activating("a", now: retired, policy: Self.policy, force: false)
            .activating("b", now: retired, policy: Self.policy, force: false)
        let longer = KeyPolicy(jwksMaxAge: 600, longestTokenLifetime: 5_184_000)
        let stored = retired + 2_592_000 + KeyPolicy.defaultLeeway
        #expect(
            throws: KeyRefusal.tooEarly(
                kid: "a", until: retired + 5_184_000 + KeyPolicy.defaultLeeway, why: "can still have signed unexpired tokens")
        ) {
            try ring.revoking("a", now: stored, policy: longer, force: false)
        }
    }

    @Test(
        "revocation refusals",
        arguments: [
            ("missing", KeyRefusal.noSuchKey("missing")),
            ("b", KeyRefusal.wrongState(kid: "b", state: .current, action: "revoked (activate another key first)")),
            ("gone", KeyRefusal.wrongState(kid: "gone", state: .revoked, action: "revoked again")),
            ("secret", KeyRefusal.wrongState(kid: "secret", state: .current, action: "revoked (activate another key first)")),
        ])
    func revocationRefusals(kid: String, refusal: KeyRefusal) throws {
        var ring = try Self.ring()
        if kid != "secret" { ring = try ring.activating("b", now: Self.t0 + 600, policy: Self.policy, force: false) }
        ring.put(Self.record("gone", .revoked))
        #expect(throws: refusal) { try ring.revoking(kid, now: .max / 2, policy: Self.policy, force: true) }
    }

    @Test func aStandbyKeyCanBeRevokedAtOnce() throws {
        let ring = try Self.ring().revoking("b", now: Self.t0, policy: Self.policy, force: false)
        #expect(ring.key("b")?.state == .revoked)
    }

    @Test func revokingTheSecretStopsHS256() throws {
        let retired = Self.t0 + 600
        let ring = try Self.ring().activating("a", now: retired, policy: Self.policy, force: false)
        #expect(throws: KeyRefusal.self) { try ring.revoking("secret", now: retired + 1, policy: Self.policy, force: false) }
        let off = try ring.revoking("secret", now: retired + 2_592_000 + KeyPolicy.defaultLeeway, policy: Self.policy, force: false)
        #expect(!off.secretVerifies)
        #expect(off.secret.state == .revoked)
        #expect(!off.published.contains { $0.isSecret })
        // Turning it on again is a roll-back: allowed (nothing to publish), and it signs again.
        let on = try off.activating("secret", now: retired + 2_592_100, policy: Self.policy, force: false)
        #expect(on.secretVerifies && on.current == nil)
    }

    @Test func deletion() throws {
        var ring = try Self.ring()
        #expect(throws: KeyRefusal.wrongState(kid: "a", state: .standby, action: "deleted (revoke it first)")) { try ring.deleting("a") }
        #expect(throws: KeyRefusal.noSuchKey("zz")) { try ring.deleting("zz") }
        #expect(throws: KeyRefusal.secretCannot("deleted: it is configuration (revoke turns it off)")) { try ring.deleting("secret") }
        ring = try ring.revoking("a", now: Self.t0, policy: Self.policy, force: false).deleting("a")
        #expect(ring.key("a") == nil)
        #expect(ring.keys.map(\.kid) == ["b"])
    }

    @Test func listingsNeverCarryKeyMaterial() throws {
        let ring = try Self.ring()
        for record in ring.listing {
            let line = record.listing.encodedString
            #expect(!line.contains("pem"))
            #expect(record.listing["kid"] != nil && record.listing["not_after"] != nil)
        }
    }

    @Test func theRingRoundTripsThroughItsJSON() throws {
        let ring = try Self.ring().activating("a", now: Self.t0 + 600, policy: Self.policy, force: false)
        #expect(try KeyRing.decode(ring.encoded(), path: "keys.json") == ring)
        #expect(throws: StoreError.corrupt(path: "keys.json", detail: "not a KeyRing record")) {
            try KeyRing.decode(Array("[]".utf8), path: "keys.json")
        }
    }
}
