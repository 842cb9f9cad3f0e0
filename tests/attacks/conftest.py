"""Attacks on what this session built (gc-blobs, the signing cookie, the NCA test-identity gate):
each test is a finding, kept as a regression test once fixed."""
