import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few system calls the file store needs, with errors carried as `StoreError.io`.
enum POSIXFile {
    /// The file's bytes, or `nil` when it does not exist.
    static func contents(_ path: String) throws(StoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(operation: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Writes `bytes` to a new file at `path` (mode 0600), fsyncs it, and closes it. Fails if it exists.
    static func createSynced(_ path: String, _ bytes: [UInt8]) throws(StoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw .io(operation: "create", path: path, errno: errno) }
        var failure: StoreError?
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                failure = .io(operation: "write", path: path, errno: errno)
                break
            }
            offset += written
        }
        if failure == nil, fchmod(fd, 0o600) != 0 { failure = .io(operation: "chmod", path: path, errno: errno) }
        if failure == nil, fsync(fd) != 0 { failure = .io(operation: "fsync", path: path, errno: errno) }
        if close(fd) != 0, failure == nil { failure = .io(operation: "close", path: path, errno: errno) }
        if let failure {
            unlink(path)
            throw failure
        }
    }

    static func move(_ from: String, _ to: String) throws(StoreError) {
        if rename(from, to) != 0 { throw .io(operation: "rename", path: to, errno: errno) }
    }

    static func remove(_ path: String) throws(StoreError) {
        if unlink(path) != 0, errno != ENOENT { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    /// Makes a directory's entries (creations, renames, removals) durable.
    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw .io(operation: "fsync", path: path, errno: errno) }
    }

    /// Creates the directory (mode 0700) if it is missing.
    static func makeDirectory(_ path: String) throws(StoreError) {
        if mkdir(path, 0o700) != 0, errno != EEXIST { throw .io(operation: "mkdir", path: path, errno: errno) }
    }

    /// Names of the entries in a directory, without "." and "..": at most `limit` of them (in
    /// directory order) when one is given, so a caller that needs a few never reads a huge directory.
    static func list(_ path: String, limit: Int? = nil) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw .io(operation: "opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while limit.map({ names.count < $0 }) ?? true, let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// An advisory `flock(2)` on a file that is never renamed or removed. Shared for readers,
/// exclusive for writers; the kernel drops it if the process dies, so a killed writer never
/// leaves the data directory locked.
///
/// flock(2) does not exclude threads sharing one descriptor, so an in-process lock serialises the
/// lock holders of this process first.
final class FileLock: @unchecked Sendable {
    private let fd: Int32
    private let threads = Mutex(())
    let path: String

    init(path: String) throws(StoreError) {
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0, errno == EACCES || errno == EROFS { fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        if fd < 0 { throw .io(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    func withLock<T>(exclusive: Bool, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try threads.withLock { _ throws(StoreError) -> T in
            while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
                if errno != EINTR { throw .io(operation: "flock", path: path, errno: errno) }
            }
            defer { flock(fd, LOCK_UN) }
            return try body()
        }
    }
}
