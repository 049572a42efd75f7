/// The account-security knobs handlers consult: rotation, throttling, activation, password policy.
public struct AccountSettings: Sendable, Equatable {
    /// `JWT_REFRESH_TOKEN_ROTATION`: refreshing spends the refresh token and returns a new one.
    public var refreshRotation = false
    /// `JWT_REFRESH_REUSE_INTERVAL`: seconds during which a spent refresh token is answered with the
    /// same successor instead of being treated as stolen.
    public var refreshReuseInterval: Int64 = 10
    /// `AUTHFN_LOGIN_MAX_FAILURES` failed logins per account and client address within
    /// `AUTHFN_LOGIN_WINDOW` seconds…
    public var loginMaxFailures = 10
    /// …and `AUTHFN_LOGIN_ACCOUNT_MAX_FAILURES` per account from all addresses together.
    public var loginAccountMaxFailures = 100
    public var loginWindow: Int64 = 900
    /// `AUTHFN_REQUIRE_ACTIVATION`: new accounts start inactive until an admin activates them.
    public var requireActivation = false
    public var passwordPolicy = PasswordPolicy()

    public init() {}
}
