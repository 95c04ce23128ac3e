"""The benchmark: upstreams, peer setup, load driver and report (run by ``make bench``)."""
