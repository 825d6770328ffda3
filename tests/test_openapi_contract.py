"""The OpenAPI schema is the contract: schemathesis finds no failure against `kokoro-litert serve`.

`st run --checks all` on the served /openapi.json, once against a server without an API key and once
against one with a key (schemathesis given the key, and also trying requests without it). Every
check runs: each status documented with its body and headers, JSON bodies and SSE events of their
schema, schema-valid requests accepted and schema-violating ones refused with a 4xx, undeclared
methods answered 405 with `Allow`, the bearer scheme declared exactly when a key is needed.
Generation is deterministic and bounded (MAX_EXAMPLES per operation), so a run is repeatable and
short; a failure prints schemathesis' report, with a curl line that reproduces each finding.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.server import ServerProcess

pytestmark = [pytest.mark.real_weights, pytest.mark.slow]

ST = Path(sys.executable).with_name("st")  # schemathesis' command, from the dev extra
API_KEY = "contract-test-key"
MAX_EXAMPLES = 15  # per operation and phase: every check on ~250 requests per server (25: ~400, twice the time)
RUN_TIMEOUT = 1800  # s for one schemathesis run; about 2.5 min on the real weights on a busy 2-core box


@pytest.fixture(scope="module", params=[None, API_KEY], ids=["no-key", "api-key"])
def server(request, bundle_dir, tmp_path_factory):
    """`kokoro-litert serve` on free loopback ports, with or without --api-key: (url, key)."""
    key = request.param
    srv = ServerProcess(bundle_dir, tmp_path_factory.mktemp("serve") / "serve.log",
                        *(["--api-key", key] if key else []))
    try:
        srv.wait_ready()
        yield srv.url, key
    finally:
        code = srv.stop()
        log = srv.log_path.read_text(errors="replace")
        assert code == 0 and "Traceback" not in log, log[-5000:]


def test_security_scheme_is_declared_exactly_when_a_key_is_needed(server):
    import httpx

    url, key = server
    schema = httpx.get(f"{url}/openapi.json").json()
    speech = schema["paths"]["/v1/audio/speech"]["post"]
    if key is None:
        assert "securitySchemes" not in schema.get("components", {}) and "security" not in speech
        assert "401" not in speech["responses"]
    else:
        assert speech["security"] == [{"HTTPBearer": []}] and "401" in speech["responses"]
        assert "security" not in schema["paths"]["/health"]["get"]  # liveness probes need no key


def test_schemathesis_finds_no_failure(server, tmp_path):
    url, key = server
    command = [str(ST), "run", f"{url}/openapi.json", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
               "--generation-deterministic", "--workers", "1", "--request-timeout", "300", "--no-color"]
    if key is not None:
        command += ["--header", f"Authorization: Bearer {key}"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    summary = result.stdout[result.stdout.rfind("SUMMARY"):]
    print(f"\n{' '.join(command)}\n{summary}")
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-3000:]
    assert "No issues found" in summary and "generated" in summary, summary
