"""Benchmark runs for countllm (installed as `countllm.eval`): `countllm eval`, the speed bench,
and the scripts that turn datasets into the RepCountA layout.

It imports the core library only (the CSV format and the metrics live in
`countllm.benchmarks`); only the CLI's `eval` and `bench` subcommands reach it.
"""
