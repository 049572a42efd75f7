import Crypto
import CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Password hashes in Werkzeug's `generate_password_hash` format, `method$salt$hexdigest`, so a Flask
/// app's users can be carried over and authfn's hashes can be read by Werkzeug's `check_password_hash`:
///
/// - `scrypt:N:r:p$salt$hex` — 64-byte scrypt output (Python `hashlib.scrypt` default `dklen`).
/// - `pbkdf2:HASH:ITERATIONS$salt$hex` — digest-sized PBKDF2-HMAC output.
///
/// Salt and password enter the KDF as their UTF-8 bytes, exactly as Werkzeug encodes them.
public struct PasswordHasher: Sendable, Equatable {
    public enum Method: Sendable, Hashable, CustomStringConvertible {
        case scrypt(n: Int, r: Int, p: Int)
        case pbkdf2(hash: String, iterations: Int)

        public var description: String {
            switch self {
            case .scrypt(let n, let r, let p): "scrypt:\(n):\(r):\(p)"
            case .pbkdf2(let hash, let iterations): "pbkdf2:\(hash):\(iterations)"
            }
        }
    }

    /// OWASP's minimum scrypt parameters (128 MiB, about a quarter of a second here).
    public static let defaultMethod = Method.scrypt(n: 131_072, r: 8, p: 1)
    /// Werkzeug ≥ 3.1's PBKDF2 default, used when a method string says just `pbkdf2`.
    public static let defaultPBKDF2Iterations = 1_000_000

    /// What `hash(_:)` writes. Verification accepts any supported method within `verificationBounds`.
    public var method: Method

    public init(method: Method = Self.defaultMethod) { self.method = method }

