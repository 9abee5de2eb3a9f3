"""Snapshot fuzzing: run to main once, snapshot, then for each input write it into the guest's
`input` buffer, run to the end and restore — no re-exec, no re-loading, pages copied on write."""
import random
import sys
import time

from emulator import Process

target = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
p = Process.spawn(target, [target], capture=True)
p.breakpoint("main")
p.run()                                  # stops at main: the process is initialised
snap = p.snapshot()
buf = p.symbols["input"]

rng = random.Random(1)
crashes, best = [], 0
start = time.perf_counter()
for i in range(rounds):
    data = bytes(rng.choice(b"FUZ") for _ in range(4)) + b"\0"
    p.mem.write(buf, data)
    result = p.run()
    if result.signal is not None:
        crashes.append(data[:4])
    best = max(best, result.exit_status or 0)
    p.restore(snap)
elapsed = time.perf_counter() - start
print(f"{rounds} runs in {elapsed:.2f} s ({rounds / elapsed:.0f} execs/s), "
      f"{len(set(crashes))} crashing input(s): {sorted(set(crashes))}")
