import JWTKit
import Synchronization

/// jwt-kit algorithms made from keys, one per `kid` and purpose, kept for the life of the process: a
/// `--stream` or Lambda process parses each PEM once, not once per request. A `kid` is the thumbprint
/// of the public key, so the key under it never changes; only keys the ring or the configuration
/// holds get here, so the cache is as small as the ring.
final class KeyCache: Sendable {
    private let signers = Mutex<[String: any JWTAlgorithm]>([:])
    private let algorithms = Mutex<[String: any JWTAlgorithm]>([:])

    /// jwt-kit's algorithm signing with `kid`'s private key.
    func signer(_ kid: String, _ make: () throws(KeyError) -> PrivateSigningKey) async throws(KeyError) -> any JWTAlgorithm {
        if let cached = signers.withLock({ $0[kid] }) { return cached }
        let made = try await make().signer()
        signers.withLock { $0[kid] = made }
        return made
    }

    /// jwt-kit's algorithm verifying with `kid`'s public key.
    func verifier(_ kid: String, _ make: () throws(KeyError) -> PublicSigningKey) async throws(KeyError) -> any JWTAlgorithm {
        if let cached = algorithms.withLock({ $0[kid] }) { return cached }
        let made = try await make().verifier()
        algorithms.withLock { $0[kid] = made }
        return made
    }
}
