"""`make bench`: throughput and build times on ../shared/corpus (benchmarks/bench.py); not installed, not tests."""
