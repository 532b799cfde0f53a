"""Attacks on the API (tests/api/test_auth.py covers a broken signature, expiry, a refresh token
used as an access token and reuse of refresh tokens): forged tokens (changed claims, `alg:
none`, another key, another algorithm), SQL in every filter of the list routes, absurd ids,
hostile upload names, oversize strategy files and a deactivated user's live token."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from huancui.access import tokens
from huancui.kit.settings import Settings
from tests.api.conftest import SECRET, assert_problem, bearer, username_of
from tests.arrangements.conftest import AS_OF, COLLECTOR, SUPERVISOR, Book

ADMIN = username_of("admin")
ATTACKS = (
    "' OR 1=1 --",
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "x' UNION SELECT username, password_hash FROM users --",
    "%",
    "_",
    "\\",
    "\x00",
)


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(username: str, role: str, *, typ: str = "access") -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "iss": tokens.ISSUER,
        "sub": username,
        "role": role,
        "typ": typ,
        "jti": "f" * 32,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=10)).timestamp()),
    }


def _refused(client: TestClient, token: str) -> None:
    response = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "sign-in-required")


def test_a_genuine_token_with_its_claims_changed_is_refused(
    client: TestClient, api_settings: Settings
) -> None:
    genuine = bearer(api_settings, username_of("collector"))["Authorization"].split()[1]
    # The control: the untouched token signs in (a collector may not list users: 403, not 401),
    # so the 401s below come from the changed claims alone.
    control = client.get("/api/users", headers={"Authorization": f"Bearer {genuine}"})
    assert control.status_code == 403
    header, _, signature = genuine.split(".")
    for changed in (
        _claims(ADMIN, "admin"),
        _claims(username_of("collector"), "admin"),
        {**_claims(username_of("collector"), "collector"), "exp": 4_102_444_800},
    ):
        _refused(client, f"{header}.{_b64(changed)}.{signature}")


def test_unsigned_foreign_and_other_algorithm_tokens_are_refused(
    client: TestClient, api_settings: Settings
) -> None:
    claims = _claims(ADMIN, "admin")
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    _refused(client, unsigned)
    _refused(client, unsigned.rstrip("."))
    _refused(client, jwt.encode(claims, "another key " + "y" * 40, algorithm="HS256"))
    secret = SECRET.get_secret_value()
    _refused(client, jwt.encode(claims, secret, algorithm="HS512"))
    # The same key and algorithm with a claim missing or the wrong type is no better.
    _refused(client, jwt.encode({**claims, "typ": "refresh"}, secret, algorithm="HS256"))
    _refused(client, jwt.encode({k: v for k, v in claims.items() if k != "exp"}, secret))
    # What the key signs correctly is accepted: the refusals above are about the forgery.
    assert client.get(
        "/api/users",
        headers={"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"},
    ).is_success


def test_a_deactivated_user_s_live_token_stops_working_at_once(
    client: TestClient, api_settings: Settings
) -> None:
    analyst = username_of("analyst")
    token = bearer(api_settings, analyst)
    assert client.get("/api/kpis/../runs", headers=token).status_code in (200, 404)
    assert client.get("/api/runs", headers=token).status_code == 200
    off = client.patch(
        f"/api/users/{analyst}",
        json={"active": False, "reason": "left"},
        headers=bearer(api_settings, ADMIN),
    )
    assert off.status_code == 200
    assert_problem(client.get("/api/runs", headers=token), 401, "sign-in-required")


LIST_FILTERS = {
    "/api/hardship": ("account_id", "customer_id"),
    "/api/users": ("role",),
    "/api/strategies": ("name",),
    "/api/audit": ("actor", "action", "entity_type", "entity_id"),
    "/api/arrangements": ("account_id", "status"),
}
CALLER = {
    "/api/hardship": SUPERVISOR,
    "/api/users": ADMIN,
    "/api/strategies": SUPERVISOR,
    "/api/audit": ADMIN,
    "/api/arrangements": SUPERVISOR,
}


def test_sql_in_any_filter_matches_nothing_and_breaks_nothing(
    book: Book, book_client: TestClient, book_settings: Settings
) -> None:
    from huancui.access.users import add_user

    with book.session() as session:
        add_user(session, username=ADMIN, display_name="", role="admin", actor="t")
    before = book.counts()
    users = book.count("users")
    answering = TestClient(book_client.app, raise_server_exceptions=False)
    failures = []
    for path, names in LIST_FILTERS.items():
        headers = bearer(book_settings, CALLER[path])
        if path == "/api/strategies":
            headers = bearer(book_settings, "sun.analyst")
        for name in names:
            for attack in ATTACKS:
                response = answering.get(path, params={name: attack}, headers=headers)
                where = f"{path}?{name}={attack!r}: {response.status_code} {response.text[:100]}"
                refused = response.status_code == 422
                if not refused and (response.status_code != 200 or response.json()["total"]):
                    failures.append(where)
    assert not failures, "\n".join(failures)
    assert book.counts() == before and book.count("users") == users
    plan = book_client.get(
        "/api/runs/1/plan",
        params={"channel": "' OR 1=1 --"},
        headers=bearer(book_settings, COLLECTOR),
    )
    assert plan.status_code == 404  # no run yet: looked up as a number, never as text


def test_absurd_ids_are_a_422_on_every_route_never_a_server_error(
    client: TestClient, api_settings: Settings
) -> None:
    """Every `{…_id}` of every route, with a number no database column holds."""
    admin = bearer(api_settings, ADMIN)
    supervisor = bearer(api_settings, username_of("supervisor"))
    answering = TestClient(client.app, raise_server_exceptions=False)
    failures = []
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(context.original_route, APIRoute):
            continue
        path = str(context.path)
        ids = re.findall(r"\{(\w+_id)\}", path)
        if not ids:
            continue
        url = re.sub(r"\{\w+_id\}", "99999999999999999999999", path)
        url = re.sub(r"\{[^}]+\}", "x", url)
        for method in context.methods or ():
            for headers in (admin, supervisor):
                response = answering.request(method, url, json={}, headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{method} {path}: {response.status_code}")
    assert not failures, "server errors on absurd ids (use deps.RecordId):\n" + "\n".join(
        sorted(set(failures))
    )


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../../../etc/cron.d/evil.pdf", "evil.pdf"),
        ("..\\..\\windows\\system32\\drivers.pdf", "drivers.pdf"),
        ("/etc/passwd", "passwd"),
        ("....//....//x.pdf", "x.pdf"),
        ("..", "evidence.pdf"),
        ("line\nbreak\r\x00.pdf", None),  # the client percent-encodes these
        ("a:b*c?d<e>|.pdf", "a_b_c_d_e__.pdf"),
        ("证明" * 100 + ".pdf", None),
    ],
)
def test_an_upload_s_name_is_a_label_never_a_path(
    book: Book, book_client: TestClient, book_settings: Settings, sent: str, stored: str | None
) -> None:
    pdf = b"%PDF-1.4\n%%EOF\n"
    response = book_client.post(
        "/api/hardship",
        data={
            "account_id": book.account("prime"),
            "as_of": AS_OF.isoformat(),
            "reason_code": "illness",
            "details": "住院治疗",
            "days": "30",
        },
        files=[("evidence", (sent, pdf, "application/pdf"))],
        headers=bearer(book_settings, COLLECTOR),
    )
    assert response.status_code == 201, response.text
    (evidence,) = response.json()["evidence"]
    name = evidence["filename"]
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert len(name.encode()) <= 200
    if stored is not None:
        assert name == stored
    home = book_settings.home.resolve()
    written = [p for p in home.rglob("*") if p.is_file() and p.stat().st_size == len(pdf)]
    assert [p.relative_to(home).as_posix() for p in written] == [f"evidence/{evidence['sha256']}"]


def test_an_oversize_strategy_file_is_refused_before_it_is_parsed(
    client: TestClient, api_settings: Settings
) -> None:
    huge = b"# padding\n" * 120_000
    response = client.post(
        "/api/strategies/validate",
        content=huge,
        headers={
            **bearer(api_settings, username_of("strategy_manager")),
            "Content-Type": "application/yaml",
        },
    )
    assert "at most" in assert_problem(response, 422, "invalid-input")["detail"]


def test_a_nul_character_in_any_text_is_a_422_naming_the_field(
    client: TestClient, api_settings: Settings
) -> None:
    """PostgreSQL text cannot hold NUL: refused at the edge, not in the driver (a 500)."""
    admin = bearer(api_settings, ADMIN)
    cases = [
        client.patch("/api/users/a%00b", json={"active": False, "reason": "x"}, headers=admin),
        client.patch(
            f"/api/users/{username_of('analyst')}",
            json={"active": False, "reason": "left\x00"},
            headers=admin,
        ),
        client.post("/api/users", json={"username": "ok.name", "role": "col\x00"}, headers=admin),
        client.get("/api/audit", params={"actor": "a\x00"}, headers=admin),
        client.post(
            "/api/hardship/1/reject",
            json={"reason": "\x00"},
            headers=bearer(api_settings, username_of("supervisor")),
        ),
        # Any route, whatever its own validation: the app-wide guard (api.deps.refuse_nul).
        client.post(
            "/api/outcomes",
            json={"account_id": "A1", "outcome": "no_answer", "note": "called\x00"},
            headers=bearer(api_settings, username_of("collector")),
        ),
    ]
    for response in cases:
        body = assert_problem(response, 422, "invalid-input")
        assert body["errors"][0]["loc"][-1] in ("username", "reason", "role", "actor", "note")
