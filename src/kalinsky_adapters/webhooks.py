"""Webhooks: a finished assembly's JSON POSTed to its `callback_url`, signed, retried with exponential backoff,
each attempt's outcome stored with the assembly. Deliveries run in background tasks with timeouts, so a slow or
dead receiver never holds up a request or a render.

Receivers check `X-Kalinsky-Signature: sha256=<hex>`, the HMAC-SHA256 of `<X-Kalinsky-Timestamp>.<body>` keyed
with the shared secret, and refuse timestamps too far from their clock (replays); without a secret, deliveries
are unsigned.

A webhook cannot be turned against the network the service runs in: the callback's host name is resolved at each
attempt, and unless private receivers are allowed, a delivery to any loopback, link-local (cloud metadata),
private, multicast or other non-global address is refused, for good (the assembly's callback fails, saying why).
The connection then goes to the very address checked (the URL's name kept in the Host header and for TLS: SNI
and certificate checks), so a name that resolves elsewhere a moment later (DNS rebinding) changes nothing.

Several processes may share the records (API processes, `kalinsky worker`s), and each one's sender may learn of a
finished assembly: its own render's end, a cancel, a look through the records for undelivered notices. Each notice
is delivered by one process at a time: the one holding its claim in the records (`AssemblyRepo.claim_callback`), a
lease it renews while it tries and retries. A sender that dies has its notices taken over by another once their
leases run out (every sender looks for such notices every few seconds); one that stops hands them back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import httpx

from kalinsky_core.model import Assembly, Callback, CallbackStatus, IpAddress, refused_address
from kalinsky_core.ports import AssemblyRepo

log = logging.getLogger(__name__)

#: Resolves a host name and port to the addresses a connection may go to, in the order to try them.
Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]


async def resolve(host: str, port: int) -> list[IpAddress]:
    """The system resolver's addresses for `host` (TCP), in its order, each once."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    return list(dict.fromkeys(addresses))


class Refused(Exception):
    """A delivery that must not be made (the message says why): never retried."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Kalinsky-Signature` value of a delivery."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delays(first: float, window: float) -> list[float]:
    """Seconds to wait before each retry: doubling from `first`, the last one cut so they add up to `window`."""
    delays: list[float] = []
    delay = first
    while first > 0 and sum(delays) + 1e-9 < window:
        delays.append(min(delay, window - sum(delays)))
        delay *= 2
    return delays


def deliverer_name() -> str:
    """A sender's name in the records: `host:pid:token` (the token tells apart two senders of one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@attrs.define
