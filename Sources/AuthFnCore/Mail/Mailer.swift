#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Hands a message to whatever delivers mail.
public protocol Mailer: Sendable {
    func deliver(_ message: MailMessage) -> MailOutcome
}

public enum MailOutcome: Sendable, Equatable {
    case accepted
    /// The command exited with this status; `detail` is the start of its stderr.
    case refused(status: Int32, detail: String)
    /// The command did not finish within the time limit and was killed.
    case timedOut(seconds: Int64)
    /// The command could not be started.
    case notStarted(String)
}

/// A sendmail-compatible command (`/usr/sbin/sendmail -t -i`, `msmtp -t`, a script) started without a
/// shell for each message: the message on stdin, exit status 0 for "accepted". It gets authfn's
/// environment, `/dev/null` as stdout, and `timeout` seconds before it is killed.
public struct CommandMailer: Mailer {
    public var arguments: [String]
    public var timeout: Int64

    public init(arguments: [String], timeout: Int64) {
        self.arguments = arguments
        self.timeout = timeout
    }

    public func deliver(_ message: MailMessage) -> MailOutcome {
        guard let program = arguments.first else { return .notStarted("no command") }
        var input: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&input) == 0 else { return .notStarted("pipe: errno \(errno)") }
        guard pipe(&errors) == 0 else {
            close(input[0])
            close(input[1])
            return .notStarted("pipe: errno \(errno)")
        }
        defer {
            close(input[1])
            close(errors[0])
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        posix_spawn_file_actions_addclose(&actions, input[1])
        posix_spawn_file_actions_addclose(&actions, errors[0])
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawnp(&pid, program, &actions, nil, argv, environ)
        close(input[0])
        close(errors[1])
        guard spawned == 0 else { return .notStarted("\(program): \(String(cString: strerror(spawned)))") }

        let deadline = ContinuousClock.now + .seconds(timeout)
        // The message, as far as the command reads it (a command that exits early is its own failure).
        let bytes = message.rendered
        var written = 0
        _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)
        while written < bytes.count, ContinuousClock.now < deadline {
            let count = bytes[written...].withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) }
            if count > 0 {
                written += count
            } else if count < 0, errno == EAGAIN {
                var poller = pollfd(fd: input[1], events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, 50)
            } else {
                break
            }
        }
        close(input[1])
        input[1] = -1

        var stderrText: [UInt8] = []
        _ = fcntl(errors[0], F_SETFL, fcntl(errors[0], F_GETFL) | O_NONBLOCK)
        var status: Int32 = 0
        while true {
            var chunk = [UInt8](repeating: 0, count: 1024)
            let count = read(errors[0], &chunk, chunk.count)
            if count > 0, stderrText.count < 4096 { stderrText += chunk[..<count] }
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .timedOut(seconds: timeout)
            }
            var poller = pollfd(fd: errors[0], events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, 20)
        }
        let exited = status & 0x7F == 0
        let code = exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        guard code == 0 else {
            let detail = String(decoding: stderrText, as: UTF8.self).trimming(Trim.whitespaceOrNewline)
            return .refused(status: code, detail: detail.excerpt(limit: 300))
        }
        return .accepted
    }
}
