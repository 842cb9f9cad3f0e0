"""What qujat assumes about its dependencies: the three pyHanko internals of
``signing._compat`` (checked at import: the PDF/A metadata kept and the signing-certificate
attribute cached when signing, hex strings read in one pass when reading) and certomancer being
an optional, development-only dependency (the ``devpki`` extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pdfs import tiny_pdf

import signing._compat as compat
from signing.sign import sign_pdf

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_installed_pyhanko_is_the_tested_minor_and_has_every_hook():
    assert compat.PYHANKO_VERSION.startswith(compat.TESTED_PYHANKO + ".")
    assert compat.SIGNING_CERTIFICATE_CACHED
    assert compat.HEX_STRINGS_FAST


class _Writer:
    def _prep_dom_for_writing(self):
        self._update_meta()

    def _update_meta(self):
        pass


def test_hook_check_names_a_missing_changed_or_uncalled_hook():
    class Missing:
        def _prep_dom_for_writing(self):
            pass

    class Changed(_Writer):
        def _update_meta(self, force):
            pass

    class Uncalled(_Writer):
        def _prep_dom_for_writing(self):
            pass

    assert compat.hook_problem(_Writer, "_update_meta", ("self",), called_from="_prep_dom_for_writing") is None
    assert "missing" in compat.hook_problem(Missing, "_update_meta", ("self",))
    assert "('self', 'force')" in compat.hook_problem(Changed, "_update_meta", ("self",))
    assert "no longer called" in compat.hook_problem(Uncalled, "_update_meta", ("self",),
                                                      called_from="_prep_dom_for_writing")


def test_import_fails_loudly_without_the_metadata_hook():
    proc = _python(
        "from pyhanko.pdf_utils.writer import BasePdfFileWriter\n"
        "del BasePdfFileWriter._update_meta\n"
        "import signing._compat\n"
    )

    assert proc.returncode != 0
    assert "PyHankoCompatError" in proc.stderr and "_update_meta is missing" in proc.stderr
    assert f"tested with pyHanko {compat.TESTED_PYHANKO}.x" in proc.stderr


def test_with_a_changed_attribute_hook_signing_falls_back_to_pyhankos_path(dev_pki):
    proc = _python(
        "import io, sys, warnings\n"
        "sys.path.insert(0, 'tests/signing')\n"
        "from pyhanko.sign.signers.pdf_cms import Signer\n"
        "original = Signer._signed_attr_providers\n"
        "def changed(self, data_digest, digest_algorithm, attr_settings, timestamper=None,\n"
        "            use_cades=False, is_pdf_sig=True, new_option=None):\n"
        "    return original(self, data_digest, digest_algorithm, attr_settings, timestamper,\n"
        "                    use_cades, is_pdf_sig)\n"
        "Signer._signed_attr_providers = changed\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    import signing._compat as c\n"
        "from pdfs import tiny_pdf\n"
        "from pyhanko.pdf_utils.reader import PdfFileReader\n"
        "from signing.keys import load_pkcs12, read_secret\n"
        "from signing.sign import sign_pdf\n"
        "signer = load_pkcs12(sys.argv[1], read_secret(file=sys.argv[2]))\n"
        "sig = PdfFileReader(io.BytesIO(sign_pdf(tiny_pdf(), signer))).embedded_regular_signatures[0]\n"
        "attrs = [a['type'].native for a in sig.signer_info['signed_attrs']]\n"
        "print(c.SIGNING_CERTIFICATE_CACHED, signer._scv2, 'signing_certificate_v2' in attrs)\n"
        "print(*[w.message for w in seen])\n",
        str(dev_pki.p12("individual")), str(dev_pki.password_file),
    )

    assert proc.returncode == 0, proc.stderr
    cached, warning = proc.stdout.splitlines()
    assert cached == "False None True"  # no cache used, attribute still there (pyHanko's own)
    assert "_signed_attr_providers takes" in warning and "rebuilt for every signature" in warning


def test_signing_certificate_attribute_is_built_once_per_signer(dev_signer, monkeypatch):
    built = []
    real = compat.as_signing_certificate_v2

    def counting(cert):
        built.append(cert)
        return real(cert)

    monkeypatch.setattr(compat, "as_signing_certificate_v2", counting)
    signer = dev_signer("authority-head")

    for _ in range(3):
        sign_pdf(tiny_pdf(), signer)

    assert built == [signer.signing_cert]


def test_runtime_imports_do_not_load_certomancer():
    proc = _python(
        "import sys\n"
        "import signing, signing.keys, signing.sign, signing.verify, signing.cli, qujat.cli\n"
        "qujat.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('certomancer', 'werkzeug')))\n"
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("action", ["init", "serve"])
def test_pki_command_without_certomancer_says_what_to_install(action, tmp_path):
    target = tmp_path / "pki"
    if action == "serve":
        from signing.pki import init_dev_pki

        init_dev_pki(target)
    proc = _python(
        "import sys\n"
        "sys.modules['certomancer'] = None  # as if the devpki extra were not installed\n"
        "from qujat.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n",
        "pki", action, str(target),
    )

    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "devpki" in proc.stderr and "certomancer" in proc.stderr
    if action == "init":
        assert not target.exists()  # nothing written before the check
