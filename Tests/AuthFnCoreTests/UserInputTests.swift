import Testing

@testable import AuthFnCore

@Suite struct UserInputTests {
    static let invisible = "Username must not contain control, invisible, bidirectional-control or unassigned characters."

    static let valid: JSONObject = ["username": "oluchiy", "email": "oluch@gmail.com", "password": .string(seedPassword)]

    static func with(_ key: String, _ value: JSONValue?) -> JSONValue {
        var fields = valid
        fields[key] = value
        return .object(fields)
    }

    @Test func acceptsTheSeedUser() throws {
        let input = try UserInput.registration(from: .object(Self.valid))
        #expect(input == Registration(username: "oluchiy", email: "oluch@gmail.com", password: seedPassword))
    }

    @Test(
        "field errors, webargs-style",
        arguments: [
            (with("email", "not-an-email"), ["email": ["Not a valid email address."]]),
            (with("email", nil), ["email": ["Missing data for required field."]]),
            (with("email", .null), ["email": ["Field may not be null."]]),
            (with("username", 5), ["username": ["Not a valid string."]]),
            (with("username", "   "), ["username": ["Length must be between 1 and 80."]]),
            (with("username", .string(String(repeating: "a", count: 81))), ["username": ["Length must be between 1 and 80."]]),
            (with("username", "bad\u{7}name"), ["username": [UserInputTests.invisible]]),
            (with("email", .string(String(repeating: "a", count: 190) + "@example.com")), ["email": ["Longer than maximum length 200."]]),
            (
                with("password", "445h"),
                [
                    "password": [
                        "Password must be at least 8 characters long.", "Password must contain at least one uppercase letter.",
                        "Password must contain at least one symbol.",
                    ]
                ]
            ),
            (with("password", "alllowercase1!"), ["password": ["Password must contain at least one uppercase letter."]]),
            (with("password", "ALLUPPER1!"), ["password": ["Password must contain at least one lowercase letter."]]),
            (with("password", "NoDigits!!"), ["password": ["Password must contain at least one digit."]]),
            (with("password", "NoSymbols123"), ["password": ["Password must contain at least one symbol."]]),
            (
                with("password", .string("Aa1!" + String(repeating: "x", count: 10_000))),
                ["password": ["Password must be at most 200 characters long."]]
            ),
            (
                .object([:]),
                [
                    "username": ["Missing data for required field."], "email": ["Missing data for required field."],
                    "password": ["Missing data for required field."],
                ]
            ),
            (
                ["username": .null, "email": 1, "password": ["x"]],
                [
                    // marshmallow's Email field reports its own message for a value of the wrong type.
                    "username": ["Field may not be null."], "email": ["Not a valid email address."], "password": ["Not a valid string."],
                ]
            ),
            ([1, 2], ["_schema": ["Invalid input type."]]),
            ("text", ["_schema": ["Invalid input type."]]),
        ] as [(JSONValue, [String: [String]])])
    func reportsFieldErrors(_ body: JSONValue, _ expected: [String: [String]]) {
        #expect(throws: ValidationError(expected)) { try UserInput.registration(from: body) }
    }

    @Test func trimsUsernameAndIgnoresUnknownFields() throws {
        var fields = Self.valid
        fields["username"] = "  oluchiy \n"
        fields["is_admin"] = true
        #expect(try UserInput.registration(from: .object(fields)).username == "oluchiy")
    }

    @Test(
        "email syntax",
        arguments: [
            ("oluch@gmail.com", true), ("first.last+tag@sub.example.co.uk", true), ("üser@exämple.de", true),
            ("o'brien@example.ie", true), ("plain", false), ("@example.com", false), ("user@", false),
            ("user@localhost", false), ("user@example.c", false), ("a..b@example.com", false), (".a@example.com", false),
            ("user@-example.com", false), ("user@example..com", false), ("us er@example.com", false),
            ("user@example.123", false), ("a@b@example.com", false),
        ])
    func emailSyntax(_ email: String, _ valid: Bool) {
        #expect(UserInput.emailProblems(email).isEmpty == valid)
    }

    @Test func passwordIsNotNormalised() throws {
        // "Å" as one scalar and as A + combining ring are different passwords; both pass the rule as given.
        let composed = "Passw0rd!\u{00C5}", decomposed = "Passw0rd!A\u{030A}"
        #expect(PasswordPolicy.seed.problems(composed).isEmpty && PasswordPolicy.seed.problems(decomposed).isEmpty)
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
    }

    @Test(
        "canonical usernames collide across case and width",
        arguments: [
            ("Alice", "alice"), ("ａｌｉｃｅ", "alice"), ("ALICE", "ａｌｉｃｅ"), ("Straße", "STRASSE"),
        ])
    func canonicalUsernames(_ a: String, _ b: String) {
        #expect(UserRecord.canonicalUsername(a) == UserRecord.canonicalUsername(b))
    }

    @Test func distinctUsernamesStayDistinct() {
        #expect(UserRecord.canonicalUsername("alice") != UserRecord.canonicalUsername("alicf"))
    }
}
