import ArgumentParser
import AuthFnCore
import Logging
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// The entry point. The invocations a launcher makes for every request (`authfn`, `authfn --http`,
/// `authfn --cgi`, `authfn --stream`, and Lambda's `bootstrap` with no arguments) go straight to `Handle.serve`: building the argument parser's
/// command tree reflects every command and option at run time, which cost about as much as handling
/// the request. Any other command line goes through the parser.
@main
enum Main {
    static func main() async {
        let mode: Handle.Mode
        switch Array(CommandLine.arguments.dropFirst()) {
        // getenv: the environment's dictionary is built once, later, by whatever needs it.
        case [] where getenv("AWS_LAMBDA_RUNTIME_API").map { $0.pointee != 0 } ?? false: mode = .lambda
        case ["--lambda"]: mode = .lambda
        case []: mode = .automatic
        case ["--http"]: mode = .http
        case ["--cgi"]: mode = .cgi
        case ["--stream"]: mode = .stream
        case let arguments:
            await AuthFn.main(GlobalOptions.movedAfterSubcommand(arguments))
            return
        }
        do {
            try await Handle.serve(mode, dataDirectory: nil)
        } catch {
            AuthFn.exit(withError: error)
        }
    }
}

/// The executable: by default, read one request envelope on stdin and answer one response envelope
/// on stdout; `users` and `prune` administer the data directory. Everything worth testing lives in
/// AuthFnCore; this target only wires real I/O to it.
struct AuthFn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authfn",
        abstract: "User authentication with JWTs: one JSON request on stdin, one JSON response on stdout.",
        discussion: """
            Handling requests (the default command, 'handle'):
              authfn [--data-dir DIR]           one JSON envelope or API Gateway event on stdin \
            (CGI when GATEWAY_INTERFACE or Http_Method is set)
              authfn --http [--data-dir DIR]    one raw HTTP/1.1 request (inetd, xinetd, socat, systemd Accept=yes)
              authfn --cgi [--data-dir DIR]     one CGI request (lighttpd, Apache, OpenFaaS classic)
              authfn --stream [--data-dir DIR]  one envelope per line, answered line by line, until end of input
              authfn --lambda [--data-dir DIR]  the AWS Lambda Runtime API loop (automatic when AWS_LAMBDA_RUNTIME_API \
            is set and there are no arguments)

            Configuration comes from environment variables (and a .env file in the working directory): \
            'authfn config' prints the settings in effect; the README lists them all. --data-dir may \
            come before or after a subcommand.
            """,
        version: Build.version,
        subcommands: [Handle.self, Users.self, Keys.self, Prune.self, ConfigCommand.self, Database.self],
        defaultSubcommand: Handle.self)
}

struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The data directory (overrides AUTHFN_DATA_DIR; default ./data).")
    var dataDirectory: String?

    /// `--data-dir DIR` (or `--data-dir=DIR`) given before the subcommand moved after it, where the
    /// subcommand's parser finds it: `authfn --data-dir X prune` means `authfn prune --data-dir X`.
    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        var global: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--data-dir", rest.count >= 2 {
                global += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--data-dir=") {
                global.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !global.isEmpty, let next = rest.first, !next.hasPrefix("-") else { return arguments }
        return Array(rest) + global
    }
}

