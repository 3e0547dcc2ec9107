"""Authorization, token, XSRF and Origin rules on every iBERT route of a real Jupyter server."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from tests.server.conftest import ORDERS_SNAPSHOT, DenyAll, ReadOnly, error_of

# every route iBERT mounts: (method, path, body)
ROUTES = [
    ("GET", "ibert/status", None),
    ("GET", "ibert/model", None),
    ("GET", "ibert/search?q=filter", None),
    ("POST", "ibert/model/load", {}),
    ("POST", "ibert/model/config", {"n": 2}),
    ("POST", "ibert/generate", {"prompt": "count orders", "snapshot": ORDERS_SNAPSHOT}),
    ("POST", "ibert/chat", {"question": "count orders", "snapshot": ORDERS_SNAPSHOT}),
    ("POST", "ibert/chat", {"question": "count orders", "snapshot": None, "stream": True}),
    ("POST", "ibert/chat/cancel", {"id": "abc"}),
    ("POST", "ibert/complete", {"prefix": "orders.", "suffix": "", "snapshot": ORDERS_SNAPSHOT}),
]
EXECUTE_ROUTES = [r for r in ROUTES if r[0] == "POST"]


def _patterns(router) -> list[str]:
    found = []
    for rule in getattr(router, "rules", []):
        regex = getattr(rule.matcher, "regex", None)
        if regex is not None and not hasattr(rule.target, "rules"):
            found.append(regex.pattern)
        found += _patterns(rule.target)
    return found


def test_every_mounted_route_is_in_this_table(jp_serverapp):
    """What the web app really serves under /ibert/, as the IbertServer app mounted it."""
    patterns = _patterns(jp_serverapp.web_app.default_router)
    mounted = {p.rstrip("$").split("/ibert/", 1)[1] for p in patterns if "/ibert/" in p}
    mounted.remove("(.*)")  # the catch-all that answers 404 in iBERT's error shape
    assert mounted == {path.split("?")[0].removeprefix("ibert/") for _, path, _ in ROUTES}


async def _fetch(jp_fetch, method, path, body, **kwargs):
    path, _, query = path.partition("?")
    params = dict(p.split("=") for p in query.split("&")) if query else None
    return await jp_fetch(*path.split("/"), method=method, params=params,
                          body=json.dumps(body) if body is not None else None, **kwargs)


@pytest.mark.parametrize("jp_server_config", [{"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True},
                                                              "authorizer_class": DenyAll}}])
async def test_deny_all_authorizer_refuses_every_route(jp_fetch, jp_server_config):
    with pytest.raises(HTTPClientError) as control:  # Jupyter's own route, same authorizer
        await jp_fetch("api", "contents")
    assert control.value.code == 403
    for method, path, body in ROUTES:
        with pytest.raises(HTTPClientError) as refused:
            await _fetch(jp_fetch, method, path, body)
        assert refused.value.code == 403, path
        error = error_of(refused.value)
        assert error["type"] == "Forbidden" and "not authorized" in error["message"] and "ibert" in error["message"]


@pytest.mark.parametrize("jp_server_config", [{"ServerApp": {"jpserver_extensions": {"ibert_jupyter": True},
                                                              "authorizer_class": ReadOnly}}])
async def test_read_only_user_reads_status_but_runs_nothing(jp_fetch, jp_server_config):
    assert (await jp_fetch("ibert", "model")).code == 200
    assert (await jp_fetch("ibert", "status")).code == 200
    for method, path, body in EXECUTE_ROUTES:
        with pytest.raises(HTTPClientError) as refused:
            await _fetch(jp_fetch, method, path, body)
        assert refused.value.code == 403, path
        assert "execute" in error_of(refused.value)["message"]


async def test_no_token_no_access(jp_fetch):
    for method, path, body in ROUTES:
        with pytest.raises(HTTPClientError) as refused:
            await _fetch(jp_fetch, method, path, body, headers={"Authorization": ""})
        assert refused.value.code == 403, path
        assert error_of(refused.value)["type"] == "Forbidden"


async def _login_cookies(base: str, token: str) -> tuple[str, str]:
    """Log in with the token as a browser does; returns (Cookie header, _xsrf value)."""
    client = AsyncHTTPClient()
    page = await client.fetch(f"{base}login", raise_error=False)
    jar = SimpleCookie()
    for header in page.headers.get_list("Set-Cookie"):
        jar.load(header)
    xsrf = jar["_xsrf"].value
    login = await client.fetch(
        f"{base}login", method="POST", body=f"password={token}&_xsrf={xsrf}", follow_redirects=False,
        headers={"Cookie": f"_xsrf={xsrf}"}, raise_error=False)
    assert login.code == 302, login.code
    for header in login.headers.get_list("Set-Cookie"):
        jar.load(header)
    return "; ".join(f"{k}={v.value}" for k, v in jar.items()), xsrf


async def test_cookie_sessions_need_the_xsrf_token(server_url, jp_auth_header):
    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    cookies, xsrf = await _login_cookies(server_url, token)
    client = AsyncHTTPClient()
    url = f"{server_url}ibert/chat/cancel"
    body = json.dumps({"id": "nothing-running"})
    forged = await client.fetch(url, method="POST", body=body, headers={"Cookie": cookies}, raise_error=False)
    assert forged.code == 403
    assert json.loads(forged.body)["error"]["type"] == "Forbidden"
    good = await client.fetch(url, method="POST", body=body, raise_error=False,
                              headers={"Cookie": cookies, "X-XSRFToken": xsrf})
    assert good.code == 200 and json.loads(good.body) == {"cancelled": False}


async def test_cross_origin_posts_are_refused(server_url, jp_auth_header):
    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    cookies, xsrf = await _login_cookies(server_url, token)
    response = await AsyncHTTPClient().fetch(
        f"{server_url}ibert/chat", method="POST", raise_error=False,
        body=json.dumps({"question": "count orders"}),
        headers={"Cookie": cookies, "X-XSRFToken": xsrf, "Origin": "http://evil.example"})
    assert response.code in (403, 404)


async def test_errors_carry_no_server_paths(jp_fetch, tmp_path):
    from ibert_jupyter.model import runtime
    from ibert_jupyter.model.config import ModelSettings

    runtime.configure(ModelSettings(model=str(tmp_path / "no-weights-here"), device="cpu"))
    with pytest.raises(HTTPClientError) as failed:
        await jp_fetch("ibert", "model", "load", method="POST", body="{}")
    assert failed.value.code == 503
    error = error_of(failed.value)
    assert error["type"] == "ModelUnavailable" and "no-weights-here" in error["message"]
    assert str(tmp_path) not in error["message"] and not re.search(r"(?<![\w:/])/(tmp|home|root)/", error["message"])
    assert "Traceback" not in error["message"]
