"""selfdistill.nn without torch: a clear ImportError that says how to install the extra."""

from __future__ import annotations

from tests.helpers import run_without_torch


def test_nn_without_torch_names_the_extra() -> None:
    proc = run_without_torch(
        "import selfdistill\n"
        "try:\n"
        "    import selfdistill.nn\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert "ImportError:" in proc.stdout
    assert "pip install 'selfdistill[torch]'" in proc.stdout
