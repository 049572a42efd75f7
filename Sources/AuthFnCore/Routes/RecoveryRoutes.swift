import Logging

/// Account recovery without an administrator: password reset and address verification, each by a
/// single-use link mailed to the account's address.
///
/// A link's token is `<user id>.<secret>`, the secret 256 bits from the random source. The account keeps
/// only the SHA-256 of the secret and an expiry (`UserRecord.resetToken`, `.verifyToken`): a newer link
/// replaces the older one, any password change drops a pending reset link, and using a link records its
/// digest (`RevocationRecord.Kind.spentLink`) in the same commit, so that of two requests presenting one
/// link exactly one succeeds. Every way a token can be wrong gets the same 400.
///
/// Asking for a mail answers 202 whatever the address: the account is looked up, the link made and the
/// mail handed to `AUTHFN_MAIL_COMMAND` only after the answer has been written (`Response.deferred`), so
/// neither the answer nor its timing tells whether the address is registered.
enum RecoveryRoutes {
    static let accepted = "If the address is registered, a reset link has been sent."
    static let verificationAccepted = "If the address is registered and awaits verification, a link has been sent."

    /// `POST /v1/user/password_reset/` `{"email"}`.
    static func requestReset(_ request: Request, _ context: Context) async throws -> Response {
        guard context.mail.canReset else { throw AuthError.mailNotConfigured("Password reset") }
        return try acceptMailRequest("reset", accepted, request, context) { .passwordReset(canonicalEmail: $0) }
    }

    /// Validates `{"email"}`, counts the request (the same work whatever the address), and answers 202,
    /// leaving `work` for after the answer.
    private static func acceptMailRequest(
        _ purpose: String, _ message: String, _ request: Request, _ context: Context, work: (String) -> DeferredWork
    ) throws -> Response {
        let email = try UserInput.emailOnly(from: try RequestBody.json(request))
        let account = UserRecord.canonicalEmail(email)
        try reserve(purpose, account: account, request, context)
        var response = Response(status: 202, body: ["message": .string(message)])
        response.deferred = [work(account)]
        return response
    }

    /// `POST /v1/user/password_reset/confirm/` `{"token", "new_password"}`: the new password (which the
    /// policy must accept), every session ended, the link spent.
    static func confirmReset(_ request: Request, _ context: Context) async throws -> Response {
        guard context.mail.canReset else { throw AuthError.mailNotConfigured("Password reset") }
        let (token, password) = try UserInput.resetConfirmation(from: try RequestBody.json(request))
        let now = context.time.now()
        guard let (user, digest) = try redeem(token, \.resetToken, now: now, context), user.isActive else {
            throw AuthError.invalidLinkToken
        }
        let problems = context.settings.passwordPolicy.problems(password, username: user.username, email: user.email)
        guard problems.isEmpty else { throw ValidationError(["new_password": problems]) }
        var updated = user
        updated.setPassword(try context.hasher.hash(password, random: context.random))
        updated.endSessions(at: now)
        return try spend(digest, expiresAt: user.resetToken?.expiresAt, from: user, to: updated, answering: "Password reset", context)
    }

    /// `POST /v1/user/verify_email/` `{"token"}`: the address is verified and the account active
    /// (unless `AUTHFN_REQUIRE_ACTIVATION` also wants an administrator's word).
    static func verifyEmail(_ request: Request, _ context: Context) async throws -> Response {
        guard context.mail.canVerify else { throw AuthError.mailNotConfigured("Email verification") }
        let token = try UserInput.tokenOnly(from: try RequestBody.json(request))
        let now = context.time.now()
        guard let (user, digest) = try redeem(token, \.verifyToken, now: now, context), user.emailUnverified else {
            throw AuthError.invalidLinkToken
        }
        var updated = user
        updated.emailUnverified = false
        updated.verifyToken = nil
        if !context.settings.requireActivation { updated.isActive = true }
        return try spend(digest, expiresAt: user.verifyToken?.expiresAt, from: user, to: updated, answering: "Email verified", context)
    }

