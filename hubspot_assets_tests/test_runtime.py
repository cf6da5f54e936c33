"""Process-wide tuning: applied when the code location loads."""

import os
import platform
import subprocess
import sys

import pytest

_MALLOC_PROBE = r"""
import ctypes, sys, threading

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

if sys.argv[1] == "defs":
    import hubspot_assets.defs  # loading the code location tunes the process
big = bytes(16 << 20)  # freeing it raises glibc's dynamic mmap threshold to 16 MiB
del big

def bodies():  # what worker threads do with response bodies of a few MB
    for _ in range(10):
        held = [bytes(2 << 20) for _ in range(4)]
        del held

threads = [threading.Thread(target=bodies) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
print(libc.mallinfo2().fordblks)
"""


def _malloc_free_after_bodies(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_",
                                                             "GLIBC_TUNABLES")}
    done = subprocess.run([sys.executable, "-c", _MALLOC_PROBE, mode], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_response_bodies_go_back_to_the_os():
    """Once the code location is loaded, multi-MB bodies freed by worker threads do not
    stay in malloc's arenas."""
    if _malloc_free_after_bodies("bare") < 8 << 20:
        pytest.skip("this glibc does not keep freed large blocks")
    assert _malloc_free_after_bodies("defs") < 4 << 20
