/// Failed-login counting, in the store, on two levels:
///
/// - per account *and client address* (`AUTHFN_LOGIN_MAX_FAILURES`, default 10 per window): the bound on
///   one client's guessing. Another client's count is its own, so an attacker who guesses whenever a
///   slot frees holds only their own address back, never the owner at another;
/// - per account, all addresses together (`AUTHFN_LOGIN_ACCOUNT_MAX_FAILURES`, default 100): a much higher
///   ceiling on the guessing a distributed attack can do.
///
/// The account is the canonical email, registered or not, so throttling does not reveal which emails
/// exist. The client address is the one the launcher or gateway gives (`Request.clientAddress`), never a
/// client-sent header; requests without one share one count, as with a per-account limit.
///
/// An attempt first *reserves* a failure on both counts with one compare-and-set batch, so that
/// concurrent guesses cannot all slip past the limits before any of them is counted; a successful
/// login then clears that client's count (only). Attempts refused with 429 are not counted, so a lock
/// lifts when the oldest counted failure leaves the window however hard an attacker keeps knocking.
enum LoginThrottle {
    struct Keys {
        var client: String
        var account: String
    }

    /// The records an attempt on `account` from `address` counts against.
    static func keys(account: String, address: String?) -> Keys {
        // The account key alone is the record authfn 1.0 kept per account: it becomes the ceiling.
        Keys(client: "client\u{0}" + (address ?? "-") + "\u{0}" + account, account: account)
    }

    /// The records a mail request (`reset`, `verify`) on `account` from `address` counts against: the
    /// same limits as logins, counted apart from them, so that asking for mail cannot lock anyone out of
    /// logging in.
    static func keys(mail purpose: String, account: String, address: String?) -> Keys {
        let scoped = purpose + "\u{0}" + account
        return Keys(client: "client\u{0}" + (address ?? "-") + "\u{0}" + scoped, account: scoped)
    }

    /// Reserves one failure for this account and client, or throws `AuthError.throttled` when either
    /// window is full. Returns the reservation's time, for `succeed`.
    @discardableResult
    static func reserve(_ keys: Keys, _ context: Context) throws -> Int64 {
        let settings = context.settings
        for _ in 0..<32 {
            let now = context.time.now()
            let client = try context.store.throttle(keys.client)
            let account = try context.store.throttle(keys.account)
            let clientRecent = recent(client, now: now, window: settings.loginWindow)
            let accountRecent = recent(account, now: now, window: settings.loginWindow)
            if let retry = retryAfter(clientRecent, limit: settings.loginMaxFailures, now: now, window: settings.loginWindow)
                ?? retryAfter(accountRecent, limit: settings.loginAccountMaxFailures, now: now, window: settings.loginWindow)
            {
                throw AuthError.throttled(retryAfter: retry)
            }
            let expires = now + settings.loginWindow
            let changes: [Change] = [
                .replaceThrottle(
                    key: keys.client, expected: client,
                    new: ThrottleRecord(key: keys.client, failures: clientRecent + [now], expiresAt: expires)),
                .replaceThrottle(
                    key: keys.account, expected: account,
                    new: ThrottleRecord(key: keys.account, failures: accountRecent + [now], expiresAt: expires)),
            ]
            // On a conflict another attempt on the same account got there first: look again.
            do throws(StoreError) {
                try context.store.commit(changes)
                return now
            } catch {
                guard error == .conflict(.throttle) else { throw error }
            }
        }
        throw StoreError.corrupt(path: "throttle", detail: "could not record a login attempt under contention")
    }

    private static func recent(_ record: ThrottleRecord?, now: Int64, window: Int64) -> [Int64] {
        (record?.failures ?? []).filter { $0 > now - window }
    }

    /// Seconds until the oldest counted failure leaves the window, when the window is full.
    private static func retryAfter(_ failures: [Int64], limit: Int, now: Int64, window: Int64) -> Int64? {
        guard failures.count >= limit, let oldest = failures.dropLast(limit - 1).last else { return nil }
        return max(1, oldest + window - now)
    }

    /// After a successful attempt: commits `changes` together with clearing that client's count and
    /// taking the attempt's own reservation (made at `reservedAt`) back from the account's count, which
    /// keeps every other failure. A compare-and-set again, retried if another attempt got there first.
    static func succeed(_ keys: Keys, reservedAt: Int64, _ context: Context, with changes: [Change]) throws {
        for _ in 0..<32 {
            var batch = changes + [.clearThrottle(key: keys.client)]
            if let account = try context.store.throttle(keys.account),
                let index = account.failures.lastIndex(of: reservedAt)
            {
                var released = account
                released.failures.remove(at: index)
                batch.append(.replaceThrottle(key: keys.account, expected: account, new: released.failures.isEmpty ? nil : released))
            }
            do throws(StoreError) {
                try context.commit(batch)
                return
            } catch {
                guard error == .conflict(.throttle) else { throw error }
            }
        }
        throw StoreError.corrupt(path: "throttle", detail: "could not record a login attempt under contention")
    }
}
