import Foundation
import Testing

@testable import AuthFnCore

@Suite struct SessionTests {
    static func sid(_ token: String?, _ app: App) async throws -> String? {
        try await app.context.tokens.verify(try #require(token), now: 1_767_225_600).sid
    }

    @Test func aLoginIsASessionSharedByItsTokens() async throws {
        let harness = await TestHarness()
        await harness.register()
        let login = await harness.app.login()
        let refreshed = await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        let sid = try #require(try await Self.sid(login.accessToken, harness.app))
        #expect(try await Self.sid(login.refreshToken, harness.app) == sid)
        #expect(try await Self.sid(refreshed.body["token"]?.stringValue, harness.app) == sid)
        #expect(try await Self.sid(harness.app.login().accessToken, harness.app) != sid)
    }

    @Test("signing out ends exactly one session", arguments: ["signout_access", "signout_refresh"])
    func signoutEndsOneSession(_ route: String) async throws {
        let harness = await TestHarness()
        await harness.register()
        let a = await harness.app.login(), b = await harness.app.login()
        let aRefreshed = try #require(
            await harness.send("POST", "/v1/user/refresh_token", bearer: a.refreshToken).body["token"]?.stringValue)
        let presented = route == "signout_access" ? a.accessToken : a.refreshToken
        let out = await harness.send("POST", "/v1/user/\(route)/", bearer: presented)
        #expect(out.status == 200 && out.body == ["message": "Successfully logged out"])
        for token in [a.accessToken, aRefreshed] {
            #expect(await harness.send("GET", "/v1/user/user_info", bearer: token).body == ["message": "Token has been revoked"])
        }
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: a.refreshToken).status == 401)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: b.accessToken).status == 200)
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: b.refreshToken).status == 200)
    }

    @Test func signoutRefreshNeedsARefreshToken() async throws {
        let harness = await TestHarness()
        await harness.register()
        let login = await harness.app.login()
        let response = await harness.send("POST", "/v1/user/signout_refresh", bearer: login.accessToken)
        #expect(response.status == 422 && response.body == ["message": "Only refresh tokens are allowed"])
    }

    @Test func signoutAllEndsEverySessionButNotLaterOnes() async throws {
        let harness = await TestHarness()
        await harness.register()
        await harness.register("other", "other@example.com")
        let a = await harness.app.login(), b = await harness.app.login()
        let stranger = await harness.app.login("other@example.com")
        let out = await harness.send("POST", "/v1/user/signout_all/", bearer: a.accessToken)
        #expect(out.status == 200 && out.body == ["message": "Successfully logged out of all sessions"])
        for token in [a.accessToken, b.accessToken] {
            #expect(await harness.send("GET", "/v1/user/user_info", bearer: token).status == 401)
        }
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: b.refreshToken).status == 401)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: stranger.accessToken).status == 200)
        let later = harness.at(harness.now + 1)
        let fresh = await later.login()
        #expect(await later.send("GET", "/v1/user/user_info", bearer: fresh.accessToken).status == 200)
    }

    @Test func flaskEraTokensWithoutSessionStillWorkAndRevokeByJTI() async throws {
        let harness = await TestHarness()
        await harness.register()
        let token = Forge.token(payload: #"{"fresh":false,"iat":1767225600,"jti":"flask-1","sub":"1","type":"access","exp":1767226500}"#)
        let other = Forge.token(payload: #"{"fresh":false,"iat":1767225600,"jti":"flask-2","sub":"1","type":"access","exp":1767226500}"#)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: token).status == 200)
        #expect(await harness.send("POST", "/v1/user/signout_access", bearer: token).status == 200)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: token).status == 401)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: other).status == 200)
        #expect(harness.store.revocation("flask-1")?.expiresAt == 1_767_226_500)
    }

    @Test func sessionRecordsOutliveEveryTokenOfTheSession() async throws {
        let harness = await TestHarness()
        await harness.register()
        let login = await harness.app.login()
        _ = await harness.send("POST", "/v1/user/signout_access", bearer: login.accessToken)
        let sid = try #require(try await Self.sid(login.accessToken, harness.app))
        let record = try #require(harness.store.revocation(RevocationRecord.key(.session, sid)))
        #expect(record.expiresAt == harness.now + 2_592_000 + 900)
    }
}

@Suite struct RotationTests {
    static func settings(interval: Int64 = 10) -> AccountSettings {
        var settings = AccountSettings()
        settings.refreshRotation = true
        settings.refreshReuseInterval = interval
        return settings
    }

    @Test func offByDefault() async throws {
        let harness = await TestHarness()
        await harness.register()
        let login = await harness.app.login()
        let response = await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        #expect(response.body.objectValue?.keys.sorted() == ["token"])
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken).status == 200)
    }

    @Test func rotatesAndForgivesARetryWithinTheInterval() async throws {
        let harness = await TestHarness(settings: Self.settings())
        await harness.register()
        let login = await harness.app.login()
        let first = await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        #expect(first.status == 200)
        let child = try #require(first.refreshToken)
        #expect(child != login.refreshToken)
        #expect(try await SessionTests.sid(child, harness.app) == SessionTests.sid(login.refreshToken, harness.app))
        // A retry with the spent token inside the interval gets the very same successor.
        let retry = await harness.at(harness.now + 10).send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        #expect(retry.status == 200 && retry.refreshToken == child)
        let next = await harness.at(harness.now + 20).send("POST", "/v1/user/refresh_token", bearer: child)
        #expect(next.status == 200 && next.refreshToken != child)
    }

    @Test func reuseAfterTheIntervalEndsTheSession() async throws {
        let harness = await TestHarness(settings: Self.settings())
        await harness.register()
        let login = await harness.app.login()
        let child = try #require(await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken).refreshToken)
        let later = harness.at(harness.now + 11)
        let theft = await later.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken)
        #expect(theft.status == 401 && theft.body == ["message": "Token has been revoked"])
        #expect(await later.send("POST", "/v1/user/refresh_token", bearer: child).status == 401)
        #expect(await later.send("GET", "/v1/user/user_info", bearer: login.accessToken).status == 401)
    }

    @Test func parallelRefreshesYieldOneLineage() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            let app = await TestHarness.app(store: store, now: 1_767_225_600, settings: Self.settings())
            _ = await app.send(
                "POST", "/v1/user/register", body: ["username": "u", "email": "u@example.com", "password": .string(seedPassword)])
            let refresh = try #require(await app.login("u@example.com").refreshToken)
            let children = try await withThrowingTaskGroup(of: String?.self) { group in
                for n in 0..<12 {
                    group.addTask {
                        // Separate stores and random streams, as separate processes would have.
                        let own = await TestHarness.app(
                            store: try FileStore(directory: dir.path), now: 1_767_225_600, seed: UInt64(100 + n),
                            settings: Self.settings())
                        return await own.send("POST", "/v1/user/refresh_token", bearer: refresh).refreshToken
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(children.count == 12)
            #expect(Set(children.compactMap { $0 }).count == 1)
            #expect(children.allSatisfy { $0 != nil })
        }
    }
}

