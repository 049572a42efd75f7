import Testing

@testable import AuthFnCore

@Suite struct JSONValueTests {
    @Test(
        "parses and re-encodes canonically",
        arguments: [
            (#"{"b":1,"a":[true,null,"x"]}"#, #"{"a":[true,null,"x"],"b":1}"#),
            (#"  {"k" : "line\nbreak \"q\" \\ \u0001"}  "#, #"{"k":"line\nbreak \"q\" \\ \u0001"}"#),
            (#"[1.5,-0.25,1e3,12345678901]"#, #"[1.5,-0.25,1000,12345678901]"#),
            (#""ünïcødé 🔑""#, #""ünïcødé 🔑""#),
            (#"{"a":1,"a":2}"#, #"{"a":2}"#),
        ])
    func roundTrip(_ input: String, _ canonical: String) throws {
        #expect(try JSONValue.parse(Array(input.utf8)).encodedString == canonical)
    }

    @Test(
        "rejects what is not JSON",
        arguments: [
            "", "{", "[1,]", "{'a':1}", "nul", "[1e999]", "\"\\ud800\"", "{\"a\":1}x", "NaN",
        ])
    func rejects(_ input: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(input.utf8)) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test("depth limit", arguments: [(64, true), (65, false), (100_000, false)])
    func depth(_ depth: Int, _ accepted: Bool) {
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let result = Result { try JSONValue.parse(Array(text.utf8)) }
        #expect(((try? result.get()) != nil) == accepted)
    }

    @Test func bracketsInsideStringsDoNotCount() throws {
        let brackets = String(repeating: "[{", count: 100)
        let text = #"{"a":""# + brackets + #"\"["}"#
        #expect(try JSONValue.parse(Array(text.utf8))["a"]?.stringValue == brackets + #""["#)
    }
}
