"""The wire under `Kube`: one HTTP request to the API server, one response.

`Kube` decides what to send, when to retry and whether it may write; a `Transport` only sends.
`ApiClientTransport` is the real one (the kubernetes package's REST client: credentials, TLS,
connection pool); unit tests give `Kube` a fake that counts what would have been sent.

urllib3's own retries are off (`new_api_client`): every resend goes through `Kube`'s loop, which
asks the leader gate before each attempt and never resends a create whose outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import RESTResponse
from kubernetes.watch.watch import iter_resp_lines

USER_AGENT = "webscale-operator/0.1"


class Reply(Protocol):
    """One response: status line and headers at once, the body read whole or as lines."""

    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def body(self) -> bytes:
        """The whole body (a plain request)."""
        ...

    def lines(self) -> Iterator[str]:
        """The body line by line as it arrives (a watch)."""
        ...

    def close(self) -> None:
        """Give the connection back to the pool."""
        ...


class Transport(Protocol):
    """Sends one request; raises urllib3.exceptions.HTTPError or OSError when no response came."""

    def __call__(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        query: list[tuple[str, Any]],
        stream: bool,
        timeout: float,
    ) -> Reply: ...


class _RestReply:
    """A `Reply` over the kubernetes package's RESTResponse."""

    def __init__(self, resp: RESTResponse) -> None:
        self._resp = resp

    @property
    def status(self) -> int:
        return int(self._resp.status)

    @property
    def reason(self) -> str:
        return str(self._resp.reason or "")

    @property
    def headers(self) -> Mapping[str, str]:
        headers: Mapping[str, str] = self._resp.headers
        return headers

    def body(self) -> bytes:
        data = self._resp.read()
        return data if isinstance(data, bytes) else str(data or "").encode()

    def lines(self) -> Iterator[str]:
        lines: Iterator[str] = iter_resp_lines(self._resp.response)
        return lines

    def close(self) -> None:
        self._resp.response.release_conn()


class ApiClientTransport:
    """The real `Transport`: the kubernetes package's ApiClient (auth, TLS, connection pool)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def __call__(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        query: list[tuple[str, Any]],
        stream: bool,
        timeout: float,
    ) -> Reply:
        method_, url, headers, payload, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        resp = self.api.rest_client.request(
            method_, url, headers=headers, body=payload, post_params=post, _request_timeout=timeout
        )
        reply = _RestReply(resp)
        if not stream:
            reply.body()  # read it now: an error while reading is an error of this request
        return reply


def new_api_client(identity: str = "") -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG).

    urllib3 resends nothing by itself (`retries=False`): `Kube` retries, asking the leader gate first."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    configuration.retries = urllib3.Retry(total=False)
    api = client.ApiClient(configuration)
    api.user_agent = f"{USER_AGENT} ({identity})" if identity else USER_AGENT
    return api
