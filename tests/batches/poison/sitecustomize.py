"""A fault injected into batch worker processes by the tests only (this folder is put first on
PYTHONPATH): the worker that starts rendering the record named by QUJAT_TEST_POISON_RECORD kills
itself with SIGKILL, as a record that crashes its process (out of memory …) would. Product code
reads no such variable."""
import os

_POISON = os.environ.get("QUJAT_TEST_POISON_RECORD")

if _POISON:
    import signal

    import qujat.batches as _batches

    _regenerated = _batches._regenerated

    def _poisoned(rt, record, *args, **kw):
        if str(record.id) == _POISON:
            os.kill(os.getpid(), signal.SIGKILL)
        return _regenerated(rt, record, *args, **kw)

    _batches._regenerated = _poisoned
