"""`make bench` (`python -m bench`): the figures the project stands on, measured in one run,
each beside a baseline measured in the same run — these machines are noisy, so ratios rather
than absolute times. The code and its output live here together: `bench/results.json` holds
the latest run, a list of `{"name", "value", "unit", "baseline", "target"}` under fixed names,
so runs compare over time; the README shows the latest table and how to read it."""
