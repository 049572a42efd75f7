#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The zero-setup signing secret: 32 random bytes, kept hex-encoded in `secret.key` (mode 0600) in the
/// data directory and created on first use. The secret is the file's 64 hex characters as UTF-8, so
/// the same text works as `JWT_SECRET_KEY` for a Flask app or PyJWT.
public enum GeneratedSecret {
    public static let fileName = "secret.key"

    public static func load(from store: FileStore, random: any RandomSource) throws -> [UInt8] {
        let bytes = try store.createIfAbsent(fileName) {
            Array(
                random.bytes(32).map { byte in
                    let hex = String(byte, radix: 16)
                    return hex.count == 1 ? "0" + hex : hex
                }.joined().utf8) + [0x0A]
        }
        let text = String(decoding: bytes, as: UTF8.self).trimming(Trim.whitespaceOrNewline)
        guard text.utf8.count >= Configuration.minimumSecretBytes else {
            throw StoreError.corrupt(path: fileName, detail: "shorter than \(Configuration.minimumSecretBytes) bytes")
        }
        return Array(text.utf8)
    }
}
