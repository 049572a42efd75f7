import AuthFnCore
import Testing

@Suite("users import")
struct UserImportTests {
    static let hash = "pbkdf2:sha256:1000$fmWxNlwIQE0Q1Bv7$fea86d87fce98bd6fcdbf237a9b55a4b90eb5f0ba6f68df8fb9c1077839e6ed3"

    /// The same two users in each format the Flask app's databases print, with the line each row starts on.
    static let exports: [(name: String, text: String, lines: [Int])] = [
        (
            "sqlite3 -json",
            """
            [{"id":1,"created_on":"2024-01-02 03:04:05","updated_on":"2024-01-02 03:04:05","username":"ada","email":"ada@example.com","password":"\(hash)"},
            {"id":2,"created_on":"2024-01-02 03:04:06.5","updated_on":"2024-01-02 03:04:06","username":"bob","email":"bob@example.com","password":"\(hash)"}]

            """, [1, 2]
        ),
        (
            "pretty JSON array",
            """
            [
              {
                "id": 1, "created_on": "2024-01-02T03:04:05Z", "username": "ada", "email": "ada@example.com", "password": "\(hash)"
              },
              {
                "id": 2, "created_on": 1704164646, "username": "bob", "email": "bob@example.com", "password": "\(hash)", "extra": [1, {"x": "]"}]
              }
            ]
            """, [2, 5]
        ),
        (
            "mysql --json, one object per line",
            """
            {"id": 1, "created_on": "2024-01-02 03:04:05.000000", "username": "ada", "email": "ada@example.com", "password": "\(hash)"}

            {"id": 2, "created_on": "2024-01-02 03:04:06", "username": "bob", "email": "bob@example.com", "password": "\(hash)"}
            """, [1, 3]
        ),
        (
            "CSV with a header, CRLF, quotes",
            "ID,Username,Email,Password,created_on\r\n1,ada,ada@example.com,\(hash),2024-01-02 03:04:05\r\n2,\"bob\",\"bob@example.com\",\"\(hash)\",\"2024-01-02 03:04:06\"\r\n",
            [2, 3]
        ),
    ]

    @Test("every format gives the same rows, each with its line", arguments: exports)
    func formats(name: String, text: String, lines: [Int]) throws {
        let rows = try UserImport.rows(Array(text.utf8))
        #expect(rows.map(\.line) == lines)
        let users = rows.compactMap { try? UserImport.user(from: $0, now: 0).get() }
        #expect(users.map(\.id) == [1, 2])
        #expect(users.map(\.username) == ["ada", "bob"])
        #expect(users[0].createdAt == 1_704_164_645)
        #expect(users[1].createdAt == 1_704_164_646)
        #expect(users.allSatisfy { $0.password == Self.hash && $0.isActive })
    }

    @Test(
        "rows that fail validation name the reason",
        arguments: [
            (#"{"id": 0, "username": "a", "email": "a@example.com", "password": "x"}"#, "id must be a positive whole number"),
            (#"{"id": "12x", "username": "a", "email": "a@example.com", "password": "x"}"#, "id must be a positive whole number"),
            (#"{"id": 1, "email": "a@example.com", "password": "x"}"#, "username is missing or not text"),
            (#"{"id": 1, "username": "ad\u200dmin", "email": "a@example.com", "password": "p"}"#, "username: Username must not contain"),
            (#"{"id": 1, "username": "a", "email": "not-an-email", "password": "p"}"#, "email: Not a valid email address."),
            (#"{"id": 1, "username": "a", "email": "a@example.com", "password": "plaintext"}"#, "password is not a Werkzeug hash"),
            (
                #"{"id": 1, "username": "a", "email": "a@example.com", "password": "scrypt:1048576:8:1$s$h"}"#,
                "password is not a Werkzeug hash"
            ),
            (#"{"id": 1, "username": "a", "email": "a@example.com", "password": "HASH", "is_active": "maybe"}"#, "is_active must be"),
            (
                #"{"id": 1, "username": "a", "email": "a@example.com", "password": "HASH", "created_on": "yesterday"}"#,
                "created_on is not a date-time"
            ),
            (#"[1, 2]"#, "not a JSON object"),
            (#"{"id": 1, "username": "a",}"#, "not valid JSON"),
        ])
    func refusals(line: String, reason: String) throws {
        let rows = try UserImport.rows(Array(line.replacing("HASH", with: Self.hash).utf8))
        let row = try #require(rows.first)
        guard case .failure(let problem) = UserImport.user(from: row, now: 0) else {
            Issue.record("accepted: \(line)")
            return
        }
        #expect(problem.kind == .failed && problem.reason.hasPrefix(reason), "\(problem.reason)")
    }

    @Test("is_active in SQLite's, MySQL's and CSV's spellings", arguments: [("1", true), ("0", false), ("true", true), ("f", false)])
    func activeFlag(text: String, active: Bool) throws {
        let rows = try UserImport.rows(Array("id,username,email,password,is_active\n5,a,a@example.com,\(Self.hash),\(text)\n".utf8))
        #expect(try UserImport.user(from: rows[0], now: 0).get().isActive == active)
    }

    @Test(
        "inputs that are no format at all are refused whole",
        arguments: ["[{\"id\": 1}", "[{\"id\": 1}] trailing", "name,email\nx,y\n", "a,\"b\n"])
    func unreadable(text: String) {
        #expect(throws: UserImport.FormatError.self) { try UserImport.rows(Array(text.utf8)) }
    }

    @Test("importing: clashes are skipped one by one, a second import adds nobody, the counter moves past the ids")
    func importing() throws {
        let store = InMemoryStore()
        try store.commit([.createUser(UserRecord(id: 0, username: "taken", email: "taken@example.com", password: Self.hash, createdAt: 0))])
        let text = """
            {"id": 10, "username": "ada", "email": "ada@example.com", "password": "\(Self.hash)"}
            {"id": 11, "username": "Taken", "email": "other@example.com", "password": "\(Self.hash)"}
            {"id": 1, "username": "new", "email": "new@example.com", "password": "\(Self.hash)"}
            {"id": 12, "username": "bad", "email": "bad", "password": "\(Self.hash)"}
            {"id": 13, "username": "ADA2", "email": "ADA@example.com", "password": "\(Self.hash)"}
            """
        let rows = try UserImport.rows(Array(text.utf8))
        let first = try UserImport.run(rows, into: store, now: 0)
        #expect(first.copied == 1 && first.skipped == 3 && first.failed == 1)
        #expect(first.problems.map(\.line) == [4, 2, 3, 5])
        #expect(store.nextUserID() == 11)
        let second = try UserImport.run(rows, into: store, now: 0)
        #expect(second.copied == 0 && second.skipped == 4 && second.failed == 1)
        #expect(store.userCount == 2)
    }
}