    /// `POST /v1/user/verify_email/resend/` `{"email"}`: a new link for an account that awaits one.
    static func resendVerification(_ request: Request, _ context: Context) async throws -> Response {
        guard context.mail.canVerify else { throw AuthError.mailNotConfigured("Email verification") }
        return try acceptMailRequest("verify", verificationAccepted, request, context) { .verificationResend(canonicalEmail: $0) }
    }

    // MARK: Tokens

    /// A new link token for user `id`, and what the account keeps of it.
    static func newToken(for id: Int, expiresAt: Int64, _ random: any RandomSource) -> (token: String, kept: AccountToken) {
        let secret = Base64URL.encode(random.bytes(32))
        return ("\(id).\(secret)", AccountToken(digest: digest(secret), expiresAt: expiresAt))
    }

    /// What the account keeps of a secret: its SHA-256, in hex (the store's own key digest).
    static func digest(_ secret: String) -> String { FileStore.digest(secret) }

    /// The account a token belongs to, when the token is its current, unexpired one of that kind.
    private static func redeem(
        _ token: String, _ slot: KeyPath<UserRecord, AccountToken?>, now: Int64, _ context: Context
    ) throws -> (UserRecord, String)? {
        let parts = token.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 19, parts[1].count == 43,
            let id = Int(String(decoding: parts[0], as: UTF8.self)), id > 0,
            let user = try context.store.user(id: id), let kept = user[keyPath: slot], kept.expiresAt > now
        else { return nil }
        let presented = digest(String(decoding: parts[1], as: UTF8.self))
        guard constantTimeEquals(Array(presented.utf8), Array(kept.digest.utf8)) else { return nil }
        return (user, presented)
    }

    /// Commits `user` (as it was read: `original`) together with the record that spends link `digest`,
    /// and answers 200 with `message`. A link spent meanwhile by another request, or an account changed
    /// meanwhile (a password change voids the link anyway), is the same 400 as any other bad token.
    private static func spend(
        _ digest: String, expiresAt: Int64?, from original: UserRecord, to user: UserRecord, answering message: String,
        _ context: Context
    ) throws -> Response {
        let now = context.time.now()
        let spent = RevocationRecord(kind: .spentLink, id: digest, expiresAt: expiresAt ?? now, revokedAt: now)
        let changes: [Change] = [
            .requireNoRevocation(key: RevocationRecord.key(.spentLink, digest)), .revoke(spent),
            .replaceUser(expected: original, new: user),
            .clearThrottle(key: UserRecord.canonicalEmail(user.email)),
        ]
        let outcome = Result { () throws(StoreError) in try context.commit(changes) }
        switch outcome {
        case .success: break
        case .failure(.conflict(.revocation)), .failure(.conflict(.user)): throw AuthError.invalidLinkToken
        case .failure(let error): throw error
        }
        var response = Response.message(200, message)
        response.subject = String(user.id)
        return response
    }

    private static func reserve(_ purpose: String, account: String, _ request: Request, _ context: Context) throws {
        do {
            try LoginThrottle.reserve(LoginThrottle.keys(mail: purpose, account: account, address: request.clientAddress), context)
        } catch AuthError.throttled(let retryAfter) {
            throw AuthError.mailThrottled(retryAfter: retryAfter)
        }
    }
}

/// What a response leaves to be done once it has been written.
public enum DeferredWork: Sendable, Equatable {
    /// Mail a reset link to the account registered with this canonical email, if it is active.
    case passwordReset(canonicalEmail: String)
    /// Mail a new verification link to the account registered with this canonical email, if it awaits one.
    case verificationResend(canonicalEmail: String)
    /// Mail the verification link of a new account.
    case verification(userID: Int, token: String)
}

