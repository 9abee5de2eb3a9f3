"""MM's VMA operations against a reference model, and against the host kernel where they differ.

The model is a dict page -> prot plus the bytes of every page written since it was mapped.
Hypothesis drives random sequences of anonymous mmap (top-down, hinted, MAP_FIXED,
MAP_FIXED_NOREPLACE), munmap, mprotect, zap_range (MADV_DONTNEED) and reads/writes through
mmu.uaccess; after every step the MM must pass check_invariants() and agree with the model on
the per-page protections, the contents of every page, mm.rss and the frames in use.

Whether two adjacent VMAs with equal protections merge depends on more than the protections
(Linux's anon_vma), so the comparison is per page, plus the promise that no two adjacent VMAs
are left that VMA.can_merge_with_next() says should have merged.

The host kernel (ctypes calls in this very process) is the oracle for the mprotect and
MAP_FIXED_NOREPLACE semantics the model follows; `REGRESSIONS` are the smallest sequences that
met the bugs this test found, replayed on every run.
"""

from __future__ import annotations

import ctypes
import errno as host_errno
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emulator.errors import SyscallError
from mmu.constants import MAP, PAGE_SHIFT, PAGE_SIZE, PROT, page_up
from mmu.frames import BytearrayMemory
from mmu.mm import LAYOUT_X86_64, MM, MMAP_MIN_ADDR
from mmu.uaccess import copy_from_user, copy_to_user
from syscalls.errno import Errno

P = PAGE_SIZE
POOL = 2 << 20
ANON = MAP.PRIVATE | MAP.ANONYMOUS
WINDOW = 6                 # pages below mmap_base where the random operations land
ABOVE = 1                  # and pages above it (only MAP_FIXED puts anything there)


# --- the reference model ----------------------------------------------------------------------

