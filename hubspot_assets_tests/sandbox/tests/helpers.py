"""A tiny HTTP helper for the sandbox tests (one requests.Session per server)."""

from __future__ import annotations

import requests

from hubspot_assets_tests.sandbox import DEMO_TOKEN


class Http:
    def __init__(self, server, token: str = DEMO_TOKEN):
        self.url = server.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, params=None, **kw) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=30, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=30, **kw)

    def list_all(self, object_type: str, properties=None, archived=False, limit=100) -> list[dict]:
        """Every record via GET /crm/v3/objects paging."""
        out, after = [], None
        while True:
            params = {"limit": limit, "archived": str(archived).lower()}
            if properties is not None:
                params["properties"] = ",".join(properties)
            if after:
                params["after"] = after
            r = self.get(f"/crm/v3/objects/{object_type}", params)
            assert r.status_code == 200, r.text
            body = r.json()
            out += body["results"]
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                return out

    def search(self, object_type: str, body: dict) -> requests.Response:
        return self.post(f"/crm/v3/objects/{object_type}/search", body)


def all_property_names(http: Http, object_type: str) -> list[str]:
    """Every property name of a type: a plain listing leaves out Sensitive Data ones."""
    return [p["name"] for level in ("non_sensitive", "sensitive", "highly_sensitive")
            for p in http.get(f"/crm/v3/properties/{object_type}",
                              {"dataSensitivity": level}).json()["results"]]
