"""hash_password, generate_signing_key and register_new_matrix_user."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import bcrypt
import pytest
from signedjson.key import read_signing_keys

from synapse.scripts import generate_signing_key, hash_password, register_new_matrix_user
from synapse.scripts.register_new_matrix_user import compute_mac


def test_hash_password_from_flag_verifies(capsys):
    hash_password.main(["-p", "correct horse"])
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$2b$12$")
    assert bcrypt.checkpw(b"correct horse", hashed.encode())
    assert not bcrypt.checkpw(b"wrong", hashed.encode())


def test_hash_password_reads_rounds_and_pepper_from_config(tmp_path, capsys):
    config = tmp_path / "hs.yaml"
    config.write_text("bcrypt_rounds: 5\npassword_config:\n  pepper: PEPPER\n")
    hash_password.main(["-c", str(config), "-p", "pw"])
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$2b$05$")
    assert bcrypt.checkpw(b"pwPEPPER", hashed.encode())


def test_hash_password_reads_stdin_when_not_a_tty(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    hash_password.main([])
    assert bcrypt.checkpw(b"from stdin", capsys.readouterr().out.strip().encode())


def test_generate_signing_key_to_file(tmp_path):
    out = tmp_path / "new.key"
    generate_signing_key.main(["-o", str(out)])
    with open(out) as f:
        (key,) = read_signing_keys(f)
    assert key.alg == "ed25519" and key.version.startswith("a_") and len(key.version) == 6


def test_mac_matches_known_values():
    # computed independently with: printf 'abcdef\0alice\0wonderland\0admin' | openssl dgst -sha1 -hmac shh
    assert compute_mac("shh", "abcdef", "alice", "wonderland", True) == "4541a187d24ea89d082abdb9823bcecddabe480c"
    assert compute_mac("shh", "abcdef", "bob", "pw", False, "bot") == "36c540fa414d02423edc348108cd7ed4b78393d0"


class _FakeAdminRegister(BaseHTTPRequestHandler):
    """GET gives a nonce; POST records the body and checks the mac."""

    received: list = []
    existing: set = set()

    def do_GET(self):
        self._reply(200, {"nonce": "n0nce"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append(body)
        expected = compute_mac("shared", body["nonce"], body["username"], body["password"], body["admin"],
                               body["user_type"])
        if body["mac"] != expected:
            self._reply(403, {"errcode": "M_FORBIDDEN", "error": "HMAC incorrect"})
        elif body["username"] in self.existing:
            self._reply(400, {"errcode": "M_USER_IN_USE", "error": "User ID already taken."})
        else:
            self._reply(200, {"user_id": f"@{body['username']}:test"})

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def admin_server():
    _FakeAdminRegister.received = []
    _FakeAdminRegister.existing = {"taken"}
    server = HTTPServer(("127.0.0.1", 0), _FakeAdminRegister)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _FakeAdminRegister.received
    server.shutdown()
    server.server_close()


def test_register_with_secret_from_config(admin_server, tmp_path, capsys):
    url, received = admin_server
    config = tmp_path / "hs.yaml"
    config.write_text("registration_shared_secret: shared\n")
    register_new_matrix_user.main(["-u", "alice", "-p", "pw", "-a", "-c", str(config), url])
    assert "Success!" in capsys.readouterr().out
    (body,) = received
    assert body["username"] == "alice" and body["admin"] is True and body["nonce"] == "n0nce"


def test_register_wrong_secret_exits_1(admin_server, capsys):
    url, _ = admin_server
    with pytest.raises(SystemExit) as exc:
        register_new_matrix_user.main(["-u", "bob", "-p", "pw", "--no-admin", "-k", "wrong", url])
    assert exc.value.code == 1
    assert "HMAC incorrect" in capsys.readouterr().err


def test_register_exists_ok(admin_server, capsys):
    url, _ = admin_server
    register_new_matrix_user.main(["-u", "taken", "-p", "pw", "--no-admin", "-k", "shared", "--exists-ok", url])
    assert "already exists" in capsys.readouterr().out


def test_register_finds_client_listener_in_config():
    config = {"listeners": [{"type": "http", "port": 9, "resources": [{"names": ["federation"]}]},
                            {"type": "http", "port": 8448, "tls": True, "resources": [{"names": ["client"]}]},
                            {"type": "http", "port": 8080, "resources": [{"names": ["client"]}]}]}
    assert register_new_matrix_user.find_client_listener_url(config) == "http://localhost:8080"
