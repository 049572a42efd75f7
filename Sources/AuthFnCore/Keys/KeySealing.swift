import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Private keys sealed at rest with AES-256-GCM (`AUTHFN_KEY_ENCRYPTION_KEY`), so that a copy of the
/// data directory or a database dump does not hand out the signing keys.
///
/// The AES key is HKDF-SHA256 of the variable's UTF-8 bytes (any text of at least 32 bytes, e.g.
/// `openssl rand -hex 32`). A sealed key is `authfn-sealed-v1:` + base64url(nonce ‖ ciphertext ‖ tag),
/// its `kid` authenticated alongside, so a sealed key moved onto another record does not open.
public struct KeySealing: Sendable {
    static let prefix = "authfn-sealed-v1:"
    /// As for `JWT_SECRET_KEY`: 256 bits of key material, at the least, when it is random hex.
    public static let minimumBytes = 32

    private let key: SymmetricKey

    /// `nil` when `secret` is shorter than `minimumBytes`.
    public init?(secret: [UInt8]) {
        guard secret.count >= Self.minimumBytes else { return nil }
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), salt: Array("authfn key sealing".utf8), info: Array("v1".utf8),
            outputByteCount: 32)
    }

    public static func isSealed(_ text: String) -> Bool { text.utf8.starts(with: prefix.utf8) }

    /// `pem` sealed for the record `kid`, with a nonce from `random`.
    public func seal(_ pem: String, kid: String, random: any RandomSource) throws(KeyError) -> String {
        do {
            let nonce = try AES.GCM.Nonce(data: random.bytes(12))
            let box = try AES.GCM.seal(Array(pem.utf8), using: key, nonce: nonce, authenticating: Array(kid.utf8))
            guard let combined = box.combined else { throw KeyError("AES-GCM gave no combined form") }
            return Self.prefix + Base64URL.encode(combined)
        } catch let error as KeyError {
            throw error
        } catch {
            throw KeyError("could not seal the private key: \(error)")
        }
    }

    /// The PEM inside `sealed`; refused when the key or the `kid` is not the one it was sealed with.
    public func open(_ sealed: String, kid: String) throws(KeyError) -> String {
        guard Self.isSealed(sealed), let combined = Base64URL.decode(String(sealed.dropFirst(Self.prefix.count))) else {
            throw KeyError("key \(kid): not a sealed key")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            let opened = try AES.GCM.open(box, using: key, authenticating: Array(kid.utf8))
            return String(decoding: opened, as: UTF8.self)
        } catch {
            throw KeyError("key \(kid) does not open with AUTHFN_KEY_ENCRYPTION_KEY (sealed with another key, or altered)")
        }
    }
}
