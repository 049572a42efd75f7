import Foundation
import Testing

@testable import AuthFnCore

@Suite struct PasswordHasherTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        var password: String
        var method: String
        var hash: String
        var testDescription: String { method }
    }

    static let werkzeugVectors: [Vector] = {
        struct File: Decodable { var hashes: [Vector] }
        let url = fixturesDirectory.appendingPathComponent("vectors/werkzeug.json")
        return (try? JSONDecoder().decode(File.self, from: Data(contentsOf: url)).hashes) ?? []
    }()

    @Test func vectorsArePresent() { #expect(Self.werkzeugVectors.count >= 6) }

    @Test("Werkzeug's own hashes verify", arguments: werkzeugVectors)
    func verifiesWerkzeugHashes(_ vector: Vector) {
        #expect(PasswordHasher.verify(vector.password, against: vector.hash))
        #expect(!PasswordHasher.verify(vector.password + "x", against: vector.hash))
        #expect(!PasswordHasher.verify(String(vector.password.dropLast()), against: vector.hash))
    }

    @Test(
        "authfn's hashes use Werkzeug's format and parameters",
        arguments: [
            PasswordHasher.Method.scrypt(n: 1024, r: 8, p: 1), .scrypt(n: 2048, r: 4, p: 2), .pbkdf2(hash: "sha256", iterations: 1000),
        ])
    func roundTrip(_ method: PasswordHasher.Method) throws {
        let hasher = PasswordHasher(method: method)
        let hash = try hasher.hash(seedPassword, random: SeededRandomSource(seed: 1))
        let parts = hash.split(separator: "$")
        #expect(parts.count == 3)
        #expect(String(parts[0]) == method.description)
        #expect(parts[1].count == 16 && parts[1].allSatisfy { $0.isLetter || $0.isNumber })
        #expect(PasswordHasher.verify(seedPassword, against: hash))
        #expect(!PasswordHasher.verify("445hD#@%yu79", against: hash))
        #expect(!hasher.needsRehash(hash))
    }

    @Test func defaultIsOWASPScrypt() {
        #expect(PasswordHasher().method == .scrypt(n: 131_072, r: 8, p: 1))
    }

    @Test func saltsDiffer() throws {
        let random = SystemRandomSource()
        #expect(try cheapHasher.hash(seedPassword, random: random) != (try cheapHasher.hash(seedPassword, random: random)))
    }

    @Test(
        "method strings",
        arguments: [
            ("scrypt", PasswordHasher.Method.scrypt(n: 32768, r: 8, p: 1)),
            ("scrypt:131072:8:1", .scrypt(n: 131_072, r: 8, p: 1)),
            ("pbkdf2", .pbkdf2(hash: "sha256", iterations: 1_000_000)),
            ("pbkdf2:sha512", .pbkdf2(hash: "sha512", iterations: 1_000_000)),
            ("pbkdf2:sha256:600000", .pbkdf2(hash: "sha256", iterations: 600_000)),
        ])
    func parsesMethods(_ text: String, _ expected: PasswordHasher.Method) {
        #expect(PasswordHasher.parseMethod(text) == expected)
    }

    @Test(
        "refuses unusable or hostile parameters",
        arguments: [
            "scrypt:1000:8:1", "scrypt:4194304:8:1", "scrypt:1024:0:1", "scrypt:1024:8", "pbkdf2:md5:1000",
            "pbkdf2:sha256:0", "pbkdf2:sha256:99999999999", "bcrypt", "", "plain", "scrypt:1048576:32:16",
        ])
    func refusesBadMethods(_ text: String) {
        #expect(PasswordHasher.parseMethod(text) == nil)
        #expect(!PasswordHasher.verify("x", against: "\(text)$salt$00"))
    }

    @Test(
        "malformed stored hashes verify as false",
        arguments: [
            "", "$$", "scrypt:1024:8:1$salt", "scrypt:1024:8:1", "plaintext-password", "scrypt:1024:8:1$salt$zz",
        ])
    func malformedStoredHashes(_ stored: String) {
        #expect(!PasswordHasher.verify("plaintext-password", against: stored))
    }

    @Test func weakerStoredHashNeedsRehash() throws {
        let flaskEra = try #require(Self.werkzeugVectors.first { $0.method == "pbkdf2:sha256:150000" })
        #expect(PasswordHasher().needsRehash(flaskEra.hash))
    }

    @Test func constantTimeEquality() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
    }
}
