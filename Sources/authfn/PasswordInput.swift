import AuthFnCore

#if canImport(Glibc)
    import Glibc
#endif

/// The new password for `users set-password`: from stdin when it is a pipe or a file; typed at a
/// prompt, twice and without echo, when stdin is a terminal.
enum PasswordInput {
    static func read() -> Result<String, Admin.PasswordInputProblem> {
        guard isatty(0) == 1 else { return Admin.password(fromInput: StandardIO.read(limit: Admin.maximumPasswordInputBytes + 1)) }
        let first = prompt("New password: ")
        guard case .success(let password) = first else { return first }
        guard case .success(let again) = prompt("Repeat the password: ") else { return first }
        guard password.utf8.elementsEqual(again.utf8) else { return .failure(.mismatch) }
        return .success(password)
    }

    /// One line from the terminal with echo off (restored afterwards, also when the read fails).
    private static func prompt(_ text: String) -> Result<String, Admin.PasswordInputProblem> {
        // Echo goes off before the prompt appears, so nothing typed after it is ever shown (or, as
        // TCSAFLUSH would do to input typed after the prompt, thrown away).
        var saved = termios()
        let canHide = tcgetattr(0, &saved) == 0
        if canHide {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSAFLUSH, &quiet)
        }
        StandardIO.writeError(text)
        defer {
            if canHide { tcsetattr(0, TCSANOW, &saved) }
            StandardIO.writeError("\n")
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= Admin.maximumPasswordInputBytes {
            let count = Glibc.read(0, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            line.append(byte)
            if byte == 0x0A { break }
        }
        return Admin.password(fromInput: line)
    }
}
