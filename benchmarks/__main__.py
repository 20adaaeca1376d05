"""Run every benchmark: `python -m benchmarks`."""

from benchmarks import bench_foundation

bench_foundation.main()
