"""Attack tests: each one is a finding (kept as a regression test once fixed) or a guard an
attack could not break. Fixtures a module needs are defined or imported in that module."""
