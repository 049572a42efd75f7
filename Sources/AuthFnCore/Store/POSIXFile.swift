import Synchronization

// `struct stat` is declared by CoreFoundation's module as well as Glibc's; release builds attribute
// it to CoreFoundation, which is linked anyway (Foundation's Unicode tables).
#if canImport(CoreFoundation)
    import CoreFoundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open directory: every file operation the file store makes goes through one of these, relative
/// to its descriptor (`openat`, `renameat`, `unlinkat`, `mkdirat`), one path component at a time and
/// with `O_NOFOLLOW`. A symbolic link planted anywhere in the data directory — a `users/` that points
/// elsewhere, an `index` link — is never followed, so no write, read or prune can leave the directory.
///
/// Errors carry a *label*: the path relative to the data directory, for logs; the store replaces
/// record names with their kind (see `FileStore.describe`).
final class Directory: Sendable {
    let descriptor: Int32
    /// The directory's path relative to the data directory ("" for the data directory itself).
    let label: String

    private init(descriptor: Int32, label: String) {
        self.descriptor = descriptor
        self.label = label
    }

    deinit { close(descriptor) }

    /// Opens the data directory at `path` (creating it, mode 0700, when `create` and it is missing;
    /// `StoreError.noDataDirectory` when not). Refuses a symbolic link and a directory that group or
    /// others may write, saying how to fix it.
    static func openRoot(_ path: String, create: Bool) throws(StoreError) -> Directory {
        var info = Glibc.stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw .io(operation: "stat", path: path, errno: errno) }
            guard create else { throw .noDataDirectory(path: path) }
            if mkdir(path, 0o700) != 0, errno != EEXIST { throw .io(operation: "mkdir", path: path, errno: errno) }
        } else if (info.st_mode & S_IFMT) == S_IFLNK {
            throw .unsafe(
                path: path,
                reason:
                    "is a symbolic link; authfn does not follow links in its data directory: point AUTHFN_DATA_DIR (or --data-dir) at the directory itself"
            )
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw .io(operation: "open", path: path, errno: errno) }
        let directory = Directory(descriptor: fd, label: "")
        try directory.checkPermissions(shownAs: path)
        return directory
    }

    /// Refuses a directory that group or others may write: they could plant files or links in it.
    func checkPermissions(shownAs path: String) throws(StoreError) {
        var info = Glibc.stat()
        if fstat(descriptor, &info) != 0 { throw .io(operation: "stat", path: path, errno: errno) }
        if info.st_mode & 0o022 != 0 {
            throw .unsafe(path: path, reason: "is writable by group or others; fix it with: chmod go-w '\(path)'")
        }
    }

    /// The subdirectory at `relative` (components separated by `/`), opened component by component
    /// without following links; `nil` when it does not exist and `create` is false. New directories
    /// are made 0700.
    func subdirectory(_ relative: String, create: Bool, root: String) throws(StoreError) -> Directory? {
        var current = self
        for component in relative.split(separator: "/") {
            let name = String(component)
            let label = current.label.isEmpty ? name : current.label + "/" + name
            var fd = openat(current.descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0, errno == ENOENT, create {
                if mkdirat(current.descriptor, name, 0o700) != 0, errno != EEXIST {
                    throw .io(operation: "mkdir", path: label, errno: errno)
                }
                fd = openat(current.descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if fd < 0 {
                if errno == ENOENT { return nil }
                if errno == ELOOP || errno == ENOTDIR {
                    throw .unsafe(
                        path: root + "/" + label,
                        reason: "is not a directory (a symbolic link?); authfn does not follow links in its data directory: remove it")
                }
                throw .io(operation: "open", path: label, errno: errno)
            }
            let next = Directory(descriptor: fd, label: label)
            try next.checkPermissions(shownAs: root + "/" + label)
            current = next
        }
        return current
    }

    private func label(_ name: String) -> String { label.isEmpty ? name : label + "/" + name }

    /// The file's bytes, or `nil` when it does not exist.
    func contents(_ name: String) throws(StoreError) -> [UInt8]? {
        let fd = openat(descriptor, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(operation: "open", path: label(name), errno: errno)
        }
        defer { close(fd) }
        // Records are small: one uninitialised buffer per read, kept whole when it is the first.
        var result: [UInt8] = []
        while true {
            var failure: Int32 = 0
            let piece = [UInt8](unsafeUninitializedCapacity: 4096) { buffer, initialized in
                let count = read(fd, buffer.baseAddress, buffer.count)
                if count < 0 { failure = errno }
                initialized = max(count, 0)
            }
            if failure == EINTR { continue }
            if failure != 0 { throw .io(operation: "read", path: label(name), errno: failure) }
            if piece.isEmpty { return result }
            if result.isEmpty { result = piece } else { result += piece }
        }
    }

    func exists(_ name: String) -> Bool {
        var info = Glibc.stat()
        return fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// Writes `bytes` to a new file `name` (mode 0600), fsyncs it, and closes it. Fails if it exists.
    func createSynced(_ name: String, _ bytes: [UInt8]) throws(StoreError) {
        let fd = openat(descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw .io(operation: "create", path: label(name), errno: errno) }
        var failure: StoreError?
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                failure = .io(operation: "write", path: label(name), errno: errno)
                break
            }
            offset += written
        }
        if failure == nil, fchmod(fd, 0o600) != 0 { failure = .io(operation: "chmod", path: label(name), errno: errno) }
        if failure == nil, fsync(fd) != 0 { failure = .io(operation: "fsync", path: label(name), errno: errno) }
        if close(fd) != 0, failure == nil { failure = .io(operation: "close", path: label(name), errno: errno) }
        if let failure {
            unlinkat(descriptor, name, 0)
            throw failure
        }
    }

    /// Renames `name` here to `newName` in `target` (atomically replacing it).
    func move(_ name: String, to target: Directory, _ newName: String) throws(StoreError) {
        if renameat(descriptor, name, target.descriptor, newName) != 0 {
            throw .io(operation: "rename", path: target.label(newName), errno: errno)
        }
    }

    /// Removes the file `name`; a missing file is not an error.
    func remove(_ name: String) throws(StoreError) {
        if unlinkat(descriptor, name, 0) != 0, errno != ENOENT {
            throw .io(operation: "unlink", path: label(name), errno: errno)
        }
    }

    /// Removes the subdirectory `name` if it is empty; any failure is ignored (it is only tidying).
    func removeDirectoryIfEmpty(_ name: String) {
        unlinkat(descriptor, name, AT_REMOVEDIR)
    }

    /// Makes this directory's entries (creations, renames, removals) durable.
    func sync() throws(StoreError) {
        if fsync(descriptor) != 0 { throw .io(operation: "fsync", path: label.isEmpty ? "." : label, errno: errno) }
    }

    /// Names of the entries, without "." and "..": at most `limit` of them (in directory order) when one
    /// is given, so a caller that needs a few never reads a huge directory.
    func list(limit: Int? = nil) throws(StoreError) -> [String] {
        let copy = dup(descriptor)
        if copy < 0 { throw .io(operation: "dup", path: label, errno: errno) }
        guard let dir = fdopendir(copy) else {
            close(copy)
            throw .io(operation: "opendir", path: label, errno: errno)
        }
        defer { closedir(dir) }
        rewinddir(dir)
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

    init(in directory: Directory, name: String, shownAs path: String) throws(StoreError) {
        var fd = openat(directory.descriptor, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0, errno == EACCES || errno == EROFS { fd = openat(directory.descriptor, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
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
