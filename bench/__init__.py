"""GK-Chat's benchmark suite: ``python -m bench --help``; README.md, "Benchmarks", says more."""
