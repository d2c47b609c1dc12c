"""Every gRPC connection of merchstore: plain, or mutual TLS when ``grpc_tls`` says so.

With TLS a server asks each client for a certificate of the deployment's CA and refuses a
connection without one (the client sees UNAVAILABLE: no call is ever read); a client checks the
server's certificate against the same CA and the name it dialled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from merchstore.common.config.grpc_tls import TlsMaterial

ChannelOptions = Sequence[tuple[str, Any]]


def server_credentials(tls: TlsMaterial) -> grpc.ServerCredentials:
    """A server's side: its own certificate, and a client certificate of the CA required."""
    return grpc.ssl_server_credentials(
        [(tls.private_key, tls.certificate_chain)],
        root_certificates=tls.ca_certificates,
        require_client_auth=True,
    )


def channel_credentials(tls: TlsMaterial) -> grpc.ChannelCredentials:
    """A client's side: the CA it trusts, and the certificate it shows."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca_certificates,
        private_key=tls.private_key,
        certificate_chain=tls.certificate_chain,
    )


def listen(server: grpc.aio.Server, address: str, tls: TlsMaterial | None) -> int:
    """Listen on ``address``, with TLS if given; the port bound (0: it could not)."""
    if tls is None:
        return int(server.add_insecure_port(address))
    return int(server.add_secure_port(address, server_credentials(tls)))


def open_channel(
    target: str, tls: TlsMaterial | None, options: ChannelOptions = ()
) -> grpc.Channel:
    """A blocking channel to ``target``, with TLS if given."""
    if tls is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, channel_credentials(tls), options=options)


def open_aio_channel(
    target: str,
    tls: TlsMaterial | None,
    options: ChannelOptions = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """An asyncio channel to ``target``, with TLS if given."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(
        target, channel_credentials(tls), options=options, interceptors=interceptors
    )
