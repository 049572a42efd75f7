/// Unpadded base64url (RFC 7515 §2, RFC 4648 §5): JWK members and thumbprints. Decoding is
/// `TokenService.decodeSegment`'s, which refuses every non-canonical spelling.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        let count = input.count / 3 * 4 + [0, 2, 3][input.count % 3]
        let output = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var at = 0
            var index = 0
            // Whole groups of three bytes, four characters each; then the one or two left.
            while index + 3 <= input.count {
                let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                buffer[at] = alphabet[Int(group >> 18)]
                buffer[at + 1] = alphabet[Int(group >> 12 & 0x3F)]
                buffer[at + 2] = alphabet[Int(group >> 6 & 0x3F)]
                buffer[at + 3] = alphabet[Int(group & 0x3F)]
                at += 4
                index += 3
            }
            switch input.count - index {
            case 1:
                let group = UInt32(input[index]) << 16
                buffer[at] = alphabet[Int(group >> 18)]
                buffer[at + 1] = alphabet[Int(group >> 12 & 0x3F)]
            case 2:
                let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                buffer[at] = alphabet[Int(group >> 18)]
                buffer[at + 1] = alphabet[Int(group >> 12 & 0x3F)]
                buffer[at + 2] = alphabet[Int(group >> 6 & 0x3F)]
            default: break
            }
            initialized = count
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        try? TokenService.decodeSegment(Array(text.utf8)[...], name: "value")
    }
}
