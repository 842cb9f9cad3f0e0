"""The CLI: `pki init`, `sign` with secrets from a file or env, `verify` exit codes."""

from __future__ import annotations

import argparse
import json

import pytest
from pdfs import tiny_pdf

from signing.cli import register


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="qujat")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_pki_init_makes_the_files(tmp_path, capsys):
    assert run(["pki", "init", str(tmp_path / "pki")]) == 0

    root = tmp_path / "pki"
    for name in ["root.pem", "issuing-ca.pem", "issuing-ca.crl", "root.crl", "pki.json", "signers/revoked-employee.p12"]:
        assert (root / name).stat().st_size > 0, name
    assert oct((root / "signers" / "password.txt").stat().st_mode & 0o777) == "0o600"


def test_sign_then_verify(dev_pki, pki_server, tmp_path, capsys, monkeypatch):
    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(tiny_pdf())
    monkeypatch.setenv("QUJAT_P12_PASSWORD", dev_pki.password_file.read_text().strip())

    rc = run([
        "sign", str(src), "--out", str(out), "--pkcs12", str(dev_pki.p12("individual")),
        "--password-env", "QUJAT_P12_PASSWORD", "--level", "B-T", "--tsa", dev_pki.tsa_url,
        "--reason", "test", "--certify",
    ])
    assert rc == 0
    capsys.readouterr()

    assert run(["verify", str(out), "--trust", str(dev_pki.root_cert), "--allow-private-network", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["signatures"][0]["level"] == "B-T"
    assert {f["outcome"] for f in report["fetches"]} == {"FETCHED"}
    # Online is the CLI default, but the dev PKI's loopback services are private: refused.
    assert run(["verify", str(out), "--trust", str(dev_pki.root_cert)]) == 1
    printed = capsys.readouterr().out
    assert "TRY_LATER" in printed and "refused: address not allowed" in printed
    assert run(["verify", str(out), "--trust", str(dev_pki.root_cert), "--crl", str(dev_pki.crl_file), "--offline"]) == 0
    # online (the default), the dev PKI's two CRLs on disk are all the chain needs: nothing to fetch
    capsys.readouterr()
    assert run(["verify", str(out), "--trust", str(dev_pki.root_cert), "--crl", str(dev_pki.crl_file),
                "--crl", str(dev_pki.root_crl_file)]) == 0, capsys.readouterr().out
    assert run(["verify", str(out)]) == 1  # no trust anchor: not passed


def test_sign_refuses_a_missing_password_source(dev_pki, tmp_path, capsys):
    src = tmp_path / "in.pdf"
    src.write_bytes(tiny_pdf())

    rc = run(["sign", str(src), "--out", str(tmp_path / "o.pdf"), "--pkcs12", str(dev_pki.p12("individual"))])

    assert rc == 2
    assert "--password-file" in capsys.readouterr().err


def test_no_option_takes_a_secret_on_the_command_line():
    with pytest.raises(SystemExit):
        run(["sign", "a.pdf", "--out", "b.pdf", "--pkcs12", "k.p12", "--password", "x"])


def test_verify_online_and_offline_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run(["verify", str(tmp_path / "x.pdf"), "--online", "--offline"])
    with pytest.raises(SystemExit):
        run(["verify", str(tmp_path / "x.pdf"), "--fetch-budget", "0"])


def test_verify_not_a_pdf_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "x.pdf"
    bad.write_text("hello")

    assert run(["verify", str(bad)]) == 2
    assert "not a PDF" in capsys.readouterr().err


def test_pki_serve_answers_crl_requests(tmp_path):
    import subprocess
    import sys
    import urllib.request

    from tests.signing.conftest import REPO

    from signing.pki import init_dev_pki

    pki = init_dev_pki(tmp_path / "pki")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signing", "pki", "serve", str(pki.root)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert "serving on" in proc.stdout.readline()
        with urllib.request.urlopen(pki.crl_url, timeout=10) as resp:
            crl = resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    from asn1crypto import crl as asn1_crl

    served = asn1_crl.CertificateList.load(crl)
    made_at_init = asn1_crl.CertificateList.load(pki.crl_file.read_bytes())
    assert served.issuer == made_at_init.issuer
    revoked = [e["user_certificate"].native for e in served["tbs_cert_list"]["revoked_certificates"]]
    assert revoked == [e["user_certificate"].native for e in made_at_init["tbs_cert_list"]["revoked_certificates"]]
    assert len(revoked) == 1
