"""AddressSpace: the sorted, disjoint VMA list (mmu/vma.py) on its own, without an MM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from mmu.constants import PAGE_SIZE, PROT, VM
from mmu.vma import VMA, AddressSpace, MappedFile

P = PAGE_SIZE
BASE = 0x10_0000
RW = PROT.READ | PROT.WRITE
R = PROT.READ


def pg(n: int) -> int:
    return BASE + n * P


def anon(start: int, end: int, prot: PROT = RW, **kw: object) -> VMA:
    return VMA(pg(start), pg(end), prot, **kw)  # type: ignore[arg-type]


def spans(space: AddressSpace) -> list[tuple[int, int, PROT]]:
    """(first page, end page, prot) of every VMA, in page units relative to BASE."""
    return [((v.start - BASE) // P, (v.end - BASE) // P, v.prot) for v in space]


def build(*vmas: VMA) -> AddressSpace:
    space = AddressSpace()
    for v in vmas:
        space.insert(v)
    space.check()
    return space


@pytest.fixture
def mapped_file(tmp_path: Path) -> Iterator[MappedFile]:
    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)) * (8 * P // 256))
    f = MappedFile.open(str(path), str(path))
    yield f
    os.close(f.fd)


# --- insert and merge -------------------------------------------------------------------------

def test_insert_keeps_order_whatever_the_insertion_order() -> None:
    space = build(anon(10, 12), anon(0, 2, R), anon(5, 6))
    assert spans(space) == [(0, 2, R), (5, 6, RW), (10, 12, RW)]
    assert len(space) == 3


def test_insert_merges_with_equal_previous_neighbour() -> None:
    space = build(anon(0, 2))
    merged = space.insert(anon(2, 5))
    assert spans(space) == [(0, 5, RW)]
    assert (merged.start, merged.end) == (pg(0), pg(5))
    assert space.find(pg(4)) is merged


def test_insert_merges_with_equal_next_neighbour() -> None:
    space = build(anon(3, 5))
    merged = space.insert(anon(1, 3))
    assert spans(space) == [(1, 5, RW)]
    assert merged is space.find(pg(1)) is space.find(pg(4))


def test_insert_filling_a_hole_merges_three_into_one() -> None:
    space = build(anon(0, 2), anon(3, 6))
    merged = space.insert(anon(2, 3))
    assert spans(space) == [(0, 6, RW)]
    assert len(space) == 1 and next(iter(space)) is merged
    space.check()


@pytest.mark.parametrize("other", [
    pytest.param(dict(prot=R), id="prot"),
    pytest.param(dict(flags=VM.SHARED), id="flags"),
    pytest.param(dict(name="[heap]"), id="name"),
    pytest.param(dict(file_end=pg(9)), id="file_end"),
])
def test_no_merge_when_attributes_differ(other: dict) -> None:
    kw = {"prot": RW, **other}
    space = build(anon(0, 2), anon(3, 5))
    space.insert(VMA(pg(2), pg(3), **kw))  # type: ignore[arg-type]
    assert len(space) == 3
    space.check()


def test_no_merge_when_not_adjacent() -> None:
    space = build(anon(0, 2), anon(3, 5))
    assert spans(space) == [(0, 2, RW), (3, 5, RW)]


def test_file_vmas_merge_only_with_contiguous_offsets(mapped_file: MappedFile) -> None:
    space = AddressSpace()
    space.insert(VMA(pg(0), pg(2), R, file=mapped_file, pgoff=0))
    # Offset continues where the first ends: one VMA.
    space.insert(VMA(pg(2), pg(3), R, file=mapped_file, pgoff=2 * P))
    assert [(v.start, v.end, v.pgoff) for v in space] == [(pg(0), pg(3), 0)]
    # Adjacent in memory, but the file offset jumps: stays separate.
    space.insert(VMA(pg(3), pg(4), R, file=mapped_file, pgoff=5 * P))
    # Anonymous memory next to a file VMA never merges with it.
    space.insert(VMA(pg(4), pg(5), R))
    assert [(v.start, v.end, v.pgoff) for v in space] == \
        [(pg(0), pg(3), 0), (pg(3), pg(4), 5 * P), (pg(4), pg(5), 0)]
    space.check()


def test_insert_over_a_busy_range_is_refused() -> None:
    space = build(anon(2, 4))
    for start, end in [(3, 5), (1, 3), (0, 10), (2, 4), (3, 4)]:
        with pytest.raises(AssertionError):
            space.insert(anon(start, end, R))
    assert spans(space) == [(2, 4, RW)]


# --- split_range ------------------------------------------------------------------------------

def test_split_range_inside_one_vma() -> None:
    space = build(anon(0, 10))
    inside = space.split_range(pg(3), pg(5))
    assert [(v.start, v.end) for v in inside] == [(pg(3), pg(5))]
    assert spans(space) == [(0, 3, RW), (3, 5, RW), (5, 10, RW)]
    assert inside[0] is space.find(pg(4))
    space.check()


def test_split_range_on_existing_boundaries_changes_nothing() -> None:
    space = build(anon(0, 2), anon(2, 4, R))
    before = list(space)
    inside = space.split_range(pg(0), pg(4))
    assert list(space) == before and inside == before


def test_split_range_across_vmas_and_holes() -> None:
    space = build(anon(0, 4), anon(6, 9, R), anon(12, 15))
    inside = space.split_range(pg(2), pg(13))
    assert [((v.start - BASE) // P, (v.end - BASE) // P) for v in inside] == \
        [(2, 4), (6, 9), (12, 13)]
    assert spans(space) == [(0, 2, RW), (2, 4, RW), (6, 9, R), (12, 13, RW), (13, 15, RW)]
    space.check()


def test_split_range_in_a_hole_returns_nothing() -> None:
    space = build(anon(0, 2), anon(8, 9))
    assert space.split_range(pg(3), pg(6)) == []
    assert spans(space) == [(0, 2, RW), (8, 9, RW)]


def test_split_keeps_file_offsets(mapped_file: MappedFile) -> None:
    space = AddressSpace()
    space.insert(VMA(pg(0), pg(6), R, file=mapped_file, pgoff=P))
    space.split_range(pg(2), pg(4))
    assert [(v.start, v.pgoff) for v in space] == [(pg(0), P), (pg(2), 3 * P), (pg(4), 5 * P)]
    # Each piece still maps the same file page at each address as the whole did.
    for v in space:
        for addr in range(v.start, v.end, P):
            assert v.file_offset(addr) == P + (addr - pg(0))
    # ...so the pieces are mergeable again, left to right.
    vmas = list(space)
    assert vmas[0].can_merge_with_next(vmas[1]) and vmas[1].can_merge_with_next(vmas[2])


# --- unmap ------------------------------------------------------------------------------------

def test_unmap_spanning_several_vmas_and_holes() -> None:
    space = build(anon(0, 3), anon(4, 6, R), anon(7, 8, PROT.NONE), anon(10, 14))
    removed = space.unmap(pg(1), pg(11))
    assert [((v.start - BASE) // P, (v.end - BASE) // P, v.prot) for v in removed] == \
        [(1, 3, RW), (4, 6, R), (7, 8, PROT.NONE), (10, 11, RW)]
    assert spans(space) == [(0, 1, RW), (11, 14, RW)]
    for n in range(1, 11):
        assert space.find(pg(n)) is None
    space.check()


def test_unmap_middle_of_one_vma_leaves_two() -> None:
    space = build(anon(0, 10))
    removed = space.unmap(pg(4), pg(6))
    assert [(v.start, v.end) for v in removed] == [(pg(4), pg(6))]
    assert spans(space) == [(0, 4, RW), (6, 10, RW)]
    space.check()


def test_unmap_of_a_hole_or_everything() -> None:
    space = build(anon(2, 4), anon(6, 8))
    assert space.unmap(pg(4), pg(6)) == []
    assert len(space) == 2
    removed = space.unmap(0, pg(100))
    assert len(removed) == 2 and len(space) == 0
    assert space.find(pg(2)) is None and space.find_vma(0) is None
    space.check()


# --- find / find_vma / neighbours -------------------------------------------------------------

def test_find_is_half_open() -> None:
    space = build(anon(2, 4), anon(6, 7, R))
    a, b = list(space)
    assert space.find(pg(2)) is a
    assert space.find(pg(4) - 1) is a
    assert space.find(pg(4)) is None
    assert space.find(pg(2) - 1) is None
    assert space.find(pg(6) + 123) is b
    assert space.find(pg(7)) is None
    assert space.find(0) is None


def test_find_vma_returns_the_next_vma_above_a_hole() -> None:
    space = build(anon(2, 4), anon(6, 7, R))
    a, b = list(space)
    assert space.find_vma(0) is a
    assert space.find_vma(pg(3)) is a
    assert space.find_vma(pg(4)) is b
    assert space.find_vma(pg(5) + 17) is b
    assert space.find_vma(pg(6)) is b
    assert space.find_vma(pg(7)) is None
    assert AddressSpace().find_vma(0) is None


def test_prev_next_overlapping_is_free() -> None:
    space = build(anon(0, 1), anon(2, 3, R), anon(4, 5))
    a, b, c = list(space)
    assert space.prev_of(a) is None and space.next_of(a) is b
    assert space.prev_of(c) is b and space.next_of(c) is None
    assert space.overlapping(pg(0) + 1, pg(2) + 1) == [a, b]
    assert space.overlapping(pg(1), pg(2)) == []
    assert space.is_free(pg(1), pg(2)) and not space.is_free(pg(1), pg(2) + 1)
    stranger = anon(2, 3, R)                   # equal, but not the one in the space
    with pytest.raises(KeyError):
        space.next_of(stranger)


# --- check() ----------------------------------------------------------------------------------

def _raw(*vmas: VMA) -> AddressSpace:
    """An AddressSpace whose lists are set directly, bypassing insert's own assertions."""
    space = AddressSpace()
    space._vmas = list(vmas)
    space._starts = [v.start for v in vmas]
    return space


def test_check_accepts_a_valid_space() -> None:
    _raw(anon(0, 1), anon(1, 2, R), anon(5, 6)).check()
    AddressSpace().check()


@pytest.mark.parametrize("vmas", [
    pytest.param((anon(0, 3), anon(2, 4, R)), id="overlap"),
    pytest.param((anon(4, 5), anon(0, 1)), id="unsorted"),
    pytest.param((VMA(pg(0) + 8, pg(1), RW),), id="unaligned-start"),
    pytest.param((VMA(pg(0), pg(1) + 8, RW),), id="unaligned-end"),
    pytest.param((VMA(pg(1), pg(1), RW),), id="empty"),
    pytest.param((VMA(pg(2), pg(1), RW),), id="inverted"),
])
def test_check_raises_on_broken_invariants(vmas: tuple[VMA, ...]) -> None:
    with pytest.raises(AssertionError):
        _raw(*vmas).check()


def test_check_raises_when_start_index_is_stale() -> None:
    space = build(anon(0, 2), anon(4, 6, R))
    space.check()
    next(iter(space)).start = pg(1)            # moved without telling the index
    with pytest.raises(AssertionError):
        space.check()