@Suite struct ThrottleTests {
    static func settings(max: Int = 3, window: Int64 = 60) -> AccountSettings {
        var settings = AccountSettings()
        settings.loginMaxFailures = max
        settings.loginWindow = window
        return settings
    }

    @Test func locksAfterTheLimitWithoutRunningTheKDFAndLiftsAfterTheWindow() async throws {
        let harness = await TestHarness(settings: Self.settings())
        await harness.register()
        for _ in 0..<3 { #expect(await harness.app.login(password: "Wrong#pass1").status == 401) }
        let blocked = await harness.at(harness.now + 30).login()
        #expect(blocked.status == 429)
        #expect(blocked.headers["Retry-After"] == "30")
        #expect(blocked.body["message"]?.stringValue?.contains("Too many failed login attempts") == true)
        // Refused attempts are not counted: the lock lifts when the window passes, whatever happened.
        #expect(await harness.at(harness.now + 59).login().status == 429)
        #expect(await harness.at(harness.now + 60).login().status == 200)
        // The success clears this client's count and takes its own reservation back from the account's.
        #expect(harness.store.throttle(LoginThrottle.keys(account: "oluch@gmail.com", address: nil).client) == nil)
        #expect(harness.store.throttle("oluch@gmail.com") == nil)
    }

    @Test func successResetsTheCount() async throws {
        let harness = await TestHarness(settings: Self.settings())
        await harness.register()
        for _ in 0..<2 { _ = await harness.app.login(password: "Wrong#pass1") }
        #expect(await harness.app.login().status == 200)
        for _ in 0..<2 { #expect(await harness.app.login(password: "Wrong#pass1").status == 401) }
        #expect(await harness.app.login().status == 200)
    }

    @Test func unknownEmailsAreThrottledAlike() async throws {
        let harness = await TestHarness(settings: Self.settings())
        for _ in 0..<3 { #expect(await harness.app.login("ghost@example.com").status == 401) }
        #expect(await harness.app.login("GHOST@example.com").status == 429)
    }

    @Test func parallelFailuresAreCountedExactly() async throws {
        try await withTemporaryDirectory { dir in
            let settings = Self.settings(max: 10)
            let setup = await TestHarness.app(store: try FileStore(directory: dir.path), now: 1_767_225_600, settings: settings)
            _ = await setup.send(
                "POST", "/v1/user/register", body: ["username": "u", "email": "u@example.com", "password": .string(seedPassword)])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let app = await TestHarness.app(store: try FileStore(directory: dir.path), now: 1_767_225_600, settings: settings)
                        return await app.login("u@example.com", "Wrong#pass1").status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 401 }.count == 10)
            #expect(statuses.filter { $0 == 429 }.count == 10)
            #expect(try FileStore(directory: dir.path).throttle("u@example.com")?.failures.count == 10)
        }
    }
}

@Suite struct AccountTests {
    @Test func activationFlow() async throws {
        var settings = AccountSettings()
        settings.requireActivation = true
        let harness = await TestHarness(settings: settings)
        #expect(await harness.register().status == 201)
        #expect(harness.store.user(id: 1)?.isActive == false)
        let refused = await harness.app.login()
        #expect(refused.status == 403 && refused.body == ["message": "The user account is not activated yet"])
        let admin = Admin(context: harness.app.context)
        #expect(try admin.setActive("OLUCH@gmail.com", true).isActive)
        let login = await harness.app.login()
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: login.accessToken).status == 200)
        _ = try admin.setActive("1", false)
        let after = await harness.send("GET", "/v1/user/user_info", bearer: login.accessToken)
        #expect(after.status == 401 && after.body == ["status": "fail"])
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: login.refreshToken).status == 401)
    }

    @Test func changePassword() async throws {
        let harness = await TestHarness()
        await harness.register()
        let a = await harness.app.login(), b = await harness.app.login()
        let stale = try #require(await harness.send("POST", "/v1/user/refresh_token", bearer: a.refreshToken).body["token"]?.stringValue)
        let body: JSONValue = ["old_password": .string(seedPassword), "new_password": "N3w&Better-Secret"]

        let notFresh = await harness.send("POST", "/v1/user/change_password", body: body, bearer: stale)
        #expect(notFresh.status == 401 && notFresh.body == ["message": "Fresh token required"])
        let wrongOld = await harness.send(
            "POST", "/v1/user/change_password", body: ["old_password": "Nope#12345", "new_password": "N3w&Better-Secret"],
            bearer: a.accessToken)
        #expect(wrongOld.status == 422 && wrongOld.body == ["errors": ["old_password": ["Incorrect password."]]])
        let weak = await harness.send(
            "POST", "/v1/user/change_password", body: ["old_password": .string(seedPassword), "new_password": "Password1!"],
            bearer: a.accessToken)
        #expect(weak.status == 422 && weak.body == ["errors": ["new_password": ["Password is too common."]]])
        #expect(harness.store.user(id: 1)?.password.hasPrefix("scrypt:") == true)

        let changed = await harness.send("POST", "/v1/user/change_password/", body: body, bearer: a.accessToken)
        #expect(changed.status == 200 && changed.body == ["message": "Password changed"])
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: a.accessToken).status == 200)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: stale).status == 200)
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: b.accessToken).status == 401)
        #expect(await harness.send("POST", "/v1/user/refresh_token", bearer: b.refreshToken).status == 401)
        #expect(await harness.app.login().status == 401)
        #expect(await harness.app.login(password: "N3w&Better-Secret").status == 200)
    }

    @Test func rehashesWeakerStoredHashesOnLogin() async throws {
        let harness = await TestHarness()
        let flaskEra = try #require(PasswordHasherTests.werkzeugVectors.first { $0.method == "pbkdf2:sha256:150000" })
        try harness.store.commit([
            .createUser(UserRecord(id: 0, username: "legacy", email: "legacy@example.com", password: flaskEra.hash, createdAt: 1))
        ])
        #expect(await harness.app.login("legacy@example.com", flaskEra.password).status == 200)
        let upgraded = try #require(harness.store.user(id: 1)?.password)
        #expect(upgraded.hasPrefix("scrypt:1024:8:1$"))
        #expect(PasswordHasher.verify(flaskEra.password, against: upgraded))
        #expect(await harness.app.login("legacy@example.com", flaskEra.password).status == 200)
        #expect(await harness.app.login("legacy@example.com", "wrong").status == 401)
    }

    @Test("a password change that lands between a login's read and its rehash is not undone")
    func rehashNeverUndoesAPasswordChange() async throws {
        let flaskEra = try #require(PasswordHasherTests.werkzeugVectors.first { $0.method == "pbkdf2:sha256:150000" })
        let store = InterposingStore()
        try store.commit([
            .createUser(UserRecord(id: 0, username: "legacy", email: "legacy@example.com", password: flaskEra.hash, createdAt: 1))
        ])
        let app = await TestHarness.app(store: store, now: 1_767_225_600)
        let changed = "scrypt:1024:8:1$salt$changed-meanwhile"
        // Just before the login's batch with the rehash, another request changes the password.
        store.beforeReplace = { inner in
            guard var user = inner.user(id: 1) else { return }
            user.setPassword(changed)
            _ = try? inner.commit([.updateUser(user)])
        }
        #expect(await app.login("legacy@example.com", flaskEra.password).status == 200)
        #expect(store.user(id: 1)?.password == changed)
    }

    @Test("whole-record writes keep what another request changed meanwhile")
    func concurrentAccountChanges() async throws {
        let store = InterposingStore()
        let app = await TestHarness.app(store: store, now: 1_767_225_600)
        await app.send(
            "POST", "/v1/user/register", body: ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)])
        let access = try #require(await app.login().accessToken)
        let changed = "scrypt:1024:8:1$salt$changed-meanwhile"
        func interpose(_ change: @escaping (inout UserRecord) -> Void) {
            store.beforeReplace = { inner in
                guard var user = inner.user(id: 1) else { return }
                change(&user)
                _ = try? inner.commit([.updateUser(user)])
            }
        }
        // A sign-out everywhere does not write the old password back over a new one.
        interpose { $0.setPassword(changed) }
        #expect(await app.send("POST", "/v1/user/signout_all", bearer: access).status == 200)
        #expect(store.user(id: 1)?.password == changed)
        #expect(store.user(id: 1)?.cutoffGeneration == 1)
        // A password change that loses the race to a sign-out everywhere is refused, not applied.
        store.inner.resetPasswordOfFirstUser(seedPassword)
        let fresh = try #require(await app.login().accessToken)
        interpose { $0.endSessions(at: 1_767_225_600) }
        let late = await app.send(
            "POST", "/v1/user/change_password", body: ["old_password": .string(seedPassword), "new_password": "N3w-pass#word!"],
            bearer: fresh)
        #expect(late.status == 401)
        #expect(PasswordHasher.verify(seedPassword, against: store.user(id: 1)?.password ?? ""))
        // An administrator's deactivation keeps a password set meanwhile.
        interpose { $0.setPassword(changed) }
        _ = try Admin(context: app.context).setActive("1", false)
        #expect(store.user(id: 1)?.password == changed && store.user(id: 1)?.isActive == false)
    }

    @Test func adminCommands() async throws {
        let harness = await TestHarness()
        await harness.register()
        await harness.register("second", "second@example.com")
        let admin = Admin(context: harness.app.context)
        #expect(try admin.list().map(\.username) == ["oluchiy", "second"])
        #expect(try admin.find("SECOND@example.com").id == 2)
        #expect(throws: Admin.Failure.noSuchUser("nobody@example.com")) { try admin.find("nobody@example.com") }
        #expect(try !admin.list().contains { $0.summary.encodedString.contains("scrypt") })

        let login = await harness.app.login()
        #expect(
            throws: Admin.Failure.unacceptablePassword([
                "Password must be at least 8 characters long.", "Password must contain at least one symbol.",
            ])
        ) {
            try admin.setPassword("1", password: "Short1a")
        }
        _ = try admin.setPassword("1", password: "Admin-Set#Pass9")
        #expect(await harness.send("GET", "/v1/user/user_info", bearer: login.accessToken).status == 401)
        #expect(await harness.at(harness.now + 1).login(password: "Admin-Set#Pass9").status == 200)

        let deleted = try admin.delete("oluch@gmail.com")
        #expect(deleted.id == 1 && harness.store.user(id: 1) == nil)
        #expect(await harness.app.login(password: "Admin-Set#Pass9").status == 401)
        // The name and email are free again; the new account gets a new id, so old tokens stay dead.
        #expect(await harness.register().body["id"] == 3)
    }
}

