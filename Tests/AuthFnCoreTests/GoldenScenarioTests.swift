import Foundation
import Testing

@testable import AuthFnCore

/// Runs every scenario in fixtures/golden/ through the built executable, one process per step, each
/// scenario against a fresh data directory, and compares stdout byte for byte with the recorded response.
///
/// A scenario: `{"description", "env"?, "steps": [{"name"?, "env"?, "request" | "stdin" | "stdin_base64" |
/// "stdin_repeat", "response"?, "exit"?}]}`; a step with `"args"` runs an admin command instead
/// (`["users", "activate", "a@b.c"]`, stdin from `"stdin"`) and compares its stdout text (`"stdout"`).
/// Request strings and arguments may contain `{{name.path.to.field}}`, replaced by that field of the
/// named earlier step's response envelope (tokens from a login, say; a number indexes an array).
///
/// To record: `RECORD_GOLDEN=1 swift test --filter GoldenScenarioTests`. Steps without a response are
/// recorded too. A run that records fails, so a new baseline is always looked at before it is committed.
@Suite struct GoldenScenarioTests {
    static let directory = fixturesDirectory.appendingPathComponent("golden")

    static let baseEnvironment = [
        "AUTHFN_NOW": "2026-01-01T00:00:00Z",
        "JWT_SECRET_KEY": "golden-scenario-secret-0123456789abcdef",
        "AUTHFN_LOG_LEVEL": "error",
    ]

    static var scenarios: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
    }

    @Test func scenariosExist() { #expect(Self.scenarios.count >= 6) }

    @Test("golden scenario", arguments: scenarios)
    func scenario(_ name: String) async throws {
        let file = Self.directory.appendingPathComponent(name)
        let document = try JSONValue.parse(Array(try Data(contentsOf: file)))
        guard case .array(var steps)? = document["steps"] else {
            Issue.record("\(name): no steps")
            return
        }
        let recording = ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1"
        var recorded = false
        var captured: [String: JSONValue] = [:]

        try await withTemporaryDirectory { dir in
            for index in steps.indices {
                var step = try #require(steps[index].objectValue)
                var extra = Self.baseEnvironment
                extra["AUTHFN_SEED"] = String(1000 + index)
                for source in [document["env"], step["env"]] {
                    for (key, value) in source?.objectValue ?? JSONObject() { extra[key] = value.stringValue ?? "" }
                }
                let environment = Executable.environment(dataDirectory: dir.appendingPathComponent("data"), extra)
                let input = try Self.input(for: step, captured: captured)
                let arguments = try step["args"].map { try Self.substitute($0, captured) }?.arrayValue?.compactMap(\.stringValue)
                let result = try Executable.run(input, environment: environment, arguments: arguments ?? [])
                let label = "\(name) step \(index + 1) (\(step["name"]?.stringValue ?? "-"))"
                let stdout = String(decoding: result.stdout, as: UTF8.self)
                let expectedExit = Int32(step["exit"]?.integerValue ?? 0)

                // Admin commands (`args`) are compared as text; requests as one response envelope.
                let field = arguments == nil ? "response" : "stdout"
                let actual: JSONValue
                if arguments == nil {
                    actual = try #require(result.json, "\(label): stdout is not JSON: \(stdout) \(result.stderr)")
                    if let stepName = step["name"]?.stringValue { captured[stepName] = actual }
                } else {
                    actual = .string(stdout)
                }

                if recording || step[field] == nil {
                    step[field] = actual
                    step["exit"] = result.status != 0 ? .number(Double(result.status)) : nil
                    steps[index] = .object(step.filter { $0.value != .null })
                    recorded = true
                    continue
                }
                let expected = try #require(step[field])
                let expectedText = arguments == nil ? expected.encodedString + "\n" : (expected.stringValue ?? "")
                #expect(stdout == expectedText, "\(label)")
                #expect(result.status == expectedExit, "\(label): exit status \(result.stderr)")
            }
        }
        if recorded {
            var updated = try #require(document.objectValue)
            updated["steps"] = .array(steps)
            try Data((JSONValue.object(updated).pretty() + "\n").utf8).write(to: file)
            Issue.record("\(name): recorded new baseline; review the diff and run again")
        }
    }

    static func input(for step: JSONObject, captured: [String: JSONValue]) throws -> [UInt8] {
        if let request = step["request"] { return try substitute(request, captured).encoded() }
        if step["args"] != nil, step["stdin"] == nil, step["stdin_repeat"] == nil { return [] }
        if let text = step["stdin"]?.stringValue { return Array(text.utf8) }
        if let encoded = step["stdin_base64"]?.stringValue, let data = Data(base64Encoded: encoded) { return Array(data) }
        if let repeatSpec = step["stdin_repeat"], let unit = repeatSpec["text"]?.stringValue,
            let count = repeatSpec["count"]?.integerValue
        {
            return Array((String(repeating: unit, count: Int(count)) + (step["stdin_suffix"]?.stringValue ?? "")).utf8)
        }
        throw CocoaError(.coderInvalidValue)
    }

    /// Replaces `{{step.path}}` in every string of `value` with the captured field.
    static func substitute(_ value: JSONValue, _ captured: [String: JSONValue]) throws -> JSONValue {
        switch value {
        case .string(var text):
            while let open = text.range(of: "{{"), let close = text.range(of: "}}", range: open.upperBound..<text.endIndex) {
                let path = text[open.upperBound..<close.lowerBound].split(separator: ".").map(String.init)
                var current = try #require(captured[path[0]], "no earlier step named \(path[0])")
                for key in path.dropFirst() {
                    if let index = Int(key), let array = current.arrayValue, array.indices.contains(index) {
                        current = array[index]
                    } else {
                        current = try #require(current[key], "no \(key) in \(path)")
                    }
                }
                text.replaceSubrange(open.lowerBound..<close.upperBound, with: current.stringValue ?? current.encodedString)
            }
            return .string(text)
        case .array(let values): return .array(try values.map { try substitute($0, captured) })
        case .object(let members): return .object(try members.mapValues { try substitute($0, captured) })
        default: return value
        }
    }
}
