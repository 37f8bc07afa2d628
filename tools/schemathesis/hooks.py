"""Schemathesis hooks for the fuzz phase of `make test` (tools/schemathesis/run.sh).

Every request carries a real buyer token and its own client address, as a crowd of buyers would: one
token and one address for thousands of requests would only exercise the gateway's per-user and per-IP
rate limits and its bot score (403/429 are in the spec, but they would hide every other route's answers).
Tokens come from the gateway's demo token endpoint (FUZZ_TOKENS: a file, one token per line); addresses are
sent as X-Forwarded-For (the demo gateway trusts it, TRUST_PROXY=true). Requests the fuzzer sends without
an Authorization header (to check that a route refuses them) keep it absent.
"""

import itertools
import os
import threading

import schemathesis

with open(os.environ["FUZZ_TOKENS"], encoding="utf-8") as f:
    _TOKENS = itertools.cycle([line.strip() for line in f if line.strip()])
_ADDRESSES = itertools.cycle(f"10.{200 + i // 65536}.{(i // 256) % 256}.{i % 256}" for i in range(1, 250_000))
# The CLI's workers call hooks from several threads; a generator must not be advanced by two at once.
_LOCK = threading.Lock()


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers if case.headers is not None else {}
    with _LOCK:
        token, address = next(_TOKENS), next(_ADDRESSES)
    if "Authorization" in headers or "authorization" in headers:
        headers.pop("authorization", None)
        headers["Authorization"] = f"Bearer {token}"
    headers["X-Forwarded-For"] = address
    case.headers = headers