@Suite struct PasswordPolicyTests {
    @Test(
        "both policies",
        arguments: [
            (PasswordPolicy.Kind.seed, "Password1!", ["Password is too common."]),
            (.seed, "P@ssw0rd", ["Password is too common."]),
            (.seed, "Oluchiy#2024x", []),
            (.nist, "correct horse battery staple", []),
            (.nist, "short", ["Password must be at least 8 characters long."]),
            (.nist, "iloveyou", ["Password is too common."]),
            (.nist, "OLUCHIY-the-user", []),
        ])
    func policies(_ kind: PasswordPolicy.Kind, _ password: String, _ expected: [String]) {
        #expect(PasswordPolicy(kind: kind).problems(password, username: "oluchiy", email: "oluch@gmail.com") == expected)
    }

    @Test func sameAsUsernameOrEmail() {
        let policy = PasswordPolicy(kind: .nist)
        #expect(
            policy.problems("Oluchiy-Account", username: "oluchiy-account", email: nil) == [
                "Password must not be the same as the username."
            ])
        #expect(
            policy.problems("OLUCH@gmail.com", username: nil, email: "oluch@gmail.com") == [
                "Password must not be the same as the email address."
            ])
    }

    @Test func configurableMinimum() {
        #expect(PasswordPolicy(kind: .nist, minimumLength: 12).problems("elevenchars") == ["Password must be at least 12 characters long."])
    }

    @Test func theListIsLarge() { #expect(CommonPasswords.count > 19_000) }
}