class WebhookSender:
    """Delivers the notices of finished assemblies. `body_of` is the JSON the API shows of an assembly. It holds
    each notice it delivers for `lease` seconds at a time, renewed every quarter of that, and, once `start`ed,
    looks for notices nobody delivers every `look_every` seconds (default: a quarter of the lease, at most 5)."""

    repo: AssemblyRepo
    body_of: Callable[[Assembly], bytes]
    secret: str | None = None
    first_retry: float = 5.0
    retry_window: float = 600.0
    timeout: float = 10.0
    allow_private: bool = False  # deliveries to loopback, private and other non-global addresses too
    resolver: Resolver = resolve
    verify: ssl.SSLContext | bool = True  # TLS certificates: checked against the system's CAs by default
    deliverer: str = attrs.field(factory=deliverer_name)
    lease: float = 20.0
    look_every: float | None = None
    _tasks: set[asyncio.Task[None]] = attrs.field(factory=set, init=False)
    _delivering: set[str] = attrs.field(factory=set, init=False)  # ids of the notices this sender is on
    _looking: asyncio.Task[None] | None = attrs.field(default=None, init=False)
    _client: httpx.AsyncClient | None = attrs.field(default=None, init=False)

    def finished(self, assembly: Assembly) -> None:
        """Start delivering, in the background, if the assembly asked to be told and was not yet (and no other
        sender delivers it)."""
        callback = assembly.callback
        if callback is None or callback.status in {CallbackStatus.DELIVERED, CallbackStatus.FAILED}:
            return
        self._take(assembly.id)

    def _take(self, assembly_id: str) -> None:
        if assembly_id in self._delivering:
            return
        self._delivering.add(assembly_id)
        task = asyncio.create_task(self._claim_and_deliver(assembly_id), name=f"webhook {assembly_id}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._delivering.discard(assembly_id)

        task.add_done_callback(done)

    async def look(self) -> None:
        """Take every notice left undelivered that nobody delivers (a previous run's, or a dead sender's once its
        lease ran out, or one that a process without a sender finished)."""
        for assembly_id in await self.repo.deliverable_callbacks():
            self._take(assembly_id)

    async def start(self) -> None:
        """Look for undelivered notices now, then every `look_every` seconds until `aclose`."""
        await self.look()
        self._looking = asyncio.create_task(self._keep_looking(), name="webhook look")

    async def _keep_looking(self) -> None:
        every = self.look_every if self.look_every is not None else min(5.0, self.lease / 4)
        while True:
            await asyncio.sleep(every)
            try:
                await self.look()
            except Exception as error:  # the records cannot be read now: the next look tries again
                log.warning("undelivered webhooks not looked for: %s", error)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the deliveries under way and hand them back (another sender, or a later start, takes them over),
        and close the connections."""
        if self._looking is not None:
            self._looking.cancel()
            await asyncio.gather(self._looking, return_exceptions=True)
            self._looking = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _claim_and_deliver(self, assembly_id: str) -> None:
        try:
            claimed = await self.repo.claim_callback(assembly_id, self.deliverer, self.lease)
        except asyncio.CancelledError:  # stopped as it claimed: the claim, if it was taken, goes back
            with contextlib.suppress(Exception):
                await self.repo.release_callback(assembly_id, self.deliverer)
            raise
        if claimed is None or claimed.callback is None:
            return  # delivered, or another sender delivers it
        delivery = asyncio.ensure_future(self._deliver(claimed, claimed.callback))
        holding = asyncio.ensure_future(self._hold(assembly_id))
        try:
            await asyncio.wait({delivery, holding}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # this sender stops: the notice goes back to the records
            await _stop(delivery, holding)
            with contextlib.suppress(Exception):
                await self.repo.release_callback(assembly_id, self.deliverer)
            raise
        if delivery.done():
            await _stop(holding)
            if not delivery.cancelled() and delivery.exception() is not None:
                # the records could not be written: the claim runs out, and the next look takes the notice again
                log.warning("telling %s about %s stopped: %s", claimed.callback.url, assembly_id,
                            delivery.exception())
            return
        await _stop(delivery)
        log.warning("stopped telling %s about %s: another process delivers it now",
                    claimed.callback.url, assembly_id)

    async def _hold(self, assembly_id: str) -> None:
        """Renew the claim every quarter of the lease; return once it is lost. A renewal that fails (the records
        cannot be written now) is tried again at the next beat."""
        while True:
            await asyncio.sleep(self.lease / 4)
            try:
                if not await self.repo.renew_callback(assembly_id, self.deliverer, self.lease):
                    return
            except Exception as error:
                log.warning("could not renew the delivery of %s: %s", assembly_id, error)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # No connection is kept: one made (and its TLS checked) for a name must not carry another name's
            # notice to the same address.
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, verify=self.verify,
                                             limits=httpx.Limits(max_keepalive_connections=0))
        return self._client

    async def _deliver(self, assembly: Assembly, callback: Callback) -> None:
        body = self.body_of(assembly)
        delays = retry_delays(self.first_retry, self.retry_window)
        attempts = callback.attempts
        for retry in range(len(delays) + 1):
            attempts += 1
            try:
                error = await self._attempt(callback.url, body)
            except Refused as refused:
                await self._save(
                    assembly.id, attrs.evolve(callback, status=CallbackStatus.FAILED, attempts=attempts,
                                              last_error=str(refused)),
                )
                log.warning("not telling %s about %s: %s", callback.url, assembly.id, refused)
                return
            if error is None:
                await self._save(
                    assembly.id, attrs.evolve(callback, status=CallbackStatus.DELIVERED, attempts=attempts,
                                              last_error=None),
                )
                log.info("told %s that %s is %s", callback.url, assembly.id, assembly.status.value)
                return
            last = retry == len(delays)
            status = CallbackStatus.FAILED if last else CallbackStatus.RETRYING
            if not await self._save(
                assembly.id, attrs.evolve(callback, status=status, attempts=attempts, last_error=error)
            ):
                log.warning("stopped telling %s about %s: another process delivers it now", callback.url,
                            assembly.id)
                return
            if last:
                log.warning("gave up telling %s about %s after %d attempts: %s",
                            callback.url, assembly.id, attempts, error)
                return
            await asyncio.sleep(delays[retry])

    async def _save(self, assembly_id: str, callback: Callback) -> bool:
        """Store how the delivery goes, while this sender holds it; whether it still did."""
        return await self.repo.save_callback(assembly_id, callback, deliverer=self.deliverer)

    async def _attempt(self, url: str, body: bytes) -> str | None:
        """One POST; None when the receiver took it (2xx), else what went wrong. Refused when the URL's host is,
        or resolves to, an address deliveries may not go to."""
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "kalinsky-webhook",
                   "X-Kalinsky-Timestamp": str(timestamp)}
        if self.secret:
            headers["X-Kalinsky-Signature"] = signature(self.secret, timestamp, body)
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as error:
            return f"not a URL: {error}"
        try:
            addresses = await self._addresses(target)
        except TimeoutError:
            return f"cannot resolve {target.host} within {self.timeout:g} s"
        except (OSError, UnicodeError, ValueError) as error:
            return f"cannot resolve {target.host}: {error}"
        host = target.raw_host.decode("ascii")
        extensions = {} if _is_address(host) or target.scheme != "https" else {"sni_hostname": host}
        headers["Host"] = target.netloc.decode("ascii")
        error_text = f"{host} has no address"
        for address in addresses:  # each checked: the connection goes to the address itself
            try:
                response = await self.client.post(target.copy_with(host=str(address)), content=body,
                                                  headers=headers, extensions=extensions)
            except httpx.TimeoutException:
                return f"no answer within {self.timeout:g} s"
            except httpx.ConnectError as error:
                error_text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                continue  # the next address, as a connection to the name would
            except httpx.HTTPError as error:
                return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if 200 <= response.status_code < 300:
                return None
            return f"HTTP {response.status_code}"
        return error_text

    async def _addresses(self, url: httpx.URL) -> list[IpAddress]:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        if _is_address(host):
            addresses: list[IpAddress] = [ipaddress.ip_address(host)]
        else:
            addresses = await asyncio.wait_for(self.resolver(host, port), self.timeout)
        if not self.allow_private:
            for address in addresses:  # one bad answer refuses the name: it may be the one a retry gets
                refused = refused_address(address)
                if refused is not None:
                    raise Refused(refused)
        return addresses


async def _stop(*tasks: asyncio.Future[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