@dataclass
class Model:
    mmap_base: int
    prot: dict[int, PROT] = field(default_factory=dict)      # vpn -> prot
    data: dict[int, bytearray] = field(default_factory=dict)  # vpn -> bytes, pages written

    def mapped(self, vpns: Iterable[int]) -> bool:
        return all(v in self.prot for v in vpns)

    def free(self, lo: int, hi: int) -> bool:
        return not any(v in self.prot for v in range(lo, hi))

    def place(self, npages: int, hint: int) -> int:
        """Top-down first fit below mmap_base, or the hint when it is free."""
        if hint:
            lo = page_up(hint) >> PAGE_SHIFT
            if hint >= MMAP_MIN_ADDR and self.free(lo, lo + npages):
                return lo
        end = self.mmap_base >> PAGE_SHIFT
        while True:
            busy = [v for v in range(end - npages, end) if v in self.prot]
            if not busy:
                return end - npages
            end = max(busy)

    def map(self, lo: int, npages: int, prot: PROT) -> None:
        for v in range(lo, lo + npages):
            self.prot[v] = prot
            self.data.pop(v, None)

    def unmap(self, lo: int, hi: int) -> None:
        for v in range(lo, hi):
            self.prot.pop(v, None)
            self.data.pop(v, None)

    def mprotect(self, lo: int, hi: int, prot: PROT) -> bool:
        """Linux: change page by page up to the first hole; False (ENOMEM) if there is one."""
        for v in range(lo, hi):
            if v not in self.prot:
                return False
            self.prot[v] = prot
        return True

    def read(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while n:
            v, off = addr >> PAGE_SHIFT, addr & (P - 1)
            k = min(n, P - off)
            page = self.data.get(v)
            out += page[off:off + k] if page is not None else bytes(k)
            addr, n = addr + k, n - k
        return bytes(out)


def readable(prot: PROT) -> bool:
    """x86: any right implies read."""
    return bool(prot & (PROT.READ | PROT.WRITE | PROT.EXEC))


def vma_pages(mm: MM) -> dict[int, PROT]:
    return {v: vma.prot for vma in mm.vmas for v in range(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT)}


def compare(mm: MM, model: Model) -> None:
    mm.check_invariants()
    assert vma_pages(mm) == model.prot
    vmas = list(mm.vmas)
    for a, b in zip(vmas, vmas[1:]):
        assert not a.can_merge_with_next(b), f"unmerged equal neighbours at {b.start:#x}"
    # Contents, without faulting anything in: written pages hold their bytes, others are zero.
    for vpn, pte in mm.pt.items():
        expect = model.data.get(vpn)
        actual = mm.frames.phys.read(pte.paddr, P)
        assert actual == (bytes(expect) if expect is not None else bytes(P)), f"page {vpn:#x}"
    for vpn in model.data:
        assert vpn in mm.pt, f"written page {vpn:#x} lost its frame"
    assert mm.rss == len(model.data)
    # Frames: the zero page plus one per resident page; nothing leaks.
    assert mm.frames.in_use == 1 + mm.rss
    # A present page that lost every right must not be readable any more.
    for vpn in sorted(mm.pt):
        if not readable(model.prot[vpn]):
            with pytest.raises(SyscallError):
                copy_from_user(mm, vpn << PAGE_SHIFT, 1)


# --- operations -------------------------------------------------------------------------------

PROTS = st.sampled_from([PROT(p) for p in range(8)])
# mprotect takes away every right more often: that is where stale PTEs would show.
MPROTS = st.sampled_from([PROT(p) for p in range(8)] + [PROT.NONE] * 2)
# Where an operation lands: ("window", i) is page i of the window; ("mapped", i) the i-th mapped
# page and ("present", i) the i-th page with a PTE (modulo their numbers), so that most
# operations find memory to work on; ("last", _) the page the previous operation started at, so
# that operations meet on one page.
PAGE_INDEX = st.tuples(st.sampled_from(["window", "mapped", "mapped", "present", "last", "last"]),
                       st.integers(0, 63))
MMAP = st.tuples(st.just("mmap"), st.sampled_from(["topdown", "hint", "fixed", "noreplace"]),
                 PAGE_INDEX, st.integers(1, 6), st.integers(0, P - 1), PROTS)
OPS = st.one_of(
    MMAP,
    st.tuples(st.just("write"), PAGE_INDEX, st.integers(0, P - 1), st.binary(min_size=1, max_size=48)),
    st.tuples(st.just("munmap"), PAGE_INDEX, st.integers(1, 8), st.integers(0, P - 1)),
    st.tuples(st.just("mprotect"), PAGE_INDEX, st.integers(1, 8), st.integers(0, P - 1), MPROTS),
    st.tuples(st.just("zap"), PAGE_INDEX, st.integers(1, 6)),
    st.tuples(st.just("write"), PAGE_INDEX, st.integers(0, P - 1), st.binary(min_size=1, max_size=48)),
    st.tuples(st.just("read"), PAGE_INDEX, st.integers(0, P - 1), st.integers(1, 2 * P)),
    st.tuples(st.just("read"), PAGE_INDEX, st.integers(0, P - 1), st.integers(1, 2 * P)),
)


def expect_errno(exc: pytest.ExceptionInfo[SyscallError], err: int) -> None:
    assert exc.value.errno == err, exc.value


def run_ops(ops: list[tuple]) -> None:
    mm = MM(BytearrayMemory(POOL), LAYOUT_X86_64, P, POOL)
    model = Model(mm.mmap_base)
    bottom = mm.mmap_base - WINDOW * P
    compare(mm, model)
    lo = bottom >> PAGE_SHIFT
    for op in ops:
        kind, (where, idx) = op[0], op[2] if op[0] == "mmap" else op[1]
        if where == "last":
            pass
        elif where == "mapped" and model.prot:
            pages = sorted(model.prot)
            lo = pages[idx % len(pages)]
        elif where == "present" and mm.pt:
            pages = sorted(mm.pt)
            lo = pages[idx % len(pages)]
        else:
            lo = (bottom >> PAGE_SHIFT) + idx % (WINDOW + ABOVE)
        addr = lo << PAGE_SHIFT
        rss_before = mm.rss
        if kind == "mmap":
            _, mode, _, npages, slack, prot = op
            length = npages * P - slack
            if mode in ("topdown", "hint"):
                hint = addr if mode == "hint" else 0
                got = mm.do_mmap(hint, length, prot, ANON, None, 0)
                want = model.place(npages, hint) << PAGE_SHIFT
                assert got == want
                lo = want >> PAGE_SHIFT             # what "last" refers to next
                model.map(lo, npages, prot)
            elif mode == "noreplace" and not model.free(lo, lo + npages):
                with pytest.raises(SyscallError) as exc:
                    mm.do_mmap(addr, length, prot, ANON | MAP.FIXED_NOREPLACE, None, 0)
                expect_errno(exc, Errno.EEXIST)
            else:
                flag = MAP.FIXED if mode == "fixed" else MAP.FIXED_NOREPLACE
                assert mm.do_mmap(addr, length, prot, ANON | flag, None, 0) == addr
                model.map(lo, npages, prot)
        elif kind == "munmap":
            _, _, npages, slack = op
            resident = any(v in model.data for v in range(lo, lo + npages))
            assert mm.do_munmap(addr, npages * P - slack) == 0
            model.unmap(lo, lo + npages)
            if resident:
                assert mm.rss < rss_before
        elif kind == "mprotect":
            _, _, npages, slack, prot = op
            ok = model.mprotect(lo, lo + npages, prot)
            if ok:
                assert mm.do_mprotect(addr, npages * P - slack, prot) == 0
            else:
                with pytest.raises(SyscallError) as exc:
                    mm.do_mprotect(addr, npages * P - slack, prot)
                expect_errno(exc, Errno.ENOMEM)
        elif kind == "zap":
            _, _, npages = op
            resident = any(v in model.data for v in range(lo, lo + npages))
            mm.zap_range(addr, addr + npages * P)
            for v in range(lo, lo + npages):
                model.data.pop(v, None)            # MADV_DONTNEED: anonymous pages read as zero
            if resident:
                assert mm.rss < rss_before
        elif kind == "write":
            _, _, off, data = op
            data = data[:P - off]
            if lo in model.prot and model.prot[lo] & PROT.WRITE:
                copy_to_user(mm, addr + off, data)
                page = model.data.setdefault(lo, bytearray(P))
                page[off:off + len(data)] = data
            else:
                with pytest.raises(SyscallError) as exc:
                    copy_to_user(mm, addr + off, data)
                expect_errno(exc, Errno.EFAULT)
        elif kind == "read":
            _, _, off, n = op
            start = addr + off
            vpns = range(start >> PAGE_SHIFT, (start + n - 1 >> PAGE_SHIFT) + 1)
            if all(v in model.prot and readable(model.prot[v]) for v in vpns):
                assert copy_from_user(mm, start, n) == model.read(start, n)
            else:
                with pytest.raises(SyscallError) as exc:
                    copy_from_user(mm, start, n)
                expect_errno(exc, Errno.EFAULT)
        compare(mm, model)


# A few mappings first, so that the other operations find memory to work on.
OP_LISTS = st.builds(lambda first, rest: first + rest,
                     st.lists(MMAP, min_size=1, max_size=3), st.lists(OPS, min_size=8, max_size=50))
W0, W1 = ("window", 0), ("window", 1)
RW = PROT.READ | PROT.WRITE
# Smallest sequences that met bugs this test found (all fixed since), replayed on every run.
REGRESSIONS = {
    # do_wp_page bypassed set_pte: mm.rss missed the frame that replaced the zero page.
    "zero_then_write": [("mmap", "fixed", W0, 1, 0, RW), ("read", W0, 0, 1), ("write", W0, 0, b"x")],
    # do_mprotect merged a stale VMA list: KeyError once one VMA had absorbed the next.
    "mprotect_multi": [("mmap", "fixed", W0, 2, 0, RW), ("mprotect", W1, 1, 0, PROT.READ),
                       ("mprotect", W0, 2, 0, RW)],
    # do_mprotect changed nothing when the range had a hole; Linux changes what precedes it.
    "mprotect_hole": [("mmap", "fixed", W0, 3, 0, RW), ("munmap", W1, 1, 0),
                      ("mprotect", W0, 3, 0, PROT.READ)],
    # uaccess read a present PTE without checking it still allowed reading (PROT_NONE).
    "read_prot_none": [("mmap", "fixed", W0, 1, 0, RW), ("write", W0, 0, b"x"),
                       ("mprotect", W0, 1, 0, PROT.NONE)],
}


def with_regressions(test):
    for ops in REGRESSIONS.values():
        test = example(ops=ops)(test)
    return test


# Derandomized: the same sequences every run (no flakiness; the regressions above always run).
@settings(max_examples=500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=OP_LISTS)
@with_regressions
def test_mm_matches_the_model(ops: list[tuple]) -> None:
    run_ops(ops)


# --- the same properties, spelled out ---------------------------------------------------------

@pytest.fixture
def mm() -> MM:
    return MM(BytearrayMemory(POOL), LAYOUT_X86_64, P, POOL)


def test_contents_survive_mprotect(mm: MM) -> None:
    a = mm.do_mmap(0, 3 * P, PROT.READ | PROT.WRITE, ANON, None, 0)
    copy_to_user(mm, a + P - 3, b"across pages")
    mm.do_mprotect(a + P, P, PROT.READ)
    assert len(mm.vmas) == 3
    assert copy_from_user(mm, a + P - 3, 12) == b"across pages"
    with pytest.raises(SyscallError):
        copy_to_user(mm, a + P, b"x")
    mm.do_mprotect(a + P, P, PROT.READ | PROT.WRITE)
    assert len(mm.vmas) == 1
    copy_to_user(mm, a + P, b"A")
    assert copy_from_user(mm, a + P - 3, 12) == b"acrAss pages"
    mm.check_invariants()


def test_munmap_drops_contents_and_rss(mm: MM) -> None:
    a = mm.do_mmap(0, 4 * P, PROT.READ | PROT.WRITE, ANON, None, 0)
    for i in range(4):
        copy_to_user(mm, a + i * P, b"page%d" % i)
    assert mm.rss == 4
    mm.do_munmap(a + P, 2 * P)
    assert mm.rss == 2
    with pytest.raises(SyscallError):
        copy_from_user(mm, a + P, 1)
    assert mm.do_mmap(a + P, 2 * P, PROT.READ | PROT.WRITE, ANON | MAP.FIXED, None, 0) == a + P
    assert copy_from_user(mm, a, 4 * P) == \
        b"page0".ljust(P, b"\0") + bytes(2 * P) + b"page3".ljust(P, b"\0")
    assert mm.rss == 2
    mm.check_invariants()


def test_zap_range_is_madv_dontneed(mm: MM) -> None:
    a = mm.do_mmap(0, 3 * P, PROT.READ | PROT.WRITE, ANON, None, 0)
    copy_to_user(mm, a, b"x" * (3 * P))
    frames_before = mm.frames.in_use
    mm.zap_range(a, a + 2 * P)
    assert mm.rss == 1 and mm.frames.in_use == frames_before - 2
    assert len(mm.vmas) == 1, "the mapping stays"
    assert copy_from_user(mm, a, 3 * P) == bytes(2 * P) + b"x" * P
    mm.check_invariants()


def test_mmap_replacing_pages_releases_their_frames(mm: MM) -> None:
    a = mm.do_mmap(0, 2 * P, PROT.READ | PROT.WRITE, ANON, None, 0)
    copy_to_user(mm, a, b"y" * 2 * P)
    in_use = mm.frames.in_use
    mm.do_mmap(a, P, PROT.READ, ANON | MAP.FIXED, None, 0)
    assert mm.rss == 1 and mm.frames.in_use == in_use - 1
    assert copy_from_user(mm, a, 2) == b"\0\0"
    mm.check_invariants()


def test_mprotect_over_two_vmas_that_become_equal(mm: MM) -> None:
    a = mm.do_mmap(0, 2 * P, PROT.READ | PROT.WRITE, ANON, None, 0)
    mm.do_mprotect(a + P, P, PROT.READ)
    assert len(mm.vmas) == 2
    mm.do_mprotect(a, 2 * P, PROT.READ | PROT.WRITE)
    assert [(v.start, v.end, v.prot) for v in mm.vmas] == [(a, a + 2 * P, PROT.READ | PROT.WRITE)]
    mm.check_invariants()


def test_errors_leave_the_address_space_alone(mm: MM) -> None:
    a = mm.do_mmap(0, P, PROT.READ, ANON, None, 0)
    before = [(v.start, v.end, v.prot) for v in mm.vmas]
    for call, err in [
        (lambda: mm.do_munmap(a + 1, P), Errno.EINVAL),
        (lambda: mm.do_munmap(a, 0), Errno.EINVAL),
        (lambda: mm.do_mmap(0, 0, PROT.READ, ANON, None, 0), Errno.EINVAL),
        (lambda: mm.do_mmap(a + 1, P, PROT.READ, ANON | MAP.FIXED, None, 0), Errno.EINVAL),
        (lambda: mm.do_mmap(0, P, PROT.READ, MAP.ANONYMOUS, None, 0), Errno.EINVAL),
        (lambda: mm.do_mprotect(a + 1, P, PROT.NONE), Errno.EINVAL),
        (lambda: mm.do_mprotect(a + P, P, PROT.NONE), Errno.ENOMEM),
    ]:
        with pytest.raises(SyscallError) as exc:
            call()
        assert exc.value.errno == err
    assert [(v.start, v.end, v.prot) for v in mm.vmas] == before


# --- the host kernel as the oracle ------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_FAILED = ctypes.c_void_p(-1).value


class Host:
    """mmap/munmap/mprotect in this process, with the result read back from /proc/self/maps."""

    def __init__(self) -> None:
        self.regions: list[tuple[int, int]] = []

    def mmap(self, addr: int, length: int, prot: int, flags: int) -> int:
        ctypes.set_errno(0)
        got = _libc.mmap(addr or None, length, prot, flags, -1, 0)
        if got == MAP_FAILED:
            return -ctypes.get_errno()
        self.regions.append((got, got + length))
        return got

    def munmap(self, addr: int, length: int) -> int:
        return _libc.munmap(addr, length)

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        ctypes.set_errno(0)
        rc = _libc.mprotect(addr, length, prot)
        return -ctypes.get_errno() if rc else 0

    @staticmethod
    def prots(lo: int, hi: int) -> dict[int, int]:
        """Relative page number -> prot of the pages of [lo, hi) that are mapped."""
        out = {}
        with open("/proc/self/maps") as maps:
            for line in maps:
                rng, perms = line.split()[:2]
                s, e = (int(x, 16) for x in rng.split("-"))
                prot = (perms[0] == "r") | (perms[1] == "w") << 1 | (perms[2] == "x") << 2
                for page in range(max(s, lo), min(e, hi), P):
                    out[(page - lo) // P] = prot
        return out

    def close(self) -> None:
        for s, e in self.regions:
            _libc.munmap(s, e - s)


@pytest.fixture
def host() -> Iterator[Host]:
    h = Host()
    yield h
    h.close()


def _mm_prots(mm: MM, lo: int, hi: int) -> dict[int, int]:
    return {(v * P - lo) // P: int(p) for v, p in vma_pages(mm).items() if lo <= v * P < hi}


def _mm_call(fn, *args) -> int:
    try:
        return fn(*args)
    except SyscallError as exc:
        return -exc.errno


def _scenario_mprotect_hole(api_mmap, api_munmap, api_mprotect) -> tuple[int, int]:
    base = api_mmap(0, 4 * P, PROT.READ | PROT.WRITE, ANON)
    assert base > 0
    assert api_munmap(base + 2 * P, P) == 0
    # Pages 0-1 mapped, 2 a hole, 3 mapped: change all four.
    return base, api_mprotect(base, 4 * P, PROT.READ)


def test_mprotect_over_a_hole_matches_the_host(mm: MM, host: Host) -> None:
    hbase, hrc = _scenario_mprotect_hole(host.mmap, host.munmap, host.mprotect)
    host_prots = host.prots(hbase, hbase + 4 * P)
    mbase, mrc = _scenario_mprotect_hole(
        lambda a, n, p, f: mm.do_mmap(a, n, p, f, None, 0),
        lambda a, n: _mm_call(mm.do_munmap, a, n),
        lambda a, n, p: _mm_call(mm.do_mprotect, a, n, p))
    assert hrc == -host_errno.ENOMEM, "the oracle itself"
    assert mrc == hrc
    assert _mm_prots(mm, mbase, mbase + 4 * P) == host_prots


def test_mprotect_starting_in_a_hole_matches_the_host(mm: MM, host: Host) -> None:
    def scenario(api_mmap, api_munmap, api_mprotect):
        base = api_mmap(0, 3 * P, PROT.READ | PROT.WRITE, ANON)
        assert api_munmap(base, P) == 0
        return base, api_mprotect(base, 3 * P, PROT.READ)
    hbase, hrc = scenario(host.mmap, host.munmap, host.mprotect)
    mbase, mrc = scenario(lambda a, n, p, f: mm.do_mmap(a, n, p, f, None, 0),
                          lambda a, n: _mm_call(mm.do_munmap, a, n),
                          lambda a, n, p: _mm_call(mm.do_mprotect, a, n, p))
    assert mrc == hrc
    assert _mm_prots(mm, mbase, mbase + 3 * P) == host.prots(hbase, hbase + 3 * P)


@pytest.mark.parametrize("flags", [
    pytest.param(MAP.FIXED_NOREPLACE, id="noreplace"),
    pytest.param(MAP.FIXED_NOREPLACE | MAP.FIXED, id="noreplace+fixed"),
    pytest.param(MAP.FIXED, id="fixed"),
])
def test_fixed_over_a_busy_range_matches_the_host(mm: MM, host: Host, flags: MAP) -> None:
    def scenario(api_mmap, api_munmap):
        # Pages 0-1 mapped, page 2 a hole (of ours: nothing else can be there); map 1-2.
        base = api_mmap(0, 3 * P, PROT.READ, ANON)
        assert base > 0 and api_munmap(base + 2 * P, P) == 0
        return base, api_mmap(base + P, 2 * P, PROT.READ | PROT.WRITE, ANON | flags)
    hbase, hgot = scenario(host.mmap, host.munmap)
    mbase, mgot = scenario(lambda a, n, p, f: _mm_call(mm.do_mmap, a, n, p, f, None, 0),
                           lambda a, n: _mm_call(mm.do_munmap, a, n))
    assert (mgot - mbase if mgot > 0 else mgot) == (hgot - hbase if hgot > 0 else hgot)
    assert _mm_prots(mm, mbase, mbase + 3 * P) == host.prots(hbase, hbase + 3 * P)