extension App {
    /// Does what the response left for after it was written. Never throws: every failure is logged
    /// (without the message, which holds a live link), and the client's answer is already out.
    public func perform(_ work: [DeferredWork]) async {
        for item in work {
            do {
                try perform(item)
            } catch {
                context.logger.error("could not prepare a mail", metadata: ["error": "\(error)"])
            }
        }
    }

    private func perform(_ item: DeferredWork) throws {
        let mail = context.mail
        switch item {
        case .passwordReset(let account):
            try mailNewLink(.reset, account: account, slot: \.resetToken, lifetime: mail.resetExpires, link: mail.resetURL) {
                $0.isActive
            }
        case .verificationResend(let account):
            try mailNewLink(.verify, account: account, slot: \.verifyToken, lifetime: mail.verifyExpires, link: mail.verifyURL) {
                $0.emailUnverified
            }
        case .verification(let id, let token):
            guard let user = try context.store.user(id: id) else { return }
            send(.verify, token: token, to: user, link: mail.verifyURL, lifetime: mail.verifyExpires)
        }
    }

    /// Makes a new link of `kind` for the account registered with `account` (if `eligible` says it may
    /// have one), keeps its digest in `slot` — replacing the older link — and mails it.
    private func mailNewLink(
        _ kind: MailTemplates.Kind, account: String, slot: WritableKeyPath<UserRecord, AccountToken?>, lifetime: Int64,
        link: String?, eligible: (UserRecord) -> Bool
    ) throws {
        guard let original = try context.store.user(canonicalEmail: account), eligible(original) else {
            context.logger.info("\(kind.rawValue) mail asked for an address without an account that may have one")
            return
        }
        let (token, kept) = RecoveryRoutes.newToken(for: original.id, expiresAt: context.time.now() + lifetime, context.random)
        var user = original
        user[keyPath: slot] = kept
        // Compare-and-set: a password change that landed since the read must not be undone (and voids
        // the link this would have made; the user can ask again).
        try context.commit([.replaceUser(expected: original, new: user)])
        send(kind, token: token, to: user, link: link, lifetime: lifetime)
    }

    /// Renders the mail of `kind` with the link to `token` and hands it to the mailer; logs the outcome.
    private func send(_ kind: MailTemplates.Kind, token: String, to user: UserRecord, link: String?, lifetime: Int64) {
        guard let mailer = context.mailer, let from = context.mail.from, let link else {
            context.logger.error("mail is not configured; no \(kind.rawValue) mail sent", metadata: ["user": "\(user.id)"])
            return
        }
        let url = link.replacing("{token}", with: token)
        let values = [
            "link": url, "username": user.username, "email": user.email, "minutes": String(lifetime / 60),
            "hours": String(lifetime / 3600),
        ]
        let texts = MailTemplates.render(kind, directory: context.mail.templates, values: values)
        let domain = from.split(separator: "@").last.map { $0.filter { $0 != ">" && $0 != " " } } ?? "authfn"
        let message = MailMessage(
            from: from, to: user.email, subject: texts.subject, text: texts.text, html: texts.html, date: context.time.now(),
            messageID: "\(context.random.uuidV4())@\(domain)", boundary: "authfn-" + context.random.uuidV4())
        let metadata: Logger.Metadata = ["user": "\(user.id)", "mail": "\(kind.rawValue)"]
        switch mailer.deliver(message) {
        case .accepted:
            context.logger.info("mail handed to the mail command", metadata: metadata)
        case .refused(let status, let detail):
            context.logger.error(
                "the mail command refused the mail",
                metadata: metadata.merging(["status": "\(status)", "stderr": "\(detail)"]) { $1 })
        case .timedOut(let seconds):
            context.logger.error("the mail command did not finish in \(seconds) s and was killed", metadata: metadata)
        case .notStarted(let why):
            context.logger.error("the mail command could not be started: \(why)", metadata: metadata)
        }
    }
}
