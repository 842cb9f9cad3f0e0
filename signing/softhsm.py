"""Set up a SoftHSM2 token holding one signing key, for tests and local trials.

A PKCS#11 token is how production keys (HSMs, NCA's Kaztoken) are used; SoftHSM2
(Debian package ``softhsm2``) is a software token speaking the same interface. The
token lives in its own directory with its own ``softhsm2.conf`` (``SOFTHSM2_CONF``),
so nothing touches the system-wide token store.

The PIN is given to the Debian tools on their command line (they accept no other
way); that is acceptable only for these throw-away dev tokens.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .errors import KeyLoadError

__all__ = ["SoftHsmToken", "find_softhsm_module", "init_softhsm_token"]

_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftHsmToken:
    conf: Path
    module: str
    token_label: str
    key_label: str

    def env(self) -> dict[str, str]:
        """Environment for processes that must see this token."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


def find_softhsm_module() -> str:
    for path in _MODULE_CANDIDATES:
        if Path(path).exists():
            return path
    raise KeyLoadError("libsofthsm2.so not found: install the Debian package softhsm2")


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        # The command line holds the PIN: report the tool and its stderr, not argv.
        raise KeyLoadError(f"{cmd[0]} {cmd[1]} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def init_softhsm_token(
    directory: str | os.PathLike[str],
    *,
    p12: str | os.PathLike[str],
    p12_password: bytes,
    pin: str,
    token_label: str = "qujat",
    key_label: str = "signer",
) -> SoftHsmToken:
    """Create a token in ``directory`` and import the key and certificate of ``p12``."""
    root = Path(directory).resolve()
    (root / "tokens").mkdir(parents=True, exist_ok=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    module = find_softhsm_module()
    token = SoftHsmToken(conf, module, token_label, key_label)
    env = token.env()
    so_pin = pin[::-1] + "so"
    _run(["softhsm2-util", "--init-token", "--free", "--label", token_label, "--pin", pin, "--so-pin", so_pin], env)
    key, cert, _ = pkcs12.load_key_and_certificates(Path(p12).read_bytes(), p12_password)
    if key is None or cert is None:
        raise KeyLoadError("the PKCS#12 file has no key with a certificate")
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        key_file = Path(tmp) / "key.pem"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        cert_file = Path(tmp) / "cert.der"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        _run(
            ["softhsm2-util", "--import", str(key_file), "--token", token_label,
             "--label", key_label, "--id", "01", "--pin", pin],
            env,
        )
        _run(
            ["pkcs11-tool", "--module", module, "--token-label", token_label, "--login",
             "--pin", pin, "--write-object", str(cert_file), "--type", "cert",
             "--id", "01", "--label", key_label],
            env,
        )
    return token


def _main() -> int:
    import argparse

    from .keys import read_secret

    parser = argparse.ArgumentParser(
        prog="softhsm-init",
        description="Create a SoftHSM2 token in DIR holding the key of a PKCS#12 file. "
        "Secrets come from files.",
    )
    parser.add_argument("dir")
    parser.add_argument("--p12", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--pin-file", required=True)
    parser.add_argument("--token-label", default="qujat")
    parser.add_argument("--key-label", default="signer")
    args = parser.parse_args()
    token = init_softhsm_token(
        args.dir,
        p12=args.p12,
        p12_password=read_secret(file=args.password_file),
        pin=read_secret(file=args.pin_file).decode(),
        token_label=args.token_label,
        key_label=args.key_label,
    )
    print(f"export SOFTHSM2_CONF={token.conf}")
    print(f"# module {token.module}, token {token.token_label}, key {token.key_label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