    /// Parses a Werkzeug method string: `scrypt`, `scrypt:N:r:p`, `pbkdf2`, `pbkdf2:HASH`, `pbkdf2:HASH:ITER`.
    public static func parseMethod(_ text: String) -> Method? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "scrypt":
            if parts.count == 1 { return .scrypt(n: 32_768, r: 8, p: 1) }
            guard parts.count == 4, let n = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]) else {
                return nil
            }
            let method = Method.scrypt(n: n, r: r, p: p)
            return isWithinBounds(method) ? method : nil
        case "pbkdf2":
            guard parts.count <= 3 else { return nil }
            let hash = parts.count >= 2 ? parts[1] : "sha256"
            guard let iterations = parts.count == 3 ? Int(parts[2]) : defaultPBKDF2Iterations else { return nil }
            let method = Method.pbkdf2(hash: hash, iterations: iterations)
            return isWithinBounds(method) ? method : nil
        default:
            return nil
        }
    }

    /// The strongest parameters authfn will run, for writing and for verifying stored hashes alike: a
    /// margin above the strongest legitimate hash — authfn's default (scrypt N=2^17) and Werkzeug 3.1's
    /// (`scrypt:32768:8:1`, `pbkdf2:sha256:1000000`) — so that a corrupt, hostile or imported hash
    /// cannot make one login allocate a gigabyte or spin for seconds. A hash beyond them verifies as
    /// `false`.
    public static let maximumScryptN = 1 << 18
    /// scrypt's memory (and, with it, its work): 128 · N · r · p bytes.
    public static let maximumScryptBytes = 256 << 20
    public static let maximumPBKDF2Iterations = 2_000_000

    static func isWithinBounds(_ method: Method) -> Bool {
        switch method {
        case .scrypt(let n, let r, let p):
            guard n > 1, n & (n - 1) == 0, n <= maximumScryptN, (1...32).contains(r), (1...16).contains(p) else { return false }
            return 128 * n * r * p <= maximumScryptBytes
        case .pbkdf2(let hash, let iterations):
            return Self.hashFunction(named: hash) != nil && (1...maximumPBKDF2Iterations).contains(iterations)
        }
    }

    private static func hashFunction(named name: String) -> (KDF.Insecure.PBKDF2.HashFunction, Int)? {
        switch name {
        case "sha1": (.insecureSHA1, 20)
        case "sha224": (.insecureSHA224, 28)
        case "sha256": (.sha256, 32)
        case "sha384": (.sha384, 48)
        case "sha512": (.sha512, 64)
        default: nil
        }
    }

    static let saltAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// A new stored hash with a fresh 16-character salt, as Werkzeug's `gen_salt(16)` makes.
    public func hash(_ password: String, random: any RandomSource) throws -> String {
        let salt = random.string(count: 16, from: Self.saltAlphabet)
        return "\(method)$\(salt)$\(try Self.derive(password, salt: salt, method: method))"
    }

    /// Checks `password` against a stored Werkzeug-format hash in constant time. Unknown formats,
    /// out-of-bounds parameters and malformed hashes verify as `false`.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let method = parseMethod(String(parts[0])),
            let computed = try? derive(password, salt: String(parts[1]), method: method)
        else { return false }
        return constantTimeEquals(Array(computed.utf8), Array(parts[2].utf8))
    }

    /// Runs one derivation of each of `methods` on `password`, discarding the results: what a login
    /// spends on the methods it does not need, so that its time depends on neither the account's
    /// existence nor its hash method.
    public static func spendVerifications(_ password: String, methods: [Method]) {
        for method in methods { _ = try? derive(password, salt: "authfn-timing-equaliser", method: method) }
    }

    /// At most this many methods are equalised per login; beyond them (an unusual store) the cheapest
    /// are left out.
    public static let maximumTimingMethods = 4

    /// The methods a login spends a derivation of: every method in use in the store (`inUse`, from
    /// `Store.passwordMethods`) that authfn can run, most expensive first, at most
    /// `maximumTimingMethods`; the configured method when the store holds no hash.
    public static func timingMethods(inUse: [String: Int], configured: Method) -> [Method] {
        let methods = inUse.keys.sorted().compactMap(parseMethod)
        guard !methods.isEmpty else { return [configured] }
        return Array(methods.sorted { estimatedCost($0) > estimatedCost($1) }.prefix(maximumTimingMethods))
    }

    /// Relative cost, in units of one scrypt block mix (measured here: one PBKDF2-SHA256 iteration costs
    /// about 0.75 of them), only for choosing which methods to keep.
    static func estimatedCost(_ method: Method) -> Double {
        switch method {
        case .scrypt(let n, let r, let p): Double(n) * Double(r) * Double(p)
        case .pbkdf2(let hash, let iterations): Double(iterations) * (hash == "sha512" || hash == "sha384" ? 1.1 : 0.75)
        }
    }

    /// Whether a stored hash was made with weaker parameters than `method` (for rehash-on-login).
    public func needsRehash(_ stored: String) -> Bool {
        guard let prefix = stored.split(separator: "$").first else { return true }
        return Self.parseMethod(String(prefix)) != method
    }

    static func derive(_ password: String, salt: String, method: Method) throws -> String {
        let key: SymmetricKey
        switch method {
        case .scrypt(let n, let r, let p):
            key = try KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: Array(salt.utf8), outputByteCount: 64, rounds: n, blockSize: r,
                parallelism: p, maxMemory: 132 * n * r * p)
        case .pbkdf2(let hash, let iterations):
            guard let (function, size) = hashFunction(named: hash) else { throw PasswordHashError.unsupported }
            // Werkzeug's and Flask-era iteration counts (150,000, 260,000) are below swift-crypto's
            // 210,000 floor for new keys; verifying them needs the unchecked entry point.
            key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: Array(salt.utf8), using: function, outputByteCount: size,
                unsafeUncheckedRounds: iterations)
        }
        return key.withUnsafeBytes { bytes in bytes.map { hexByte($0) }.joined() }
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}

enum PasswordHashError: Error { case unsupported }

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
