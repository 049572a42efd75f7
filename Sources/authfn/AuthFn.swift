import ArgumentParser
import AuthFnCore
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The executable: read one request envelope on stdin, answer one response envelope on stdout.
/// Everything worth testing lives in AuthFnCore; this file only wires real I/O to it.
@main
struct AuthFn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authfn",
        abstract: "User authentication with JWTs: one JSON request on stdin, one JSON response on stdout.",
        discussion: """
            Configuration comes from environment variables (and a .env file in the working directory); \
            see the README. Exit status: 0 when a response was written (whatever its HTTP status), \
            78 when the configuration is unusable, 74 when the response could not be written.
            """)

    @Option(name: .customLong("data-dir"), help: "The data directory (overrides AUTHFN_DATA_DIR; default ./data).")
    var dataDirectory: String?

    mutating func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let input = readStandardInput(limit: Envelope.maximumRequestBytes + 1)
        let environment = ProcessInfo.processInfo.environment
        let dotEnv = try? String(contentsOfFile: ".env", encoding: .utf8)

        var config: Configuration
        do {
            config = try Configuration.load(environment: environment, dotEnv: dotEnv)
        } catch {
            bootstrapLogging(level: .info)
            try fail(configuration: error)
        }
        if let dataDirectory { config.dataDirectory = dataDirectory }
        bootstrapLogging(level: config.logLevel)
        let logger = Logger(label: "authfn")
        if config.isDeterministic {
            logger.warning("AUTHFN_NOW or AUTHFN_SEED is set: clock or randomness is fixed; never use this in production")
        }

        let random: any RandomSource = config.seed.map { SeededRandomSource(seed: $0) } ?? SystemRandomSource()
        let store: FileStore
        let secret: [UInt8]
        do {
            store = try FileStore(directory: config.dataDirectory)
            switch config.secret {
            case .configured(let bytes): secret = bytes
            case .generated: secret = try GeneratedSecret.load(from: store, random: random)
            }
        } catch {
            try fail(configuration: ConfigError.dataDirectory("\(config.dataDirectory): \(error)"))
        }

        let tokens = await TokenService(
            secret: secret, accessLifetime: config.accessLifetime, refreshLifetime: config.refreshLifetime)
        let context = Context(
            store: store, time: config.fixedNow.map(TimeSource.fixed) ?? .system, random: random,
            hasher: PasswordHasher(method: config.passwordMethod), tokens: tokens, logger: logger)
        let response = await App(context: context).handle(envelope: input)
        guard writeStandardOutput(Envelope.encodeResponse(response)) else { throw ExitCode(74) }
    }

    /// Reports an unusable configuration: a generic 500 envelope on stdout, the detail on stderr, exit 78.
    private func fail(configuration error: any Error) throws -> Never {
        Logger(label: "authfn").critical("configuration unusable: \(error)")
        _ = writeStandardOutput(Envelope.encodeResponse(.message(500, "Internal server error: authfn is misconfigured.")))
        throw ExitCode(78)
    }
}

private func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// Reads stdin up to `limit` bytes; a larger request is cut there and answered 413 unparsed.
private func readStandardInput(limit: Int) -> [UInt8] {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while buffer.count < limit {
        let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, min($0.count, limit - buffer.count)) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        buffer.append(contentsOf: chunk[0..<count])
    }
    return buffer
}

private func writeStandardOutput(_ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { buffer in
            write(1, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
        }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return false }
        offset += written
    }
    return true
}
