"""Per-ABI conventions: argument signedness and struct layouts (stat, stat64, statx, ...)."""
from __future__ import annotations

import os
import struct


def s32(x: int) -> int:
    """An `int` argument: the low 32 bits, signed (as the kernel's prototype declares it)."""
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def s64(x: int) -> int:
    x &= 0xFFFFFFFFFFFFFFFF
    return x - (1 << 64) if x & (1 << 63) else x


def stat_x86_64(st: os.stat_result) -> bytes:
    """struct stat for x86-64 (arch/x86/include/uapi/asm/stat.h), 144 bytes."""
    return struct.pack(
        "<QQQIIIiQqqqQqQqQq24x",
        st.st_dev, st.st_ino, st.st_nlink, st.st_mode, st.st_uid, st.st_gid, 0, st.st_rdev,
        st.st_size, st.st_blksize, st.st_blocks,
        int(st.st_atime), st.st_atime_ns % 1_000_000_000,
        int(st.st_mtime), st.st_mtime_ns % 1_000_000_000,
        int(st.st_ctime), st.st_ctime_ns % 1_000_000_000)


def stat64_i386(st: os.stat_result) -> bytes:
    """struct stat64 for i386, 96 bytes."""
    return struct.pack(
        "<Q4xIIIIIQ4xqIQIIIIII Q",
        st.st_dev, st.st_ino & 0xFFFFFFFF, st.st_mode, st.st_nlink, st.st_uid, st.st_gid,
        st.st_rdev, st.st_size, st.st_blksize, st.st_blocks,
        int(st.st_atime) & 0xFFFFFFFF, st.st_atime_ns % 1_000_000_000,
        int(st.st_mtime) & 0xFFFFFFFF, st.st_mtime_ns % 1_000_000_000,
        int(st.st_ctime) & 0xFFFFFFFF, st.st_ctime_ns % 1_000_000_000,
        st.st_ino)


def stat_i386(st: os.stat_result) -> bytes:
    """The old struct stat for i386 (stat/fstat/lstat 106/108/107), 64 bytes."""
    return struct.pack(
        "<IIHHHHIIIIIIIIIIII",
        st.st_dev & 0xFFFFFFFF, st.st_ino & 0xFFFFFFFF, st.st_mode, st.st_nlink & 0xFFFF,
        st.st_uid & 0xFFFF, st.st_gid & 0xFFFF, st.st_rdev & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF,
        st.st_blksize, st.st_blocks & 0xFFFFFFFF,
        int(st.st_atime) & 0xFFFFFFFF, st.st_atime_ns % 1_000_000_000,
        int(st.st_mtime) & 0xFFFFFFFF, st.st_mtime_ns % 1_000_000_000,
        int(st.st_ctime) & 0xFFFFFFFF, st.st_ctime_ns % 1_000_000_000, 0, 0)


STATX_BASIC_STATS = 0x7FF


def statx_struct(st: os.stat_result, mask: int) -> bytes:
    """struct statx (include/uapi/linux/stat.h), 256 bytes, the same on both ABIs."""
    def ts(ns: int) -> bytes:
        return struct.pack("<qI4x", ns // 1_000_000_000, ns % 1_000_000_000)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    rmajor, rminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    head = struct.pack("<IIQIIIHHQQQQ", STATX_BASIC_STATS, st.st_blksize, 0, st.st_nlink,
                       st.st_uid, st.st_gid, st.st_mode, 0, st.st_ino, st.st_size, st.st_blocks, 0)
    times = ts(st.st_atime_ns) + ts(0) + ts(st.st_ctime_ns) + ts(st.st_mtime_ns)
    devs = struct.pack("<IIII", rmajor, rminor, major, minor)
    out = head + times + devs
    return out + bytes(256 - len(out))
