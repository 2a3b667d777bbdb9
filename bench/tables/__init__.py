"""One module per paper, each defining ``TABLE`` (a :class:`bench.spec.Table`)."""
