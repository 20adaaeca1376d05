"""Run every benchmark: `python -m benchmarks`."""

from benchmarks import bench_analysis, bench_ble, bench_foundation, cli_startup

bench_foundation.main()
bench_analysis.main()
bench_ble.main()
cli_startup.main([])
