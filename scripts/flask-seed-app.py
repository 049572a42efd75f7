#!/usr/bin/env python3
"""The seed tutorial's Flask app (../shared/seed/), brought to today's packages — Flask 3,
Flask-JWT-Extended 4, Flask-SQLAlchemy 3, Flask-RESTful, webargs 8, Werkzeug 3 — as the reference
that scripts/bench measures authfn against. Same routes, same bodies; its state is a SQLite file.
Not part of authfn: it exists to be timed.

    flask-seed-app.py DB [--stream]     one JSON envelope on stdin (or one per line with --stream),
                                        answered like authfn's envelopes, through Flask's test client
Environment: JWT_SECRET_KEY.
"""
import json, os, sys
from datetime import timedelta
from http import HTTPStatus

from flask import Flask
from flask_jwt_extended import (JWTManager, create_access_token, create_refresh_token, get_jwt, get_jwt_identity,
                                jwt_required)
from flask_restful import Api, Resource
from flask_sqlalchemy import SQLAlchemy
from webargs import fields, validate
from webargs.flaskparser import abort, parser, use_kwargs
from werkzeug.security import check_password_hash, generate_password_hash

db = SQLAlchemy()
black_list = set()


class User(db.Model):
    __tablename__ = "user"
    id = db.Column(db.Integer(), primary_key=True)
    created_on = db.Column(db.DateTime(), server_default=db.func.now())
    username = db.Column(db.String(80), nullable=False, unique=True)
    email = db.Column(db.String(200), nullable=False, unique=True)
    password = db.Column(db.String(200), nullable=False)
    is_active = db.Column(db.Boolean(), default=False)


PASSWORD = validate.Regexp(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{8,}$",
                           error="Password must contain a letter, a number and a symbol.")


class Register(Resource):
    @use_kwargs({"username": fields.Str(required=True), "email": fields.Email(required=True),
                 "password": fields.Str(required=True, validate=PASSWORD)}, location="json")
    def post(self, username, email, password):
        if User.query.filter_by(username=username).first():
            return {"message": "username already exist"}, HTTPStatus.BAD_REQUEST
        if User.query.filter_by(email=email).first():
            return {"message": "email already exist"}, HTTPStatus.BAD_REQUEST
        user = User(username=username, email=email, password=generate_password_hash(password))
        db.session.add(user)
        db.session.commit()
        return {"id": user.id, "username": user.username, "email": user.email}, HTTPStatus.CREATED


class Login(Resource):
    @use_kwargs({"email": fields.Email(required=True), "password": fields.Str(required=True)}, location="json")
    def post(self, email, password):
        user = User.query.filter_by(email=email).first()
        if user and check_password_hash(user.password, password):
            return {"status": "success", "data": {
                "user_id": user.id, "email": user.email,
                "access_token": create_access_token(identity=str(user.id), fresh=True),
                "refresh_token": create_refresh_token(identity=str(user.id))}}, HTTPStatus.OK
        return {"status": "fail", "data": {"msg": "Unable to authenticate user: Invalid credentials"}}, HTTPStatus.UNAUTHORIZED


class UserInfo(Resource):
    @jwt_required()
    def get(self):
        user = db.session.get(User, int(get_jwt_identity()))
        if user:
            return {"message": "welcome to your biodata page", "id": user.id, "username": user.username,
                    "email": user.email}, HTTPStatus.OK
        return {"status": "fail"}, HTTPStatus.UNAUTHORIZED


class Refresh(Resource):
    @jwt_required(refresh=True)
    def post(self):
        return {"token": create_access_token(identity=get_jwt_identity(), fresh=False)}, HTTPStatus.OK


class Revoke(Resource):
    @jwt_required()
    def post(self):
        black_list.add(get_jwt()["jti"])
        return {"message": "Successfully logged out"}, HTTPStatus.OK


class Home(Resource):
    def get(self):
        return {"status": "success", "data": {"msg": "Welcome to the diary API"}}, HTTPStatus.OK


def create_app(database):
    app = Flask("diary")
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.abspath(database), JWT_SECRET_KEY=os.environ["JWT_SECRET_KEY"],
                      JWT_ERROR_MESSAGE_KEY="message", JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=15))
    db.init_app(app)
    jwt = JWTManager(app)

    @jwt.token_in_blocklist_loader
    def revoked(header, payload):
        return payload["jti"] in black_list

    @parser.error_handler
    def invalid(err, req, schema, *, error_status_code, error_headers):
        abort(error_status_code or 422, errors=err.messages)

    api = Api(app)
    api.add_resource(Home, "/")
    api.add_resource(Register, "/v1/user/register/")
    api.add_resource(Login, "/v1/user/login/")
    api.add_resource(UserInfo, "/v1/user/user_info/")
    api.add_resource(Refresh, "/v1/user/refresh_token/")
    api.add_resource(Revoke, "/v1/user/signout_access/")
    with app.app_context():
        db.create_all()
    return app


def answer(client, line):
    envelope = json.loads(line)
    method, path = envelope["method"], envelope["path"]
    body = envelope.get("body")
    response = client.open(path, method=method, headers=envelope.get("headers") or {},
                           json=body if body is not None else None)
    return json.dumps({"status": response.status_code, "body": response.get_json()}, separators=(",", ":"))


def main():
    app = create_app(sys.argv[1])
    client = app.test_client()
    if "--stream" in sys.argv[2:]:
        out = sys.stdout
        for line in sys.stdin:
            if line.strip():
                out.write(answer(client, line) + "\n")
                out.flush()
    else:
        print(answer(client, sys.stdin.read()))


if __name__ == "__main__":
    main()
