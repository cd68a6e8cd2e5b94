"""Client threads that fill in the report form as fast as they can."""

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(rb"<bdi>([0-9 ]+)</bdi>")
DESCRIPTION = (
    "Video glorifying an attack, shared with a call to join; reposted many times. " * 14
)[:1000]


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful POSTs only
    failures: int = 0
    first_error: str = ""

    def fail(self, error: str) -> None:
        self.failures += 1
        self.first_error = self.first_error or error


def post(opener: urllib.request.OpenerDirector, url: str, form: dict[str, str]) -> str:
    """'' if the report was accepted with a receipt code, else what went wrong."""
    try:
        with opener.open(url, data=urllib.parse.urlencode(form).encode(), timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except OSError as error:
        return f"{type(error).__name__}: {error}"
    return "" if status == 200 and RECEIPT.search(body) else f"HTTP {status} without a receipt"


def run_client(url: str, index: int, start: threading.Barrier, deadline: list[float],
               limit: int, out: ClientResult) -> None:  # fmt: skip
    """One reporter with its own cookie jar and no proxy: GET the form, then POST until
    the deadline (set once every client is ready) or ``limit`` POSTs."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    )
    token = ""
    try:
        with opener.open(url, timeout=30) as response:
            match = CSRF.search(response.read())
        token = match.group(1).decode() if match else ""
    except OSError as error:
        out.fail(f"GET /report: {error}")
    start.wait()
    serial = 0
    while token and time.monotonic() < deadline[0] and (limit <= 0 or serial < limit):
        serial += 1
        form = {"csrf_token": token, "category": "terrorism", "identity": "anonymous",
                "urls": f"https://video.example/watch/{index}-{serial}", "good_faith": "y",
                "description": f"[{index}-{serial}] {DESCRIPTION}"}  # fmt: skip
        began = time.perf_counter()
        problem = post(opener, url, form)
        if problem:
            out.fail(problem)
        else:
            out.latencies.append(time.perf_counter() - began)
    if not token:
        out.fail("no csrf_token in GET /report")


def run_level(
    base_url: str, concurrency: int, seconds: float, limit: int
) -> tuple[list[ClientResult], float]:
    """One result per client, and the seconds from the common start to the last answer."""
    results = [ClientResult() for _ in range(concurrency)]
    deadline = [0.0]
    start = threading.Barrier(
        concurrency + 1, action=lambda: deadline.__setitem__(0, time.monotonic() + seconds)
    )
    args = [
        (base_url + "/report", i, start, deadline, limit, results[i]) for i in range(concurrency)
    ]
    threads = [threading.Thread(target=run_client, args=a, daemon=True) for a in args]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - began
