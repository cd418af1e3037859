"""Logins per second per core: argon2id verification with the service's parameters, and,
for comparison, argon2-cffi's defaults (what the service used before) and OWASP's other
minimum. One thread, then one thread per core (argon2-cffi releases the GIL).

    .venv/bin/python bench/bench_passwords.py [--logins 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from argon2 import PasswordHasher  # noqa: E402

from examsvc.accounts import passwords  # noqa: E402

CHOICES = [
    ("service: m=19 MiB, t=2, p=1", passwords._hasher),
    ("OWASP alternative: m=46 MiB, t=1, p=1", PasswordHasher(1, 46 * 1024, 1)),
    ("before: m=64 MiB, t=3, p=4 (argon2-cffi default)", PasswordHasher()),
]


def rate(hasher: PasswordHasher, logins: int, threads: int) -> float:
    stored = hasher.hash("Right-Pass1")
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        assert all(pool.map(lambda _: hasher.verify(stored, "Right-Pass1"), range(logins)))
        return logins / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=200)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{args.logins} verifications each; {cores} cores")
    print(f"| parameters | ms per login | logins/s, 1 thread | logins/s, {cores} threads |")
    print("|---|---|---|---|")
    for name, hasher in CHOICES:
        one = rate(hasher, args.logins, 1)
        all_cores = rate(hasher, args.logins, cores)
        print(f"| {name} | {1000 / one:.0f} | {one:.0f} | {all_cores:.0f} |")


if __name__ == "__main__":
    main()
