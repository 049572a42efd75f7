import Logging

// `struct stat` is declared by CoreFoundation's module as well as Glibc's; release builds attribute
// it to CoreFoundation, which is linked anyway (Foundation's Unicode tables).
#if canImport(CoreFoundation)
    import CoreFoundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where log lines go. Never a socket that is also the client's connection: inetd and xinetd hand the
/// server the connection as stdin, stdout *and* stderr, so a log line on stderr would reach the client
/// ahead of the response (curl then reports "Received HTTP/0.9") and a misconfiguration's detail with it.
public enum LogDestination: Sendable, Equatable {
    /// stderr, as today for pipes, CGI servers, systemd's journal and function runners.
    case standardError
    /// `AUTHFN_LOG_FILE`, appended to (created 0600).
    case file(String)
    /// The local syslog socket (`/dev/log`, which journald and rsyslog read), used when stderr is a
    /// socket and no log file is configured.
    case syslog(String)
    /// Nowhere: stderr is a socket and there is no syslog socket to use.
    case none

    public static let syslogSocket = "/dev/log"

    /// `logFile` when set; otherwise stderr unless stderr is a socket, in which case syslog if the
    /// socket at `syslogPath` exists, else nothing.
    public static func choose(logFile: String?, standardErrorIsSocket: Bool, syslogPath: String = syslogSocket) -> LogDestination {
        if let logFile, !logFile.isEmpty { return .file(logFile) }
        guard standardErrorIsSocket else { return .standardError }
        var info = Glibc.stat()
        guard stat(syslogPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return .none }
        return .syslog(syslogPath)
    }

    /// Whether file descriptor 2 is a socket.
    public static var standardErrorIsSocket: Bool {
        var info = Glibc.stat()
        return fstat(2, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }
}

/// An open log destination: one `write(2)` (or `send(2)`) per line, so concurrent processes appending
/// to one file never interleave within a line.
public final class LogSink: Sendable {
    public let destination: LogDestination
    private let descriptor: Int32
    private let ownsDescriptor: Bool

    /// Opens `destination`. A file that cannot be opened or a syslog socket that cannot be connected
    /// falls back to dropping lines (never to stderr, which may be the client's socket): `failure`
    /// says why, for the caller to report where it can.
    public init(_ destination: LogDestination) {
        var failure: String?
        var fd: Int32 = -1
        switch destination {
        case .standardError:
            fd = 2
        case .file(let path):
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd < 0 { failure = "cannot open \(path): \(String(cString: strerror(errno)))" }
        case .syslog(let path):
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0, !Self.connect(fd, to: path) {
                failure = "cannot connect to \(path): \(String(cString: strerror(errno)))"
                close(fd)
                fd = -1
            }
        case .none:
            break
        }
        self.destination = fd >= 0 ? destination : .none
        self.descriptor = fd
        self.ownsDescriptor = fd > 2
        self.failure = failure
    }

    /// Why the destination asked for could not be opened, if it could not.
    public let failure: String?

    deinit { if ownsDescriptor { close(descriptor) } }

    private static func connect(_ fd: Int32, to path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// Writes one line (a newline is added, except for syslog datagrams). Failures are ignored: a
    /// request is never refused because its log line could not be written.
    public func write(level: Logger.Level, _ text: String) {
        guard descriptor >= 0 else { return }
        switch destination {
        case .syslog:
            // RFC 3164 as glibc's syslog(3) sends it: <PRI>TIMESTAMP TAG[PID]: MSG, facility auth (4).
            let line = "<\(4 * 8 + Self.severity(level))>\(Self.syslogTimestamp()) authfn[\(getpid())]: \(text)"
            _ = Array(line.utf8).withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        default:
            let bytes = Array((text + "\n").utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    static func severity(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `Mmm dd hh:mm:ss` in local time.
    static func syslogTimestamp() -> String { now("%b %e %H:%M:%S", utc: false) }

    /// The current time, second precision, formatted by strftime(3).
    static func now(_ format: String, utc: Bool) -> String { TimeSource.format(Int64(time(nil)), format, utc: utc) }
}

/// swift-log's handler for authfn: `TIME LEVEL LABEL: key=value … MESSAGE` lines (for syslog, without
/// the time, which syslog adds) written to a `LogSink`.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: LogSink

    public init(label: String, sink: LogSink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var text = "\(event.level) \(label):"
        for key in fields.keys.sorted() { text += " \(key)=\(fields[key].map { "\($0)" } ?? "")" }
        text += " \(event.message)"
        if case .syslog = sink.destination {
            sink.write(level: event.level, text)
        } else {
            sink.write(level: event.level, "\(Self.timestamp()) \(text)")
        }
    }

    /// ISO 8601 in UTC, to the second.
    static func timestamp() -> String { LogSink.now("%Y-%m-%dT%H:%M:%SZ", utc: true) }
}
