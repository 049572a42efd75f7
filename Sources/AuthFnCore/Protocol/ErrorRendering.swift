import Logging

extension Response {
    static let notFoundText =
        "Not Found. The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."

    /// The single place where errors become responses. Anything unexpected becomes a generic 500
    /// whose detail goes to the log only, never to the client.
    public init(rendering error: any Error, logger: Logger? = nil) {
        switch error {
        case let error as EnvelopeError:
            self = Self.render(error)
        case let error as HTTPError:
            self = .message(error.status, error.message)
        case let error as RoutingError:
            switch error {
            case .notFound:
                self = .fail(404, Self.notFoundText)
            case .methodNotAllowed(let allowed):
                // Flask's own 405 body, which the seed app's clients saw.
                self = .message(
                    405, "The method is not allowed for the requested URL.", headers: ["Allow": allowed.joined(separator: ", ")])
            }
        case let error as BodyError:
            switch error {
            case .invalidJSON(let detail):
                self = .message(400, "The request body is not valid JSON: \(detail)")
            case .unsupportedMediaType(let given):
                let what = given.map { "'\($0)'" } ?? "missing"
                self = .message(415, "Unsupported Content-Type (\(what)): the body must be sent as application/json.")
            }
        case let error as ValidationError:
            let fields = error.fields.mapValues { JSONValue.array($0.map(JSONValue.string)) }
            self = Response(status: 422, body: ["errors": .object(JSONObject(fields))])
        case let error as AuthError:
            switch error {
            case .invalidCredentials:
                self = Response(
                    status: 401, headers: ["WWW-Authenticate": "Bearer"],
                    body: ["status": "fail", "data": ["msg": "Unable to authenticate user: Invalid credentials"]])
            case .usernameTaken: self = .message(400, "username already exist")
            case .emailTaken: self = .message(400, "email already exist")
            case .unknownUser:
                self = Response(status: 401, headers: ["WWW-Authenticate": "Bearer"], body: ["status": "fail"])
            case .tokenWithoutID:
                self = .message(400, "Something bad occurred while trying to log you out")
            case .accountInactive:
                self = .message(403, "The user account is not activated yet")
            case .throttled(let retryAfter):
                self = .message(
                    429,
                    "Too many failed login attempts for this account; try again in \(retryAfter) second\(retryAfter == 1 ? "" : "s").",
                    headers: ["Retry-After": String(retryAfter)])
            case .mailThrottled(let retryAfter):
                self = .message(
                    429, "Too many requests for this address; try again in \(retryAfter) second\(retryAfter == 1 ? "" : "s").",
                    headers: ["Retry-After": String(retryAfter)])
            case .invalidLinkToken:
                self = .message(400, "Invalid or expired token")
            case .mailNotConfigured(let what):
                self = .message(501, "\(what) by mail is not configured on this server.")
            }
        case let error as TokenError:
            var headers = Headers()
            if error.status == 401 { headers["WWW-Authenticate"] = Self.bearerChallenge(for: error) }
            self = .message(error.status, error.message, headers: headers)
        case let error as StoreError:
            logger?.error("storage failure", metadata: ["error": "\(error)"])
            if case .unavailable = error {
                // Generic: which server, and why, is for the log only.
                self = .message(
                    503, "Service unavailable: the database could not be reached; try again later.", headers: ["Retry-After": "5"])
            } else if error.isOutOfSpace {
                self = .message(507, "Insufficient storage: the request could not be completed.")
            } else {
                self = .message(500, "Internal server error: storage failed.")
            }
        default:
            logger?.error("unexpected failure", metadata: ["error": "\(error)"])
            self = .message(500, "Internal server error.")
        }
    }

    /// RFC 6750 §3: a challenge on every 401, with `error="invalid_token"` when a token was presented.
    private static func bearerChallenge(for error: TokenError) -> String {
        switch error {
        case .noAuthorization, .csrf: "Bearer"
        default: "Bearer error=\"invalid_token\""
        }
    }

    private static func render(_ error: EnvelopeError) -> Response {
        switch error {
        case .tooLarge(let limit):
            .message(413, "Request envelope too large: the limit is \(limit) bytes.")
        case .invalidJSON(let detail):
            .message(400, "Invalid request envelope: not valid JSON (\(detail)).")
        case .notAnObject:
            .message(400, "Invalid request envelope: expected a JSON object with \"method\" and \"path\".")
        case .missingField(let field):
            .message(400, "Invalid request envelope: \"\(field)\" is required.")
        case .wrongType(let field, let expected):
            .message(400, "Invalid request envelope: \"\(field)\" must be \(expected).")
        case .conflictingBodies:
            .message(400, "Invalid request envelope: give either \"body\" or \"body_base64\", not both.")
        case .invalidHeaderName(let name):
            .message(400, "Invalid request envelope: header name \"\(name)\" is not an HTTP token.")
        case .duplicateHeader(let name):
            .message(400, "Invalid request envelope: header \"\(name)\" is given more than once (names are case-insensitive).")
        }
    }
}
