"""Snapshot restore cost (issue 8): a process dirties ~100 pages between snapshots; restoring it
1,000 times must take well under a second in total. Run by bench.py in the venv's Python."""
from __future__ import annotations

import sys
import time

from emulator import Process

PAGES = 100


def main(prog: str, rounds: int = 1000) -> None:
    p = Process.spawn(prog, [prog, str(1)], capture=True)   # touch 1 MiB: 256 heap pages
    p.breakpoint("main")
    p.run()
    snap = p.snapshot()
    stack = p.regs.rsp & ~0xFFF
    # 100 writable pages: the stack's resident pages and fresh ones below (stack growth).
    targets = [stack - i * 4096 for i in range(PAGES)]
    restore_s = 0.0
    for i in range(rounds):
        for addr in targets:
            p.mem.write(addr - 64, i.to_bytes(4, "little"))
        t = time.perf_counter()
        p.restore(snap)
        restore_s += time.perf_counter() - t
    p.mm.check_invariants()
    print(f"{rounds} restores of a process dirtying {PAGES} pages: {restore_s:.3f} s "
          f"({restore_s / rounds * 1e6:.0f} µs each)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
