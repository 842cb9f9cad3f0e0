"""`make bench`: every benchmark, each with its anchor measured in the same run."""
from __future__ import annotations

import sys
import time


def main() -> int:
    started = time.perf_counter()
    from bench import bench_docgen

    lines, _ = bench_docgen.run()
    print("\n".join(lines), flush=True)
    try:
        from bench import bench_signing
    except ImportError as e:  # signing layer absent
        print(f"\n(signing benchmark not available: {e})")
    else:
        print()
        print("\n".join(bench_signing.run()), flush=True)
    from bench import bench_http

    print("\n" + "\n".join(bench_http.run()), flush=True)
    from bench import bench_batch

    print("\n" + "\n".join(bench_batch.run()), flush=True)
    print(f"\nbench finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
