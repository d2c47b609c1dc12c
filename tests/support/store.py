"""A client of a running store-api: registers and logs in shoppers over HTTP."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx

_numbers = itertools.count(1)


@dataclass
class Shopper:
    """A registered, logged-in user."""

    id: int
    username: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Store:
    """HTTP access to a running store-api."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def register(self, prefix: str = "user") -> Shopper:
        number = next(_numbers)
        username, password = f"{prefix}{number}", f"password-{number}"
        answer = self.http.post(
            "/users/register",
            json={
                "sid": f"S{number:08d}",
                "username": username,
                "email": f"{username}@example.com",
                "password": password,
            },
        )
        assert answer.status_code == 201, answer.text
        token = self.login(username, password)
        return Shopper(answer.json()["id"], username, password, token)

    def login(self, username: str, password: str) -> str:
        answer = self.http.post("/users/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])
