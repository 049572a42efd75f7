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

/// Where "now" comes from. Handlers never read the system clock themselves, so a fixed
/// `TimeSource` makes every token and record byte-stable in golden tests.
public struct TimeSource: Sendable {
    private let read: @Sendable () -> Int64

    public init(_ read: @escaping @Sendable () -> Int64) { self.read = read }

    /// Seconds since the Unix epoch.
    public func now() -> Int64 { read() }

    public static let system = TimeSource { Int64(Date().timeIntervalSince1970.rounded(.down)) }

    public static func fixed(_ seconds: Int64) -> TimeSource { TimeSource { seconds } }

    /// `2026-01-01T00:00:00Z`: epoch seconds as RFC 3339 UTC, for messages.
    public static func iso8601(_ seconds: Int64) -> String { format(seconds, "%Y-%m-%dT%H:%M:%SZ", utc: true) }

    /// Epoch seconds formatted by strftime(3), in UTC or local time.
    static func format(_ seconds: Int64, _ format: String, utc: Bool) -> String {
        var instant = time_t(seconds)
        var parts = tm()
        if utc { gmtime_r(&instant, &parts) } else { localtime_r(&instant, &parts) }
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Monotonic time for measuring durations in logs; never part of any response.
public enum Stopwatch {
    public static func start() -> ContinuousClock.Instant { ContinuousClock.now }

    public static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
