"""Settings for ``bench/bench_api.py`` only: the product's settings, with a URLconf that adds the
bare endpoint the expenditure list is measured against. Never used by the product."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
