#if canImport(Glibc)
    import Glibc
#endif

/// Buffered reads from stdin with an optional deadline, for the HTTP, CGI and stream modes.
final class StandardInput {
    enum Failure: Error { case timeout }

    private(set) var buffer: [UInt8] = []
    private(set) var atEnd = false
    private let deadline: ContinuousClock.Instant?

    init(timeout seconds: Int64?) {
        deadline = seconds.map { ContinuousClock.now + .seconds($0) }
    }

    /// Reads whatever is available (up to `maximum` bytes) into the buffer; false at end of input.
    @discardableResult
    func fill(maximum: Int = 65536) throws -> Bool {
        guard !atEnd else { return false }
        if let deadline {
            while true {
                let remaining = deadline - ContinuousClock.now
                let (seconds, attoseconds) = remaining.components
                let milliseconds = max(0, Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000))
                var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, milliseconds)
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 { throw Failure.timeout }
                break
            }
        }
        var chunk = [UInt8](repeating: 0, count: maximum)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                atEnd = true
                return false
            }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    /// Removes and returns the first `count` bytes of the buffer.
    func take(_ count: Int) -> [UInt8] {
        let taken = Array(buffer.prefix(count))
        buffer.removeFirst(min(count, buffer.count))
        return taken
    }

    /// The next line (without its newline), or `nil` at end of input. A line longer than `limit`
    /// is discarded through its newline and reported as `.tooLong`.
    enum Line { case line([UInt8]), tooLong }

    func nextLine(limit: Int) throws -> Line? {
        var scanned = 0
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0A) {
                let line = take(newline + 1).dropLast()
                return line.count > limit ? .tooLong : .line(Array(line))
            }
            scanned = buffer.count
            if buffer.count > limit {
                // Too long: drop what we have and keep dropping through the next newline.
                buffer.removeAll()
                while try fill() {
                    if let newline = buffer.firstIndex(of: 0x0A) {
                        _ = take(newline + 1)
                        return .tooLong
                    }
                    buffer.removeAll()
                }
                return .tooLong
            }
            guard try fill() else {
                if buffer.isEmpty { return nil }
                let line = take(buffer.count)
                return line.count > limit ? .tooLong : .line(line)
            }
        }
    }
}
