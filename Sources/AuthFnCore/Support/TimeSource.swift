#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
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
