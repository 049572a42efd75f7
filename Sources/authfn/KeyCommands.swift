import ArgumentParser
import AuthFnCore
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `authfn keys …`: asymmetric signing keys in the store, and their rotation.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, publish, activate and retire asymmetric signing keys (kept in the store).",
        discussion: """
            A key is standby (published, not signing), current (the one signing key), previous (verifies \
            and is published until revoked) or revoked. The HS256 secret is the key 'secret': current \
            until a key is activated, then previous until 'keys revoke secret'. Output is JSON, one key \
            per line, never private material. Exit status: 0 done, 1 refused (no such key, wrong state, \
            too early without --force) or no data directory, 65 unusable key (PEM, algorithm, RSA size), \
            69 database unreachable, 74 storage failure, 78 misconfigured.
            """,
        subcommands: [Create.self, Import.self, List.self, Activate.self, Revoke.self, Delete.self, JWKS.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new standby key (published at once, signing nothing).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "ES256, EdDSA or RS256.") var alg: KeyAlgorithm = .es256
        @Option(name: .customLong("rsa-bits"), help: "RSA modulus size, 2048 to 8192 (RS256 only).") var rsaBits = 2048
        func run() async throws {
            try await Keys.run(options, create: true) { keys in [Keys.created(try keys.create(alg, rsaBits: rsaBits))] }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import", abstract: "Add a PEM private key (PKCS#8, SEC 1 or PKCS#1) as a standby key.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "ES256, EdDSA or RS256: the key's type.") var alg: KeyAlgorithm
        @Argument(help: "A PEM file, or - for stdin.") var file: String
        func run() async throws {
            // At most one byte more than a PEM may have, whatever the file holds (importKey refuses more).
            var descriptor: Int32 = 0
            if file != "-" {
                descriptor = open(file, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    Runtime.logger.error("cannot read \(file): \(String(cString: strerror(errno)))")
                    throw ExitCode(66)
                }
            }
            defer { if descriptor > 0 { close(descriptor) } }
            let pem = String(decoding: StandardIO.read(limit: KeyAdmin.maximumPEMBytes + 1, from: descriptor), as: UTF8.self)
            try await Keys.run(options, create: true) { keys in [Keys.created(try keys.importKey(pem: pem, algorithm: alg))] }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per key: kid, alg, state, created/activated/retired/revoked times and not_after.")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await Keys.run(options) { keys in try keys.list() }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a standby key the signing key; the key that signed until now becomes previous.",
            discussion: "Refused while the key has been published for less than AUTHFN_JWKS_MAX_AGE seconds, unless --force.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Activate even though caches may not have the key yet.") var force = false
        @OptionGroup var key: KeyID
        func run() async throws {
            try await Keys.run(options) { keys in try keys.activate(key.value, force: force).map(\.listing) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a previous (or standby) key verifying and take it out of the JWKS; 'secret' turns HS256 off.",
            discussion: "Refused before the key's not_after (every token it signed has expired), unless --force.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Revoke even though tokens it signed may still be unexpired: they stop working.") var force = false
        @OptionGroup var key: KeyID
        func run() async throws {
            try await Keys.run(options) { keys in [try keys.revoke(key.value, force: force).listing] }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a revoked key for good.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var key: KeyID
        func run() async throws {
            try await Keys.run(options) { keys in [["deleted": try keys.delete(key.value).listing]] }
        }
    }

    struct JWKS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "jwks", abstract: "Print the JWKS that /.well-known/jwks.json serves (to host it elsewhere).")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await Keys.run(options) { keys in [try keys.jwks()] }
        }
    }

    /// The KID argument. A thumbprint is base64url, so one in 64 begins with `-`: taken as the key id,
    /// not refused as an unknown option (`authfn keys activate -06kU…` works, as does `-- -06kU…`).
    struct KeyID: ParsableArguments {
        @Argument(parsing: .allUnrecognized, help: "The key's kid (from keys list), or 'secret' for the HS256 secret.")
        var kid: [String] = []

        /// The id given; a `--` before it (the POSIX end of options) is not one.
        var value: String { kid.first { $0 != "--" } ?? "" }

        func validate() throws {
            guard kid.filter({ $0 != "--" }).count == 1 else {
                throw ValidationError("Give exactly one key id (authfn keys list shows them).")
            }
        }
    }

    /// What `keys create` and `keys import` print.
    static func created(_ record: KeyRecord) -> JSONValue {
        var line: JSONObject = [
            "kid": .string(record.kid), "alg": .string(record.alg), "state": .string(record.state.rawValue),
            "created_at": .int(record.createdAt),
        ]
        if record.privateKey.map(KeySealing.isSealed) == true { line["sealed"] = true }
        return .object(line)
    }

    /// Runs a key command on the configured store (`create`: making the data directory if needed),
    /// mapping refusals to exit 1 and unusable keys to 65.
    static func run(_ options: GlobalOptions, create: Bool = false, _ body: @escaping (KeyAdmin) throws -> [JSONValue]) async throws {
        try await Runtime.admin(options, create: create) { admin in
            do {
                return try body(KeyAdmin(context: admin.context))
            } catch let refusal as KeyRefusal {
                Runtime.logger.error("refused: \(refusal)")
                throw ExitCode(1)
            } catch let error as KeyError {
                Runtime.logger.error("unusable key: \(error)")
                throw ExitCode(65)
            }
        }
    }
}

extension KeyAlgorithm: ExpressibleByArgument {}
