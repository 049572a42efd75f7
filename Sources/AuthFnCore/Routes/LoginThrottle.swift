/// Failed-login counting per account (canonical email, registered or not), in the store.
///
/// An attempt first *reserves* a failure with a compare-and-set, so that concurrent guesses cannot
/// all slip past the limit before any of them is counted; a successful login then clears the record.
/// Attempts refused with 429 are not counted, so the lock lifts when the oldest counted failure
/// leaves the window, however hard an attacker keeps knocking: an account can be slowed to
/// `loginMaxFailures` guesses per window, never locked for good.
enum LoginThrottle {
    /// Reserves one failure for `key`, or throws `AuthError.throttled` when the window is full.
    static func reserve(_ key: String, _ context: Context) throws {
        let settings = context.settings
        for _ in 0..<32 {
            let now = context.time.now()
            let current = try context.store.throttle(key)
            let recent = (current?.failures ?? []).filter { $0 > now - settings.loginWindow }
            if recent.count >= settings.loginMaxFailures, let oldest = recent.first {
                throw AuthError.throttled(retryAfter: max(1, oldest + settings.loginWindow - now))
            }
            let failures = recent + [now]
            let updated = ThrottleRecord(key: key, failures: failures, expiresAt: now + settings.loginWindow)
            // On a conflict another attempt on the same account got there first: look again.
            if try compareAndSet(key, expected: current, new: updated, context.store) { return }
        }
        throw StoreError.corrupt(path: "throttle", detail: "could not record a login attempt under contention")
    }

    private static func compareAndSet(
        _ key: String, expected: ThrottleRecord?, new: ThrottleRecord, _ store: any Store
    ) throws(StoreError) -> Bool {
        do {
            try store.commit([.replaceThrottle(key: key, expected: expected, new: new)])
            return true
        } catch {
            if error == .conflict(.throttle) { return false }
            throw error
        }
    }

    static func clear(_ key: String) -> Change { .clearThrottle(key: key) }
}
