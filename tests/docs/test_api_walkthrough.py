"""docs/api.md promises "a walk-through from creating a brand to reading an experiment's results,
every call runnable as written with curl". This test runs it.

Every ```sh block from "## Walk-through" to the end of the file (Calendar, iCalendar feeds and
import, Outbound webhooks, Idempotency-Key included) is concatenated, in order, into ONE bash
script run with ``set -euo pipefail`` from the repository root, in a throwaway environment: a temp
directory holding the SQLite database (``DATABASE_URL``), ``KAIROS_VAR_DIR`` and
``KAIROS_SANDBOX_DIR``, ``config.settings`` with ``KAIROS_ENV=development``, no ``KAIROS_Q_SYNC``
(nothing is delivered: there is no worker, exactly as for a reader who only starts runserver).

A block whose first line is ``# (illustration: ...)`` is skipped; the doc says why on that line.

Substitutions, and only these:

* ``127.0.0.1:8000`` becomes ``127.0.0.1:<a free port>`` everywhere, so that the test never
  talks to a server someone else is running.
* The ``manage.py runserver &`` line of step 1 becomes the same command with that address, its
  output redirected to ``server.log`` in the temp directory (a background child holding the
  script's stdout would keep it open after the script ends, and the log is printed on failure),
  followed by a loop that waits until the server answers.

A prelude defines a ``curl`` shell function around the real one. It writes ``CALL <arguments>``
and then, through ``--write-out '%{stderr}...'``, ``HTTP <code> <method> <url>`` to stderr, so
stdout (piped into jq by the doc) is unchanged. When the doc passes its own ``-w``, the prelude's
format is appended to it, so those calls are checked too. Every call must answer 1xx-3xx except
the ones listed in :data:`EXPECTED_STATUS` (a stale ETag's 412, a revoked feed's 404, and the
304 the doc promises), which must each happen with exactly the status the doc gives.

The server is started by the script, in the script's process group (the test starts bash in a new
session), and the whole group is killed at the end whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
SECTION = "## Walk-through"
ILLUSTRATION = "# (illustration"
DOC_ADDRESS = "127.0.0.1:8000"
#: A guard against a hung server, not a measure of speed: the walk takes about 20 s on this
#: project's machine and over 50 s when it runs four times slower, which is not a failure.
SCRIPT_TIMEOUT = 300

#: What the doc says a call answers, where that is not simply "success": (substring of the curl
#: command line as the prelude logs it, i.e. its arguments joined by spaces, expected status).
#: Every entry must match at least one call; every other call must answer 1xx-3xx.
EXPECTED_STATUS: list[tuple[str, int]] = [
    # Step 6: the new experiment has no data yet, so deciding and promoting are refused (400)
    ("/decide/ -H Authorization", 400),
    ("/promote/ -H Authorization", 400),
    # Step 5: "Repeating the PATCH with the same, now stale, ETag answers 412"
    (
        "-w %{http_code}\\n -X PATCH http://{addr}/api/v1/workspaces/north-agency/content-items/",
        412,
    ),
    # iCalendar feeds: "If-None-Match ... # 304"
    ("-w %{http_code}\\n -H If-None-Match: ", 304),
    # iCalendar feeds: revoked, "# 404 from now on"
    ("-o /dev/null -w %{http_code}\\n http://{addr}/feeds/ical/", 404),
]

PRELUDE = r"""
set -euo pipefail
__walk_fmt='%{stderr}HTTP %{http_code} %{method} %{url_effective}\n'
curl() {
  local line="$*" args=() own=0
  printf 'CALL %s\n' "${line//$'\n'/ }" >&2
  while (($#)); do
    if [[ $1 == -w || $1 == --write-out ]]; then
      args+=("$1" "$2$__walk_fmt"); own=1; shift 2
    else
      args+=("$1"); shift
    fi
  done
  if ((own)); then
    command curl "${args[@]}"
  else
    command curl --write-out "$__walk_fmt" "${args[@]}"
  fi
}
"""

EPILOGUE = r"""
jq -n --arg token "$TOKEN" --arg api "$API" --arg brand "$BRAND" --arg item "$ITEM" \
  --arg experiment "$EXPERIMENT" > "$WALK_DIR/vars.json" \
  '{token: $token, api: $api, brand: $brand, item: $item, experiment: $experiment}'
"""

DB_CHECK = """
import json
from calendar_app.models import Brand, ContentItem, Experiment, WebhookSubscription
brand = Brand.objects.get(workspace__slug="north-agency", slug="crunchy")
item = ContentItem.objects.get(brand=brand, title__startswith="Game night")
experiment = Experiment.objects.get(brand=brand, name="Button wording")
print(json.dumps({
    "brand_tz": str(brand.time_zone),
    "item_status": item.status,
    "item_title": item.title,
    "scheduled_at": item.scheduled_at.isoformat() if item.scheduled_at else None,
    "channels": item.channels.count(),
    "variants": sorted(experiment.variants.values_list("key", flat=True)),
    "half_time_items": ContentItem.objects.filter(brand=brand, title="Half-time").count(),
    "webhooks": WebhookSubscription.objects.count(),
}))
"""


def sh_blocks(markdown: str) -> list[str]:
    """The ```sh blocks from the walk-through to the end of the file, minus illustrations."""
    start = markdown.index(SECTION)
    blocks = re.findall(
        r"^([ \t]*)```sh[ \t]*\n(.*?)^\1```[ \t]*$", markdown[start:], re.MULTILINE | re.DOTALL
    )
    code = [textwrap.dedent(body) for _indent, body in blocks]
    return [block for block in code if not block.lstrip().startswith(ILLUSTRATION)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_script(blocks: list[str], port: int) -> str:
    addr = f"127.0.0.1:{port}"
    runserver = re.compile(r"^(.*manage\.py runserver)\s*&.*$", re.MULTILINE)
    body = "\n".join(blocks)
    assert len(runserver.findall(body)) == 1, "the walk-through starts runserver once"
    body = runserver.sub(
        lambda m: (
            f'{m.group(1)} {addr} > "$WALK_DIR/server.log" 2>&1 &\n'
            f"__tries=0; until command curl -s -o /dev/null http://{addr}/api/v1/networks/; do "
            '((++__tries < 300)) || { echo "runserver did not answer" >&2; exit 1; }; '
            "sleep 0.1; done"
        ),
        body,
    )
    body = body.replace(DOC_ADDRESS, addr)
    return PRELUDE + body + EPILOGUE


def calls(stderr: str) -> list[tuple[str, int, str]]:
    """(command line, status, "METHOD url") per curl call, from the prelude's stderr lines."""
    out: list[tuple[str, int, str]] = []
    command = None
    for line in stderr.splitlines():
        if line.startswith("CALL "):
            command = line[5:]
        elif line.startswith("HTTP ") and command is not None:
            _, code, rest = line.split(" ", 2)
            out.append((command, int(code), rest))
            command = None
    return out


def walk_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAIROS_", "DJANGO_")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'walk.sqlite3'}",
        KAIROS_VAR_DIR=str(tmp / "var"),
        KAIROS_SANDBOX_DIR=str(tmp / "sandbox"),
        DJANGO_SETTINGS_MODULE="config.settings",
        KAIROS_ENV="development",
        WALK_DIR=str(tmp),
    )
    return env


def kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def test_every_block_of_the_walkthrough_runs_with_curl(tmp_path: Path) -> None:
    blocks = sh_blocks(DOC.read_text())
    assert len(blocks) >= 10, blocks
    port = free_port()
    addr = f"127.0.0.1:{port}"
    script = build_script(blocks, port)
    (tmp_path / "walk.sh").write_text(script)
    env = walk_env(tmp_path)

    proc = subprocess.Popen(
        ["bash", str(tmp_path / "walk.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        try:
            stdout, stderr = proc.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            stdout, stderr = proc.communicate()
        log = tmp_path / "server.log"
        report = (
            f"--- script {tmp_path / 'walk.sh'} exited {proc.returncode}\n"
            f"--- stdout\n{stdout}\n--- stderr\n{stderr}\n"
            f"--- server log\n{log.read_text() if log.exists() else '(none)'}"
        )
        print(report)
        assert proc.returncode == 0, report

        seen = calls(stderr)
        assert len(seen) >= 40, report
        expected = [(sub.replace("{addr}", addr), status) for sub, status in EXPECTED_STATUS]
        unexpected, unmet = [], set(range(len(expected)))
        for command, status, target in seen:
            match = [i for i, (sub, _) in enumerate(expected) if sub in command]
            if match:
                unmet.discard(match[0])
                if status != expected[match[0]][1]:
                    unexpected.append((status, target, command))
            elif not 100 <= status < 400:  # 000: no answer at all
                unexpected.append((status, target, command))
        assert not unexpected, "\n".join(f"{s} {t}\n    curl {c}" for s, t, c in unexpected)
        assert not unmet, [expected[i] for i in unmet]

        # End results, read back from the database and the still-running server.
        variables = json.loads((tmp_path / "vars.json").read_text())
        db = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "shell", "-c", DB_CHECK],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        facts = json.loads(db.stdout.strip().splitlines()[-1])
        assert facts["brand_tz"] == "America/New_York"
        # "the answer shows "scheduled_at": "2030-02-10T23:00:00Z"" (18:00 in New York, EST)
        assert facts["scheduled_at"] == "2030-02-10T23:00:00+00:00"
        assert facts["item_status"] == "scheduled"
        assert facts["item_title"] == "Game night (final)"
        assert facts["channels"] == 1
        assert facts["variants"] == ["control", "grab"]
        # Idempotency-Key: "the same answer; the item was created once"
        assert facts["half_time_items"] == 1
        assert stdout.count("Idempotent-Replayed: true") == 1, stdout
        assert facts["webhooks"] == 0  # unsubscribed at the end of the delivery log
        assert '"scheduled_at": "2030-02-10T23:00:00Z"' in stdout
        assert '"scheduled_at_local": "2030-02-10T18:00:00-05:00"' in stdout

        results = httpx.get(
            f"{variables['api']}/experiments/{variables['experiment']}/results/",
            headers={"Authorization": f"Token {variables['token']}"},
            timeout=10,
        )
        assert results.status_code == 200, results.text
        decision = results.json()["decision"]
        assert decision["action"] in {"keep_running", "ship", "no_difference", "srm", "not_ready"}
        assert decision["sentence"]
    finally:
        kill_group(proc)
