#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a transport reads request bytes from: stdin (or a socket) in the executable, memory in tests.
public protocol ByteInput: AnyObject {
    /// Up to `maximum` bytes, as soon as some are available; `[]` at end of input. Throws
    /// `InputTimeout` when nothing arrived before `deadline`.
    func read(maximum: Int, deadline: ContinuousClock.Instant?) throws(InputTimeout) -> [UInt8]
}

extension ByteInput {
    /// Everything up to `limit` bytes: until end of input or the limit, whichever comes first.
    public func read(upTo limit: Int) -> [UInt8] {
        let buffer = InputBuffer(self, timeout: nil)
        while buffer.count < limit, (try? buffer.fill(maximum: min(65536, limit - buffer.count))) == true {}
        return buffer.take(limit)
    }
}

/// Where a transport writes its answer.
public protocol ByteOutput: AnyObject {
    /// Writes all of `bytes`; `false` when the other end is gone.
    func write(_ bytes: [UInt8]) -> Bool
    /// The answer is complete: the reader may see its end now, before the process exits (work left
    /// for after the answer, such as mail, must not keep a client waiting or tell it anything).
    func finish()
}

extension ByteOutput {
    public func finish() {}
}

/// The client did not send in time.
public struct InputTimeout: Error, Equatable {
    public init() {}
}

/// A file descriptor: stdin, stdout, a connected socket.
public final class FileDescriptor: ByteInput, ByteOutput, Sendable {
    public let descriptor: Int32

    public init(_ descriptor: Int32) { self.descriptor = descriptor }

    public static let standardInput = FileDescriptor(0)
    public static let standardOutput = FileDescriptor(1)

    public func read(maximum: Int, deadline: ContinuousClock.Instant?) throws(InputTimeout) -> [UInt8] {
        if let deadline {
            while true {
                let (seconds, attoseconds) = (deadline - ContinuousClock.now).components
                let milliseconds = max(0, Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000))
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, milliseconds)
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 { throw InputTimeout() }
                break
            }
        }
        while true {
            // Uninitialised: a read of a few hundred bytes should not first zero 64 KiB.
            var failure: Int32 = 0
            let chunk = [UInt8](unsafeUninitializedCapacity: maximum) { buffer, initialized in
                let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
                if count < 0 { failure = errno }
                initialized = max(count, 0)
            }
            if failure == EINTR { continue }
            return chunk
        }
    }

    public func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    /// Ends the output: a socket is shut down for writing (the peer sees the end even while stdin,
    /// the same socket, stays open), and the descriptor then points at /dev/null, so a pipe's reader
    /// sees end of file too.
    public func finish() {
        _ = shutdown(descriptor, Int32(SHUT_WR))
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard null >= 0 else { return }
        _ = dup2(null, descriptor)
        close(null)
    }
}

/// Bytes in memory, delivered in the chunks given (a client that sends in pieces); after the last
/// chunk, end of input — or, with `stallAtEnd`, a client that never sends more (reads time out).
public final class MemoryInput: ByteInput {
    private var chunks: [[UInt8]]
    private let stallAtEnd: Bool

    public init(_ chunks: [[UInt8]], stallAtEnd: Bool = false) {
        self.chunks = chunks.reversed()
        self.stallAtEnd = stallAtEnd
    }

    public convenience init(_ bytes: [UInt8]) { self.init([bytes]) }

    public func read(maximum: Int, deadline: ContinuousClock.Instant?) throws(InputTimeout) -> [UInt8] {
        guard var next = chunks.popLast() else {
            if stallAtEnd, deadline != nil { throw InputTimeout() }
            return []
        }
        if next.count > maximum {
            chunks.append(Array(next[maximum...]))
            next.removeSubrange(maximum...)
        }
        return next
    }
}

/// What a transport wrote, kept; `closed` makes every write fail (a client that went away).
public final class MemoryOutput: ByteOutput {
    public private(set) var bytes: [UInt8] = []
    public var closed = false
    /// Whether the transport said the answer was complete (`finish`), and how many bytes it had then.
    public private(set) var finishedAt: Int?

    public init() {}

    public func finish() { finishedAt = bytes.count }

    public func write(_ bytes: [UInt8]) -> Bool {
        guard !closed else { return false }
        self.bytes += bytes
        return true
    }
}

/// Buffered reads with an optional deadline for the whole input (a request must arrive within it).
/// Consumed bytes are skipped by an offset and compacted only when more than half the buffer, so
/// taking many short lines costs linear time.
public final class InputBuffer {
    private let input: any ByteInput
    private let deadline: ContinuousClock.Instant?
    private var storage: [UInt8] = []
    private var start = 0
    public private(set) var atEnd = false

    /// `timeout` seconds for all of the input; `nil`, none.
    public init(_ input: any ByteInput, timeout seconds: Int64?) {
        self.input = input
        deadline = seconds.map { ContinuousClock.now + .seconds($0) }
    }

    /// The bytes read and not yet taken.
    public var buffer: ArraySlice<UInt8> { storage[start...] }

    public var count: Int { storage.count - start }

    /// Reads whatever is available (up to `maximum` bytes) into the buffer; false at end of input.
    @discardableResult
    public func fill(maximum: Int = 65536) throws(InputTimeout) -> Bool {
        guard !atEnd else { return false }
        let bytes = try input.read(maximum: maximum, deadline: deadline)
        guard !bytes.isEmpty else {
            atEnd = true
            return false
        }
        if start > 0, start * 2 >= storage.count {
            storage.removeSubrange(..<start)
            start = 0
        }
        storage += bytes
        return true
    }

    /// Removes and returns the first `count` bytes of the buffer.
    public func take(_ count: Int) -> [UInt8] {
        let end = start + min(count, self.count)
        defer { start = end }
        return Array(storage[start..<end])
    }

    /// Drops everything buffered.
    func discard() { start = storage.count }

    /// The next line (without its newline), or `nil` at end of input. A line longer than `limit` is
    /// discarded through its newline and reported as `.tooLong`.
    public enum Line: Equatable { case line([UInt8]), tooLong }

    public func nextLine(limit: Int) throws(InputTimeout) -> Line? {
        var scanned = 0  // bytes after `start` searched already (offsets from `start` survive compaction)
        while true {
            if let newline = storage[(start + scanned)...].firstIndex(of: 0x0A) {
                let line = take(newline + 1 - start).dropLast()
                return line.count > limit ? .tooLong : .line(Array(line))
            }
            scanned = count
            if count > limit {
                // Too long: drop what we have and keep dropping through the next newline.
                discard()
                while try fill() {
                    if let newline = buffer.firstIndex(of: 0x0A) {
                        _ = take(newline + 1 - start)
                        return .tooLong
                    }
                    discard()
                }
                return .tooLong
            }
            guard try fill() else {
                if count == 0 { return nil }
                let line = take(count)
                return line.count > limit ? .tooLong : .line(line)
            }
        }
    }
}