@Suite struct PruneTests {
    @Test("removes exactly the expired records", arguments: [false, true])
    func prune(_ onDisk: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let store: any Store = onDisk ? try FileStore(directory: dir.path) : InMemoryStore()
            let now: Int64 = 1_767_225_600
            let expiries: [Int64?] = [now - 7200, now - 1, now, now + 1, now + 7200, nil]
            try store.commit(
                expiries.enumerated().map { index, expiry in
                    .revoke(RevocationRecord(id: "j\(index)", expiresAt: expiry, revokedAt: 0))
                })
            try store.commit([
                .replaceThrottle(key: "old@x.io", expected: nil, new: ThrottleRecord(key: "old@x.io", failures: [1], expiresAt: now - 5)),
                .replaceThrottle(key: "new@x.io", expected: nil, new: ThrottleRecord(key: "new@x.io", failures: [now], expiresAt: now + 5)),
            ])
            #expect(try store.prune(now: now, limit: nil) == 4)
            for (index, expiry) in expiries.enumerated() {
                #expect(try store.isRevoked(jti: "j\(index)") == (expiry.map { $0 > now } ?? true), "j\(index)")
            }
            #expect(try store.throttle("old@x.io") == nil)
            #expect(try store.throttle("new@x.io") != nil)
            #expect(try store.prune(now: now, limit: nil) == 0)
            #expect(try store.prune(now: now + 7200, limit: nil) == 3)
        }
    }

    @Test func anExtendedThrottleRecordIsKept() async throws {
        try await withTemporaryDirectory { dir in
            let store = try FileStore(directory: dir.path)
            let first = ThrottleRecord(key: "a@x.io", failures: [0], expiresAt: 100)
            let second = ThrottleRecord(key: "a@x.io", failures: [0, 7000], expiresAt: 7100)
            try store.commit([.replaceThrottle(key: "a@x.io", expected: nil, new: first)])
            try store.commit([.replaceThrottle(key: "a@x.io", expected: first, new: second)])
            #expect(try store.prune(now: 3700, limit: nil) == 0)
            #expect(try store.throttle("a@x.io") == second)
            #expect(try store.prune(now: 7100, limit: nil) == 1)
        }
    }

    @Test("a bounded prune drains a large expired hour a limit at a time", arguments: [false, true])
    func boundedPrune(_ onDisk: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let store: any Store = onDisk ? try FileStore(directory: dir.path) : InMemoryStore()
            let now: Int64 = 1_767_225_600
            try store.commit((0..<150).map { .revoke(RevocationRecord(id: "old\($0)", expiresAt: now - 4000, revokedAt: 0)) })
            try store.commit([.revoke(RevocationRecord(id: "live", expiresAt: now + 60, revokedAt: 0))])
            #expect(try store.prune(now: now, limit: 64) == 64)
            #expect(try store.prune(now: now, limit: 64) == 64)
            #expect(try store.prune(now: now, limit: 64) == 22)
            #expect(try store.prune(now: now, limit: 64) == 0)
            #expect(try store.isRevoked(jti: "live"))
            #expect(try !store.isRevoked(jti: "old0"))
            if onDisk {
                let hours = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("expiry").path)
                #expect(hours == ["\((now + 60) / 3600)"], "the drained hour's directory is gone")
            }
        }
    }

    @Test func mutationsPruneOpportunistically() async throws {
        let harness = await TestHarness()
        await harness.register()
        for n in 0..<5 {
            try harness.store.commit([.revoke(RevocationRecord(id: "old\(n)", expiresAt: harness.now - 1, revokedAt: 0))])
        }
        #expect(harness.store.revocationCount == 5)
        let login = await harness.app.login()
        _ = await harness.send("POST", "/v1/user/signout_access", bearer: login.accessToken)
        #expect(harness.store.revocationCount == 2)  // the new token and session records only
    }
}