/// Handles requests: by default one JSON envelope (or API Gateway event) from stdin; `--http` one raw
/// HTTP/1.1 request; `--cgi` (automatic under CGI or the OpenFaaS classic watchdog) one CGI request;
/// `--stream` one envelope per line until end of input.
struct Handle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Handle requests from stdin (the default command).",
        discussion: """
            Exit status: 0 when a response was written (whatever its HTTP status), 74 when it could not \
            be, 78 when misconfigured.
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .customLong("http"), help: "Read one raw HTTP/1.1 request (inetd, socat, systemd Accept=yes).")
    var http = false

    @Flag(name: .customLong("cgi"), help: "Read one CGI request (automatic when GATEWAY_INTERFACE or Http_Method is set).")
    var cgi = false

    @Flag(name: .customLong("stream"), help: "Read one JSON envelope per line, answer one line each, until end of input.")
    var stream = false

    @Flag(name: .customLong("lambda"), help: "Serve AWS Lambda invocations from the Runtime API (AWS_LAMBDA_RUNTIME_API).")
    var lambda = false

    func validate() throws {
        if [http, cgi, stream, lambda].filter({ $0 }).count > 1 {
            throw ValidationError("Choose at most one of --http, --cgi, --stream and --lambda.")
        }
    }

    /// What stdin carries: an envelope, or CGI when the environment says so (`automatic`), or what a
    /// flag names.
    enum Mode { case automatic, http, cgi, stream, lambda }

    mutating func run() async throws {
        let mode: Mode = http ? .http : cgi ? .cgi : stream ? .stream : lambda ? .lambda : .automatic
        try await Self.serve(mode, dataDirectory: options.dataDirectory)
    }

    static func serve(_ mode: Mode, dataDirectory: String?) async throws {
        signal(SIGPIPE, SIG_IGN)
        let environment = Runtime.environment
        let transport: Transport
        switch mode {
        case .lambda: return try await serveLambda(environment, dataDirectory: dataDirectory)
        case .http: transport = .http
        case .stream: transport = .stream
        case .cgi: transport = .cgi(CGI.flavor(environment) ?? .cgi)
        case .automatic: transport = CGI.flavor(environment).map(Transport.cgi) ?? .envelope
        }
        let runtime: Runtime.Loaded
        do {
            runtime = try await Runtime.load(environment: environment, dataDirectory: dataDirectory)
        } catch {
            Runtime.logger.critical("configuration unusable: \(error)")
            _ = FileDescriptor.standardOutput.write(transport.misconfigured())
            throw ExitCode(78)
        }
        let served = await transport.serve(
            App(context: runtime.context), input: FileDescriptor.standardInput, output: FileDescriptor.standardOutput,
            environment: environment, timeout: runtime.configuration.readTimeout)
        guard served else { throw ExitCode(74) }
    }

    /// Lambda's loop: configuration once, then invocations until Lambda ends the process. A
    /// configuration that cannot work is reported to `init/error` (exit 78); a Runtime API that cannot
    /// be reached at all ends the process (exit 69), as nothing else could be done.
    static func serveLambda(_ environment: [String: String], dataDirectory: String?) async throws {
        let runtime: LambdaRuntime
        do {
            runtime = LambdaRuntime(
                client: try RuntimeAPIClient(address: environment["AWS_LAMBDA_RUNTIME_API"] ?? ""), logger: Runtime.logger)
        } catch {
            Runtime.logger.critical("--lambda: \(error)")
            throw ExitCode(78)
        }
        let loaded: Runtime.Loaded
        do {
            loaded = try await Runtime.load(environment: environment, dataDirectory: dataDirectory)
        } catch {
            Runtime.logger.critical("configuration unusable: \(error)")
            do {
                try runtime.reportInitError(error)
            } catch {
                Runtime.logger.error("could not report the configuration error to the Runtime API: \(error)")
            }
            throw ExitCode(78)
        }
        do {
            try await runtime.run(App(context: loaded.context))
        } catch {
            Runtime.logger.critical("the Runtime API cannot be reached: \(error)")
            throw ExitCode(69)
        }
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administer accounts in the data directory (no network, no token).",
        discussion: """
            USER is an email address (case-insensitive) or a numeric id. Output is JSON, one user per line. \
            Exit status: 0 done, 1 no such user or no data directory (or an unmigrated database), 3 import \
            skipped rows, 65 password refused (or none given), 69 database unreachable, 74 storage failure, \
            78 misconfigured.
            """,
        subcommands: [List.self, Show.self, Activate.self, Deactivate.self, Delete.self, SetPassword.self, Import.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every user (never password hashes).")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await Runtime.admin(options) { admin in try admin.list().map(\.summary) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Email or id.") var user: String
        func run() async throws {
            try await Runtime.admin(options) { admin in [try admin.find(user).summary] }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activate an account.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Email or id.") var user: String
        func run() async throws {
            try await Runtime.admin(options) { admin in [try admin.setActive(user, true).summary] }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deactivate an account; its tokens stop working at once.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Email or id.") var user: String
        func run() async throws {
            try await Runtime.admin(options) { admin in [try admin.setActive(user, false).summary] }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account; its tokens stop working at once.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Email or id.") var user: String
        func run() async throws {
            try await Runtime.admin(options) { admin in [["deleted": try admin.delete(user).summary]] }
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract:
                "Set a new password, read from stdin (one line; prompted for, without echo, on a terminal); ends every session of the account."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Email or id.") var user: String
        func run() async throws {
            let password: String
            switch PasswordInput.read() {
            case .success(let text): password = text
            case .failure(let problem):
                Runtime.logger.error("\(problem.description)")
                throw ExitCode(65)
            }
            try await Runtime.admin(options) { admin in [try admin.setPassword(user, password: password).summary] }
        }
    }
}

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove revocation and throttle records that can no longer matter.")
    @OptionGroup var options: GlobalOptions
    func run() async throws {
        try await Runtime.admin(options) { admin in [["removed": .int(try admin.prune())]] }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the settings in effect as one JSON object keyed by variable name (secrets redacted).",
        discussion: "Exit status: 0, or 78 with every unusable variable named on stderr.")
    @OptionGroup var options: GlobalOptions
    func run() async throws {
        var config: Configuration
        do {
            config = try Configuration.load(environment: Runtime.environment, dotEnv: Runtime.dotEnv())
        } catch {
            Runtime.bootstrapLogging(environment: Runtime.environment, configuration: nil)
            Runtime.logger.critical("configuration unusable: \(error)")
            throw ExitCode(78)
        }
        if let dataDirectory = options.dataDirectory { config.dataDirectory = dataDirectory }
        guard StandardIO.write(config.effective.encoded() + [0x0A]) else { throw ExitCode(74) }
    }
}

/// Builds the handler's context from the environment: configuration, data directory, secret, clock,
/// randomness, logging.
enum Runtime {
    /// The process's logger. Its destination and level are set by `bootstrapLogging`: by `load` (with
    /// the configuration's level) before anything is logged, or, on a path that logs before loading,
    /// here from the environment's text — never swift-log's default handler, which writes to stderr
    /// whatever it is.
    static let logger: Logger = {
        bootstrapLogging(environment: Runtime.environment, configuration: nil)
        return Logger(label: "authfn")
    }()

    struct Loaded {
        var configuration: Configuration
        var context: Context
    }

    /// `.env` in the working directory, if there is one and it is UTF-8. Read with open(2): Foundation's
    /// file reading (URLs, attributes) cost a measurable part of every cold start, mostly to find
    /// that there is no such file.
    static func dotEnv() -> String? {
        let descriptor = open(".env", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return String(validating: FileDescriptor(descriptor).read(upTo: 1 << 20), as: UTF8.self)
    }

    /// The process's environment, read once from `environ` (the first definition of a name wins, as
    /// getenv(3) has it). Cheaper than `ProcessInfo`'s, which every request needs.
    static let environment: [String: String] = {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.utf8.firstIndex(of: UInt8(ascii: "=")) {
                let name = String(Substring(text.utf8[..<equals]))
                if variables[name] == nil { variables[name] = String(Substring(text.utf8[text.utf8.index(after: equals)...])) }
            }
            entry += 1
        }
        return variables
    }()

    /// Loads the configuration and opens the data directory. With `create`, a missing data directory
    /// is created (the request path: a first request sets it up); without, it must exist already.
    static func load(
        environment: [String: String], dataDirectory: String?, create: Bool = true, signing: Bool = true
    ) async throws -> Loaded {
        let dotEnv = dotEnv()
        var config: Configuration
        do {
            config = try Configuration.load(environment: environment, dotEnv: dotEnv)
        } catch {
            bootstrapLogging(environment: environment, dotEnv: dotEnv, configuration: nil)
            throw error
        }
        bootstrapLogging(environment: environment, dotEnv: dotEnv, configuration: config)
        if let dataDirectory { config.dataDirectory = dataDirectory }
        if config.isDeterministic {
            logger.warning("AUTHFN_NOW or AUTHFN_SEED is set: clock or randomness is fixed; never use this in production")
        }
        let random: any RandomSource = config.seed.map { SeededRandomSource(seed: $0) } ?? SystemRandomSource()
        let store: any Store
        let secret: [UInt8]
        if let url = config.databaseURL {
            // Nothing is written under the data directory: the secret must be configured.
            guard StoreLocation.postgresAvailable else {
                throw ConfigError.invalid(variable: "AUTHFN_DATABASE_URL", reason: StoreLocation.notBuiltIn)
            }
            switch config.secret {
            case .configured(let bytes): secret = bytes
            case .generated:
                guard !signing else {
                    throw ConfigError.invalid(
                        variable: "JWT_SECRET_KEY",
                        reason:
                            "required with AUTHFN_DATABASE_URL: every instance must sign with the same secret, and a generated one lives in the data directory"
                    )
                }
                secret = random.bytes(32)
            }
            store = try StoreLocation.database(url).open(create: false, timeout: config.databaseTimeout, logger: logger)
        } else {
            do {
                let files = try FileStore(directory: config.dataDirectory, create: create, logger: logger)
                store = files
                switch config.secret {
                case .configured(let bytes): secret = bytes
                // Admin commands never sign: they neither read nor create the generated secret.
                case .generated: secret = signing ? try GeneratedSecret.load(from: files, random: random) : random.bytes(32)
                }
            } catch {
                if case StoreError.noDataDirectory = error { throw error }
                throw ConfigError.dataDirectory("\(config.dataDirectory): \(error)")
            }
        }
        let tokens = await TokenService(
            secret: secret, accessLifetime: config.accessLifetime, refreshLifetime: config.refreshLifetime, keys: config.keySettings,
            claims: config.claims)
        let context = Context(
            store: store, time: config.fixedNow.map(TimeSource.fixed) ?? .system, random: random,
            hasher: PasswordHasher(method: config.passwordMethod), tokens: tokens, settings: config.account, web: config.web,
            mail: config.mail,
            mailer: config.mail.command.map { CommandMailer(arguments: $0, timeout: config.mail.timeout) },
            logger: logger, clientAddress: clientAddress(environment))
        return Loaded(configuration: config, context: context)
    }

    /// The peer address as the launcher gives it: the variable CGI servers, socat, xinetd and
    /// tcpserver set, else the peer of stdin when it is a TCP socket (inetd, systemd `Accept=yes`).
    /// Never a client-sent header.
    static func clientAddress(_ environment: [String: String]) -> String? {
        for name in ["REMOTE_ADDR", "SOCAT_PEERADDR", "REMOTE_HOST", "TCPREMOTEIP"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return peerOfStandardInput()
    }

    private static func peerOfStandardInput() -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(0, $0, &length) == 0 }
        }
        guard found else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(storage.ss_family)
        let converted: Bool = withUnsafePointer(to: &storage) { pointer in
            switch family {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil
                }
            default:
                return false
            }
        }
        return converted ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }

    /// Runs an admin command: prints each JSON value it returns on its own line, maps failures to
    /// exit statuses.
    static func admin(_ options: GlobalOptions, create: Bool = false, _ body: (Admin) throws -> [JSONValue]) async throws {
        let context: Context
        do {
            context = try await load(
                environment: Runtime.environment, dataDirectory: options.dataDirectory, create: create,
                signing: false
            ).context
        } catch StoreError.noDataDirectory(let path) {
            logger.error(
                "no data directory at \(path): give the right one with --data-dir DIR or AUTHFN_DATA_DIR (a first request creates one)")
            throw ExitCode(1)
        } catch {
            logger.critical("configuration unusable: \(error)")
            throw ExitCode(78)
        }
        do {
            let lines = try body(Admin(context: context))
            _ = StandardIO.write(lines.flatMap { $0.encoded() + [0x0A] })
        } catch Admin.Failure.noSuchUser(let reference) {
            logger.error("no user with email or id '\(reference)'")
            throw ExitCode(1)
        } catch Admin.Failure.unacceptablePassword(let problems) {
            logger.error("password refused: \(problems.joined(separator: " "))")
            throw ExitCode(65)
        } catch let error as StoreError {
            throw Database.exit(for: error)
        } catch let error as ExitCode {
            throw error
        } catch {
            logger.error("storage failure: \(error)")
            throw ExitCode(74)
        }
    }

    private static let bootstrapped = Mutex(false)

    /// Chooses where log lines go (`LogDestination.choose`: `AUTHFN_LOG_FILE`, else stderr unless it
    /// is a socket, then syslog or nothing) and at which level. The variables are read as text here,
    /// so that a configuration error can itself be logged; the first call wins.
    static func bootstrapLogging(
        environment: @autoclosure () -> [String: String], dotEnv: @autoclosure () -> String? = dotEnv(), configuration: Configuration?
    ) {
        let first = bootstrapped.withLock { done in
            let first = !done
            done = true
            return first
        }
        guard first else { return }
        let level: Logger.Level
        let logFile: String?
        if let configuration {
            (level, logFile) = (configuration.logLevel, configuration.logFile)
        } else {
            var merged = dotEnv().map(Configuration.parseDotEnv) ?? [:]
            merged.merge(environment()) { _, real in real }
            level = merged["AUTHFN_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
            logFile = merged["AUTHFN_LOG_FILE"]
        }
        let isSocket = LogDestination.standardErrorIsSocket
        var sink = LogSink(LogDestination.choose(logFile: logFile, standardErrorIsSocket: isSocket))
        let failure = sink.failure
        if failure != nil, !isSocket { sink = LogSink(.standardError) }
        let chosen = sink
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, sink: chosen, level: level) }
        // A logger of its own: `Runtime.logger` may be what is being initialised.
        if let failure { Logger(label: "authfn").error("log file unusable, logging to stderr instead: \(failure)") }
    }
}

enum StandardIO {
    /// Reads stdin (or `descriptor`) up to `limit` bytes.
    static func read(limit: Int, from descriptor: Int32 = 0) -> [UInt8] { FileDescriptor(descriptor).read(upTo: limit) }

    /// Text for the person at a terminal (prompts), on stderr.
    static func writeError(_ text: String) {
        _ = write(Array(text.utf8), to: 2)
    }

    static func write(_ bytes: [UInt8], to descriptor: Int32 = 1) -> Bool { FileDescriptor(descriptor).write(bytes) }
}
