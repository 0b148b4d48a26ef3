"""``bench/compare/wrk.py`` reads wrk's summary right: the wrk rows of ``make bench-compare``
are only as good as this parse (a figure it missed would show as "-", an error as a success)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest

BENCH = str(Path(__file__).resolve().parents[2] / "bench")


def _load_wrk():  # type: ignore[no-untyped-def]
    """``bench/compare/wrk.py`` without leaving bench/ (run.py, report.py, ...) on the path."""
    sys.path.insert(0, BENCH)
    try:
        return importlib.import_module("compare.wrk")
    finally:
        sys.path.remove(BENCH)


wrk = _load_wrk()

OK = """Running 1s test @ http://127.0.0.1:45671/py/hello/wrk
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.85ms    8.70ms  46.46ms   65.77%
    Req/Sec     2.19k   443.55     3.15k    80.00%
  Latency Distribution
     50%  913.00us
     75%   20.28ms
     90%   26.91ms
     99%    1.02s
  2205 requests in 1.01s, 376.83KB read
Requests/sec:   2175.96
Transfer/sec:    371.87KB
"""

ERRORS = """  1325 requests in 1.02s, 225.15KB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 20
Requests/sec:   1296.33
"""


def test_requests_duration_and_percentiles_with_their_units() -> None:
    run = wrk.parse(OK, 5.0)
    assert (run.asked, run.ok, run.errors) == (2205, 2205, 0)
    assert run.elapsed_s == pytest.approx(1.01)
    assert run.rate == pytest.approx(2205 / 1.01)
    assert run.p50_ms == pytest.approx(0.913)
    assert run.p99_ms == pytest.approx(1020.0)


def test_non_2xx_and_socket_errors_are_not_successes() -> None:
    run = wrk.parse(ERRORS, 5.0)
    assert (run.asked, run.errors, run.ok) == (1325, 25, 1300)
    assert math.isnan(run.p50_ms)  # no --latency table in this output


def test_output_without_a_summary_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="requests in"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n", 5.0)