/// An in-memory store that runs `beforeReplace` (once) just before committing a batch holding a
/// `.replaceUser`: another request's write landing between a read and a compare-and-set.
final class InterposingStore: Store, @unchecked Sendable {
    let inner = InMemoryStore()
    var beforeReplace: ((InMemoryStore) -> Void)?

    func user(id: Int) -> UserRecord? { inner.user(id: id) }
    func user(canonicalEmail: String) -> UserRecord? { inner.user(canonicalEmail: canonicalEmail) }
    func usernameExists(canonicalUsername: String) -> Bool { inner.usernameExists(canonicalUsername: canonicalUsername) }
    func allUsers() -> [UserRecord] { inner.allUsers() }
    func revocation(_ key: String) throws(StoreError) -> RevocationRecord? { try inner.revocation(key) }
    func throttle(_ key: String) throws(StoreError) -> ThrottleRecord? { try inner.throttle(key) }
    func passwordMethods() throws(StoreError) -> [String: Int] { try inner.passwordMethods() }
    func allRevocations() throws(StoreError) -> [RevocationRecord] { try inner.allRevocations() }
    func allThrottles() throws(StoreError) -> [ThrottleRecord] { try inner.allThrottles() }
    func keyRing() throws(StoreError) -> KeyRing { try inner.keyRing() }
    func nextUserID() throws(StoreError) -> Int { try inner.nextUserID() }
    func prune(now: Int64, limit: Int?) throws(StoreError) -> Int { try inner.prune(now: now, limit: limit) }

    func commit(_ changes: [Change]) throws(StoreError) -> [Int] {
        if changes.contains(where: { if case .replaceUser = $0 { true } else { false } }), let hook = beforeReplace {
            beforeReplace = nil
            hook(inner)
        }
        return try inner.commit(changes)
    }
}

extension InMemoryStore {
    /// Sets the password hash of user 1 to `password`'s (cheap scrypt), as an administrator would.
    func resetPasswordOfFirstUser(_ password: String) {
        guard var user = user(id: 1), let hash = try? cheapHasher.hash(password, random: SeededRandomSource(seed: 9)) else { return }
        user.setPassword(hash)
        _ = try? commit([.updateUser(user)])
    }
}
